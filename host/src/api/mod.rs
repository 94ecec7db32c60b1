//! HTTP handlers, one file per route group.

pub mod admin;
pub mod chat_page;
pub mod health;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod query;
pub mod query_stream;
pub mod version;

use crate::error::Error;
use axum::http::{Method, Uri};

/// Fallback for unknown routes: 404 with the JSON error body.
pub async fn not_found(method: Method, uri: Uri) -> Error {
    Error::NotFound {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}
