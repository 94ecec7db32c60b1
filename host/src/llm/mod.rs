//! Language-model providers behind one trait: `extractive` (embedded default, no
//! network) and `openai` (any OpenAI-compatible `/v1/chat/completions`).

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

/// An answer as it is written: its text pieces, in order.
pub type TextStream = Pin<Box<dyn Stream<Item = Result<String, UpstreamError>> + Send>>;

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
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    /// Which model answered (`extractive` for the embedded default).
    pub model: String,
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
        let text = self.answer(request).await?.text;
        Ok(Box::pin(futures::stream::once(async move { Ok(text) })))
    }
    /// A bare chat completion (used by plugins with the `llm` capability).
    async fn complete(&self, messages: &[ChatMessage]) -> Result<String, UpstreamError>;
    /// True while the provider is known to be down (circuit open).
    fn is_unavailable(&self) -> bool {
        false
    }
}

/// The configured provider; `price` feeds the estimated-cost metric.
pub fn from_config(c: &LlmConfig, price: Option<TokenPrice>) -> Result<Arc<dyn Llm>, String> {
    Ok(match c.provider {
        LlmProvider::Extractive => Arc::new(Extractive),
        LlmProvider::Openai => Arc::new(OpenAiChat::new(c, price)?),
    })
}
