//! Every error response becomes `application/json` `{"error", "code", "request_id"}`:
//! our own errors (rendered here once the request id is known) and everything else
//! that answers with an error status and no JSON body (axum's 404/405 and rejections,
//! tower-http's 413). On the OpenAI-compatible routes (`/v1/*`) the same errors take
//! OpenAI's shape instead (`openai_error.rs`), so its SDKs raise the right exceptions.

use super::request_id::RequestId;
use crate::error::{ErrorBody, PendingError};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: renders pending errors and converts foreign error responses.
pub async fn layer(req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    let status = response.status();
    let pending = match response.extensions_mut().remove::<PendingError>() {
        Some(p) => p,
        None if (status.is_client_error() || status.is_server_error()) && !is_json(&response) => {
            foreign(status, &method, &path)
        }
        None => return response,
    };
    if status.is_server_error() {
        crate::observability::sentry::report_server_error(
            status.as_u16(),
            &pending.code,
            &pending.message,
            &request_id,
        );
    }
    let bytes = if super::openai_error::applies(&path) {
        super::openai_error::render(&mut response, pending, request_id)
    } else {
        let body = ErrorBody {
            error: pending.message,
            code: pending.code,
            request_id,
        };
        serde_json::to_vec(&body).unwrap_or_default()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.remove(header::CONTENT_LENGTH);
    *response.body_mut() = Body::from(bytes);
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A message and code for an error response produced outside our handlers.
fn foreign(status: StatusCode, method: &axum::http::Method, path: &str) -> PendingError {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", format!("no route for {method} {path}")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than the server accepts".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json".to_string(),
        ),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            ("timeout", "the request took too long".to_string())
        }
        s if s.is_server_error() => ("internal_error", "internal error".to_string()),
        s => (
            "bad_request",
            s.canonical_reason().unwrap_or("bad request").to_lowercase(),
        ),
    };
    PendingError {
        message,
        code: code.to_string(),
        param: None,
    }
}
