//! Plugins written in JavaScript (componentize-js) and Python (componentize-py), built
//! from examples/plugins/*-js and *-py by `scripts/build-plugins.sh --all`, loaded into the real
//! server next to the Rust ones: each changes the answer the way its Rust twin does.
//!
//! Their components are 11–18 MiB (a JavaScript engine or a Python interpreter, pre-
//! initialised), so each entry gets `memory_mb = 64` and a generous deadline: the
//! test binary is a debug build, and the first load compiles the component (cached in
//! CARGO_TARGET_TMPDIR for the next servers).

use crate::support::fake_openai::FakeOpenAi;
use crate::support::plugin;
use crate::support::server::{chain_entry, shipped, ServerBuilder};
use serde_json::Value;

const DIST: &str = "examples/plugins/dist";

/// An example plugin's entry, with room for an interpreter in a debug build.
fn entry(name: &str, hook: &str, caps: &str, extra: &str) -> String {
    let path = plugin(&format!("{DIST}/{name}.wasm"));
    chain_entry(
        name,
        hook,
        &path,
        caps,
        &format!("memory_mb = 64\ndeadline_ms = 5000\n{extra}"),
    )
}

fn query_guard() -> String {
    shipped("query-guard")
}

fn source_weighter() -> String {
    shipped("source-weighter")
}

fn prompt_builder() -> String {
    shipped("prompt-builder")
}

const ACRONYMS: &str =
    "[plugins.chain.config]\nacronyms = { RAG = \"retrieval-augmented generation\" }";

/// The user message the fake model received for the first chat call.
fn prompt(fake: &FakeOpenAi, index: usize) -> String {
    fake.requests("chat")[0].body["messages"][index]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn javascript_preprocessor_rewrites_the_question() {
    let fake = FakeOpenAi::start().await;
    let config = entry(
        "acronym-expander-js",
        "preprocessor",
        r#"["config", "log"]"#,
        ACRONYMS,
    ) + &query_guard()
        + &source_weighter()
        + &prompt_builder();
    let s = ServerBuilder::new()
        .config(&config)
        .llm(&fake)
        .start()
        .ready()
        .await;
    let (status, body) = s.ask("How does RAG pick passages?").await;
    assert_eq!(status, 200, "{body}");
    let user = prompt(&fake, 1);
    assert!(
        user.contains("How does RAG (retrieval-augmented generation) pick passages?"),
        "the JavaScript plugin's rewrite must reach the model:\n{user}"
    );
    // A question without the acronym passes unchanged.
    let (status, _) = s.ask("How are plugins sandboxed?").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn python_prompt_builder_writes_the_prompt() {
    let fake = FakeOpenAi::start().await;
    let config =
        query_guard() + &source_weighter() + &entry("terse-prompt-py", "prompt-builder", "[]", "");
    let s = ServerBuilder::new()
        .config(&config)
        .llm(&fake)
        .start()
        .ready()
        .await;
    let (status, body) = s.ask("How are plugins sandboxed?").await;
    assert_eq!(status, 200, "{body}");
    let system = prompt(&fake, 0);
    assert!(
        system.starts_with("Answer in at most five short bullet points"),
        "{system}"
    );
    let user = prompt(&fake, 1);
    assert!(user.starts_with("Sources:\n[1] "), "{user}");
    assert!(
        user.ends_with("\nQuestion: How are plugins sandboxed?"),
        "{user}"
    );
    assert!(user.contains("\n```\n"), "fenced sources: {user}");
}

/// The same ranker in Rust, JavaScript and Python orders and scores the passages
/// identically, and differently from the default ranker.
#[tokio::test]
async fn python_and_javascript_rankers_match_their_rust_twin() {
    let question = "Explain BM25 and reciprocal rank fusion";
    let mut answers: Vec<(String, Value)> = Vec::new();
    for (name, file) in [
        ("keyword-boost", "keyword-boost"),
        ("keyword-boost-js", "keyword-boost-js"),
        ("keyword-boost-py", "keyword-boost-py"),
        ("source-weighter", ""),
    ] {
        let ranker = if file.is_empty() {
            source_weighter()
        } else {
            entry(
                file,
                "ranker",
                r#"["config", "log"]"#,
                "[plugins.chain.config]\nboost = 100.0",
            )
        };
        let config = query_guard() + &ranker + &prompt_builder();
        let s = ServerBuilder::new().config(&config).start().ready().await;
        let (status, body) = s.ask(question).await;
        assert_eq!(status, 200, "{name}: {body}");
        answers.push((name.to_string(), body["sources"].clone()));
    }
    let (_, rust) = &answers[0];
    assert!(rust.as_array().is_some_and(|a| !a.is_empty()), "{rust}");
    for (name, sources) in &answers[1..3] {
        assert_eq!(
            sources, rust,
            "{name} must rank like the Rust keyword-boost"
        );
    }
    assert_ne!(
        &answers[3].1, rust,
        "keyword-boost (boost = 100) must change the scores of the default ranker"
    );
}

#[tokio::test]
async fn python_preprocessor_can_refuse_a_question() {
    let config = entry(
        "acronym-expander-py",
        "preprocessor",
        r#"["config"]"#,
        ACRONYMS,
    ) + &source_weighter()
        + &prompt_builder();
    let s = ServerBuilder::new().config(&config).start().ready().await;
    let (status, body) = s.ask("RAG?").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "acronym_only", "{body}");
    let (status, body) = s.ask("What is RAG?").await;
    assert_eq!(status, 200, "{body}");
}
