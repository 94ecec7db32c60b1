//! Command line: `autbot [serve] | check-config | index | plugin <build|inspect|new>`.

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
    /// Plugin tools.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// `autbot plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Build a plugin crate (or a workspace of them) into WebAssembly components.
    Build {
        /// The crate or workspace folder.
        dir: PathBuf,
        /// Where to copy the `.wasm` files (default: plugins.dir).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what a component asks for: world, capabilities, imports, exports, sha256.
    Inspect {
        /// The `.wasm` file.
        file: PathBuf,
    },
    /// Scaffold a new plugin crate.
    New {
        /// `preprocessor`, `ranker` or `prompt-builder`.
        hook: String,
        /// Crate name, e.g. `my-ranker`.
        name: String,
        /// Parent folder of the new crate (default: current folder).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}
