//! CORS from configuration. Production allows exactly `security.allowed_origins`;
//! development also allows `http://localhost:*` and `http://127.0.0.1:*`. Credentials
//! are never allowed, so `*` can never be combined with them.

use crate::config::{Environment, SecurityConfig};
use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS layer for this configuration; `api_key` is `security.api_key_header`.
pub fn layer(security: &SecurityConfig, api_key: &HeaderName) -> CorsLayer {
    let allow_any = security.environment == Environment::Development
        && security.allowed_origins.iter().any(|o| o == "*");
    let listed: Vec<HeaderValue> = security
        .allowed_origins
        .iter()
        .filter(|o| o.as_str() != "*")
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let development = security.environment == Environment::Development;
    let origin = if allow_any {
        AllowOrigin::any()
    } else {
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            listed.contains(origin) || (development && is_local(origin))
        })
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CACHE_CONTROL,
            // Client keys as OpenAI SDKs send them (`/v1/*`).
            header::AUTHORIZATION,
            super::request_id::X_REQUEST_ID.clone(),
            api_key.clone(),
        ])
        .expose_headers([super::request_id::X_REQUEST_ID.clone(), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

fn is_local(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|base| {
            origin.strip_prefix(base).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix(':')
                        .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
            })
        })
}
