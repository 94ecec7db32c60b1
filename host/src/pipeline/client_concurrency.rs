//! Per-client concurrency: at most `server.max_concurrent_per_client` requests of one
//! client ([`ClientAddr`]) in flight at once; the next get 429
//! `too_many_concurrent_requests` with `Retry-After`. A request holds its slot until
//! its response body has been sent (or dropped), so a slow reader of a stream, or a
//! request whose body never arrives, counts for as long as it lasts.

use super::client_addr::ClientAddr;
use super::guarded_body::Guarded;
use crate::error::Error;
use crate::net::slots::KeyedSlots;
use axum::body::Body;
use axum::extract::{Request, State};
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
        return Error::TooManyConcurrent { max: slots.max() }.into_response();
    };
    let response = next.run(req).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Guarded::new(body, slot)))
}
