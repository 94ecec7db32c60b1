//! Test support: the real `autbot` binary on a loopback port, and a fake
//! OpenAI-compatible HTTP server (our test code) standing in for the LLM.

pub mod fake_openai;
pub mod redis;
pub mod server;

use std::path::PathBuf;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built plugin component; panics with a helpful message when it is missing.
pub fn plugin(rel: &str) -> PathBuf {
    let path = repo().join(rel);
    assert!(
        path.exists(),
        "{} is missing: build the plugins first with scripts/build-plugins.sh",
        path.display()
    );
    path
}

/// An HTTP client for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}
