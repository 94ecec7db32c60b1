//! OpenAI's error shape for the OpenAI-compatible routes:
//! `{"error": {"message", "type", "param", "code"}}`, with the statuses its SDKs map
//! to exception classes (a wrong key is 401 `AuthenticationError` there, where
//! `/api/*` answers 403).

use crate::error::{Error, PendingError};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

/// Whether `path` is an OpenAI-compatible route.
pub fn applies(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// The error object.
#[derive(Debug, Serialize)]
pub struct OpenAiError {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `rate_limit_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub param: Option<String>,
    /// AutBot's stable error code (as in `/api/*` errors).
    pub code: String,
    /// AutBot's request id (also the `X-Request-Id` header); SDKs ignore it.
    pub request_id: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a OpenAiError,
}

impl OpenAiError {
    /// `pending` with the `type` its status has at OpenAI.
    pub fn new(status: StatusCode, pending: PendingError, request_id: String) -> Self {
        let kind = match status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            500.. => "server_error",
            _ => "invalid_request_error",
        };
        Self {
            message: pending.message,
            kind,
            param: pending.param,
            code: pending.code,
            request_id,
        }
    }

    /// The JSON text `{"error": {...}}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Envelope { error: self }).unwrap_or_default()
    }
}

/// Sets the status OpenAI uses and returns the body bytes.
pub fn render(response: &mut Response, pending: PendingError, request_id: String) -> Vec<u8> {
    if pending.code == Error::InvalidApiKey.code() {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    OpenAiError::new(response.status(), pending, request_id)
        .to_json()
        .into_bytes()
}
