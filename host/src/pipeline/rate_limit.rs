//! Per-client rate limiting of `/api/*` and `/admin/*` (health, readiness and the
//! OpenAPI document are not limited). Every limited response carries
//! `X-RateLimit-Limit/Remaining/Reset`; a refused one is 429 with `Retry-After`.

use crate::error::Error;
use crate::pipeline::client_addr::ClientAddr;
use crate::pipeline::client_key::ClientIdentity;
use crate::rate_limit::{Decision, Policy, RateLimiter};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// What the layer needs.
#[derive(Clone)]
pub struct RateLimitLayer {
    pub limiter: Arc<RateLimiter>,
    pub client: Policy,
    pub admin: Policy,
}

/// Middleware.
pub async fn layer(State(rl): State<RateLimitLayer>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let identity = req.extensions().get::<ClientIdentity>().cloned();
    let policy = if let Some(id) = &identity {
        id.policy
    } else if super::client_key::guarded(path) {
        rl.client
    } else if path.starts_with("/admin/") || path == "/admin" {
        rl.admin
    } else {
        return next.run(req).await;
    };
    // The client's IP (or IPv6 prefix), found by `client_addr` behind trusted proxies.
    let bucket = match &identity {
        Some(id) => format!("key:{}", id.name),
        None => ClientAddr::of(&req).key.to_string(),
    };
    let decision = match rl.limiter.check(&policy, &bucket).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let verdict = if decision.allowed {
        "allowed"
    } else {
        "refused"
    };
    let client = identity
        .as_ref()
        .map(|id| id.name.to_string())
        .unwrap_or_else(|| "anonymous".into());
    metrics::counter!(crate::observability::metrics::RATE_LIMIT, "policy" => policy.name, "client" => client, "decision" => verdict).increment(1);
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        Error::RateLimited {
            retry_after_secs: decision.retry_after_secs,
        }
        .into_response()
    };
    set_headers(response.headers_mut(), &decision);
    response
}

fn set_headers(h: &mut HeaderMap, d: &Decision) {
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_secs));
}
