//! What is asked and what is answered: the question with what the client sent around
//! it ([`Ask`]), and the answer, finished ([`Outcome`], also what the cache stores) or
//! being written ([`StreamedOutcome`]). Plain data shared by the handlers, the engine
//! and the cache.

use crate::llm::{ChatMessage, GenerationOptions, TextStream, TokenUsage};
use crate::rag::retrieve::Passage;

/// A finished answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub response: String,
    pub passages: Vec<Passage>,
    pub model: String,
    /// Token counts, when the model gave them.
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    /// Why the model stopped (`stop`, `length`, ...).
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// One question to answer and what the client asked around it.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// The validated question.
    pub question: String,
    pub request_id: String,
    /// The conversation before the question (oldest first), for plugins with the
    /// `conversation` capability.
    pub history: Vec<ChatMessage>,
    /// Sampling parameters for the model.
    pub options: GenerationOptions,
    /// Passages given to the model, instead of `index.top_k`.
    pub top_k: Option<usize>,
    /// Who asks (client key name, else IP): decides which plugin versions serve.
    pub client: String,
}

impl Ask {
    /// A single question with the configured defaults.
    pub fn new(question: &str, request_id: &str) -> Self {
        Self {
            question: question.to_string(),
            request_id: request_id.to_string(),
            ..Self::default()
        }
    }

    /// The same question from `client`.
    pub fn from_client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// What besides the question decides the answer, for the cache key ("" when
    /// nothing does, so single questions share entries with `/api/query`).
    pub(crate) fn variant(&self) -> String {
        if self.history.is_empty() && self.options.is_default() && self.top_k.is_none() {
            return String::new();
        }
        serde_json::json!({
            "history": self.history,
            "options": self.options,
            "top_k": self.top_k,
        })
        .to_string()
    }
}

/// An answer being written: its passages now, its text as it comes.
pub struct StreamedOutcome {
    pub passages: Vec<Passage>,
    pub model: String,
    pub pieces: TextStream,
}
