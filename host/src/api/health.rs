//! `GET /health` (liveness) and `GET /ready` (readiness with named checks).
//!
//! In production (`security.environment = "production"`) `/ready` names its checks
//! only to callers with an admin key (in `security.api_key_header`): anyone else gets
//! the status alone, so plugin, index, model and Redis details (error texts, versions,
//! host names) are not shown to the internet. Load balancers need only the status code.

use crate::pipeline::request_id::RequestId;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// One readiness check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Readiness answer. When not ready it also carries the error fields. `checks` is
/// left out for anonymous callers in production.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<Check>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub request_id: String,
}

/// 200 while the process serves.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Whether this caller may see the readiness details: always outside production; in
/// production only with a valid admin key.
fn shows_detail(state: &AppState, headers: &HeaderMap) -> bool {
    if state.config.security.environment != crate::config::Environment::Production {
        return true;
    }
    headers
        .get(state.api_key_header.name())
        .and_then(|v| v.to_str().ok())
        .is_some_and(|key| !key.is_empty() && state.admin_keys.contains(key))
}

/// 200 when every check passes, else 503 naming the failed checks (in production,
/// only to admin callers).
#[utoipa::path(get, path = "/ready", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
) -> (StatusCode, Json<Readiness>) {
    let engine = &state.engine;
    let index = engine.index.get();
    let index_state = state.indexer.state();
    let mut checks = vec![
        Check {
            name: "shutdown",
            ok: !state.lifecycle.is_shutting_down(),
            detail: if state.lifecycle.is_shutting_down() {
                "shutting down".into()
            } else {
                "serving".into()
            },
        },
        Check {
            name: "index",
            ok: index.is_some(),
            detail: match (&index, &index_state.last_error, index_state.building) {
                (Some(i), _, _) => format!(
                    "{} chunks from {} documents (version {})",
                    i.chunks.len(),
                    i.documents(),
                    i.manifest.version
                ),
                (None, _, true) => "building".into(),
                (None, Some(e), _) => format!("build failed: {e}"),
                (None, None, false) => "not loaded".into(),
            },
        },
    ];
    let plugins = engine.plugins.status();
    checks.push(Check {
        name: "plugins",
        ok: !plugins.is_empty(),
        detail: format!("{} loaded", plugins.len()),
    });
    let llm_model = engine.llm.model();
    let llm_down = engine.llm.is_unavailable();
    checks.push(Check {
        name: "llm",
        ok: !llm_down,
        detail: if llm_down {
            format!("{llm_model}: circuit open after repeated failures")
        } else {
            llm_model
        },
    });
    let mut degraded = false;
    if let Some(redis) = &state.redis {
        let healthy = redis.is_healthy();
        let fail_open =
            state.config.rate_limit.on_redis_error == crate::config::OnRedisError::FailOpen;
        degraded = !healthy && fail_open;
        checks.push(Check {
            name: "redis",
            ok: healthy || fail_open,
            detail: match (healthy, redis.last_error()) {
                (true, _) => "connected".into(),
                (false, e) if fail_open => format!(
                    "degraded: {}; serving with in-process rate limits and no shared cache",
                    e.unwrap_or_default()
                ),
                (false, e) => format!("unreachable: {}", e.unwrap_or_default()),
            },
        });
    }
    let ok = checks.iter().all(|c| c.ok);
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    let detail = shows_detail(&state, &headers);
    let body = Readiness {
        status: match (ok, degraded) {
            (false, _) => "not_ready",
            (true, true) if detail => "degraded",
            (true, _) => "ready",
        },
        error: (!ok).then(|| {
            if detail {
                format!("not ready: {}", failed.join(", "))
            } else {
                "not ready".to_string()
            }
        }),
        code: (!ok).then_some("not_ready"),
        checks: detail.then_some(checks),
        request_id,
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
