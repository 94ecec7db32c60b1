//! Load shedding: at most `server.max_concurrent_requests` requests are processed at
//! once; the next ones get 503 `overloaded` with `Retry-After` at once instead of queueing.
//! A streamed answer (`text/event-stream`) holds its permit until its last event is sent.

use crate::error::Error;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Middleware; the state is the shared permit pool.
pub async fn layer(State(permits): State<Arc<Semaphore>>, req: Request, next: Next) -> Response {
    let Ok(permit) = permits.try_acquire_owned() else {
        return Error::Overloaded.into_response();
    };
    let response = next.run(req).await;
    if !is_event_stream(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held_until_the_stream_ends = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}
