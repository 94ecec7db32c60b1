//! `GET /metrics`: Prometheus text exposition format.
//!
//! The metrics name plugins, their versions and models, so they can be kept off the
//! public port: with `observability.metrics_addr` (e.g. `127.0.0.1:9100`) they are
//! served only on that separate listener ([`spawn_listener`]), and `/metrics` on the
//! public port answers 404.

use crate::state::AppState;
use crate::config::Environment;
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

/// Starts the separate metrics listener when metrics are on and
/// `observability.metrics_addr` (or the older `observability.metrics_port`, on
/// `server.host`) is set; an address that cannot be bound refuses the start, naming
/// the key. In production, serving metrics on the public port is logged as a warning.
pub async fn spawn_listener(state: &AppState) -> anyhow::Result<()> {
    if state.metrics.is_none() {
        return Ok(());
    }
    let config = &state.config;
    let o = &config.observability;
    let (key, addr) = match (&o.metrics_addr, o.metrics_port) {
        (Some(addr), _) => ("observability.metrics_addr", addr.clone()),
        (None, Some(port)) => (
            "observability.metrics_port",
            format!("{}:{port}", config.server.host),
        ),
        (None, None) => {
            if config.security.environment == Environment::Production {
                tracing::warn!(
                    "/metrics is served on the public port (plugin versions, models); set \
                     observability.metrics_addr, e.g. 127.0.0.1:9100, to serve it only there"
                );
            }
            return Ok(());
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("{key}: cannot listen on {addr}: {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let app = listener_router(state.clone());
    // The same accept loop as the public port: header timeout, connection caps.
    let limits = crate::net::Limits::new(&config.server, state.client_ips.clone());
    tokio::spawn(crate::net::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    Ok(())
}
