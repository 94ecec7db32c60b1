//! Per-client concurrency: at most `server.max_concurrent_per_client` requests of one
//! client ([`ClientAddr`]) in flight at once; the next get 429
//! `too_many_concurrent_requests` with `Retry-After`. A request holds its slot until
//! its response body has been sent (or dropped), so a slow reader of a stream, or a
//! request whose body never arrives, counts for as long as it lasts.

use super::client_addr::ClientAddr;
use super::guarded_body::Guarded;
use crate::error::PendingError;
use crate::net::slots::KeyedSlots;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Requests refused because their client had too many in flight.
pub const REFUSED: &str = "autbot_client_concurrency_refused_total";

/// Middleware; the state is the per-client places.
pub async fn layer(State(slots): State<KeyedSlots>, req: Request, next: Next) -> Response {
    let client = ClientAddr::of(&req);
    let Some(slot) = slots.try_acquire(client.key.clone()) else {
        tracing::warn!(client = %client.key, max = slots.max(), "too many concurrent requests from one client");
        metrics::counter!(REFUSED).increment(1);
        let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
        response.extensions_mut().insert(PendingError {
            message: format!(
                "too many requests in progress from this client (at most {}); retry when one has finished",
                slots.max()
            ),
            code: "too_many_concurrent_requests".into(),
        });
        return response;
    };
    let response = next.run(req).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Guarded::new(body, slot)))
}
