//! `JsonBody<T>`: axum's JSON extractor with every rejection mapped to our [`Error`],
//! so malformed JSON, a wrong content type, a missing field or a wrong type each get
//! a precise message and code.

use crate::error::Error;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(r: JsonRejection) -> Error {
    match r {
        JsonRejection::MissingJsonContentType(_) => Error::UnsupportedMediaType(
            "the body must be JSON: send `Content-Type: application/json`".into(),
        ),
        JsonRejection::JsonSyntaxError(e) => Error::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {}", inner(&e.body_text())),
        ),
        JsonRejection::JsonDataError(e) => {
            let detail = inner(&e.body_text());
            let code = if detail.contains("missing field") {
                "missing_field"
            } else if detail.contains("invalid type") {
                "wrong_type"
            } else {
                "invalid_body"
            };
            Error::bad_request(code, format!("the JSON body is not as expected: {detail}"))
        }
        JsonRejection::BytesRejection(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::bad_request("unreadable_body", e.body_text())
            }
        }
        other => Error::bad_request("invalid_body", other.body_text()),
    }
}

/// axum prefixes serde's message with its own sentence; keep serde's part.
fn inner(text: &str) -> String {
    text.split_once(": ")
        .map(|(_, tail)| tail)
        .unwrap_or(text)
        .to_string()
}
