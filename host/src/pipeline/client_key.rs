//! Optional client keys on `/api/*`: a request carrying a key in the API-key header is
//! identified by the key's configured name (used for its rate-limit policy, in logs and
//! in metrics, never the key itself). A wrong key is 403; no key is fine unless
//! `security.require_client_key` is set (then 401).

use crate::config::{ApiKeyHash, ClientKey, LimitPolicy};
use crate::error::Error;
use crate::rate_limit::Policy;
use axum::extract::{Request, State};
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
    header: Arc<str>,
    required: bool,
}

impl ClientKeys {
    /// From `[security]`; `None` when no client key is configured.
    pub fn new(keys: &[ClientKey], header: &str, required: bool) -> Option<Self> {
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
            header: Arc::from(header),
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

/// Middleware on `/api/*`.
pub async fn layer(State(keys): State<ClientKeys>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    match req.headers().get(&*keys.header).map(|v| v.to_str()) {
        Some(Ok(candidate)) if !candidate.is_empty() => match keys.identify(candidate) {
            Some(id) => {
                tracing::Span::current().record("client", &*id.name);
                req.extensions_mut().insert(id);
            }
            None => return Error::InvalidApiKey.into_response(),
        },
        Some(_) => return Error::InvalidApiKey.into_response(),
        None if keys.required => {
            return Error::MissingApiKey {
                header: keys.header.to_string(),
            }
            .into_response()
        }
        None => {}
    }
    next.run(req).await
}
