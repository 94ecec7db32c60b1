//! `/admin/*` (admin API key required): re-index and plugin management.

use crate::error::{Error, ErrorBody};
use crate::plugins::{CanaryActionError, PluginStatus, ReloadOutcome};
use crate::state::AppState;
use axum::extract::{Path, State};
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

/// What a promotion or rollback did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryAction {
    pub plugin: String,
    /// `promoted` or `rolled_back`.
    pub action: &'static str,
    /// The candidate version concerned (SHA-256).
    pub version: String,
}

fn action_error(name: &str, e: CanaryActionError) -> Error {
    match e {
        CanaryActionError::UnknownPlugin => Error::NotFound {
            method: "POST".into(),
            path: format!(
                "/admin/plugins/{}",
                name.chars().take(100).collect::<String>()
            ),
        },
        CanaryActionError::NoCandidate => Error::Conflict(format!(
            "plugin `{}` has no candidate version serving",
            name.chars().take(100).collect::<String>()
        )),
    }
}

/// Makes the candidate version the stable one for all traffic (until restart: update
/// the configuration to keep it).
#[utoipa::path(post, path = "/admin/plugins/{name}/promote", security(("api_key" = [])),
    params(("name" = String, Path, description = "The plugin's name")),
    responses((status = 200, body = CanaryAction), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn promote(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CanaryAction>, Error> {
    let version = state.engine.plugins.promote(&name).await;
    answer(name, "promoted", version)
}

/// Withdraws the candidate version: the stable one serves all traffic.
#[utoipa::path(post, path = "/admin/plugins/{name}/rollback", security(("api_key" = [])),
    params(("name" = String, Path, description = "The plugin's name")),
    responses((status = 200, body = CanaryAction), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CanaryAction>, Error> {
    let version = state.engine.plugins.rollback(&name).await;
    answer(name, "rolled_back", version)
}

/// The answer to a promotion or rollback.
fn answer(
    plugin: String,
    action: &'static str,
    version: Result<String, CanaryActionError>,
) -> Result<Json<CanaryAction>, Error> {
    let version = version.map_err(|e| action_error(&plugin, e))?;
    Ok(Json(CanaryAction {
        plugin,
        action,
        version,
    }))
}
