//! Optional client keys on `/api/*` and `/v1/*`: a request carrying a key in the
//! API-key header, or as `Authorization: Bearer <key>` (what OpenAI SDKs send), is
//! identified by the key's configured name (used for its rate-limit policy, in logs and
//! in metrics, never the key itself). A wrong key is 403 (401 on `/v1/*`, as OpenAI
//! answers); no key is fine unless `security.require_client_key` is set (then 401).

use crate::config::{ApiKeyHash, ApiKeyHeader, ClientKey, LimitPolicy};
use crate::error::Error;
use crate::rate_limit::Policy;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use std::sync::Arc;

/// A caller identified by its client key.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub name: Arc<str>,
    pub policy: Policy,
}

/// The configured client keys, as digests.
#[derive(Clone)]
pub struct ClientKeys {
    keys: Arc<Vec<(ApiKeyHash, ClientIdentity)>>,
    header: ApiKeyHeader,
    required: bool,
}

impl ClientKeys {
    /// From `[security]`; `None` when no client key is configured.
    pub fn new(keys: &[ClientKey], header: ApiKeyHeader, required: bool) -> Option<Self> {
        if keys.is_empty() {
            return None;
        }
        let keys = keys
            .iter()
            .filter_map(|k| {
                let hash = match (&k.key, &k.sha256) {
                    (Some(clear), _) => ApiKeyHash::of(clear.expose_secret()),
                    (None, Some(hex)) => ApiKeyHash::from_hex(hex)?,
                    (None, None) => return None,
                };
                let policy = Policy::new(
                    "key",
                    LimitPolicy {
                        requests: k.requests,
                        window_secs: k.window_secs,
                        burst: k.burst,
                    },
                );
                Some((
                    hash,
                    ClientIdentity {
                        name: Arc::from(k.name.as_str()),
                        policy,
                    },
                ))
            })
            .collect();
        Some(Self {
            keys: Arc::new(keys),
            header,
            required,
        })
    }

    fn identify(&self, candidate: &str) -> Option<ClientIdentity> {
        // Compare against every key so timing does not reveal which one matched.
        self.keys.iter().fold(None, |found, (hash, id)| {
            if hash.matches(candidate) {
                Some(id.clone())
            } else {
                found
            }
        })
    }
}

/// Whether client keys apply to `path`.
pub fn guarded(path: &str) -> bool {
    path.starts_with("/api/") || super::openai_error::applies(path)
}

/// The key a request presents: the API-key header, else an `Authorization: Bearer`
/// token. `Some(Err(()))` when one is sent but unreadable or empty.
pub fn presented<'a>(headers: &'a HeaderMap, header: &HeaderName) -> Option<Result<&'a str, ()>> {
    if let Some(v) = headers.get(header) {
        return Some(v.to_str().ok().filter(|k| !k.is_empty()).ok_or(()));
    }
    let auth = headers.get(AUTHORIZATION)?;
    let token = auth.to_str().ok().and_then(|v| {
        let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    match token {
        // SDKs send `Bearer ` with an empty key when none is set: no key.
        Some("") => None,
        Some(t) => Some(Ok(t)),
        None => Some(Err(())),
    }
}

/// Middleware on `/api/*` and `/v1/*`.
pub async fn layer(State(keys): State<ClientKeys>, mut req: Request, next: Next) -> Response {
    if !guarded(req.uri().path()) {
        return next.run(req).await;
    }
    match presented(req.headers(), keys.header.name()) {
        Some(Ok(candidate)) => match keys.identify(candidate) {
            Some(id) => {
                tracing::Span::current().record("client", &*id.name);
                req.extensions_mut().insert(id);
            }
            None => return Error::InvalidApiKey.into_response(),
        },
        Some(Err(())) => return Error::InvalidApiKey.into_response(),
        None if keys.required => {
            let header = if super::openai_error::applies(req.uri().path()) {
                "Authorization: Bearer <key>".to_string()
            } else {
                keys.header.as_configured().to_string()
            };
            return Error::MissingApiKey { header }.into_response();
        }
        None => {}
    }
    next.run(req).await
}

/// Who is asking, as plugin versions are assigned: `key:<name>` for a client key,
/// else `ip:<address or IPv6 prefix>`. An extractor for handlers.
#[derive(Debug, Clone)]
pub struct Requester(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Requester {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        if let Some(id) = parts.extensions.get::<ClientIdentity>() {
            return Ok(Requester(format!("key:{}", id.name)));
        }
        let ip = parts
            .extensions
            .get::<super::client_addr::ClientAddr>()
            .map_or_else(|| "unknown".to_string(), |a| a.key.to_string());
        Ok(Requester(format!("ip:{ip}")))
    }
}
