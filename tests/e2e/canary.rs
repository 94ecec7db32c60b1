//! Staged rollout of a plugin version: a candidate serving a sticky share of clients,
//! both versions side by side in `/admin/plugins` and the metrics, answers cached per
//! version, automatic withdrawal when the candidate fails, promotion and rollback by
//! hand.

use crate::support::client;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::plugin;
use crate::support::server::{Server, ServerBuilder};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `query-guard`'s slot with a stable and a candidate file, then the rest of the chain.
fn chain(stable: &str, canary: &str, percent: u8, extra: &str) -> String {
    format!(
        r#"[plugins]
watch = false
{extra}
[[plugins.chain]]
name = "guard"
hook = "preprocessor"
path = "{}"
capabilities = []
canary = {{ path = "{}", percent = {percent} }}

[[plugins.chain]]
name = "prompt-builder"
hook = "prompt-builder"
path = "{}"
capabilities = ["config", "conversation"]
"#,
        plugin(stable).display(),
        plugin(canary).display(),
        plugin("plugins/dist/prompt-builder.wasm").display()
    )
}

/// 40 client keys `k0`..`k39`.
fn keys() -> String {
    let keys: Vec<Value> = (0..40)
        .map(|i| json!({"name": format!("client-{i}"), "key": format!("k{i}"), "requests": 100000, "window_secs": 60}))
        .collect();
    Value::Array(keys).to_string()
}

async fn ask(s: &Server, key: &str, question: &str) -> (u16, String) {
    let r = client()
        .post(s.url("/api/query"))
        .header("x-api-key", key)
        .json(&json!({ "query": question }))
        .send()
        .await
        .unwrap();
    let cache = r
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), cache)
}

/// Whether the last prompt the model saw had the question upper-cased (the
/// candidate `echo-upper` served).
fn upper(fake: &FakeOpenAi) -> bool {
    let body = fake.requests("chat").pop().unwrap().body;
    let prompt = body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    prompt.contains("WHAT IS AUTBOT")
}

async fn metrics(s: &Server) -> String {
    let r = client().get(s.url("/metrics")).send().await.unwrap();
    r.text().await.unwrap()
}

fn guard(plugins: &Value) -> &Value {
    plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "guard")
        .unwrap()
}

fn server(fake: &FakeOpenAi, config: &str) -> ServerBuilder {
    ServerBuilder::new()
        .config(config)
        .llm(fake)
        .env("AUTBOT_SECURITY__CLIENT_KEYS", keys())
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
}

#[tokio::test]
async fn a_candidate_serves_a_sticky_share_side_by_side_with_the_stable_version() {
    let fake = FakeOpenAi::start().await;
    let config = chain(
        "tests/plugins/dist/trapper.wasm", // passes questions through unchanged
        "tests/plugins/dist/echo-upper.wasm",
        50,
        "",
    );
    let s = server(&fake, &config).start().ready().await;
    let mut on_canary = Vec::new();
    for i in 0..40 {
        let key = format!("k{i}");
        let (status, _) = ask(&s, &key, &format!("What is AutBot? ({i})")).await;
        assert_eq!(status, 200);
        let first = upper(&fake);
        for round in 0..2 {
            ask(&s, &key, &format!("What is AutBot? ({i}, {round})")).await;
            assert_eq!(upper(&fake), first, "client {i} stays on its version");
        }
        on_canary.push(first);
    }
    let n = on_canary.iter().filter(|c| **c).count();
    assert!(
        (10..=30).contains(&n),
        "{n} of 40 clients on a 50 % candidate"
    );

    // Both versions side by side.
    let status = s.admin(reqwest::Method::GET, "/admin/plugins").await;
    let g = guard(&status);
    assert_eq!(g["canary"]["percent"], 50);
    let (stable_calls, canary_calls) = (
        g["stable"]["calls"].as_u64().unwrap(),
        g["canary"]["calls"].as_u64().unwrap(),
    );
    assert_eq!(canary_calls, 3 * n as u64);
    assert_eq!(stable_calls + canary_calls, 120);
    assert!(g["canary"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert_ne!(g["canary"]["version"], g["version"]);
    // The metrics carry the version.
    let metrics = metrics(&s).await;
    let canary_version = &g["canary"]["version"].as_str().unwrap()[..12];
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("autbot_plugin_calls_total")
                && l.contains("plugin=\"guard\"")
                && l.contains(&format!("version=\"{canary_version}\""))),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_candidate_is_withdrawn_automatically_under_load() {
    let fake = FakeOpenAi::start().await;
    let config = chain(
        "tests/plugins/dist/echo-upper.wasm",
        "tests/plugins/dist/trapper.wasm", // traps on "boom"
        30,
        "[plugins.rollback]\nmin_calls = 20\n",
    );
    let s = server(&fake, &config).start().ready().await;
    let started = Instant::now();
    // 8 clients at a time, each with its own key, until the candidate is gone.
    let mut failed = 0;
    let mut sent = 0;
    let withdrawn_after = loop {
        let batch: Vec<_> = (0..8)
            .map(|j| {
                let key = format!("k{}", (sent + j) % 40);
                let url = s.url("/api/query");
                async move {
                    client()
                        .post(url)
                        .header("x-api-key", key)
                        .header("cache-control", "no-cache")
                        .json(&json!({"query": "boom: what is AutBot?"}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            })
            .collect();
        for status in futures::future::join_all(batch).await {
            sent += 1;
            if status == 500 {
                failed += 1;
            }
        }
        let status = s.admin(reqwest::Method::GET, "/admin/plugins").await;
        if guard(&status)["canary"].is_null() {
            break started.elapsed();
        }
        assert!(sent < 2000, "the candidate was never withdrawn");
    };
    println!(
        "candidate withdrawn after {} requests ({failed} failed) in {} ms",
        sent,
        withdrawn_after.as_millis()
    );
    assert!(failed >= 20, "it failed at least min_calls times first");
    let status = s.admin(reqwest::Method::GET, "/admin/plugins").await;
    let g = guard(&status);
    assert!(g["canary_withdrawn"].is_string());
    // Every client is served by the stable version now, and stays so on reload.
    let reload = s
        .admin(reqwest::Method::POST, "/admin/plugins/reload")
        .await;
    assert!(reload
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["result"] == "unchanged"));
    for i in 0..40 {
        let r = client()
            .post(s.url("/api/query"))
            .header("x-api-key", format!("k{i}"))
            .json(&json!({"query": "boom: what is AutBot?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let metrics = metrics(&s).await;
    assert!(metrics.contains(
        "autbot_plugin_canary_rollbacks_total{plugin=\"guard\",trigger=\"automatic\"} 1"
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.logs_flushed().await.contains("canary withdrawn"));
}

#[tokio::test]
async fn operators_promote_or_roll_back_by_hand() {
    let fake = FakeOpenAi::start().await;
    let config = chain(
        "tests/plugins/dist/trapper.wasm",
        "tests/plugins/dist/echo-upper.wasm",
        10,
        "",
    );
    let s = server(&fake, &config).start().ready().await;
    let post = |path: &str| client().post(s.url(path)).header("x-api-key", "adm").send();
    let r = post("/admin/plugins/nope/promote").await.unwrap();
    assert_eq!(r.status(), 404);
    let r = post("/admin/plugins/guard/promote").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["action"], "promoted");
    // Everyone gets the promoted version.
    for i in 0..10 {
        ask(&s, &format!("k{i}"), &format!("What is AutBot? {i}")).await;
        assert!(upper(&fake), "client {i}");
    }
    let status = s.admin(reqwest::Method::GET, "/admin/plugins").await;
    assert!(guard(&status)["canary"].is_null());
    assert!(guard(&status)["path"]
        .as_str()
        .unwrap()
        .ends_with("echo-upper.wasm"));
    // Nothing left to promote or roll back.
    assert_eq!(
        post("/admin/plugins/guard/promote").await.unwrap().status(),
        409
    );
    let r = post("/admin/plugins/guard/rollback").await.unwrap();
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "conflict");

    // Rollback on a fresh server: the candidate is withdrawn, the stable one serves all.
    let s = server(&fake, &config).start().ready().await;
    let r = client()
        .post(s.url("/admin/plugins/guard/rollback"))
        .header("x-api-key", "adm")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for i in 0..40 {
        ask(&s, &format!("k{i}"), &format!("What is AutBot? {i}")).await;
        assert!(!upper(&fake), "client {i}");
    }
}

#[tokio::test]
async fn answers_are_cached_per_serving_version() {
    // The candidate is a prompt-builder: the question after preprocessing is the same
    // for both versions, so only the versions in the cache key keep them apart.
    let fake = FakeOpenAi::start().await;
    let config = format!(
        r#"[plugins]
watch = false
[[plugins.chain]]
name = "builder"
hook = "prompt-builder"
path = "{}"
canary = {{ path = "{}", percent = 50 }}
"#,
        plugin("tests/plugins/dist/version-echo-1.wasm").display(),
        plugin("tests/plugins/dist/version-echo-2.wasm").display(),
    );
    let s = server(&fake, &config).start().ready().await;
    let answer = |key: String, question: &'static str| {
        let url = s.url("/api/query");
        async move {
            let r = client()
                .post(url)
                .header("x-api-key", key)
                .json(&json!({ "query": question }))
                .send()
                .await
                .unwrap();
            let cache = r.headers()["x-cache"].to_str().unwrap().to_string();
            let body: Value = r.json().await.unwrap();
            (body["response"].as_str().unwrap().to_string(), cache)
        }
    };
    // One client of each version (distinct questions: all misses).
    let mut canary = None;
    let mut stable = None;
    for i in 0..40 {
        let q: &'static str = Box::leak(format!("Which version? {i}").into_boxed_str());
        let (response, _) = answer(format!("k{i}"), q).await;
        match response.as_str() {
            "system=VERSION=2" => canary = canary.or(Some(i)),
            "system=VERSION=1" => stable = stable.or(Some(i)),
            other => panic!("{other}"),
        }
    }
    let (canary, stable) = (canary.unwrap(), stable.unwrap());
    let q = "How are plugins sandboxed?";
    assert_eq!(
        answer(format!("k{canary}"), q).await,
        ("system=VERSION=2".to_string(), "miss".to_string())
    );
    assert_eq!(
        answer(format!("k{stable}"), q).await,
        ("system=VERSION=1".to_string(), "miss".to_string()),
        "the candidate's answer is never served to a stable client"
    );
    assert_eq!(
        answer(format!("k{canary}"), q).await,
        ("system=VERSION=2".to_string(), "hit".to_string())
    );
    assert_eq!(
        answer(format!("k{stable}"), q).await,
        ("system=VERSION=1".to_string(), "hit".to_string())
    );
}
