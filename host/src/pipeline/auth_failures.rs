//! Failed-key limiting: every wrong API key (client key on `/api/*` and `/v1/*`, admin key on
//! `/admin/*`, answered 403 `invalid_api_key`) is counted per client
//! ([`ClientAddr`]); after `rate_limit.failed_auth_per_minute` of them, every request
//! of that client that carries a key gets 429 `rate_limited` with `Retry-After`, even
//! with a correct key, until failures are earned back (one per 60 / N seconds). It runs
//! before the key checks, on the shared limiter (so replicas sharing Redis share the
//! count), and whether or not `rate_limit.enabled` is set. Requests without a key are
//! not affected (they cannot guess keys).

use super::client_addr::ClientAddr;
use crate::config::LimitPolicy;
use crate::error::{Error, PendingError};
use crate::rate_limit::{Policy, RateLimiter};
use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// What the layer needs.
#[derive(Clone)]
pub struct AuthFailures {
    limiter: Arc<RateLimiter>,
    policy: Policy,
    header: HeaderName,
    /// Whether client keys exist: only then is an `Authorization: Bearer` a key
    /// attempt (OpenAI SDKs always send one, and without client keys it is ignored).
    bearer: bool,
}

impl AuthFailures {
    /// `None` when `per_minute` is 0. `header` is `security.api_key_header`; `bearer`
    /// whether client keys are configured.
    pub fn new(
        limiter: Arc<RateLimiter>,
        per_minute: u32,
        header: HeaderName,
        bearer: bool,
    ) -> Option<Self> {
        if per_minute == 0 {
            return None;
        }
        Some(Self {
            limiter,
            policy: Policy::new(
                "auth_fail",
                LimitPolicy {
                    requests: per_minute,
                    window_secs: 60,
                    burst: None,
                },
            ),
            header,
            bearer,
        })
    }
}

fn guarded_path(path: &str) -> bool {
    super::client_key::guarded(path) || path == "/admin" || path.starts_with("/admin/")
}

/// Whether a response is the refusal of a wrong key.
fn is_wrong_key(response: &Response) -> bool {
    response
        .extensions()
        .get::<PendingError>()
        .is_some_and(|p| p.code == Error::InvalidApiKey.code())
}

/// Middleware.
pub async fn layer(State(gate): State<AuthFailures>, req: Request, next: Next) -> Response {
    let carries_key = if gate.bearer {
        super::client_key::presented(req.headers(), &gate.header).is_some()
    } else {
        req.headers()
            .get(&gate.header)
            .is_some_and(|v| !v.is_empty())
    };
    if !carries_key || !guarded_path(req.uri().path()) {
        return next.run(req).await;
    }
    let client = ClientAddr::of(&req);
    match gate.limiter.peek(&gate.policy, &client.key).await {
        Ok(d) if !d.allowed => {
            metrics::counter!(crate::observability::metrics::RATE_LIMIT, "policy" => gate.policy.name, "client" => "anonymous", "decision" => "refused").increment(1);
            return Error::RateLimited {
                retry_after_secs: d.retry_after_secs,
            }
            .into_response();
        }
        Ok(_) => {}
        Err(e) => return e.into_response(),
    }
    let response = next.run(req).await;
    if is_wrong_key(&response) {
        tracing::warn!(client = %client.key, "wrong API key");
        if let Err(e) = gate.limiter.charge(&gate.policy, &client.key).await {
            tracing::warn!(error = %e, "a failed key attempt could not be counted");
        }
    }
    response
}
