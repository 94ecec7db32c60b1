//! AutBot: a retrieval-augmented-generation chat server whose query preprocessing,
//! ranking and prompt construction run as sandboxed WebAssembly plugins.
//!
//! `main.rs` parses the command line; [`config::check`] validates the configuration;
//! [`serve::build_state`] assembles the application from it; [`app::router`] is the
//! HTTP pipeline. ARCHITECTURE.md maps the modules and the order they depend in.
//!
//! Public: what the binary, the tests and the benchmarks use. The rest is `pub(crate)`.

pub mod api;
pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod embeddings;
pub mod engine;
pub mod error;
pub mod eval;
pub mod indexer;
pub mod llm;
pub mod observability;
pub mod plugin_tools;
pub mod plugins;
pub mod rag;
pub mod rate_limit;
pub mod redis_store;
pub mod serve;

pub mod answer;
pub(crate) mod contract;
pub(crate) mod net;
pub(crate) mod pipeline;
pub(crate) mod plugin_test;
pub(crate) mod state;
pub(crate) mod text;
pub(crate) mod upstream;
