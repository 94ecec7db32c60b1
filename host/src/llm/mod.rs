//! Language-model providers behind one trait: `extractive` (embedded default, no
//! network) and `openai` (any OpenAI-compatible `/v1/chat/completions`).

mod accounting;
pub mod budget;
mod circuit_breaker;
mod extractive;
mod openai;
mod openai_stream;

pub use circuit_breaker::CircuitBreaker;
pub use extractive::Extractive;
pub use openai::OpenAiChat;

use crate::config::{LlmConfig, LlmProvider, TokenPrice};
use crate::rag::retrieve::Passage;
use crate::upstream::UpstreamError;
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::pin::Pin;
use std::sync::Arc;

/// An answer as it is written: its text pieces in order, then (when the provider
/// says) why it ended and what it cost.
pub type TextStream = Pin<Box<dyn Stream<Item = Result<Piece, UpstreamError>> + Send>>;

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// The next text of the answer.
    Text(String),
    /// Why the model stopped (`stop`, `length`, `content_filter`), as it said.
    Finish(String),
    /// The answer's token counts.
    Usage(TokenUsage),
}

/// An upstream's `finish_reason`, passed on to clients only when it looks like one
/// (`stop`, `length`, `content_filter`, ...: at most 32 lowercase letters and `_`).
pub fn finish_reason(upstream: Option<&str>) -> Option<String> {
    upstream
        .filter(|r| !r.is_empty() && r.len() <= 32)
        .filter(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(str::to_string)
}

/// Token counts of one answer: the upstream's own figures, or for the extractive
/// answerer (which has no tokenizer) words, counted by [`TokenUsage::words`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

impl TokenUsage {
    /// Words read (every message) and written (the answer): the extractive answerer's count.
    pub fn words(messages: &[ChatMessage], answer: &str) -> Self {
        let count = |t: &str| t.split_whitespace().count() as u64;
        Self {
            prompt_tokens: messages.iter().map(|m| count(&m.content)).sum(),
            completion_tokens: count(answer),
        }
    }
}

/// Sampling parameters a client may set per request (`/v1/chat/completions`); unset
/// fields keep the `[llm]` configuration. The extractive answerer honours
/// `max_tokens` (counted in words) and has nothing to sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// At most `llm.max_tokens` (the operator's cost cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// The end user's id, passed to the upstream for its abuse monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl GenerationOptions {
    /// Whether nothing is set (the configured defaults apply).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// Everything a provider may use to answer.
pub struct AnswerRequest<'a> {
    pub question: &'a str,
    pub passages: &'a [Passage],
    /// The prompt built by the prompt-builder plugin.
    pub messages: &'a [ChatMessage],
    /// The lexical index of the corpus the passages came from: how rare each word is
    /// (the extractive answerer weighs question words by it).
    pub corpus: Option<&'a crate::rag::bm25::Bm25>,
    /// What the client asked for (sampling, length).
    pub options: &'a GenerationOptions,
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    /// Which model answered (`extractive` for the embedded default).
    pub model: String,
    /// Token counts, when known.
    pub usage: Option<TokenUsage>,
    /// Why the model stopped, as it said (`stop` when it did not say).
    pub finish_reason: Option<String>,
}

/// Answers questions.
#[async_trait::async_trait]
pub trait Llm: Send + Sync {
    /// The model name, for responses and cache keys.
    fn model(&self) -> String;
    /// Produces the answer.
    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError>;
    /// The answer as a stream of text pieces (`POST /api/query/stream`). By default
    /// the whole answer as one piece, which is what the extractive answerer gives.
    async fn answer_stream(
        &self,
        request: &AnswerRequest<'_>,
    ) -> Result<TextStream, UpstreamError> {
        Ok(whole_answer(self.answer(request).await?))
    }
    /// A bare chat completion (used by plugins with the `llm` capability).
    async fn complete(&self, messages: &[ChatMessage]) -> Result<String, UpstreamError>;
    /// True while the provider is known to be down (circuit open).
    fn is_unavailable(&self) -> bool {
        false
    }
}

/// A complete answer as a stream: its text in one piece, then its end and counts.
pub fn whole_answer(answer: Answer) -> TextStream {
    let mut items = vec![Ok(Piece::Text(answer.text))];
    if let Some(reason) = answer.finish_reason {
        items.push(Ok(Piece::Finish(reason)));
    }
    if let Some(usage) = answer.usage {
        items.push(Ok(Piece::Usage(usage)));
    }
    Box::pin(futures::stream::iter(items))
}

/// The configured provider; `price` feeds the estimated-cost metric.
pub fn from_config(c: &LlmConfig, price: Option<TokenPrice>) -> Result<Arc<dyn Llm>, String> {
    Ok(match c.provider {
        LlmProvider::Extractive => Arc::new(Extractive),
        LlmProvider::Openai => Arc::new(OpenAiChat::new(c, price)?),
    })
}
