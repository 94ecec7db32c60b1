//! Body read timeout: a request body must arrive whole within
//! `server.body_read_timeout_secs` of the request head, or the request gets 408
//! `body_timeout` and its connection is closed. The body is read here, before any
//! handler, shedding permit or deadline is taken, so a client that trickles (or never
//! sends) its body holds no processing slot; only its per-client slot and its
//! connection, both given back at the timeout. Bodies are at most
//! `server.body_limit_bytes` (larger ones get 413 without being read).

use crate::error::Error;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::time::Duration;

/// What the layer needs.
#[derive(Debug, Clone, Copy)]
pub struct BodyRead {
    pub timeout: Duration,
    pub limit: usize,
}

/// Middleware.
pub async fn layer(State(cfg): State<BodyRead>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.limit as u64) {
        return close(Error::PayloadTooLarge.into_response());
    }
    match tokio::time::timeout(cfg.timeout, Limited::new(body, cfg.limit).collect()).await {
        Ok(Ok(collected)) => {
            let body = Body::from(collected.to_bytes());
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            close(Error::PayloadTooLarge.into_response())
        }
        Ok(Err(e)) => close(
            Error::bad_request(
                "unreadable_body",
                format!("the request body could not be read: {e}"),
            )
            .into_response(),
        ),
        Err(_) => {
            tracing::info!(
                timeout_secs = cfg.timeout.as_secs_f64(),
                "request body incomplete at the body read timeout"
            );
            let secs = cfg.timeout.as_secs_f64();
            close(Error::BodyTimeout { secs }.into_response())
        }
    }
}

/// The rest of the body is not read: the connection cannot be reused.
fn close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
