//! # autbot-sdk — write AutBot plugins in Rust
//!
//! An AutBot plugin is a WebAssembly component (built for `wasm32-wasip2`)
//! that implements exactly one pipeline hook of the `autbot:plugin@0.2.0`
//! contract (`wit/autbot.wit` in the AutBot repository):
//!
//! | hook | module | trait method | export macro |
//! | --- | --- | --- | --- |
//! | `preprocessor` | [`preprocessor`] | `fn preprocess(q: Query) -> Result<Query, Rejection>` | [`export_preprocessor!`] |
//! | `ranker` | [`ranker`] | `fn rank(q: Query, candidates: Vec<Passage>) -> Vec<Ranked>` | [`export_ranker!`] |
//! | `prompt-builder` | [`prompt_builder`] | `fn build_prompt(q: Query, passages: Vec<Passage>) -> Vec<Message>` | [`export_prompt_builder!`] |
//!
//! ```ignore
//! use autbot_sdk::preprocessor::{Guest, Query, Rejection};
//!
//! struct Shout;
//!
//! impl Guest for Shout {
//!     fn preprocess(q: Query) -> Result<Query, Rejection> {
//!         Ok(Query { text: q.text.to_uppercase(), ..q })
//!     }
//! }
//!
//! autbot_sdk::export_preprocessor!(Shout);
//! ```
//!
//! ## Capabilities
//!
//! The host capabilities are wrapped by the modules [`log`], [`config`],
//! [`search`], [`embed`], [`llm`] and [`conversation`]. A component only imports the
//! capability interfaces that the plugin's code actually calls (unused
//! imports are dropped when the component is linked), and the host refuses
//! a component importing a capability that its `[[plugins.chain]]` entry
//! does not grant. So: call only what you grant.
//!
//! Every call runs in a fresh sandbox: statics do not survive between calls.

#![warn(missing_docs)]

// Lets the generated bindings and the export macros name this crate as
// `autbot_sdk` both inside the SDK and in plugin crates.
extern crate self as autbot_sdk;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub mod json;

/// Bindings of the `preprocessor` world (hook 1).
///
/// Implement [`preprocessor::Guest`] and export it with
/// [`export_preprocessor!`](crate::export_preprocessor).
#[allow(missing_docs)]
pub mod preprocessor {
    wit_bindgen::generate!({
        world: "preprocessor",
        path: "../wit",
        runtime_path: "autbot_sdk::__wit_bindgen::rt",
        // The shared interfaces (types and the capabilities) are generated
        // here once; the other two worlds reuse them through `with`.
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export_preprocessor",
        default_bindings_module: "autbot_sdk::preprocessor",
        additional_derives: [Clone, PartialEq],
    });

    // The world only names `query` and `rejection`; the other shared types
    // are re-exported so every hook module offers the same names.
    pub use self::autbot::plugin::types::{Message, Passage, Ranked, Role};
}

/// Bindings of the `ranker` world (hook 2).
///
/// Implement [`ranker::Guest`] and export it with
/// [`export_ranker!`](crate::export_ranker).
#[allow(missing_docs)]
pub mod ranker {
    wit_bindgen::generate!({
        world: "ranker",
        path: "../wit",
        runtime_path: "autbot_sdk::__wit_bindgen::rt",
        with: {
            "autbot:plugin/types@0.2.0": crate::preprocessor::autbot::plugin::types,
            "autbot:plugin/log@0.2.0": crate::preprocessor::autbot::plugin::log,
            "autbot:plugin/config@0.2.0": crate::preprocessor::autbot::plugin::config,
            "autbot:plugin/search@0.2.0": crate::preprocessor::autbot::plugin::search,
            "autbot:plugin/embed@0.2.0": crate::preprocessor::autbot::plugin::embed,
            "autbot:plugin/llm@0.2.0": crate::preprocessor::autbot::plugin::llm,
            "autbot:plugin/conversation@0.2.0": crate::preprocessor::autbot::plugin::conversation,
        },
        pub_export_macro: true,
        export_macro_name: "export_ranker",
        default_bindings_module: "autbot_sdk::ranker",
    });

    pub use crate::types::{Message, Rejection, Role};
}

/// Bindings of the `prompt-builder` world (hook 3).
///
/// Implement [`prompt_builder::Guest`] and export it with
/// [`export_prompt_builder!`](crate::export_prompt_builder).
#[allow(missing_docs)]
pub mod prompt_builder {
    wit_bindgen::generate!({
        world: "prompt-builder",
        path: "../wit",
        runtime_path: "autbot_sdk::__wit_bindgen::rt",
        with: {
            "autbot:plugin/types@0.2.0": crate::preprocessor::autbot::plugin::types,
            "autbot:plugin/log@0.2.0": crate::preprocessor::autbot::plugin::log,
            "autbot:plugin/config@0.2.0": crate::preprocessor::autbot::plugin::config,
            "autbot:plugin/search@0.2.0": crate::preprocessor::autbot::plugin::search,
            "autbot:plugin/embed@0.2.0": crate::preprocessor::autbot::plugin::embed,
            "autbot:plugin/llm@0.2.0": crate::preprocessor::autbot::plugin::llm,
            "autbot:plugin/conversation@0.2.0": crate::preprocessor::autbot::plugin::conversation,
        },
        pub_export_macro: true,
        export_macro_name: "export_prompt_builder",
        default_bindings_module: "autbot_sdk::prompt_builder",
    });

    pub use crate::types::{Ranked, Rejection, Role};
}

/// Export a type implementing [`preprocessor::Guest`] as this component's
/// `preprocessor` hook: `autbot_sdk::export_preprocessor!(MyType);`
#[doc(inline)]
pub use preprocessor::export_preprocessor;
/// Export a type implementing [`prompt_builder::Guest`] as this component's
/// `prompt-builder` hook: `autbot_sdk::export_prompt_builder!(MyType);`
#[doc(inline)]
pub use prompt_builder::export_prompt_builder;
/// Export a type implementing [`ranker::Guest`] as this component's
/// `ranker` hook: `autbot_sdk::export_ranker!(MyType);`
#[doc(inline)]
pub use ranker::export_ranker;

/// The shared data types of the contract (`autbot:plugin/types`).
pub mod types {
    pub use crate::preprocessor::autbot::plugin::types::{
        Message, Passage, Query, Ranked, Rejection, Role,
    };
}

pub use types::{Message, Passage, Query, Ranked, Rejection, Role};

impl Rejection {
    /// A refusal with a stable snake_case `code` (e.g. `"prompt_injection"`)
    /// and a `reason` shown to the user.
    pub fn new(code: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

impl Message {
    /// A message with the given role.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

impl Ranked {
    /// The verdict `score` for the passage `id`.
    pub fn new(id: impl Into<String>, score: f64) -> Self {
        Ranked {
            id: id.into(),
            score,
        }
    }
}

/// Capability `conversation` (contract 0.2.0): the earlier turns of a chat
/// (`POST /v1/chat/completions`). Needs `conversation` granted.
pub mod conversation {
    use crate::preprocessor::autbot::plugin::conversation as raw;
    use crate::Message;

    /// The messages before the current question, oldest first; empty for a
    /// single question (`/api/query`).
    pub fn history() -> Vec<Message> {
        raw::history()
    }
}

/// Capability `log`: write to the host's structured log (tagged by the host
/// with the plugin name and request id). Needs `log` granted.
pub mod log {
    use crate::preprocessor::autbot::plugin::log as raw;

    pub use raw::Level;

    /// Emit one log line at `level`.
    pub fn log(level: Level, message: &str) {
        raw::log(level, message)
    }

    /// Emit a `debug` line.
    pub fn debug(message: &str) {
        raw::log(Level::Debug, message)
    }

    /// Emit an `info` line.
    pub fn info(message: &str) {
        raw::log(Level::Info, message)
    }

    /// Emit a `warn` line.
    pub fn warn(message: &str) {
        raw::log(Level::Warn, message)
    }

    /// Emit an `error` line.
    pub fn error(message: &str) {
        raw::log(Level::Error, message)
    }
}

/// Capability `config`: read the plugin's own `config` table from
/// `autbot.toml`. Needs `config` granted.
///
/// The host returns strings as written and every other value (numbers,
/// booleans, arrays, tables) as JSON text. The typed getters below return
/// `Ok(None)` when the key is not set and an error naming the key when the
/// value has the wrong shape; what to do then (fall back, log, or panic,
/// which fails the call) is the plugin's choice.
pub mod config {
    use crate::json::{self, Value};
    use crate::preprocessor::autbot::plugin::config as raw;
    use std::fmt;
    use std::str::FromStr;

    /// A config value that is set but has the wrong shape.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ConfigError {
        /// The config key.
        pub key: String,
        /// What was wrong with its value.
        pub message: String,
    }

    impl ConfigError {
        fn new(key: &str, message: impl Into<String>) -> Self {
            ConfigError {
                key: key.to_string(),
                message: message.into(),
            }
        }
    }

    impl fmt::Display for ConfigError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "config key `{}`: {}", self.key, self.message)
        }
    }

    impl std::error::Error for ConfigError {}

    /// The raw value of `key`, or `None` when it is not set.
    pub fn get(key: &str) -> Option<String> {
        raw::get(key)
    }

    /// The raw value of `key`, or `default` when it is not set.
    pub fn get_or(key: &str, default: &str) -> String {
        get(key).unwrap_or_else(|| default.to_string())
    }

    /// The value of `key` parsed with [`FromStr`] (numbers, booleans, ...).
    ///
    /// ```ignore
    /// let min: Option<f64> = autbot_sdk::config::get_parsed("min_score")?;
    /// ```
    pub fn get_parsed<T: FromStr>(key: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match get(key) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|e| ConfigError::new(key, format!("cannot parse {text:?}: {e}"))),
        }
    }

    /// Like [`get_parsed`], with `default` when the key is not set.
    pub fn get_parsed_or<T: FromStr>(key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        get_parsed(key).map(|v| v.unwrap_or(default))
    }

    /// The value of `key` as JSON. A value that is not valid JSON is a plain
    /// string (the host hands strings over as-is) and comes back as
    /// [`Value::String`].
    pub fn get_json(key: &str) -> Option<Value> {
        let text = get(key)?;
        Some(json::parse(&text).unwrap_or(Value::String(text)))
    }

    /// The value of `key` as a list of strings (a TOML array of strings).
    pub fn get_string_list(key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(value) = get_json(key) else {
            return Ok(None);
        };
        let items = value.as_array().ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected an array of strings, got {}", value.kind()),
            )
        })?;
        items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ConfigError::new(key, format!("expected only strings, got {}", v.kind()))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The value of `key` as a table of numbers (a TOML table such as
    /// `{ resume = 1.5, fun = 0.8 }`), as `(key, number)` pairs in order.
    pub fn get_number_table(key: &str) -> Result<Option<Vec<(String, f64)>>, ConfigError> {
        let Some(value) = get_json(key) else {
            return Ok(None);
        };
        let fields = value.as_object().ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected a table of numbers, got {}", value.kind()),
            )
        })?;
        fields
            .iter()
            .map(|(k, v)| {
                v.as_f64().map(|n| (k.clone(), n)).ok_or_else(|| {
                    ConfigError::new(key, format!("`{k}`: expected a number, got {}", v.kind()))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The value of `key` as a table of strings (e.g. `{ rag = "retrieval-augmented generation" }`),
    /// as `(key, string)` pairs in order.
    pub fn get_string_table(key: &str) -> Result<Option<Vec<(String, String)>>, ConfigError> {
        let Some(value) = get_json(key) else {
            return Ok(None);
        };
        let fields = value.as_object().ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected a table of strings, got {}", value.kind()),
            )
        })?;
        fields
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| {
                        ConfigError::new(key, format!("`{k}`: expected a string, got {}", v.kind()))
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Capability `search`: hybrid (vector + BM25) search in the host's index.
/// Needs `search` granted.
pub mod search {
    use crate::preprocessor::autbot::plugin::search as raw;
    use crate::types::Passage;

    /// The best `top_k` passages for `text` (the host caps `top_k`).
    pub fn search(text: &str, top_k: u32) -> Result<Vec<Passage>, String> {
        raw::search(text, top_k)
    }
}

/// Capability `embed`: the host's embedding model. Needs `embed` granted.
pub mod embed {
    use crate::preprocessor::autbot::plugin::embed as raw;

    /// The L2-normalised embedding of `text`.
    pub fn embed(text: &str) -> Result<Vec<f32>, String> {
        raw::embed(text)
    }

    /// Cosine similarity of two L2-normalised vectors (their dot product).
    /// Vectors of different lengths compare over the shorter one.
    pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }
}

/// Capability `llm`: a chat completion through the host's language-model
/// client (counted and rate-limited by the host). Needs `llm` granted.
pub mod llm {
    use crate::preprocessor::autbot::plugin::llm as raw;
    use crate::types::Message;

    /// The assistant's reply to `messages`.
    pub fn complete(messages: &[Message]) -> Result<String, String> {
        raw::complete(messages)
    }
}
