//! `POST /api/query`: the prototype-compatible question endpoint.

use crate::app::AppState;
use crate::error::{Error, ErrorBody};
use crate::pipeline::json_body::JsonBody;
use crate::pipeline::request_id::RequestId;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// The question.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QueryRequest {
    /// The user's question (1 to `server.max_query_chars` characters).
    pub query: String,
}

/// Where a context passage came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceRef {
    pub source: String,
    /// Heading path inside the source, or "".
    pub heading: String,
    /// Relevance score (higher is better).
    pub score: f64,
}

/// The answer. `response` and `context` keep the prototype's names.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResponse {
    pub response: String,
    /// The passages the answer was built from, best first.
    pub context: Vec<String>,
    /// One entry per `context` passage, same order.
    pub sources: Vec<SourceRef>,
    /// Which model answered (`extractive` for the embedded default).
    pub model: String,
    pub request_id: String,
}

/// Answers a question from the indexed documents.
#[utoipa::path(
    post,
    path = "/api/query",
    request_body = QueryRequest,
    responses(
        (status = 200, description = "The answer; `X-Cache: hit|miss|bypass` tells whether it came from the cache", body = QueryResponse),
        (status = 400, description = "Malformed JSON, missing field or wrong type", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Empty, too long or refused query", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 500, description = "A plugin failed", body = ErrorBody),
        (status = 502, description = "The language model failed", body = ErrorBody),
        (status = 503, description = "Not ready, overloaded or the language model is down", body = ErrorBody),
        (status = 504, description = "Timed out", body = ErrorBody),
    )
)]
pub async fn query(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<QueryRequest>,
) -> Result<([(&'static str, &'static str); 1], Json<QueryResponse>), Error> {
    let started = std::time::Instant::now();
    let question = clean_query(&body.query, state.config.server.max_query_chars);
    metrics::histogram!(crate::observability::metrics::STAGE_DURATION, "stage" => "validation")
        .record(started.elapsed().as_secs_f64());
    let question = question?;
    tracing::debug!(query = %question.chars().take(100).collect::<String>(), "query");
    let bypass = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("no-cache") || v.contains("no-store"));
    let (outcome, cache) = state.engine.answer(&question, &request_id, bypass).await?;
    let outcome = Arc::unwrap_or_clone(outcome);
    let body = QueryResponse {
        response: outcome.response,
        sources: sources(&outcome.passages),
        context: outcome.passages.into_iter().map(|p| p.text).collect(),
        model: outcome.model,
        request_id,
    };
    Ok(([("x-cache", cache.header())], Json(body)))
}

/// Where each passage came from, same order, scores rounded to 3 decimals.
pub fn sources(passages: &[crate::rag::retrieve::Passage]) -> Vec<SourceRef> {
    passages
        .iter()
        .map(|p| SourceRef {
            source: p.source.clone(),
            heading: p.heading.clone(),
            score: (p.score * 1000.0).round() / 1000.0,
        })
        .collect()
}

/// Zero-width and byte-order-mark characters, stripped silently.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Validates and normalises the question: invisible characters stripped, trimmed,
/// non-empty, no control characters except newline and tab, bounded length.
pub fn clean_query(raw: &str, max_chars: usize) -> Result<String, Error> {
    let text: String = raw.chars().filter(|c| !is_invisible(*c)).collect();
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::unprocessable(
            "empty_query",
            "the query is empty; ask a question",
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t' && *c != '\r')
    {
        return Err(Error::unprocessable(
            "invalid_characters",
            format!(
                "the query contains a control character (U+{:04X}); remove it",
                c as u32
            ),
        ));
    }
    let n = text.chars().count();
    if n > max_chars {
        return Err(Error::unprocessable(
            "query_too_long",
            format!("the query is {n} characters long; the limit is {max_chars}"),
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_rules() {
        assert_eq!(
            clean_query("  hi\u{200B} there \n", 100).unwrap(),
            "hi there"
        );
        assert_eq!(
            clean_query("\u{FEFF}\u{200B} ", 100).unwrap_err().code(),
            "empty_query"
        );
        assert_eq!(
            clean_query("a\u{0007}b", 100).unwrap_err().code(),
            "invalid_characters"
        );
        assert_eq!(
            clean_query(&"é".repeat(11), 10).unwrap_err().code(),
            "query_too_long"
        );
        assert!(clean_query("line one\nline two\tend", 100).is_ok());
    }
}
