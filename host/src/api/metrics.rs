//! `GET /metrics`: Prometheus text exposition format.
//!
//! The metrics name plugins, their versions and models, so they can be kept off the
//! public port: with `observability.metrics_addr` (e.g. `127.0.0.1:9100`) they are
//! served only on that separate listener (started by `serve`, with
//! [`listener_router`]), and `/metrics` on the public port answers 404.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

/// Marks requests that arrived on the separate metrics listener.
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// The current metrics (404 on the public port when a separate metrics address is
/// configured).
pub async fn metrics(
    State(state): State<AppState>,
    listener: Option<Extension<MetricsListener>>,
    method: Method,
    uri: Uri,
) -> Response {
    if state.config.observability.metrics_addr.is_some() && listener.is_none() {
        return crate::api::not_found(method, uri).await.into_response();
    }
    let body = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The application of the separate metrics listener: `/metrics` only.
pub fn listener_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .layer(Extension(MetricsListener))
        .with_state(state)
}
