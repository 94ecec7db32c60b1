//! Streamed chat completions (`"stream": true`): the server-sent events of an
//! OpenAI-compatible API (`data: {chunk}` … `data: [DONE]`) as a stream of text pieces.

use super::accounting::{count_usage, record_health};
use super::{CircuitBreaker, Piece, TextStream, TokenUsage};
use crate::config::TokenPrice;
use crate::upstream::{classify, UpstreamError};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use std::pin::Pin;
use std::sync::Arc;

/// One `data:` payload of the stream.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<TokenUsage>,
    /// Some servers report a failure inside the stream.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

/// What one event says.
#[derive(Debug)]
enum Said {
    /// Text to append (possibly none), why the answer ended (in the last choice
    /// chunk) and, in the last chunk, the token counts.
    Data {
        text: Option<String>,
        finish: Option<String>,
        usage: Option<TokenUsage>,
    },
    /// `[DONE]`: the answer is complete.
    Done,
}

fn parse(data: &str) -> Result<Said, UpstreamError> {
    match data.trim() {
        "[DONE]" => return Ok(Said::Done),
        "" => {
            return Ok(Said::Data {
                text: None,
                finish: None,
                usage: None,
            })
        }
        _ => {}
    }
    let chunk: Chunk = serde_json::from_str(data)
        .map_err(|e| UpstreamError::malformed("a streamed chunk is not valid", e))?;
    if let Some(error) = chunk.error {
        // The upstream's words are logged (redacted), never passed on.
        let message = error["message"].as_str().unwrap_or("no message");
        return Err(UpstreamError::malformed(
            "the upstream reported an error mid-stream",
            message,
        ));
    }
    let choice = chunk.choices.unwrap_or_default().into_iter().next();
    let finish = super::finish_reason(choice.as_ref().and_then(|c| c.finish_reason.as_deref()));
    let text = choice
        .and_then(|c| c.delta?.content)
        .filter(|t| !t.is_empty());
    Ok(Said::Data {
        text,
        finish,
        usage: chunk.usage,
    })
}

type Events = Pin<
    Box<
        dyn Stream<Item = Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>
            + Send,
    >,
>;

/// Tells the breaker how the stream went, once: at `[DONE]`, at the first error, or,
/// when the client goes away first, as a success when dropped (so a trial call never
/// leaves the breaker half-open).
struct Verdict(Option<Arc<CircuitBreaker>>);

impl Verdict {
    fn give(&mut self, outcome: Result<(), &UpstreamError>) {
        if let Some(breaker) = self.0.take() {
            record_health(&breaker, outcome);
        }
    }
}

impl Drop for Verdict {
    fn drop(&mut self) {
        self.give(Ok(()));
    }
}

/// A stream being read.
struct Reading {
    events: Events,
    any_text: bool,
    /// Items of the current chunk still to hand out (a chunk may carry text, its
    /// finish reason and the counts at once).
    queued: std::collections::VecDeque<Piece>,
    verdict: Verdict,
    model: String,
    price: Option<TokenPrice>,
}

impl Reading {
    /// The next piece; `None` at a complete end; an error ends the stream.
    async fn next_piece(&mut self) -> Option<Result<Piece, UpstreamError>> {
        let failure = loop {
            if let Some(piece) = self.queued.pop_front() {
                return Some(Ok(piece));
            }
            let said = match self.events.next().await {
                // Servers must end with `[DONE]`; without it the answer may be cut off.
                None => Err(UpstreamError::Malformed(
                    "the stream ended before [DONE]".into(),
                )),
                Some(Ok(event)) => parse(&event.data),
                Some(Err(EventStreamError::Transport(e))) => Err(classify(e)),
                Some(Err(e)) => Err(UpstreamError::malformed(
                    "the event stream cannot be parsed",
                    e,
                )),
            };
            match said {
                Ok(Said::Done) if self.any_text => {
                    self.verdict.give(Ok(()));
                    return None;
                }
                Ok(Said::Done) => {
                    break UpstreamError::Malformed("the answer has no message content".into())
                }
                Ok(Said::Data {
                    text,
                    finish,
                    usage,
                }) => {
                    if let Some(text) = text {
                        self.any_text |= !text.trim().is_empty();
                        self.queued.push_back(Piece::Text(text));
                    }
                    if let Some(reason) = finish {
                        self.queued.push_back(Piece::Finish(reason));
                    }
                    if let Some(u) = usage {
                        count_usage(&self.model, self.price, &u);
                        self.queued.push_back(Piece::Usage(u));
                    }
                }
                Err(e) => break e,
            }
        };
        self.verdict.give(Err(&failure));
        metrics::counter!(crate::observability::metrics::UPSTREAM_ERRORS, "kind" => failure.kind())
            .increment(1);
        Some(Err(failure))
    }
}

/// The text pieces of a streamed answer, in order. Ends at `[DONE]`; a transport or
/// format error, a stream cut off before `[DONE]` or an answer without text is the
/// last item. `breaker` learns how the stream went.
pub fn pieces(
    response: reqwest::Response,
    model: String,
    price: Option<TokenPrice>,
    breaker: Arc<CircuitBreaker>,
) -> TextStream {
    let reading = Reading {
        events: Box::pin(response.bytes_stream().eventsource()),
        any_text: false,
        queued: Default::default(),
        verdict: Verdict(Some(breaker)),
        model,
        price,
    };
    Box::pin(futures::stream::unfold(
        Some(reading),
        |reading| async move {
            let mut reading = reading?;
            match reading.next_piece().await? {
                Ok(piece) => Some((Ok(piece), Some(reading))),
                Err(e) => Some((Err(e), None)),
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_usage_errors_and_done() {
        let chunk =
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#;
        assert!(
            matches!(parse(chunk), Ok(Said::Data { text: Some(t), usage: None, .. }) if t == "Hel")
        );
        let role_only = r#"{"choices":[{"delta":{"role":"assistant"}}]}"#;
        assert!(matches!(
            parse(role_only),
            Ok(Said::Data { text: None, .. })
        ));
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;
        assert!(matches!(
            parse(usage),
            Ok(Said::Data {
                text: None,
                usage: Some(TokenUsage {
                    prompt_tokens: 7,
                    completion_tokens: 3
                }),
                ..
            })
        ));
        assert!(matches!(parse("[DONE]"), Ok(Said::Done)));
        let odd = format!(
            r#"{{"choices":[{{"delta":{{}},"finish_reason":"{}"}}]}}"#,
            "x".repeat(100)
        );
        assert!(
            matches!(parse(&odd), Ok(Said::Data { finish: None, .. })),
            "an odd reason is dropped"
        );
        let length = r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#;
        assert!(matches!(parse(length), Ok(Said::Data { finish: Some(f), .. }) if f == "length"));
        let error = r#"{"error":{"message":"overloaded","type":"server_error"}}"#;
        assert!(
            matches!(parse(error), Err(UpstreamError::Malformed(m)) if !m.contains("overloaded"))
        );
        assert!(matches!(
            parse("{not json"),
            Err(UpstreamError::Malformed(_))
        ));
    }
}
