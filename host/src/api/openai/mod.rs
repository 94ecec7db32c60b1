//! The OpenAI-compatible API over the RAG pipeline: `POST /v1/chat/completions` (plain
//! and streamed) and `GET /v1/models`, for the tools that speak OpenAI's protocol
//! (its SDKs, LangChain, LibreChat, Open WebUI). The last user message is the
//! question; earlier ones reach plugins through the `conversation` capability. The
//! passages an answer was built from are in the extension field `autbot`, which
//! standard clients ignore. Errors take OpenAI's shape (`pipeline/openai_error.rs`).

pub mod models;
mod request;
mod stream;

use crate::answer::Ask;
use crate::api::query::SourceRef;
use crate::error::Error;
use crate::pipeline::client_key::Requester;
use crate::pipeline::json_body::JsonBody;
use crate::pipeline::request_id::RequestId;
use crate::rag::retrieve::Passage;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use request::RequestLimits;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Requester(client): Requester,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, Error> {
    let limits = RequestLimits {
        max_query_chars: state.config.server.max_query_chars,
        max_history: state.config.openai_api.max_history_messages,
    };
    let chat = request::parse(body, &limits)?;
    let model = state
        .config
        .openai_api
        .models
        .iter()
        .find(|m| m.name == chat.model)
        .cloned()
        .ok_or_else(|| Error::UnknownModel(chat.model.chars().take(100).collect()))?;
    let ask = Ask {
        question: chat.question.clone(),
        request_id: request_id.clone(),
        history: chat.history.clone(),
        options: chat.options.clone(),
        top_k: model.top_k,
        client,
    };
    let head = Head {
        id: format!("chatcmpl-{request_id}"),
        created: unix_now(),
        model: model.name.clone(),
        system_fingerprint: fingerprint(&state, &ask.client),
    };
    if chat.stream {
        let outcome = state.engine.answer_stream(&ask).await?;
        return Ok(stream::respond(head, &model, &chat, outcome, request_id));
    }
    let bypass = no_cache(&headers);
    let (outcome, cache) = state.engine.answer(&ask, bypass).await?;
    let outcome = Arc::unwrap_or_clone(outcome);
    let mut content = outcome.response;
    if model.citations {
        content.push_str(&citations(&outcome.passages));
    }
    let usage = outcome.usage.map(Usage::from);
    let body = Completion {
        id: head.id,
        object: "chat.completion",
        created: head.created,
        model: head.model,
        system_fingerprint: head.system_fingerprint,
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content,
                refusal: None,
            },
            logprobs: None,
            finish_reason: outcome.finish_reason.unwrap_or_else(|| "stop".into()),
        }],
        usage,
        autbot: AutbotExtension {
            request_id,
            model: outcome.model,
            sources: sources(&outcome.passages),
        },
    };
    Ok(([("x-cache", cache.header())], Json(body)).into_response())
}

/// Whether the client asked not to be served from the cache.
fn no_cache(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("no-cache") || v.contains("no-store"))
}

/// What every response and chunk of one completion shares.
pub struct Head {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub system_fingerprint: String,
}

/// A complete answer (`chat.completion`).
#[derive(Debug, Serialize)]
pub struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub system_fingerprint: String,
    pub choices: Vec<Choice>,
    /// `null` when the model did not report its counts.
    pub usage: Option<Usage>,
    pub autbot: AutbotExtension,
}

/// The one choice.
#[derive(Debug, Serialize)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    pub logprobs: Option<()>,
    pub finish_reason: String,
}

/// The answer message.
#[derive(Debug, Serialize)]
pub struct AssistantMessage {
    pub role: &'static str,
    pub content: String,
    pub refusal: Option<String>,
}

/// Token counts as OpenAI reports them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl From<crate::llm::TokenUsage> for Usage {
    fn from(u: crate::llm::TokenUsage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens.saturating_add(u.completion_tokens),
        }
    }
}

/// The extension field `autbot`: what standard clients ignore and AutBot's own
/// clients show. In a stream it is on the first chunk.
#[derive(Debug, Serialize)]
pub struct AutbotExtension {
    pub request_id: String,
    /// The model that wrote the answer (`extractive` for the embedded default).
    pub model: String,
    /// The passages the answer was built from, best first.
    pub sources: Vec<Source>,
}

/// One passage and where it came from.
#[derive(Debug, Serialize)]
pub struct Source {
    #[serde(flatten)]
    pub at: SourceRef,
    pub text: String,
}

fn sources(passages: &[Passage]) -> Vec<Source> {
    crate::api::query::sources(passages)
        .into_iter()
        .zip(passages)
        .map(|(at, p)| Source {
            at,
            text: p.text.clone(),
        })
        .collect()
}

/// The sources as a markdown list appended to the answer (`citations = true`).
fn citations(passages: &[Passage]) -> String {
    if passages.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n\nSources:\n");
    for (i, p) in passages.iter().enumerate() {
        out.push_str(&format!("{}. {}", i + 1, p.source));
        if !p.heading.is_empty() {
            out.push_str(&format!(" — {}", p.heading));
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// A fingerprint of what decides answers besides the question: this build, the model
/// behind it, the plugin versions and the index. It changes when any of them does.
fn fingerprint(state: &AppState, client: &str) -> String {
    let engine = &state.engine;
    let index = engine
        .index
        .get()
        .map(|i| i.manifest.version.clone())
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        &engine.llm.model(),
        &engine.plugins.versions_for(Some(client)),
        &index,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    format!("fp_{}", hex::encode(&h.finalize()[..5]))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// When this process started serving (the `created` of `/v1/models`).
pub fn started_at() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    *STARTED.get_or_init(unix_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_list_sources_with_headings() {
        let p = |source: &str, heading: &str| Passage {
            id: "c".into(),
            text: "t".into(),
            source: source.into(),
            heading: heading.into(),
            score: 1.0,
        };
        assert_eq!(
            citations(&[p("a.md", "Intro > Setup"), p("b.txt", "")]),
            "\n\nSources:\n1. a.md — Intro > Setup\n2. b.txt"
        );
        assert_eq!(citations(&[]), "");
    }
}
