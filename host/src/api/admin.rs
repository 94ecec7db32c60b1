//! `/admin/*` (admin API key required): re-index and plugin management.

use crate::app::AppState;
use crate::error::{Error, ErrorBody};
use crate::plugins::{PluginStatus, ReloadOutcome};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Answer to a re-index request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReindexStarted {
    /// `started`, or `already_running` when a rebuild is in progress.
    pub status: &'static str,
}

/// Rebuilds the index in the background; queries keep using the current index
/// until the new one is swapped in.
#[utoipa::path(post, path = "/admin/reindex", security(("api_key" = [])),
    responses((status = 202, body = ReindexStarted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn reindex(State(state): State<AppState>) -> (StatusCode, Json<ReindexStarted>) {
    if state.engine.is_building() {
        return (
            StatusCode::ACCEPTED,
            Json(ReindexStarted {
                status: "already_running",
            }),
        );
    }
    let engine = state.engine.clone();
    tokio::spawn(async move {
        let _ = engine.reindex().await;
    });
    (
        StatusCode::ACCEPTED,
        Json(ReindexStarted { status: "started" }),
    )
}

/// Every plugin: hook, version (sha256), capabilities, limits, counters.
#[utoipa::path(get, path = "/admin/plugins", security(("api_key" = [])),
    responses((status = 200, body = [PluginStatus]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn plugins(State(state): State<AppState>) -> Json<Vec<PluginStatus>> {
    Json(state.engine.plugins.status())
}

/// Reloads every plugin whose file changed (same checks as hot reload).
#[utoipa::path(post, path = "/admin/plugins/reload", security(("api_key" = [])),
    responses((status = 200, body = [ReloadOutcome]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn reload_plugins(
    State(state): State<AppState>,
) -> Result<Json<Vec<ReloadOutcome>>, Error> {
    Ok(Json(state.engine.plugins.reload_all().await))
}
