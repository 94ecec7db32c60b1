//! The services behind the `search`, `embed` and `llm` capabilities. They are async:
//! a plugin call runs on the request's task, and a callback that waits (an upstream
//! retry, a slow model) is dropped when the call's deadline passes.

use super::bindings::types;
use crate::embeddings::Embedder;
use crate::llm::{ChatMessage, Llm, Role};
use crate::rag::live::LiveIndex;
use crate::rag::params::SearchParams;
use crate::rag::retrieve::retrieve;
use std::sync::Arc;

/// Largest `top-k` a plugin may ask `search` for.
const MAX_PLUGIN_TOP_K: u32 = 20;

/// Shared services for capability calls.
pub struct HostServices {
    pub index: Arc<LiveIndex>,
    pub embedder: Arc<dyn Embedder>,
    /// The model client, budgeted like every other caller's (see `llm::budget`).
    pub llm: Arc<dyn Llm>,
    pub search_params: SearchParams,
}

impl HostServices {
    /// Capability `search`.
    pub async fn search(&self, text: &str, top_k: u32) -> Result<Vec<types::Passage>, String> {
        let index = self.index.get().ok_or("the index is not loaded yet")?;
        let params = SearchParams {
            top_k: top_k.clamp(1, MAX_PLUGIN_TOP_K) as usize,
            ..self.search_params
        };
        let passages = retrieve(&index, self.embedder.as_ref(), text, &params)
            .await
            .map_err(|e| e.to_string())?;
        Ok(passages
            .into_iter()
            .map(|p| types::Passage {
                id: p.id,
                text: p.text,
                source: p.source,
                heading: p.heading,
                score: p.score,
            })
            .collect())
    }

    /// Capability `embed`.
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, String> {
        self.embedder
            .embed(&[text.to_string()])
            .await
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or_else(|| "no embedding returned".to_string())
    }

    /// Capability `llm`.
    pub async fn complete(&self, messages: Vec<types::Message>) -> Result<String, String> {
        let messages: Vec<ChatMessage> = messages.into_iter().map(to_chat).collect();
        self.llm
            .complete(&messages)
            .await
            .map_err(|e| e.to_string())
    }
}

/// WIT message → host chat message.
pub fn to_chat(m: types::Message) -> ChatMessage {
    ChatMessage {
        role: match m.role {
            types::Role::System => Role::System,
            types::Role::User => Role::User,
            types::Role::Assistant => Role::Assistant,
        },
        content: m.content,
    }
}

/// A host chat message as the WIT `message` record.
pub fn to_wit_message(m: &ChatMessage) -> types::Message {
    types::Message {
        role: match m.role {
            Role::System => types::Role::System,
            Role::User => types::Role::User,
            Role::Assistant => types::Role::Assistant,
        },
        content: m.content.clone(),
    }
}
