//! `stream: true`: the answer as OpenAI streams it. `data: {chunk}` events of object
//! `chat.completion.chunk`: the first with `delta.role` (and AutBot's `autbot` field
//! with the sources), then `delta.content` pieces as the model writes, then one with
//! an empty delta and `finish_reason`, then (with `stream_options.include_usage`) one
//! with no choices and the `usage`, then `data: [DONE]`. A failure after the first
//! event is a `data: {"error": {...}}` event and the end of the stream, without
//! `[DONE]`. A client that goes away drops the stream, and with it the upstream call.

use super::request::ChatRequest;
use super::{sources, AutbotExtension, Head, Usage};
use crate::answer::StreamedOutcome;
use crate::config::PublicModel;
use crate::error::{Error, PendingError};
use crate::llm::{Piece, TextStream, TokenUsage};
use crate::pipeline::openai_error::OpenAiError;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};
use std::convert::Infallible;

/// Where a stream is.
enum Stage {
    /// Passing the model's pieces on.
    Writing(Box<Writing>),
    /// `[DONE]` is next.
    Done,
    /// Nothing more.
    Ended,
}

/// What follows a batch of events.
enum After {
    More,
    Done,
    Nothing,
}

/// A stream being written.
struct Writing {
    head: Head,
    pieces: TextStream,
    include_usage: bool,
    /// Appended before the finish chunk (`citations = true`).
    citations: Option<String>,
    finish: Option<String>,
    usage: Option<TokenUsage>,
    request_id: String,
}

impl Writing {
    /// A chunk with `choices` (and `usage: null` when usage was asked for, as OpenAI
    /// sends it on every chunk but the last).
    fn chunk(&self, choices: Value) -> Value {
        let mut c = json!({
            "id": self.head.id,
            "object": "chat.completion.chunk",
            "created": self.head.created,
            "model": self.head.model,
            "system_fingerprint": self.head.system_fingerprint,
            "choices": choices,
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c
    }

    fn delta(&self, delta: Value, finish: Option<&str>) -> Value {
        self.chunk(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]))
    }

    /// The next events and what follows them: content and more, the closing
    /// events and `[DONE]`, or an error event and nothing.
    async fn next_events(&mut self) -> (Vec<Value>, After) {
        loop {
            match self.pieces.next().await {
                Some(Ok(Piece::Text(text))) if !text.is_empty() => {
                    return (
                        vec![self.delta(json!({"content": text}), None)],
                        After::More,
                    )
                }
                Some(Ok(Piece::Text(_))) => {}
                Some(Ok(Piece::Finish(reason))) => self.finish = Some(reason),
                Some(Ok(Piece::Usage(u))) => self.usage = Some(u),
                Some(Err(e)) => return (vec![self.error(Error::from(e))], After::Nothing),
                None => return (self.closing(), After::Done),
            }
        }
    }

    /// Citations (if any), the finish chunk, the usage chunk (if asked for).
    fn closing(&mut self) -> Vec<Value> {
        let mut events = Vec::with_capacity(3);
        if let Some(text) = self.citations.take().filter(|t| !t.is_empty()) {
            events.push(self.delta(json!({"content": text}), None));
        }
        let finish = self.finish.take().unwrap_or_else(|| "stop".into());
        events.push(self.delta(json!({}), Some(&finish)));
        if self.include_usage {
            let mut last = self.chunk(json!([]));
            last["usage"] = json!(self.usage.map(Usage::from));
            events.push(last);
        }
        events
    }

    /// The error event for a failure mid-answer (the 200 is already sent, so the
    /// error-body layer never sees it).
    fn error(&self, e: Error) -> Value {
        tracing::warn!(request_id = %self.request_id, code = %e.code(), error = %e, "the answer stream failed");
        crate::observability::sentry::report_server_error(
            e.status().as_u16(),
            &e.code(),
            &e.to_string(),
            &self.request_id,
        );
        let pending = PendingError {
            message: e.to_string(),
            code: e.code(),
            param: e.param(),
        };
        let body = OpenAiError::new(e.status(), pending, self.request_id.clone()).to_json();
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }
}

/// The streamed response.
pub fn respond(
    head: Head,
    model: &PublicModel,
    chat: &ChatRequest,
    outcome: StreamedOutcome,
    request_id: String,
) -> Response {
    let writing = Writing {
        head,
        pieces: outcome.pieces,
        include_usage: chat.include_usage,
        citations: model.citations.then(|| super::citations(&outcome.passages)),
        finish: None,
        usage: None,
        request_id: request_id.clone(),
    };
    let mut first = writing.delta(json!({"role": "assistant", "content": ""}), None);
    first["autbot"] = json!(AutbotExtension {
        request_id,
        model: outcome.model,
        sources: sources(&outcome.passages),
    });
    let opening = futures::stream::once(async move { data(&first) });
    let rest = futures::stream::unfold(Stage::Writing(Box::new(writing)), |stage| async move {
        match stage {
            Stage::Writing(mut w) => {
                let (events, after) = w.next_events().await;
                let next = match after {
                    After::More => Stage::Writing(w),
                    After::Done => Stage::Done,
                    After::Nothing => Stage::Ended,
                };
                Some((
                    futures::stream::iter(events.iter().map(data).collect::<Vec<_>>()),
                    next,
                ))
            }
            Stage::Done => Some((
                futures::stream::iter(vec![Ok(Event::default().data("[DONE]"))]),
                Stage::Ended,
            )),
            Stage::Ended => None,
        }
    })
    .flatten();
    // Proxies such as nginx would otherwise hold the events back until the end.
    (
        [("x-accel-buffering", "no")],
        Sse::new(opening.chain(rest)).keep_alive(KeepAlive::default()),
    )
        .into_response()
}

fn data(value: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().data(value.to_string()))
}
