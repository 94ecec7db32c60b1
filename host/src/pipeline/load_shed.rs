//! Load shedding: at most `server.max_concurrent_requests` requests are processed at
//! once; the next ones get 503 `overloaded` with `Retry-After` at once instead of queueing.

use crate::error::Error;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Middleware; the state is the shared permit pool.
pub async fn layer(State(permits): State<Arc<Semaphore>>, req: Request, next: Next) -> Response {
    match permits.try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => Error::Overloaded.into_response(),
    }
}
