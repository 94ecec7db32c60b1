//! Metrics (parsed as Prometheus exposition format), bounded labels, Sentry events
//! through a fake Sentry endpoint, and the alert rules under promtool.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::server::{Server, ServerBuilder};
use crate::support::{client, repo};
use axum::routing::post;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One sample: metric name and its labels, sorted.
type Series = (String, Vec<(String, String)>);

/// Parses the Prometheus text format strictly enough to reject malformed output.
fn parse(text: &str) -> HashMap<Series, f64> {
    let mut out = HashMap::new();
    let mut typed = HashMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(name_ok(name), "bad name in {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), vec![]),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let mut labels = Vec::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (k, v) = rest
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label in {line}"));
                    assert!(name_ok(k), "bad label name {k}");
                    let mut end = 0;
                    let bytes = v.as_bytes();
                    while end < bytes.len()
                        && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\'))
                    {
                        end += 1;
                    }
                    labels.push((k.to_string(), v[..end].to_string()));
                    rest = v[end + 1..].trim_start_matches(',');
                }
                labels.sort();
                (name.to_string(), labels)
            }
        };
        assert!(name_ok(&name), "bad metric name in {line}");
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        assert!(
            typed.contains_key(&name) || typed.contains_key(base),
            "sample without # TYPE: {line}"
        );
        out.insert((name, labels), value);
    }
    out
}

async fn scrape(s: &Server) -> HashMap<Series, f64> {
    let r = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    parse(&r.text().await.unwrap())
}

fn value(m: &HashMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    m.get(&(name.to_string(), want)).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_parse_and_move_by_exactly_the_right_amounts() {
    let s = ServerBuilder::new().start().ready().await;
    let before = scrape(&s).await;
    for _ in 0..3 {
        assert_eq!(s.ask("How are plugins sandboxed?").await.0, 200);
    }
    for _ in 0..2 {
        client().get(s.url("/no/such/page")).send().await.unwrap();
    }
    assert_eq!(s.ask("   ").await.0, 422);
    let after = scrape(&s).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let req = "autbot_http_requests_total";
    assert_eq!(
        delta(
            req,
            &[
                ("route", "/api/query"),
                ("method", "POST"),
                ("status", "2xx")
            ]
        ),
        3.0
    );
    assert_eq!(
        delta(
            req,
            &[
                ("route", "/api/query"),
                ("method", "POST"),
                ("status", "4xx")
            ]
        ),
        1.0
    );
    assert_eq!(
        delta(
            req,
            &[("route", "unmatched"), ("method", "GET"), ("status", "4xx")]
        ),
        2.0
    );
    assert_eq!(
        delta("autbot_cache_requests_total", &[("result", "miss")]),
        1.0
    );
    assert_eq!(
        delta("autbot_cache_requests_total", &[("result", "hit")]),
        2.0
    );
    let calls = "autbot_plugin_calls_total";
    assert_eq!(
        delta(
            calls,
            &[
                ("plugin", "query-guard"),
                ("hook", "preprocessor"),
                ("outcome", "ok"),
                ("version", &plugin_version("query-guard"))
            ]
        ),
        3.0
    );
    assert_eq!(
        delta(
            calls,
            &[
                ("plugin", "source-weighter"),
                ("hook", "ranker"),
                ("outcome", "ok"),
                ("version", &plugin_version("source-weighter"))
            ]
        ),
        1.0,
        "cache hits skip ranking"
    );
    assert_eq!(
        delta(
            "autbot_http_request_duration_seconds_count",
            &[("route", "/api/query")]
        ),
        4.0
    );
    assert!(value(&after, "autbot_index_chunks", &[]) > 10.0);
    assert_eq!(
        value(
            &after,
            "autbot_plugin_info",
            &[
                ("plugin", "query-guard"),
                ("hook", "preprocessor"),
                ("version", &plugin_version("query-guard"))
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "autbot_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("git_sha", &git_sha(&after))
            ]
        ),
        1.0
    );
}

fn plugin_version(name: &str) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(repo().join(format!("plugins/dist/{name}.wasm"))).unwrap();
    hex::encode(sha2::Sha256::digest(bytes))[..12].to_string()
}

fn git_sha(m: &HashMap<Series, f64>) -> String {
    m.keys()
        .find(|(n, _)| n == "autbot_build_info")
        .and_then(|(_, l)| l.iter().find(|(k, _)| k == "git_sha"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn label_sets_stay_bounded_under_random_paths() {
    let s = ServerBuilder::new().start().ready().await;
    let c = client();
    for i in 0..1000u32 {
        let path = format!("/random/{}/{}?q={}", i.wrapping_mul(2654435761), i, i * 7);
        let method = if i % 3 == 0 {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        c.request(method, s.url(&path)).send().await.unwrap();
    }
    let m = scrape(&s).await;
    let series: Vec<&Series> = m
        .keys()
        .filter(|(n, _)| n == "autbot_http_requests_total")
        .collect();
    assert!(series.len() <= 6, "{} series: {series:?}", series.len());
    assert!(m
        .keys()
        .all(|(_, labels)| labels.iter().all(|(_, v)| !v.contains("/random/"))));
    let unmatched: f64 = series
        .iter()
        .filter(|(_, l)| l.iter().any(|(k, v)| k == "route" && v == "unmatched"))
        .map(|k| m[*k])
        .sum();
    assert_eq!(unmatched, 1000.0);
}

#[tokio::test]
async fn metrics_can_move_to_their_own_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = ServerBuilder::new()
        .env("AUTBOT_OBSERVABILITY__METRICS_PORT", port.to_string())
        .start()
        .ready()
        .await;
    assert_eq!(
        client()
            .get(s.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let text = client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(parse(&text).keys().any(|(n, _)| n == "autbot_build_info"));
}

/// A fake Sentry: records every envelope body.
async fn fake_sentry() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/api/{project}/envelope/",
        post(move |body: axum::body::Bytes| {
            let seen = s2.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://publickey@{addr}/42"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_gets_one_event_per_5xx_and_none_for_4xx() {
    let (dsn, seen) = fake_sentry().await;
    let fake = FakeOpenAi::start().await;
    fake.always_fail(Some(500));
    let s = ServerBuilder::new()
        .env("OPENAI_API_KEY", "sk-sentry-test-key-77")
        .env("AUTBOT_LLM__PROVIDER", "openai")
        .env("AUTBOT_LLM__BASE_URL", fake.base_url())
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .env(
            "AUTBOT_SECURITY__ADMIN_API_KEYS",
            r#"["admin-sentry-key-55"]"#,
        )
        .env("AUTBOT_OBSERVABILITY__SENTRY_DSN", dsn)
        .start()
        .ready()
        .await;
    let question = "zebra-private-question-about-salaries";
    let r = client()
        .post(s.url("/api/query"))
        .header("x-api-key", "admin-sentry-key-55")
        .json(&serde_json::json!({"query": question}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let mut events = Vec::new();
    for _ in 0..100 {
        events = seen.lock().unwrap().clone();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        events.len(),
        1,
        "one event for the 5xx; logs:\n{}",
        s.logs()
    );
    let event = &events[0];
    assert!(
        event.contains(&format!("\"request_id\":\"{request_id}\"")),
        "{event}"
    );
    assert!(event.contains("upstream_error"), "{event}");
    assert!(!event.contains(question), "query text leaked: {event}");
    assert!(
        !event.contains("sk-sentry-test-key-77") && !event.contains("admin-sentry-key-55"),
        "key leaked: {event}"
    );
    // 4xx: no event.
    client()
        .post(s.url("/api/query"))
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(s.ask("").await.0, 422);
    client().get(s.url("/nope")).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(seen.lock().unwrap().len(), 1, "no events for 4xx");
}

#[test]
fn alert_rules_pass_promtool() {
    let ops = repo().join("examples/ops");
    for args in [
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts_test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(&args)
            .current_dir(&ops)
            .output()
            .expect("promtool must be installed (apt-get install prometheus)");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
