//! OpenAI-compatible chat completions with a timeout, retries on 429/5xx and a
//! circuit breaker so a dead upstream fails fast.

use super::accounting::{count_usage, record_health};
use super::openai_stream;
use super::{
    whole_answer, Answer, AnswerRequest, ChatMessage, CircuitBreaker, GenerationOptions, Llm,
    TextStream, TokenUsage,
};
use crate::config::{LlmConfig, TokenPrice};
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
    usage: Option<TokenUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    #[serde(default)]
    finish_reason: Option<String>,
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
        options: &GenerationOptions,
        stream: Streaming,
    ) -> Result<reqwest::Response, UpstreamError> {
        if let Err(retry_after_secs) = self.breaker.admit() {
            return Err(UpstreamError::CircuitOpen { retry_after_secs });
        }
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": options.temperature.unwrap_or(self.temperature),
            // The client may ask for less, never for more than the operator allows.
            "max_tokens": options.max_tokens.map_or(self.max_tokens, |m| m.min(self.max_tokens)),
        });
        let passed = [
            ("top_p", serde_json::to_value(options.top_p)),
            ("seed", serde_json::to_value(options.seed)),
            ("stop", serde_json::to_value(&options.stop)),
            (
                "presence_penalty",
                serde_json::to_value(options.presence_penalty),
            ),
            (
                "frequency_penalty",
                serde_json::to_value(options.frequency_penalty),
            ),
            ("user", serde_json::to_value(&options.user)),
        ];
        for (name, value) in passed {
            match value {
                Ok(v) if !v.is_null() => body[name] = v,
                _ => {}
            }
        }
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

    /// A complete (non-streamed) answer.
    async fn read_answer(&self, response: reqwest::Response) -> Result<Answer, UpstreamError> {
        let parsed: ChatResponse = response.json().await.map_err(|e| {
            UpstreamError::malformed(
                "the answer is not the expected JSON",
                crate::upstream::error_chain(&e),
            )
        })?;
        if let Some(u) = &parsed.usage {
            count_usage(&self.model, self.price, u);
        }
        let choice = parsed.choices.into_iter().next();
        let finish_reason =
            super::finish_reason(choice.as_ref().and_then(|c| c.finish_reason.as_deref()));
        let text = choice
            .and_then(|c| c.message.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| UpstreamError::Malformed("the answer has no message content".into()))?;
        Ok(Answer {
            text,
            model: self.model.clone(),
            usage: parsed.usage,
            finish_reason,
        })
    }

    async fn answer_with(
        &self,
        messages: &[ChatMessage],
        options: &GenerationOptions,
    ) -> Result<Answer, UpstreamError> {
        let response = self.send(messages, options, Streaming::No).await?;
        let answer = self.read_answer(response).await;
        self.record(&answer);
        answer
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

#[async_trait::async_trait]
impl Llm for OpenAiChat {
    fn model(&self) -> String {
        self.model.clone()
    }

    fn is_unavailable(&self) -> bool {
        self.breaker.is_open()
    }

    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError> {
        self.answer_with(request.messages, request.options).await
    }

    async fn complete(&self, messages: &[ChatMessage]) -> Result<String, UpstreamError> {
        let options = GenerationOptions::default();
        Ok(self.answer_with(messages, &options).await?.text)
    }

    async fn answer_stream(
        &self,
        request: &AnswerRequest<'_>,
    ) -> Result<TextStream, UpstreamError> {
        let (messages, options) = (request.messages, request.options);
        let response = match self.send(messages, options, Streaming::WithUsage).await {
            // Some OpenAI-compatible servers refuse `stream_options`.
            Err(UpstreamError::Status { status: 400, .. }) => {
                self.send(messages, options, Streaming::Plain).await?
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
        let answer = self.read_answer(response).await;
        self.record(&answer);
        Ok(whole_answer(answer?))
    }
}
