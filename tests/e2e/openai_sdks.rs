//! The official OpenAI SDKs against the real server's OpenAI-compatible endpoint
//! (`GET /v1/models`, `POST /v1/chat/completions`): the `openai` Python package and
//! the `openai` npm package, pinned in tests/clients/, each run as a script that makes
//! plain, streamed and failing calls and checks what the SDK returns or raises
//! (tests/clients/python/check_openai.py, tests/clients/node/check_openai.mjs).
//!
//! The server answers with the fake OpenAI model and requires a client key, sent by the
//! SDKs as `Authorization: Bearer <key>`. The SDKs are installed by
//! scripts/setup-test-deps.sh (scripts/test.sh runs it); without them these tests fail
//! and name that command.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::repo;
use crate::support::server::{default_chain, Server, ServerBuilder};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const CLIENT_KEY: &str = "sdk-check-client-key-7f3a";
const REPLY: &str =
    "Set server.port in autbot.toml, or AUTBOT_SERVER__PORT, and restart the server.";
const QUESTION: &str = "How do I change the port the server listens on?";
const SETUP: &str = "scripts/setup-test-deps.sh";
/// Longer than `server.max_query_chars` (2000 by default).
const TOO_LONG_CHARS: &str = "4000";

/// A server answering with `fake`, whose `/api` and `/v1` routes need a client key.
async fn server(fake: &FakeOpenAi) -> Server {
    fake.reply(REPLY);
    let config = format!(
        r#"{chain}
[security]
require_client_key = true

[[security.client_keys]]
name = "sdk-check"
key = "{CLIENT_KEY}"
requests = 1000
window_secs = 60
"#,
        chain = default_chain()
    );
    ServerBuilder::new()
        .config(&config)
        .llm(fake)
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .start()
        .ready()
        .await
}

/// `path` (relative to the repository) must exist, or the SDKs are not installed.
fn installed(path: &str, what: &str) -> PathBuf {
    let full = repo().join(path);
    assert!(
        full.exists(),
        "{what} is not installed ({} is missing): run {SETUP} (scripts/test.sh runs it)",
        full.display()
    );
    full
}

/// The version on the line of `file` that starts with `prefix` (`openai==`, `"openai":`).
fn pinned(file: &str, prefix: &str) -> String {
    let text = std::fs::read_to_string(repo().join(file)).expect("read the pin file");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {file}"))
        .trim_matches(|c: char| c == '"' || c == ',' || c.is_whitespace())
        .to_string()
}

/// Runs a check script against `s`; returns its JSON summary, or panics with what it printed.
async fn run_check(s: &Server, program: &Path, script: &str, pinned_version: &str) -> Value {
    let base_url = s.url("/v1");
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg(repo().join(script))
        .args(["--base-url", &base_url])
        .args(["--api-key", CLIENT_KEY])
        .args(["--expect-content", REPLY])
        .args(["--too-long-chars", TOO_LONG_CHARS])
        // Nothing from the environment (OPENAI_BASE_URL, proxies) may steer the SDKs.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; run {SETUP}", program.display()));
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish in 180 s"))
        .expect("wait for the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = || {
        let logs = s.logs();
        let tail: Vec<&str> = logs.lines().rev().take(30).collect();
        format!(
            "{script} against {base_url} exited with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- the server's last log lines\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    };
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{}", report()));
    assert_eq!(
        summary["version"].as_str(),
        Some(pinned_version),
        "the installed SDK is not the pinned version: run {SETUP}\n{}",
        report()
    );
    assert!(
        out.status.success() && summary["ok"] == true,
        "{}",
        report()
    );
    // Shown with --nocapture: what the SDK got.
    println!("{stdout}");
    summary
}

/// The model was asked through the RAG pipeline: the question with retrieved context.
fn assert_rag_calls(fake: &FakeOpenAi) {
    let calls = fake.requests("chat");
    // The plain and the streamed call (the second may be answered from the answer
    // cache); none of the refused requests reached the model.
    assert!(
        (1..=2).contains(&calls.len()),
        "{} calls to the model",
        calls.len()
    );
    for call in &calls {
        let user = call.body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default();
        assert!(
            user.contains(QUESTION) && user.contains("<context>"),
            "the model was not asked the question with its context: {user}"
        );
    }
}

#[tokio::test]
async fn the_openai_python_package_works_against_v1() {
    let python = installed(
        "tests/clients/python/.venv/bin/python",
        "the openai Python package (venv)",
    );
    let version = pinned("tests/clients/python/requirements.txt", "openai==");
    let fake = FakeOpenAi::start().await;
    let s = server(&fake).await;
    let summary = run_check(
        &s,
        &python,
        "tests/clients/python/check_openai.py",
        &version,
    )
    .await;
    assert_eq!(summary["checks"].as_array().map(Vec::len), Some(7));
    assert_rag_calls(&fake);
}

#[tokio::test]
async fn the_openai_npm_package_works_against_v1() {
    installed(
        "tests/clients/node/node_modules/openai/package.json",
        "the openai npm package (node_modules)",
    );
    let node = which("node").unwrap_or_else(|| {
        panic!("node is not on PATH: install Node.js 20 or later, then run {SETUP}")
    });
    let version = pinned("tests/clients/node/package.json", "\"openai\":");
    let fake = FakeOpenAi::start().await;
    let s = server(&fake).await;
    let summary = run_check(&s, &node, "tests/clients/node/check_openai.mjs", &version).await;
    assert_eq!(summary["checks"].as_array().map(Vec::len), Some(7));
    assert_rag_calls(&fake);
}

/// `program`'s path on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
