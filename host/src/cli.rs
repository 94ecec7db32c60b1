//! Command line: `autbot [serve] | check-config | index | eval | plugin <build|inspect|new>`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// AutBot: retrieval-augmented chat with sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "autbot", version, about)]
pub struct Cli {
    /// Configuration file (default: ./autbot.toml if present).
    #[arg(long, global = true, env = "AUTBOT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
    /// Build or refresh the document index.
    Index {
        /// Data folder (default: index.data_dir).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Measure retrieval and answers on a labelled question set: hit@1/3/5, MRR,
    /// answered, latency, overall and per question kind.
    Eval {
        /// Questions: JSON Lines of {"question", "answer_keywords", "source", "kind"}
        /// (or one JSON array of them).
        questions: PathBuf,
        /// Index this folder into a temporary index (default: the configured index).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print the report as JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Passages retrieved per question (default: index.top_k, at least 5).
        #[arg(long)]
        top_k: Option<usize>,
        /// Which retrievers answer: both fused as configured, or one alone.
        #[arg(long, value_enum, default_value = "hybrid")]
        retriever: crate::eval::Retriever,
        /// With the tables, one line per question: rank, answered, what was retrieved.
        #[arg(long)]
        details: bool,
    },
    /// Plugin tools.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Embedding models of the `neural` provider.
    #[command(subcommand)]
    Model(ModelCommand),
}

/// `autbot model ...`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download a sentence-transformer from the Hugging Face hub (needs internet
    /// access), verify it and install it in embeddings.model_dir.
    Pull {
        /// `all-MiniLM-L6-v2` (pinned revision and checksums) or any `owner/name`
        /// repository with tokenizer.json and model.safetensors.
        name: String,
        /// Git revision (default: the pinned one for known models, else `main`).
        #[arg(long)]
        revision: Option<String>,
        /// Destination folder (default: embeddings.model_dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `autbot plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Build a plugin crate (or a workspace of them), or a JavaScript/TypeScript
    /// (package.json) or Python (pyproject.toml) plugin folder, into WebAssembly components.
    Build {
        /// The crate or workspace folder.
        dir: PathBuf,
        /// Where to copy the `.wasm` files (default: plugins.dir).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what a component asks for: world, contract version, capabilities (and what
    /// its chain entry grants, when the configuration names the file), imports,
    /// exports, sha256, signer.
    Inspect {
        /// The `.wasm` file.
        file: PathBuf,
    },
    /// Run one hook of a component on sample input, in the server's sandbox with its
    /// limits, against stand-in capabilities; or a folder of golden cases (`--cases`).
    Test {
        /// The `.wasm` file.
        file: PathBuf,
        /// The hook to call.
        #[arg(long, value_enum)]
        hook: crate::config::Hook,
        /// One input (JSON: `{"query", "passages", "history"}`).
        #[arg(long, conflicts_with = "cases")]
        input: Option<PathBuf>,
        /// The expected output (JSON); a difference fails with a diff.
        #[arg(long, requires = "input")]
        expect: Option<PathBuf>,
        /// A folder of case files (`{"input", "expect", "config", "llm_reply"}`).
        #[arg(long)]
        cases: Option<PathBuf>,
        /// Documents the `search` capability answers from (indexed on the spot).
        #[arg(long)]
        docs: Option<PathBuf>,
        /// What the `llm` capability answers (default: no model, an error).
        #[arg(long)]
        llm_reply: Option<String>,
        /// Capabilities granted (default: all); give the chain entry's to check it.
        #[arg(long, value_delimiter = ',')]
        grant: Option<Vec<String>>,
        /// A plugin setting, `key=value` (value as TOML, else a string); repeatable.
        #[arg(long = "set")]
        settings: Vec<String>,
        #[arg(long)]
        deadline_ms: Option<u64>,
        #[arg(long)]
        memory_mb: Option<u64>,
    },
    /// Create an ed25519 key pair for signing plugins: the secret key goes to `--out`
    /// (mode 0600), the public key (for plugins.trusted_keys) is printed.
    Keygen {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a component: writes `<file>.sig` beside it.
    Sign {
        /// The secret key file (from `autbot plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The `.wasm` file.
        file: PathBuf,
    },
    /// Verify a component's signature against plugins.trusted_keys (or `--key`).
    Verify {
        /// Trusted public keys (default: plugins.trusted_keys of the configuration).
        #[arg(long)]
        key: Vec<String>,
        /// The `.wasm` file.
        file: PathBuf,
    },
    /// Scaffold a new plugin: a Rust crate, or a JavaScript or Python plugin (`--lang`).
    New {
        /// `preprocessor`, `ranker` or `prompt-builder`.
        hook: String,
        /// Crate name, e.g. `my-ranker`.
        name: String,
        /// Parent folder of the new crate (default: current folder).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The plugin's language: `rust` (a crate), `js` (JavaScript/TypeScript, sdk/js)
        /// or `python` (sdk/python).
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::plugin_tools::polyglot::Lang,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
