//! The router: the routes, and the request pipeline in one visible order.

use crate::api;
use crate::config::Config;
use crate::net::slots::KeyedSlots;
use crate::pipeline::admin_auth::AdminAuth;
use crate::pipeline::auth_failures::{self, AuthFailures};
use crate::pipeline::body_read::{self, BodyRead};
use crate::pipeline::client_concurrency;
use crate::pipeline::client_key::{self, ClientKeys};
use crate::pipeline::{
    access_log, admin_auth, client_addr, cors, error_body, load_shed, rate_limit, request_id,
    timeout,
};
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tower::util::option_layer;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;

/// `/` and its assets, when `server.chat_page`.
fn chat_page_routes(config: &Config) -> Router<AppState> {
    if config.server.chat_page {
        api::chat_page::routes()
    } else {
        Router::new()
    }
}

/// `/v1/*`, when `openai_api.enabled`.
fn openai_routes(config: &Config) -> Router<AppState> {
    if !config.openai_api.enabled {
        return Router::new();
    }
    Router::new()
        .route("/v1/chat/completions", post(api::openai::chat_completions))
        .route("/v1/models", get(api::openai::models::list))
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    // `GET /v1/models` reports when the configuration took effect: now.
    api::openai::started_at();
    let config = state.config.clone();
    let api_key_header = state.api_key_header.name().clone();
    let admin = Router::new()
        .route("/reindex", post(api::admin::reindex))
        .route("/plugins", get(api::admin::plugins))
        .route("/plugins/reload", post(api::admin::reload_plugins))
        .route("/plugins/{name}/promote", post(api::admin::promote))
        .route("/plugins/{name}/rollback", post(api::admin::rollback))
        .route_layer(from_fn_with_state(
            AdminAuth {
                keys: state.admin_keys.clone(),
                header: state.api_key_header.clone(),
            },
            admin_auth::layer,
        ));
    let permits = Arc::new(tokio::sync::Semaphore::new(
        config.server.max_concurrent_requests,
    ));
    let deadline = Duration::from_secs(config.server.request_timeout_secs);
    let limit = config.server.body_limit_bytes;
    let client_keys = ClientKeys::new(
        &config.security.client_keys,
        state.api_key_header.clone(),
        config.security.require_client_key,
    )
    .map(|keys| from_fn_with_state(keys, client_key::layer));
    let rate_limiting = state
        .rate_limit
        .clone()
        .map(|rl| from_fn_with_state(rl, rate_limit::layer));
    let client_ips = state.client_ips.clone();
    let per_client = KeyedSlots::new(config.server.max_concurrent_per_client);
    let failed_keys = AuthFailures::new(
        state.limiter.clone(),
        config.rate_limit.failed_auth_per_minute,
        api_key_header.clone(),
        !config.security.client_keys.is_empty(),
    )
    .map(|gate| from_fn_with_state(gate, auth_failures::layer));
    let body_read = BodyRead {
        timeout: Duration::from_secs(config.server.body_read_timeout_secs),
        limit,
    };
    let metrics_here = state.metrics.is_some()
        && config.observability.metrics_port.is_none()
        && config.observability.metrics_addr.is_none();
    let http_metrics = state
        .metrics
        .is_some()
        .then(|| from_fn(crate::pipeline::metrics::layer));
    let mut router = Router::new();
    if metrics_here {
        router = router.route("/metrics", get(api::metrics::metrics));
    }
    router
        .route("/api/query", post(api::query::query))
        .route(
            "/api/query/stream",
            post(api::query_stream::query_stream).get(api::query_stream::query_stream_get),
        )
        .route("/api/version", get(api::version::version))
        .merge(openai_routes(&config))
        .merge(chat_page_routes(&config))
        .route("/health", get(api::health::health))
        .route("/ready", get(api::health::ready))
        .route("/openapi.json", get(api::openapi::openapi))
        .nest("/admin", admin)
        .fallback(api::not_found)
        .with_state(state)
        // Outermost first: id → log → metrics → CORS → JSON errors → (panic → 500) →
        // client address → per-client concurrency → failed-key limit → body read
        // (timeout) → client key → rate limit → shed → deadline → body limit.
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(request_id::layer))
                .layer(from_fn(access_log::layer))
                .layer(option_layer(http_metrics))
                .layer(cors::layer(&config.security, &api_key_header))
                .layer(from_fn(error_body::layer))
                // A panic in a handler becomes a 500 (reported like any 5xx), not a dropped connection.
                .layer(tower_http::catch_panic::CatchPanicLayer::new())
                .layer(from_fn_with_state(client_ips, client_addr::layer))
                .layer(from_fn_with_state(per_client, client_concurrency::layer))
                .layer(option_layer(failed_keys))
                .layer(from_fn_with_state(body_read, body_read::layer))
                .layer(option_layer(client_keys))
                .layer(option_layer(rate_limiting))
                .layer(from_fn_with_state(permits, load_shed::layer))
                .layer(from_fn_with_state(deadline, timeout::layer))
                .layer(RequestBodyLimitLayer::new(limit))
                .layer(DefaultBodyLimit::max(limit)),
        )
}
