//! Host capabilities and hooks: the vocabulary of the plugin contract in `wit/autbot.wit`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A host interface a plugin may import, if its configuration grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// `autbot:plugin/log`: write to the host log.
    Log,
    /// `autbot:plugin/config`: read the plugin's own config table.
    Config,
    /// `autbot:plugin/search`: query the document index.
    Search,
    /// `autbot:plugin/embed`: compute embeddings.
    Embed,
    /// `autbot:plugin/llm`: call the language model (counted by the host).
    Llm,
}

impl Capability {
    /// Every capability, in WIT order.
    pub const ALL: [Capability; 5] = [
        Capability::Log,
        Capability::Config,
        Capability::Search,
        Capability::Embed,
        Capability::Llm,
    ];

    /// Whether using it waits on I/O or other requests (index, embedder, LLM), so a
    /// plugin holding it must run on a blocking thread, never on a request task.
    pub fn waits(self) -> bool {
        matches!(
            self,
            Capability::Search | Capability::Embed | Capability::Llm
        )
    }

    /// The capability's name in configuration and in WIT.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Config => "config",
            Capability::Search => "search",
            Capability::Embed => "embed",
            Capability::Llm => "llm",
        }
    }

    /// The capability named by a component import such as `autbot:plugin/search@0.1.0`.
    pub fn from_import(import: &str) -> Option<Capability> {
        let iface = import.strip_prefix("autbot:plugin/")?;
        let iface = iface.split('@').next().unwrap_or(iface);
        Capability::ALL.into_iter().find(|c| c.name() == iface)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pipeline hook, each matching one WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    /// World `preprocessor`: rewrite or refuse the query.
    Preprocessor,
    /// World `ranker`: re-order, re-score or filter passages.
    Ranker,
    /// World `prompt-builder`: build the LLM messages.
    PromptBuilder,
}

impl Hook {
    /// The WIT world name.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Preprocessor => "preprocessor",
            Hook::Ranker => "ranker",
            Hook::PromptBuilder => "prompt-builder",
        }
    }

    /// The function the world exports.
    pub fn export(self) -> &'static str {
        match self {
            Hook::Preprocessor => "preprocess",
            Hook::Ranker => "rank",
            Hook::PromptBuilder => "build-prompt",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
