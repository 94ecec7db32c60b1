//! One span per request (carrying the request id, so every log line of the request
//! has it) and one access-log line when the response is ready.

use super::request_id::RequestId;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// Middleware: request span plus access log.
pub async fn layer(req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let method = req.method().clone();
    // The path only (never the query string, which may carry data), bounded.
    let path = req.uri().path().chars().take(256).collect::<String>();
    let span =
        tracing::info_span!("request", request_id = %request_id, client = tracing::field::Empty);
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            target: "autbot::access",
            method = %method,
            path = %path,
            status,
            latency_ms,
            "request completed"
        )
    });
    response
}
