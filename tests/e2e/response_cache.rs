//! The answer cache: hits and misses, bypass, invalidation by re-index, no cached
//! errors, request coalescing, sharing through Redis, and the global LLM budget.

use crate::support::client;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::redis::Redis;
use crate::support::server::{Server, ServerBuilder};
use serde_json::json;
use std::time::Duration;

fn openai(fake: &FakeOpenAi) -> ServerBuilder {
    ServerBuilder::new()
        .llm(fake)
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
}

async fn ask(s: &Server, q: &str, no_cache: bool) -> (u16, String, serde_json::Value) {
    let mut r = client()
        .post(s.url("/api/query"))
        .json(&json!({"query": q}));
    if no_cache {
        r = r.header("cache-control", "no-cache");
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, cache, r.json().await.unwrap())
}

#[tokio::test]
async fn hits_misses_and_bypass() {
    let fake = FakeOpenAi::start().await;
    let s = openai(&fake).start().ready().await;
    let (_, c1, first) = ask(&s, "How do I rotate admin keys?", false).await;
    let (_, c2, second) = ask(&s, "How do I rotate admin keys?", false).await;
    assert_eq!((c1.as_str(), c2.as_str()), ("miss", "hit"));
    assert_eq!(first["response"], second["response"]);
    assert_ne!(
        first["request_id"], second["request_id"],
        "the request id is per request, even on a hit"
    );
    // The key is taken after preprocessing: extra spaces are normalised by query-guard.
    let (_, c3, _) = ask(&s, "How  do I   rotate admin keys?", false).await;
    assert_eq!(c3, "hit");
    assert_eq!(fake.requests("chat").len(), 1);
    let (_, c4, _) = ask(&s, "How do I rotate admin keys?", true).await;
    assert_eq!(c4, "bypass");
    assert_eq!(fake.requests("chat").len(), 2);
}

#[tokio::test]
async fn a_changed_index_invalidates_cached_answers() {
    let fake = FakeOpenAi::start().await;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("a.md"),
        "# Kettles\nThe copper kettle whistles at seven.",
    )
    .unwrap();
    let s = openai(&fake)
        .env("AUTBOT_INDEX__DATA_DIR", data.display().to_string())
        .start()
        .ready()
        .await;
    assert_eq!(
        ask(&s, "When does the kettle whistle?", false).await.1,
        "miss"
    );
    assert_eq!(
        ask(&s, "When does the kettle whistle?", false).await.1,
        "hit"
    );
    std::fs::write(
        data.join("b.md"),
        "# Kettles\nThe steel kettle whistles at nine.",
    )
    .unwrap();
    let r = client()
        .post(s.url("/admin/reindex"))
        .header("x-api-key", "adm")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut status = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if s.logs().matches("index built").count() >= 2 {
            status = ask(&s, "When does the kettle whistle?", false).await.1;
            break;
        }
    }
    assert_eq!(
        status, "miss",
        "answers cached before the re-index are not served after it"
    );
    assert_eq!(fake.requests("chat").len(), 2);
}

#[tokio::test]
async fn errors_are_never_cached() {
    let fake = FakeOpenAi::start().await;
    let s = openai(&fake).start().ready().await;
    fake.script(&[500]);
    let (status, _, _) = ask(&s, "What is AutBot?", false).await;
    assert_eq!(status, 502);
    let (status, cache, _) = ask(&s, "What is AutBot?", false).await;
    assert_eq!((status, cache.as_str()), (200, "miss"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_identical_questions_make_one_upstream_call() {
    let fake = FakeOpenAi::start().await;
    fake.delay(Duration::from_millis(500));
    let s = openai(&fake).start().ready().await;
    let url = s.url("/api/query");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let r = client()
                .post(url)
                .json(&json!({"query": "What is AutBot?"}))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }));
    }
    let mut answers = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        answers.insert(body["response"].as_str().unwrap().to_string());
    }
    assert_eq!(answers.len(), 1);
    assert_eq!(
        fake.requests("chat").len(),
        1,
        "one LLM call for 50 identical questions"
    );
}

#[tokio::test]
async fn replicas_share_cached_answers_through_redis() {
    let fake = FakeOpenAi::start().await;
    let redis = Redis::start();
    let shared = |b: ServerBuilder| {
        b.env("AUTBOT_CACHE__BACKEND", "redis")
            .env("AUTBOT_REDIS__URL", redis.url())
    };
    let a = shared(openai(&fake)).start().ready().await;
    let b = shared(openai(&fake)).start().ready().await;
    let (_, ca, ra) = ask(&a, "How are plugins sandboxed?", false).await;
    let (_, cb, rb) = ask(&b, "How are plugins sandboxed?", false).await;
    assert_eq!((ca.as_str(), cb.as_str()), ("miss", "hit"));
    assert_eq!(ra["response"], rb["response"]);
    assert_eq!(ra["context"], rb["context"]);
    assert_eq!(
        fake.requests("chat").len(),
        1,
        "one LLM call across both replicas"
    );
}

#[tokio::test]
async fn the_global_llm_budget_refuses_with_429() {
    let fake = FakeOpenAi::start().await;
    let s = openai(&fake)
        .env("AUTBOT_RATE_LIMIT__LLM_CALLS_PER_MINUTE", "2")
        .start()
        .ready()
        .await;
    assert_eq!(ask(&s, "first question", false).await.0, 200);
    assert_eq!(ask(&s, "second question", false).await.0, 200);
    let (status, _, body) = ask(&s, "third question", false).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(
        ask(&s, "first question", false).await.1,
        "hit",
        "cached answers cost no LLM call"
    );
    assert_eq!(fake.requests("chat").len(), 2);
}
