//! Graceful shutdown: a request in flight when SIGTERM arrives completes.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::server::ServerBuilder;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_lets_the_in_flight_request_finish_then_exits_0() {
    let fake = FakeOpenAi::start().await;
    fake.delay(Duration::from_millis(1500));
    let mut s = ServerBuilder::new().llm(&fake).start().ready().await;
    let url = s.url("/api/query");
    let in_flight = tokio::spawn(async move {
        crate::support::client()
            .post(url)
            .json(&serde_json::json!({"query": "What is AutBot?"}))
            .send()
            .await
    });
    // Let the request reach the (slow) LLM, then ask the server to stop.
    let started = Instant::now();
    while fake.requests("chat").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.sigterm();
    let r = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["response"].as_str().unwrap().starts_with("system="));
    let status = tokio::task::spawn_blocking(move || {
        let st = s.wait_exit(Duration::from_secs(15));
        (st, s.logs())
    })
    .await
    .unwrap();
    assert!(
        status.0.success(),
        "exit status {:?}; logs:\n{}",
        status.0,
        status.1
    );
    assert!(status.1.contains("shutdown signal received"));
}
