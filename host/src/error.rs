//! The one error type of the host. Every failure is a variant with its HTTP status and a
//! stable snake_case code; handlers return `Result<_, Error>` and never pick statuses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every way a request can fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is malformed (bad JSON, bad field). 400.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// A request parameter is missing, malformed or asks for what the server cannot
    /// do. 400, naming the parameter (OpenAI-compatible routes report it as `param`).
    #[error("{message}")]
    InvalidParameter {
        code: &'static str,
        param: String,
        message: String,
    },
    /// The `model` asked for is not served. 404 (as OpenAI answers).
    #[error("the model `{0}` does not exist; GET /v1/models lists the models served")]
    UnknownModel(String),
    /// No API key was sent to a route that needs one. 401.
    #[error("this route needs an API key in `{header}`")]
    MissingApiKey { header: String },
    /// The API key is not one of the configured keys. 403.
    #[error("the API key is not valid for this route")]
    InvalidApiKey,
    /// No such route. 404.
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    /// The route exists but not for this method. 405.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The request conflicts with the current state (e.g. no candidate to promote). 409.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than `server.body_limit_bytes`. 413.
    #[error("the request body is larger than the server accepts (server.body_limit_bytes)")]
    PayloadTooLarge,
    /// The body is not `application/json`. 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request is well-formed but its content is refused. 422.
    #[error("{message}")]
    Unprocessable { code: String, message: String },
    /// The request body did not arrive within `server.body_read_timeout_secs`. 408.
    #[error("the request body was not complete within {secs} s")]
    BodyTimeout { secs: f64 },
    /// This client has `server.max_concurrent_per_client` requests in flight. 429.
    #[error("too many requests in progress from this client (at most {max}); retry when one has finished")]
    TooManyConcurrent { max: usize },
    /// Too many requests from this client. 429.
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The language model failed or answered nonsense. 502. The text is the
    /// [`UpstreamError`](crate::upstream::UpstreamError)'s, which is generic by
    /// construction ("HTTP 500, server error"): an upstream's own error body is only
    /// logged, redacted, never shown to clients or sent to Sentry.
    #[error("the language model service failed ({0})")]
    Upstream(String),
    /// The language model is known to be down (circuit open). 503.
    #[error("the language model is unavailable; retry in {retry_after_secs} s")]
    UpstreamUnavailable { retry_after_secs: u64 },
    /// The server cannot serve yet (index still building, shutting down). 503.
    #[error("{0}")]
    NotReady(String),
    /// Too many requests in progress. 503.
    #[error("the server is overloaded; retry shortly")]
    Overloaded,
    /// The request or its upstream call took too long. 504.
    #[error("{0}")]
    Timeout(String),
    /// A plugin trapped, ran out of time or memory, or broke the contract. 500.
    #[error("plugin `{plugin}` failed: {message}")]
    PluginFailed { plugin: String, message: String },
    /// A bug. 500. The detail is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// A 400 with a stable code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 422 with a stable code.
    pub fn unprocessable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Unprocessable {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } | Error::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            Error::UnknownModel(_) => StatusCode::NOT_FOUND,
            Error::MissingApiKey { .. } => StatusCode::UNAUTHORIZED,
            Error::InvalidApiKey => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Error::RateLimited { .. } | Error::TooManyConcurrent { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::UpstreamUnavailable { .. } | Error::NotReady(_) | Error::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::PluginFailed { .. } | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> String {
        match self {
            Error::BadRequest { code, .. } | Error::InvalidParameter { code, .. } => code,
            Error::UnknownModel(_) => "model_not_found",
            Error::MissingApiKey { .. } => "missing_api_key",
            Error::InvalidApiKey => "invalid_api_key",
            Error::NotFound { .. } => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Unprocessable { code, .. } => code,
            Error::BodyTimeout { .. } => "body_timeout",
            Error::TooManyConcurrent { .. } => "too_many_concurrent_requests",
            Error::RateLimited { .. } => "rate_limited",
            Error::Upstream(_) => "upstream_error",
            Error::UpstreamUnavailable { .. } => "upstream_unavailable",
            Error::NotReady(_) => "not_ready",
            Error::Overloaded => "overloaded",
            Error::Timeout(_) => "timeout",
            Error::PluginFailed { .. } => "plugin_failed",
            Error::Internal(_) => "internal_error",
        }
        .to_string()
    }

    /// The request parameter at fault, when one is.
    pub fn param(&self) -> Option<String> {
        match self {
            Error::InvalidParameter { param, .. } => Some(param.clone()),
            Error::UnknownModel(_) => Some("model".into()),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Error::UpstreamUnavailable { retry_after_secs }
            | Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Error::Overloaded | Error::NotReady(_) | Error::TooManyConcurrent { .. } => Some(1),
            _ => None,
        }
    }
}

/// The JSON body of every error response. `error` is a plain string because the
/// prototype's web client shows `data.error` as it is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable message, safe to show to the user.
    pub error: String,
    /// Stable snake_case code, for programs.
    pub code: String,
    /// The request id (also in the `X-Request-Id` response header).
    pub request_id: String,
}

/// An error waiting for its request id: handlers produce it, the error-body layer
/// (`pipeline::error_body`) renders it once the id is known.
#[derive(Debug, Clone)]
pub struct PendingError {
    pub message: String,
    pub code: String,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Error::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        } else if status.is_server_error() {
            tracing::warn!(code = %self.code(), error = %self, "request failed");
        }
        let mut response = status.into_response();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(PendingError {
            message: self.to_string(),
            code: self.code(),
            param: self.param(),
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error, and its status, code, message, `param` and `Retry-After`.
    type Case = (
        Error,
        u16,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );

    /// Every variant: its status, code, message, `param` and `Retry-After`.
    #[test]
    fn every_error_has_its_status_code_and_message() {
        let cases: Vec<Case> = vec![
            (Error::bad_request("malformed_json", "bad"), 400, "malformed_json", "bad", None, None),
            (
                Error::InvalidParameter {
                    code: "unsupported_parameter",
                    param: "n".into(),
                    message: "n must be 1".into(),
                },
                400,
                "unsupported_parameter",
                "n must be 1",
                Some("n"),
                None,
            ),
            (
                Error::UnknownModel("gpt-9".into()),
                404,
                "model_not_found",
                "the model `gpt-9` does not exist; GET /v1/models lists the models served",
                Some("model"),
                None,
            ),
            (
                Error::MissingApiKey { header: "X-API-Key".into() },
                401,
                "missing_api_key",
                "this route needs an API key in `X-API-Key`",
                None,
                None,
            ),
            (Error::InvalidApiKey, 403, "invalid_api_key", "the API key is not valid for this route", None, None),
            (
                Error::NotFound { method: "GET".into(), path: "/x".into() },
                404,
                "not_found",
                "no route for GET /x",
                None,
                None,
            ),
            (Error::MethodNotAllowed, 405, "method_not_allowed", "method not allowed on this route", None, None),
            (Error::Conflict("no candidate".into()), 409, "conflict", "no candidate", None, None),
            (
                Error::PayloadTooLarge,
                413,
                "payload_too_large",
                "the request body is larger than the server accepts (server.body_limit_bytes)",
                None,
                None,
            ),
            (Error::UnsupportedMediaType("send JSON".into()), 415, "unsupported_media_type", "send JSON", None, None),
            (Error::unprocessable("query_refused", "no"), 422, "query_refused", "no", None, None),
            (
                Error::BodyTimeout { secs: 2.5 },
                408,
                "body_timeout",
                "the request body was not complete within 2.5 s",
                None,
                None,
            ),
            (
                Error::TooManyConcurrent { max: 3 },
                429,
                "too_many_concurrent_requests",
                "too many requests in progress from this client (at most 3); retry when one has finished",
                None,
                Some("1"),
            ),
            (
                Error::RateLimited { retry_after_secs: 7 },
                429,
                "rate_limited",
                "too many requests; retry in 7 s",
                None,
                Some("7"),
            ),
            (
                Error::Upstream("HTTP 500, server error".into()),
                502,
                "upstream_error",
                "the language model service failed (HTTP 500, server error)",
                None,
                None,
            ),
            (
                Error::UpstreamUnavailable { retry_after_secs: 30 },
                503,
                "upstream_unavailable",
                "the language model is unavailable; retry in 30 s",
                None,
                Some("30"),
            ),
            (Error::NotReady("building".into()), 503, "not_ready", "building", None, Some("1")),
            (Error::Overloaded, 503, "overloaded", "the server is overloaded; retry shortly", None, Some("1")),
            (Error::Timeout("too slow".into()), 504, "timeout", "too slow", None, None),
            (
                Error::PluginFailed { plugin: "guard".into(), message: "trapped".into() },
                500,
                "plugin_failed",
                "plugin `guard` failed: trapped",
                None,
                None,
            ),
            (Error::Internal("a secret detail".into()), 500, "internal_error", "internal error", None, None),
        ];
        for (error, status, code, message, param, retry_after) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.to_string(), message, "{error:?}");
            assert_eq!(error.param().as_deref(), param, "{error:?}");
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            let header = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok());
            assert_eq!(header, retry_after, "{code}");
            // The body is rendered later, once the request id is known.
            let pending = response
                .extensions()
                .get::<PendingError>()
                .expect("pending");
            assert_eq!(
                (pending.code.as_str(), pending.message.as_str()),
                (code, message)
            );
            assert_eq!(pending.param.as_deref(), param);
        }
    }
}
