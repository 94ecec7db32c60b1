//! The OpenAI-compatible path against the fake server: request shape, auth,
//! retries, the circuit breaker, timeouts, overload shedding.

use crate::support::client;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::server::ServerBuilder;
use std::time::Duration;

fn openai(fake: &FakeOpenAi) -> ServerBuilder {
    ServerBuilder::new()
        .env("OPENAI_API_KEY", "sk-test-key")
        .env("AUTBOT_LLM__PROVIDER", "openai")
        .env("AUTBOT_LLM__BASE_URL", fake.base_url())
        .env("AUTBOT_LLM__MODEL", "gpt-test")
}

#[tokio::test]
async fn chat_request_shape_and_auth() {
    let fake = FakeOpenAi::start().await;
    fake.reply("It listens on port 8080.");
    let s = openai(&fake).start().ready().await;
    let (status, body) = s.ask("Which port does the server use?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"], "It listens on port 8080.");
    assert_eq!(body["model"], "gpt-test");
    let calls = fake.requests("chat");
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.authorization.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(call.body["model"], "gpt-test");
    let messages = call.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages.last().unwrap()["role"], "user");
    let user = messages.last().unwrap()["content"].as_str().unwrap();
    assert!(user.contains("Which port does the server use?"));
    assert!(
        user.contains("<context>") && user.contains("</context>"),
        "{user}"
    );
    // The retrieved passages are inside the delimited context.
    let first_context = body["context"][0].as_str().unwrap();
    let snippet: String = first_context.chars().take(40).collect();
    let ctx = &user[user.find("<context>").unwrap()..user.find("</context>").unwrap()];
    assert!(
        ctx.contains(
            &snippet
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        ),
        "{ctx}"
    );
}

#[tokio::test]
async fn a_429_is_retried_then_succeeds() {
    let fake = FakeOpenAi::start().await;
    fake.script(&[429, 503]);
    let s = openai(&fake).start().ready().await;
    let (status, body) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.requests("chat").len(), 3);
}

#[tokio::test]
async fn failing_upstream_gives_502_then_the_circuit_opens_with_503() {
    let fake = FakeOpenAi::start().await;
    fake.always_fail(Some(500));
    let s = openai(&fake)
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .env("AUTBOT_LLM__BREAKER_FAILURES", "2")
        .env("AUTBOT_LLM__BREAKER_COOLDOWN_SECS", "60")
        .start()
        .ready()
        .await;
    for _ in 0..2 {
        let (status, body) = s.ask("What is AutBot?").await;
        assert_eq!(status, 502, "{body}");
        assert_eq!(body["code"], "upstream_error");
    }
    let r = client()
        .post(s.url("/api/query"))
        .json(&serde_json::json!({"query": "What is AutBot?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "upstream_unavailable");
    assert_eq!(
        fake.requests("chat").len(),
        2,
        "an open circuit must not call the upstream"
    );
    let ready = client().get(s.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn slow_upstream_times_out_with_504() {
    let fake = FakeOpenAi::start().await;
    fake.delay(Duration::from_secs(3));
    let s = openai(&fake)
        .env("AUTBOT_LLM__TIMEOUT_SECS", "1")
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .start()
        .ready()
        .await;
    let (status, body) = s.ask("What is AutBot?").await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], "timeout");
}

#[tokio::test]
async fn request_deadline_gives_504_and_overload_gives_503() {
    let fake = FakeOpenAi::start().await;
    fake.delay(Duration::from_millis(2500));
    let s = openai(&fake)
        .env("AUTBOT_SERVER__REQUEST_TIMEOUT_SECS", "1")
        .env("AUTBOT_SERVER__MAX_CONCURRENT_REQUESTS", "1")
        .start()
        .ready()
        .await;
    let url = s.url("/api/query");
    let first = tokio::spawn({
        let url = url.clone();
        async move {
            client()
                .post(url)
                .json(&serde_json::json!({"query": "slow one"}))
                .send()
                .await
        }
    });
    while fake.requests("chat").is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = client()
        .post(&url)
        .json(&serde_json::json!({"query": "second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    assert!(second.headers().get("retry-after").is_some());
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 504);
    let body: serde_json::Value = first.json().await.unwrap();
    assert_eq!(body["code"], "timeout");
}
