//! Admin API-key check for `/admin/*`: a missing key is 401, a wrong key 403.
//! Keys are compared as SHA-256 digests in constant time ([`AdminKeys::contains`]).

use crate::config::{AdminKeys, ApiKeyHeader};
use crate::error::Error;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The admin keys and the header that carries them.
#[derive(Clone)]
pub struct AdminAuth {
    pub keys: Arc<AdminKeys>,
    pub header: ApiKeyHeader,
}

/// Middleware for the admin router.
pub async fn layer(State(auth): State<AdminAuth>, req: Request, next: Next) -> Response {
    match check(&auth.keys, &auth.header, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(keys: &AdminKeys, header: &ApiKeyHeader, req: &Request) -> Result<(), Error> {
    let missing = || Error::MissingApiKey {
        header: header.as_configured().to_string(),
    };
    let value = req.headers().get(header.name()).ok_or_else(missing)?;
    let candidate = value.to_str().map_err(|_| Error::InvalidApiKey)?;
    if candidate.is_empty() {
        return Err(missing());
    }
    if keys.contains(candidate) {
        Ok(())
    } else {
        Err(Error::InvalidApiKey)
    }
}
