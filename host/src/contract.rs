//! Host capabilities, hooks and contract versions: the vocabulary of the plugin
//! contract in `wit/autbot.wit`. A leaf: configuration (`[[plugins.chain]]`) and the
//! plugin runtime both name these types, and neither depends on the other for them.

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
    /// `autbot:plugin/conversation` (contract 0.2.0): read the earlier turns of a chat.
    Conversation,
}

impl Capability {
    /// Every capability, in WIT order.
    pub const ALL: [Capability; 6] = [
        Capability::Log,
        Capability::Config,
        Capability::Search,
        Capability::Embed,
        Capability::Llm,
        Capability::Conversation,
    ];

    /// The capability's name in configuration and in WIT.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Config => "config",
            Capability::Search => "search",
            Capability::Embed => "embed",
            Capability::Llm => "llm",
            Capability::Conversation => "conversation",
        }
    }

    /// The capability named by a component import such as `autbot:plugin/search@0.1.0`
    /// (any contract version: linking decides whether the host serves that version).
    pub fn from_import(import: &str) -> Option<Capability> {
        let iface = import.strip_prefix("autbot:plugin/")?;
        let iface = iface.split('@').next().unwrap_or(iface);
        Capability::ALL.into_iter().find(|c| c.name() == iface)
    }

    /// The first contract version that has this capability.
    pub fn since(self) -> ContractVersion {
        match self {
            Capability::Conversation => ContractVersion::V0_2,
            _ => ContractVersion::V0_1,
        }
    }
}

/// A released version of the `autbot:plugin` WIT package. The host serves every one
/// of them at once (`wit/COMPATIBILITY.md`): a component names the version it was
/// built against in its imports, and finds each capability under that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractVersion {
    /// `0.1.0`: the three hooks and `log`, `config`, `search`, `embed`, `llm`.
    V0_1,
    /// `0.2.0`: adds `conversation`.
    V0_2,
}

impl ContractVersion {
    /// Every version the host serves, oldest first.
    pub const ALL: [ContractVersion; 2] = [ContractVersion::V0_1, ContractVersion::V0_2];

    /// The version as imports name it.
    pub fn semver(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => "0.1.0",
            ContractVersion::V0_2 => "0.2.0",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pipeline hook, each matching one WIT world. The same names in configuration
/// (serde), on the command line (clap) and in WIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, clap::ValueEnum)]
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
    /// Every hook, in pipeline order.
    pub const ALL: [Hook; 3] = [Hook::Preprocessor, Hook::Ranker, Hook::PromptBuilder];

    /// The hook whose world exports `name`.
    pub fn exporting(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.export() == name)
    }

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

/// The largest `memory_mb` a plugin may be given (the instance pool reserves it).
pub const MAX_PLUGIN_MEMORY_MB: u64 = 256;

/// A public key: 64 hex digits, optionally prefixed `ed25519:`.
pub fn parse_public_key(text: &str) -> Result<ed25519_dalek::VerifyingKey, String> {
    let hex_text = text.trim().strip_prefix("ed25519:").unwrap_or(text.trim());
    let bytes: [u8; 32] = hex::decode(hex_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("`{text}` is not an ed25519 public key (64 hex digits)"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|e| format!("`{text}` is not a valid ed25519 public key: {e}"))
}
