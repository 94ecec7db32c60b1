//! AutBot: a retrieval-augmented-generation chat server whose query preprocessing,
//! ranking and prompt construction run as sandboxed WebAssembly plugins.
//!
//! `main.rs` parses the command line; [`serve::build_state`] assembles the
//! application from a [`config::Config`]; [`app::router`] is the HTTP pipeline.

pub mod api;
pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod embeddings;
pub mod engine;
pub mod error;
pub mod eval;
pub mod llm;
pub mod net;
pub mod observability;
pub mod pipeline;
pub mod plugin_tools;
pub mod plugins;
pub mod rag;
pub mod rate_limit;
pub mod redis_store;
pub mod serve;
pub mod upstream;
