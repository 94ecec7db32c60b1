//! Streamed chat completions (`"stream": true`): the server-sent events of an
//! OpenAI-compatible API (`data: {chunk}` … `data: [DONE]`) as a stream of text pieces.

use super::openai::count_usage;
use super::TextStream;
use crate::config::TokenPrice;
use crate::upstream::{classify, UpstreamError};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use std::pin::Pin;

/// Token counts, in complete answers and in the last chunk of a stream.
#[derive(Debug, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// One `data:` payload of the stream.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
    /// Some servers report a failure inside the stream.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

/// What one event says.
#[derive(Debug)]
enum Said {
    /// Text to append (possibly none) and, in the last chunk, the token counts.
    Data {
        text: Option<String>,
        usage: Option<Usage>,
    },
    /// `[DONE]`: the answer is complete.
    Done,
}

fn parse(data: &str) -> Result<Said, UpstreamError> {
    if data.trim() == "[DONE]" {
        return Ok(Said::Done);
    }
    let chunk: Chunk = serde_json::from_str(data)
        .map_err(|e| UpstreamError::Malformed(format!("a streamed chunk is not valid: {e}")))?;
    if let Some(error) = chunk.error {
        let message = error["message"].as_str().unwrap_or("no message");
        return Err(UpstreamError::Malformed(format!(
            "the stream reported an error: {message}"
        )));
    }
    let text = chunk
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.delta.content)
        .filter(|t| !t.is_empty());
    Ok(Said::Data {
        text,
        usage: chunk.usage,
    })
}

type Events = Pin<
    Box<
        dyn Stream<Item = Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>
            + Send,
    >,
>;

/// The text pieces of a streamed answer, in order. Ends at `[DONE]` (or when the
/// server closes the stream); a transport or format error is the last item.
pub fn pieces(response: reqwest::Response, model: String, price: Option<TokenPrice>) -> TextStream {
    let events: Events = Box::pin(response.bytes_stream().eventsource());
    Box::pin(futures::stream::unfold(Some(events), move |events| {
        let model = model.clone();
        async move {
            let mut events = events?;
            loop {
                let said = match events.next().await? {
                    Ok(event) => parse(&event.data),
                    Err(EventStreamError::Transport(e)) => Err(classify(e)),
                    Err(e) => Err(UpstreamError::Malformed(e.to_string())),
                };
                match said {
                    Ok(Said::Done) => return None,
                    Ok(Said::Data { text, usage }) => {
                        if let Some(u) = usage {
                            count_usage(&model, price, &u);
                        }
                        if let Some(text) = text {
                            return Some((Ok(text), Some(events)));
                        }
                    }
                    Err(e) => {
                        metrics::counter!(crate::observability::metrics::UPSTREAM_ERRORS, "kind" => e.kind())
                            .increment(1);
                        return Some((Err(e), None));
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_usage_errors_and_done() {
        let chunk =
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#;
        assert!(
            matches!(parse(chunk), Ok(Said::Data { text: Some(t), usage: None }) if t == "Hel")
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
                usage: Some(Usage {
                    prompt_tokens: 7,
                    completion_tokens: 3
                })
            })
        ));
        assert!(matches!(parse("[DONE]"), Ok(Said::Done)));
        let error = r#"{"error":{"message":"overloaded","type":"server_error"}}"#;
        assert!(
            matches!(parse(error), Err(UpstreamError::Malformed(m)) if m.contains("overloaded"))
        );
        assert!(matches!(
            parse("{not json"),
            Err(UpstreamError::Malformed(_))
        ));
    }
}
