//! Per-request deadline (`server.request_timeout_secs`): a request still running at the
//! deadline is dropped and answered with 504 `timeout`.
//!
//! Hand-written rather than tower-http's `TimeoutLayer::with_status_code(504, …)`: that
//! answers with an empty 504, which `error_body` would render as the generic "the
//! request took too long", without the configured deadline in the message and without
//! the log line of every [`Error`]; keeping both would take a mapping layer as long as
//! this one.

use crate::error::Error;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Middleware; the state is the deadline.
pub async fn layer(State(deadline): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Error::Timeout(format!(
            "the request took longer than {} s",
            deadline.as_secs_f64()
        ))
        .into_response(),
    }
}
