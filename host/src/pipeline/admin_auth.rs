//! Admin API-key check for `/admin/*`: a missing key is 401, a wrong key 403.
//! Keys are compared as SHA-256 digests in constant time ([`AdminKeys::contains`]).

use crate::app::AppState;
use crate::config::AdminKeys;
use crate::error::Error;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware for the admin router.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(
        &state.admin_keys,
        &state.config.security.api_key_header,
        &req,
    ) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(keys: &AdminKeys, header: &str, req: &Request) -> Result<(), Error> {
    let Some(value) = req.headers().get(header) else {
        return Err(Error::MissingApiKey {
            header: header.to_string(),
        });
    };
    let candidate = value.to_str().map_err(|_| Error::InvalidApiKey)?;
    if candidate.is_empty() {
        return Err(Error::MissingApiKey {
            header: header.to_string(),
        });
    }
    if keys.contains(candidate) {
        Ok(())
    } else {
        Err(Error::InvalidApiKey)
    }
}
