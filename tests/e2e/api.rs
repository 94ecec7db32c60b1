//! The HTTP contract: answers, error bodies, request ids, CORS, admin keys.

use crate::support::client;
use crate::support::server::{Server, ServerBuilder};
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

async fn server() -> Server {
    ServerBuilder::new()
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["test-admin-key"]"#)
        .start()
        .ready()
        .await
}

/// Asserts the JSON error shape and returns the body.
async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "status");
    let ct = r
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let header_id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = r.json().await.expect("json body");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error must be a string: {body}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        Some(header_id.as_str()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn extractive_default_answers_from_the_default_corpus() {
    let s = server().await;
    let r = client()
        .post(s.url("/api/query"))
        .json(&json!({"query": "How do I change the port the server listens on?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    let response = body["response"].as_str().unwrap();
    assert!(response.starts_with("Extractive answer"), "{response}");
    assert!(response.contains("port"), "{response}");
    let context = body["context"].as_array().unwrap();
    let sources = body["sources"].as_array().unwrap();
    assert!(!context.is_empty() && context.len() <= 4);
    assert_eq!(context.len(), sources.len());
    assert!(context
        .iter()
        .all(|c| c.as_str().is_some_and(|t| !t.is_empty())));
    assert!(
        sources.iter().any(|s| s["source"] == "configuration.md"),
        "{body}"
    );
    assert!(
        response.contains("[configuration.md]"),
        "the answer cites its sources: {response}"
    );
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["model"], "extractive");
}

#[tokio::test]
async fn every_error_is_json_with_code_and_request_id() {
    let s = server().await;
    let c = client();
    let q = s.url("/api/query");
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut r = c.post(&q).body(body);
        if let Some(ct) = ct {
            r = r.header(CONTENT_TYPE, ct);
        }
        r.send()
    };
    let json_ct = Some("application/json");
    expect_error(
        post("{\"query\": ", json_ct).await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post("{\"query\": \"hi\"}", Some("text/plain"))
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        post("{\"query\": \"hi\"}", None).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let b = expect_error(
        post("{\"question\": \"hi\"}", json_ct).await.unwrap(),
        400,
        "missing_field",
    )
    .await;
    assert!(b["error"].as_str().unwrap().contains("query"), "{b}");
    expect_error(
        post("{\"query\": 42}", json_ct).await.unwrap(),
        400,
        "wrong_type",
    )
    .await;
    expect_error(
        post("{\"query\": \"   \"}", json_ct).await.unwrap(),
        422,
        "empty_query",
    )
    .await;
    expect_error(
        post("{\"query\": \"\\u200b\\ufeff\"}", json_ct)
            .await
            .unwrap(),
        422,
        "empty_query",
    )
    .await;
    expect_error(
        post("{\"query\": \"bell\\u0007\"}", json_ct).await.unwrap(),
        422,
        "invalid_characters",
    )
    .await;
    let long = json!({"query": "a".repeat(2001)});
    let b = expect_error(
        c.post(&q).json(&long).send().await.unwrap(),
        422,
        "query_too_long",
    )
    .await;
    assert!(b["error"].as_str().unwrap().contains("2000"));
    let huge = json!({"query": "a".repeat(40_000)});
    expect_error(
        c.post(&q).json(&huge).send().await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    expect_error(
        c.get(s.url("/no/such/route")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    expect_error(c.get(&q).send().await.unwrap(), 405, "method_not_allowed").await;
    // Still healthy after all that.
    assert_eq!(c.get(s.url("/health")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn request_ids_are_propagated_or_replaced() {
    let s = server().await;
    let c = client();
    let r = c
        .get(s.url("/nope"))
        .header("x-request-id", "client-id_42.a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-id_42.a");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], "client-id_42.a");
    for bad in ["has space", &"x".repeat(200), "semi;colon"] {
        let r = c
            .get(s.url("/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let echoed = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(echoed, bad);
        assert_eq!(echoed.len(), 32, "a generated id replaces {bad:?}");
    }
    // The id is in the access log line of that request.
    let r = c
        .get(s.url("/api/version"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let line = s
        .logs()
        .lines()
        .find(|l| l.contains("trace-me-123"))
        .map(str::to_string)
        .expect("log line with the request id");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["path"], "/api/version");
    assert!(v["latency_ms"].is_number());
}

#[tokio::test]
async fn cors_in_production_allows_exactly_the_configured_origins() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SECURITY__ENVIRONMENT", "production")
        .env(
            "AUTBOT_SECURITY__ALLOWED_ORIGINS",
            r#"["https://app.example.com"]"#,
        )
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["k1"]"#)
        // The shipped plugins are unsigned here (signing: tests/e2e/signed_plugins.rs).
        .env("AUTBOT_PLUGINS__REQUIRE_SIGNATURES", "false")
        .start()
        .ready()
        .await;
    let c = client();
    let preflight = |origin: &'static str| {
        c.request(reqwest::Method::OPTIONS, s.url("/api/query"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(ok
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let local = preflight("http://localhost:3000").await.unwrap();
    assert!(
        local.headers().get("access-control-allow-origin").is_none(),
        "production does not allow localhost"
    );
    // Actual request: the allowed origin is echoed, never `*`.
    let r = c
        .get(s.url("/api/version"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn admin_routes_need_the_key() {
    let s = server().await;
    let c = client();
    let url = s.url("/admin/plugins");
    expect_error(c.get(&url).send().await.unwrap(), 401, "missing_api_key").await;
    expect_error(
        c.get(&url)
            .header("x-api-key", "wrong")
            .send()
            .await
            .unwrap(),
        403,
        "invalid_api_key",
    )
    .await;
    let r = c
        .get(&url)
        .header("x-api-key", "test-admin-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plugins: Vec<Value> = r.json().await.unwrap();
    let names: Vec<&str> = plugins
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["query-guard", "source-weighter", "prompt-builder"]);
    expect_error(
        c.post(s.url("/admin/reindex")).send().await.unwrap(),
        401,
        "missing_api_key",
    )
    .await;
}

#[tokio::test]
async fn not_ready_without_an_index_then_503_for_queries() {
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DATA_DIR", "/nonexistent/autbot-data")
        .start();
    let c = client();
    // The build fails: readiness stays 503 and names the failed check.
    let mut body = Value::Null;
    for _ in 0..100 {
        let r = c.get(s.url("/ready")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        body = r.json().await.unwrap();
        if body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ch| ch["name"] == "index" && ch["detail"].as_str().unwrap().contains("failed"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(body["code"], "not_ready", "{body}");
    let failed: Vec<&Value> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "index");
    let (status, body) = s.ask("anything").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "not_ready");
    assert_eq!(c.get(s.url("/health")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn version_and_openapi() {
    let s = server().await;
    let c = client();
    let v: Value = c
        .get(s.url("/api/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let doc: Value = c
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/query",
        "/api/version",
        "/health",
        "/ready",
        "/admin/reindex",
        "/admin/plugins",
        "/admin/plugins/reload",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}
