//! `POST /api/query/stream`: server-sent events from the real server, with the fake
//! OpenAI server streaming its answer, and with the extractive default.

use crate::support::client;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::server::{Server, ServerBuilder};
use serde_json::{json, Value};

/// Status, content type and the `(event, data)` pairs of a streamed answer (or the
/// JSON error body as a single `("json", body)` pair).
async fn ask_stream(s: &Server, question: &str) -> (u16, String, Vec<(String, Value)>) {
    let r = client()
        .post(s.url("/api/query/stream"))
        .json(&json!({ "query": question }))
        .send()
        .await
        .expect("request");
    read_stream(r).await
}

/// Status, content type and events (or the JSON error body) of a response.
async fn read_stream(r: reqwest::Response) -> (u16, String, Vec<(String, Value)>) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r.text().await.expect("body");
    if content_type.starts_with("application/json") {
        let body = serde_json::from_str(&text).expect("JSON error body");
        return (status, content_type, vec![("json".into(), body)]);
    }
    let events = text
        .split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            // Blocks without a name are keep-alive comments.
            let name = name?;
            let data = serde_json::from_str(&data.join("\n")).expect("JSON event data");
            Some((name, data))
        })
        .collect();
    (status, content_type, events)
}

fn openai(fake: &FakeOpenAi) -> ServerBuilder {
    ServerBuilder::new()
        .llm(fake)
        .env("AUTBOT_LLM__MODEL", "gpt-test")
}

fn deltas(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, d)| d["text"].as_str().expect("delta text").to_string())
        .collect()
}

#[tokio::test]
async fn the_model_answer_streams_in_order() {
    let fake = FakeOpenAi::start().await;
    let reply = "The server listens on port 8080 unless server.port says otherwise.";
    fake.reply(reply);
    let s = openai(&fake).start().ready().await;
    let (status, content_type, events) = ask_stream(&s, "Which port does it use?").await;
    assert_eq!(status, 200, "{events:?}");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );

    let (first, context) = &events[0];
    assert_eq!(first, "context");
    assert!(!context["context"].as_array().unwrap().is_empty());
    assert_eq!(
        context["sources"].as_array().unwrap().len(),
        context["context"].as_array().unwrap().len()
    );
    assert_eq!(context["model"], "gpt-test");
    let pieces = deltas(&events);
    assert!(pieces.len() >= 10, "one piece per word: {pieces:?}");
    assert_eq!(pieces.concat(), reply);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(done["response"], reply);
    assert_eq!(done["request_id"], context["request_id"]);

    let calls = fake.requests("chat");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body["stream"], true);
    assert_eq!(calls[0].body["stream_options"]["include_usage"], true);
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer sk-test"));
}

#[tokio::test]
async fn the_extractive_answer_streams_the_same_text_as_the_json_answer() {
    let s = ServerBuilder::new().start().ready().await;
    let question = "How do I change the port the server listens on?";
    let (status, json_answer) = s.ask(question).await;
    assert_eq!(status, 200, "{json_answer}");
    let (status, _, events) = ask_stream(&s, question).await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(events[0].0, "context");
    assert_eq!(events[0].1["context"], json_answer["context"]);
    assert_eq!(
        deltas(&events).concat(),
        json_answer["response"].as_str().unwrap()
    );
    assert_eq!(events.last().unwrap().0, "done");
}

#[tokio::test]
async fn a_browser_event_source_can_get_the_stream() {
    let s = ServerBuilder::new().start().ready().await;
    let question = "How do I change the port the server listens on?";
    let (_, posted, events_post) = ask_stream(&s, question).await;
    assert!(posted.starts_with("text/event-stream"));
    let r = client()
        .get(s.url("/api/query/stream"))
        .query(&[("query", question)])
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("request");
    let (status, content_type, events) = read_stream(r).await;
    assert_eq!(status, 200, "{events:?}");
    assert!(content_type.starts_with("text/event-stream"));
    assert_eq!(events[0].1["context"], events_post[0].1["context"]);
    assert_eq!(deltas(&events), deltas(&events_post));
    // Without the parameter: a JSON 400 that says what is missing.
    let r = client()
        .get(s.url("/api/query/stream"))
        .send()
        .await
        .expect("request");
    let (status, _, events) = read_stream(r).await;
    assert_eq!(status, 400, "{events:?}");
    assert_eq!(events[0].1["code"], "missing_field");
    assert!(events[0].1["error"].as_str().unwrap().contains("query"));
}

#[tokio::test]
async fn failures_before_the_first_piece_are_json_errors_with_their_status() {
    let fake = FakeOpenAi::start().await;
    fake.always_fail(Some(500));
    let s = openai(&fake)
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .start()
        .ready()
        .await;
    let (status, content_type, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 502, "{events:?}");
    assert!(content_type.starts_with("application/json"));
    assert_eq!(events[0].1["code"], "upstream_error");
    assert!(events[0].1["error"].is_string());
    assert!(events[0].1["request_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));

    let (status, _, events) = ask_stream(&s, "   ").await;
    assert_eq!(status, 422, "{events:?}");
    assert_eq!(events[0].1["code"], "empty_query");
}

#[tokio::test]
async fn a_failure_mid_answer_ends_the_stream_with_an_error_event() {
    let fake = FakeOpenAi::start().await;
    fake.reply("one two three four five");
    fake.fail_stream_after(2);
    let s = openai(&fake).start().ready().await;
    let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(deltas(&events), ["one ", "two "]);
    let (last, error) = events.last().unwrap();
    assert_eq!(last, "error", "{events:?}");
    assert_eq!(error["code"], "upstream_error");
    assert!(
        error["error"].as_str().unwrap().contains("mid-stream"),
        "{error}"
    );
    assert!(!events.iter().any(|(name, _)| name == "done"));
    // The server keeps answering.
    fake.fail_stream_after(usize::MAX);
    let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 200);
    assert_eq!(events.last().unwrap().0, "done");
}

#[tokio::test]
async fn a_stream_counts_against_the_concurrency_limit_until_its_last_event() {
    let fake = FakeOpenAi::start().await;
    fake.reply("one two three four five six");
    fake.chunk_delay(std::time::Duration::from_millis(150));
    let s = openai(&fake)
        .env("AUTBOT_SERVER__MAX_CONCURRENT_REQUESTS", "1")
        .start()
        .ready()
        .await;
    let mut slow = client()
        .post(s.url("/api/query/stream"))
        .json(&json!({ "query": "What is AutBot?" }))
        .send()
        .await
        .expect("request");
    assert_eq!(slow.status(), 200);
    // The first event arrives while the model is still writing (the words follow over
    // ~0.9 s): the answer is streamed, not buffered.
    let first = slow.chunk().await.expect("read").expect("a first chunk");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: context"), "{first}");
    assert!(!first.contains("event: done"), "{first}");
    let (status, body) = s.ask("What is AutBot?").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "overloaded");
    let rest = slow.text().await.expect("rest of the stream");
    assert!(rest.contains("event: done"), "{rest}");
    // The permit is back once the stream has ended.
    let (status, body) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_stream_cut_off_before_done_ends_with_an_error_event() {
    let fake = FakeOpenAi::start().await;
    fake.reply("one two three four");
    fake.cut_stream_after(2);
    let s = openai(&fake).start().ready().await;
    let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(deltas(&events), ["one ", "two "]);
    let (last, error) = events.last().unwrap();
    assert_eq!(last, "error", "{events:?}");
    assert!(
        error["error"].as_str().unwrap().contains("[DONE]"),
        "{error}"
    );
}

#[tokio::test]
async fn failing_streams_open_the_circuit() {
    let fake = FakeOpenAi::start().await;
    fake.reply("one two three");
    fake.fail_stream_after(1);
    let s = openai(&fake)
        .env("AUTBOT_LLM__BREAKER_FAILURES", "2")
        .env("AUTBOT_LLM__BREAKER_COOLDOWN_SECS", "60")
        .start()
        .ready()
        .await;
    for _ in 0..2 {
        let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
        assert_eq!(status, 200);
        assert_eq!(events.last().unwrap().0, "error", "{events:?}");
    }
    let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 503, "{events:?}");
    assert_eq!(events[0].1["code"], "upstream_unavailable");
    assert_eq!(
        fake.requests("chat").len(),
        2,
        "the open circuit makes no call"
    );
}

#[tokio::test]
async fn servers_that_refuse_stream_options_still_stream() {
    let fake = FakeOpenAi::start().await;
    fake.reply("alpha beta gamma");
    fake.refuse_stream_options();
    let s = openai(&fake).start().ready().await;
    let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(deltas(&events).concat(), "alpha beta gamma");
    let calls = fake.requests("chat");
    assert_eq!(calls.len(), 2);
    assert!(calls[0].body.get("stream_options").is_some());
    assert!(calls[1].body.get("stream_options").is_none());
    assert_eq!(calls[1].body["stream"], true);
}

#[tokio::test]
async fn a_server_that_ignores_stream_still_gets_its_answer_streamed() {
    let fake = FakeOpenAi::start().await;
    fake.reply("The whole answer at once.");
    fake.ignore_stream();
    let s = openai(&fake).start().ready().await;
    let (status, _, events) = ask_stream(&s, "What is AutBot?").await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(deltas(&events), ["The whole answer at once."]);
    assert_eq!(
        events.last().unwrap().1["response"],
        "The whole answer at once."
    );
    assert_eq!(fake.requests("chat")[0].body["stream"], true);
}
