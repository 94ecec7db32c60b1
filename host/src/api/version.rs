//! `GET /api/version`.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Build information.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    /// The crate version.
    pub version: &'static str,
    /// Git commit the binary was built from ("unknown" outside a checkout).
    pub git_sha: &'static str,
    /// `debug` or `release`.
    pub build: &'static str,
}

/// The running version.
#[utoipa::path(get, path = "/api/version", responses((status = 200, body = VersionInfo)))]
pub async fn version() -> Json<VersionInfo> {
    Json(VersionInfo {
        version: env!("CARGO_PKG_VERSION"),
        git_sha: env!("AUTBOT_GIT_SHA"),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    })
}
