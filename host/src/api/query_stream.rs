//! `POST /api/query/stream` (or `GET …?query=`): the question, answered as server-sent events while
//! the language model writes: `context` (the passages), `delta` (text pieces, in
//! order), then `done` (the whole answer) or `error`.

use super::query::{clean_query, sources, QueryRequest, SourceRef};
use crate::error::{Error, ErrorBody};
use crate::llm::Piece;
use crate::pipeline::client_key::Requester;
use crate::pipeline::json_body::JsonBody;
use crate::pipeline::request_id::RequestId;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;
use serde::Serialize;
use std::convert::Infallible;
use utoipa::ToSchema;

/// First event (`context`): what the answer is built from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextEvent {
    /// The passages, best first.
    pub context: Vec<String>,
    /// One entry per passage, same order.
    pub sources: Vec<SourceRef>,
    pub model: String,
    pub request_id: String,
}

/// A `delta` event: the next piece of the answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeltaEvent {
    pub text: String,
}

/// Last event on success (`done`): the whole answer, as `/api/query` gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoneEvent {
    pub response: String,
    pub request_id: String,
}

/// Answers a question as server-sent events.
#[utoipa::path(
    post,
    path = "/api/query/stream",
    request_body = QueryRequest,
    responses(
        (status = 200, description = "`text/event-stream`: one `context` event (ContextEvent), `delta` events (DeltaEvent), then `done` (DoneEvent), or `error` (ErrorBody) if the model fails mid-answer", content_type = "text/event-stream", body = ContextEvent),
        (status = 400, description = "Malformed JSON, missing field or wrong type", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Empty, too long or refused query", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 500, description = "A plugin failed", body = ErrorBody),
        (status = 502, description = "The language model failed before answering", body = ErrorBody),
        (status = 503, description = "Not ready, overloaded or the language model is down", body = ErrorBody),
        (status = 504, description = "Timed out", body = ErrorBody),
    )
)]
pub async fn query_stream(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Requester(client): Requester,
    JsonBody(body): JsonBody<QueryRequest>,
) -> Result<Response, Error> {
    stream_answer(&state, request_id, client, &body.query).await
}

/// The same for `GET /api/query/stream?query=...`, so a browser's `EventSource` (which
/// can only GET) can use it.
#[utoipa::path(
    get,
    path = "/api/query/stream",
    params(("query" = String, Query, description = "The question, URL-encoded")),
    responses(
        (status = 200, description = "`text/event-stream`, as for POST", content_type = "text/event-stream", body = ContextEvent),
        (status = 400, description = "No `query` parameter", body = ErrorBody),
        (status = 422, description = "Empty, too long or refused query", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 502, description = "The language model failed before answering", body = ErrorBody),
        (status = 503, description = "Not ready, overloaded or the language model is down", body = ErrorBody),
    )
)]
pub async fn query_stream_get(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Requester(client): Requester,
    query: Result<Query<QueryRequest>, QueryRejection>,
) -> Result<Response, Error> {
    let Ok(Query(body)) = query else {
        return Err(Error::bad_request(
            "missing_field",
            "the `query` URL parameter is missing, e.g. /api/query/stream?query=What%20is%20AutBot%3F",
        ));
    };
    stream_answer(&state, request_id, client, &body.query).await
}

/// Validates the question and streams its answer.
async fn stream_answer(
    state: &AppState,
    request_id: String,
    client: String,
    raw: &str,
) -> Result<Response, Error> {
    let question = clean_query(raw, state.config.server.max_query_chars)?;
    tracing::debug!(query = %question.chars().take(100).collect::<String>(), "query (stream)");
    let ask = crate::answer::Ask::new(&question, &request_id).from_client(client);
    let outcome = state.engine.answer_stream(&ask).await?;
    let context = ContextEvent {
        sources: sources(&outcome.passages),
        context: outcome.passages.into_iter().map(|p| p.text).collect(),
        model: outcome.model,
        request_id: request_id.clone(),
    };
    let first = futures::stream::once(async move { event("context", &context) });
    let rest = futures::stream::unfold(Some((outcome.pieces, String::new())), move |state| {
        let request_id = request_id.clone();
        async move {
            let (mut pieces, mut whole) = state?;
            let next = loop {
                match pieces.next().await {
                    Some(Ok(Piece::Text(text))) => break Some(Ok(text)),
                    // This endpoint has no place for the end reason and counts.
                    Some(Ok(Piece::Finish(_) | Piece::Usage(_))) => continue,
                    Some(Err(e)) => break Some(Err(e)),
                    None => break None,
                }
            };
            match next {
                Some(Ok(text)) => {
                    whole.push_str(&text);
                    Some((event("delta", &DeltaEvent { text }), Some((pieces, whole))))
                }
                Some(Err(e)) => {
                    let e = Error::from(e);
                    tracing::warn!(request_id = %request_id, code = %e.code(), error = %e, "the answer stream failed");
                    // The 200 is already sent, so the error-body layer never sees this one.
                    crate::observability::sentry::report_server_error(
                        e.status().as_u16(),
                        &e.code(),
                        &e.to_string(),
                        &request_id,
                    );
                    let body = ErrorBody {
                        error: e.to_string(),
                        code: e.code(),
                        request_id,
                    };
                    Some((event("error", &body), None))
                }
                None => {
                    let done = DoneEvent {
                        response: whole,
                        request_id,
                    };
                    Some((event("done", &done), None))
                }
            }
        }
    });
    // Proxies such as nginx would otherwise hold the events back until the end.
    Ok((
        [("x-accel-buffering", "no")],
        Sse::new(first.chain(rest)).keep_alive(KeepAlive::default()),
    )
        .into_response())
}

/// A named event with a JSON payload.
fn event(name: &str, data: &impl Serialize) -> Result<Event, Infallible> {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    Ok(Event::default().event(name).data(json))
}
