//! OpenAI-compatible chat completions with a timeout, retries on 429/5xx and a
//! circuit breaker so a dead upstream fails fast.

use super::openai_stream::{self, Usage};
use super::{Answer, AnswerRequest, ChatMessage, CircuitBreaker, Llm, TextStream};
use crate::config::{LlmConfig, TokenPrice};
use crate::observability::metrics::{LLM_CIRCUIT_OPEN, LLM_COST, LLM_TOKENS};
use crate::upstream::{send_with_retry, UpstreamError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Client for `POST {base_url}/chat/completions`.
pub struct OpenAiChat {
    http: reqwest::Client,
    url: String,
    model: String,
    temperature: f32,
    max_tokens: u32,
    max_retries: u32,
    key: SecretString,
    breaker: Arc<CircuitBreaker>,
    price: Option<TokenPrice>,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

impl OpenAiChat {
    /// A client from `[llm]`; the key comes from `OPENAI_API_KEY`.
    pub fn new(c: &LlmConfig, price: Option<TokenPrice>) -> Result<Self, String> {
        let key = c
            .api_key
            .clone()
            .ok_or("llm.api_key: OPENAI_API_KEY is not set")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            url: format!("{}/chat/completions", c.base_url.trim_end_matches('/')),
            model: c.model.clone(),
            temperature: c.temperature,
            max_tokens: c.max_tokens,
            max_retries: c.max_retries,
            key,
            breaker: Arc::new(CircuitBreaker::new(
                c.breaker_failures,
                Duration::from_secs(c.breaker_cooldown_secs),
            )),
            price,
        })
    }

    /// Sends the chat request, with retries. The breaker admits it first and learns
    /// from a failure here; the caller tells it the outcome once the answer is read
    /// (for a stream: when it ends).
    async fn send(
        &self,
        messages: &[ChatMessage],
        stream: Streaming,
    ) -> Result<reqwest::Response, UpstreamError> {
        if let Err(retry_after_secs) = self.breaker.admit() {
            return Err(UpstreamError::CircuitOpen { retry_after_secs });
        }
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        });
        if stream != Streaming::No {
            body["stream"] = true.into();
        }
        if stream == Streaming::WithUsage {
            body["stream_options"] = serde_json::json!({"include_usage": true});
        }
        let outcome = send_with_retry(
            || {
                self.http
                    .post(&self.url)
                    .bearer_auth(self.key.expose_secret())
                    .json(&body)
            },
            self.max_retries,
        )
        .await;
        if outcome.is_err() {
            self.record(&outcome);
        }
        outcome
    }

    /// Tells the breaker how a call went.
    fn record<T>(&self, outcome: &Result<T, UpstreamError>) {
        record_health(&self.breaker, outcome.as_ref().map(|_| ()));
    }

    /// The message content of a complete (non-streamed) answer.
    async fn read_answer(&self, response: reqwest::Response) -> Result<String, UpstreamError> {
        let parsed: ChatResponse = response.json().await.map_err(|e| {
            UpstreamError::malformed(
                "the answer is not the expected JSON",
                crate::upstream::error_chain(&e),
            )
        })?;
        if let Some(u) = &parsed.usage {
            count_usage(&self.model, self.price, u);
        }
        parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| UpstreamError::Malformed("the answer has no message content".into()))
    }
}

/// Whether to ask for server-sent events, and for the token counts at their end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Streaming {
    No,
    WithUsage,
    /// For servers that refuse `stream_options`.
    Plain,
}

/// Tells `breaker` how a call went. Client errors (4xx other than 429) are our fault,
/// not the upstream's health.
pub(super) fn record_health(breaker: &CircuitBreaker, outcome: Result<(), &UpstreamError>) {
    let healthy = match outcome {
        Ok(()) => true,
        Err(UpstreamError::Status { status, .. }) => *status < 500 && *status != 429,
        Err(_) => false,
    };
    breaker.record(healthy);
    metrics::gauge!(LLM_CIRCUIT_OPEN).set(if breaker.is_open() { 1.0 } else { 0.0 });
}

/// Token and cost metrics for one answer.
pub(super) fn count_usage(model: &str, price: Option<TokenPrice>, u: &Usage) {
    let model = model.to_string();
    metrics::counter!(LLM_TOKENS, "model" => model.clone(), "direction" => "in")
        .increment(u.prompt_tokens);
    metrics::counter!(LLM_TOKENS, "model" => model.clone(), "direction" => "out")
        .increment(u.completion_tokens);
    if let Some(p) = price {
        let usd = u.prompt_tokens as f64 / 1000.0 * p.input_per_1k
            + u.completion_tokens as f64 / 1000.0 * p.output_per_1k;
        metrics::counter!(LLM_COST, "model" => model).increment((usd * 1e6).round() as u64);
    }
}

#[async_trait::async_trait]
impl Llm for OpenAiChat {
    fn model(&self) -> String {
        self.model.clone()
    }

    fn is_unavailable(&self) -> bool {
        self.breaker.is_open()
    }

    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError> {
        let text = self.complete(request.messages).await?;
        Ok(Answer {
            text,
            model: self.model.clone(),
        })
    }

    async fn complete(&self, messages: &[ChatMessage]) -> Result<String, UpstreamError> {
        let response = self.send(messages, Streaming::No).await?;
        let answer = self.read_answer(response).await;
        self.record(&answer);
        answer
    }

    async fn answer_stream(
        &self,
        request: &AnswerRequest<'_>,
    ) -> Result<TextStream, UpstreamError> {
        let response = match self.send(request.messages, Streaming::WithUsage).await {
            // Some OpenAI-compatible servers refuse `stream_options`.
            Err(UpstreamError::Status { status: 400, .. }) => {
                self.send(request.messages, Streaming::Plain).await?
            }
            other => other?,
        };
        let is_event_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_event_stream {
            return Ok(openai_stream::pieces(
                response,
                self.model.clone(),
                self.price,
                self.breaker.clone(),
            ));
        }
        // A server that ignores `stream` answers in one piece.
        let text = self.read_answer(response).await;
        self.record(&text);
        let text = text?;
        Ok(Box::pin(futures::stream::once(async move { Ok(text) })))
    }
}
