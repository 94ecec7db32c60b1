//! End-to-end tests: the real `autbot` binary on loopback ports, real compiled
//! WebAssembly plugins (build them with scripts/build-plugins.sh), and a fake
//! OpenAI-compatible server for the language model and embeddings.

mod support;

mod api;
mod canary;
mod chat_page;
mod config;
mod disclosure;
mod hostile_docs;
mod hot_reload;
mod ingest;
mod lifecycle;
mod neural;
mod observability;
mod openai;
mod openai_api;
mod openai_sdks;
mod plugin_test_runner;
mod plugins;
mod polyglot_plugins;
mod quality;
mod rate_limit;
mod response_cache;
mod sandbox;
mod signed_plugins;
mod slow_clients;
mod streaming;
