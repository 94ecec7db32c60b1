//! Rate limiting, in process and shared through a real Redis.

use crate::support::client;
use crate::support::redis::Redis;
use crate::support::server::{Server, ServerBuilder};
use serde_json::json;
use std::time::{Duration, Instant};

fn limited(requests: u32, window_secs: u64) -> ServerBuilder {
    ServerBuilder::new()
        .env("AUTBOT_RATE_LIMIT__ENABLED", "true")
        .env("AUTBOT_RATE_LIMIT__REQUESTS", requests.to_string())
        .env("AUTBOT_RATE_LIMIT__WINDOW_SECS", window_secs.to_string())
        .env("AUTBOT_CACHE__BACKEND", "off")
}

fn with_redis(b: ServerBuilder, redis: &Redis) -> ServerBuilder {
    b.env("AUTBOT_RATE_LIMIT__BACKEND", "redis")
        .env("AUTBOT_REDIS__URL", redis.url())
}

async fn post(s: &Server, xff: Option<&str>) -> reqwest::Response {
    let mut r = client()
        .post(s.url("/api/query"))
        .json(&json!({"query": "What is AutBot?"}));
    if let Some(x) = xff {
        r = r.header("x-forwarded-for", x);
    }
    r.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> u64 {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// N allowed with decreasing Remaining, the N+1th refused with the right headers, then
/// recovery once the window has passed.
async fn limit_then_recover(s: &Server) {
    for remaining in (0..3).rev() {
        let r = post(s, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit"), 3);
        assert_eq!(header(&r, "x-ratelimit-remaining"), remaining);
        assert!(header(&r, "x-ratelimit-reset") <= 2);
    }
    let r = post(s, None).await;
    assert_eq!(r.status(), 429);
    let retry = header(&r, "retry-after");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["request_id"].is_string());
    // Health and readiness are never limited.
    for _ in 0..5 {
        assert_eq!(
            client()
                .get(s.url("/health"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(post(s, None).await.status(), 200, "the window has passed");
}

#[tokio::test]
async fn memory_backend_limits_and_recovers() {
    let s = limited(3, 2).start().ready().await;
    limit_then_recover(&s).await;
}

#[tokio::test]
async fn redis_backend_limits_and_recovers() {
    let redis = Redis::start();
    let s = with_redis(limited(3, 2), &redis).start().ready().await;
    limit_then_recover(&s).await;
}

#[tokio::test]
async fn two_replicas_share_one_limit_and_survive_a_redis_outage() {
    let mut redis = Redis::start();
    let a = with_redis(limited(4, 60), &redis).start().ready().await;
    let b = with_redis(limited(4, 60), &redis).start().ready().await;
    for s in [&a, &b, &a, &b] {
        assert_eq!(post(s, None).await.status(), 200);
    }
    assert_eq!(
        post(&a, None).await.status(),
        429,
        "the fifth request across both replicas"
    );
    assert_eq!(post(&b, None).await.status(), 429);

    // Redis goes away: fail-open keeps serving on in-process limits; /ready says degraded.
    redis.kill();
    let started = Instant::now();
    let ready = loop {
        let r: serde_json::Value = client()
            .get(a.url("/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if r["status"] == "degraded" {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never degraded: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let redis_check = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "redis")
        .unwrap()
        .clone();
    assert!(
        redis_check["detail"]
            .as_str()
            .unwrap()
            .starts_with("degraded"),
        "{redis_check}"
    );
    let r = client().get(a.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200, "fail-open stays ready");
    let started = Instant::now();
    assert_eq!(
        post(&a, None).await.status(),
        200,
        "served from the in-process limiter"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "never hang on a dead Redis"
    );

    // Redis is back: shared limiting resumes without a restart.
    redis.restart();
    let started = Instant::now();
    loop {
        let r: serde_json::Value = client()
            .get(a.url("/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rb: serde_json::Value = client()
            .get(b.url("/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if r["status"] == "ready" && rb["status"] == "ready" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never recovered: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in [&a, &b, &a, &b] {
        assert_eq!(post(s, None).await.status(), 200);
    }
    assert_eq!(post(&b, None).await.status(), 429, "shared limit again");
}

#[tokio::test]
async fn fail_closed_refuses_when_redis_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = limited(10, 60)
        .env("AUTBOT_RATE_LIMIT__BACKEND", "redis")
        .env("AUTBOT_REDIS__URL", format!("redis://127.0.0.1:{port}"))
        .env("AUTBOT_RATE_LIMIT__ON_REDIS_ERROR", "fail_closed")
        .start();
    let r = post(&s, None).await;
    assert_eq!(r.status(), 503);
    let ready = client().get(s.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Untrusted peer: a different X-Forwarded-For per request changes nothing.
    let s = limited(2, 60).start().ready().await;
    assert_eq!(post(&s, Some("1.1.1.1")).await.status(), 200);
    assert_eq!(post(&s, Some("2.2.2.2")).await.status(), 200);
    assert_eq!(
        post(&s, Some("3.3.3.3")).await.status(),
        429,
        "spoofed header must be ignored"
    );

    // Trusted proxy: each forwarded client has its own bucket.
    let s = limited(2, 60)
        .env("AUTBOT_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .start()
        .ready()
        .await;
    for ip in ["1.1.1.1", "2.2.2.2", "3.3.3.3", "1.1.1.1"] {
        assert_eq!(post(&s, Some(ip)).await.status(), 200, "{ip}");
    }
    assert_eq!(post(&s, Some("1.1.1.1")).await.status(), 429);
}

#[tokio::test]
async fn admin_routes_have_their_own_stricter_policy() {
    let s = limited(100, 60)
        .env(
            "AUTBOT_RATE_LIMIT__ADMIN",
            r#"{"requests": 2, "window_secs": 60}"#,
        )
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
        .start()
        .ready()
        .await;
    let get = || {
        client()
            .get(s.url("/admin/plugins"))
            .header("x-api-key", "adm")
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(get().await.unwrap().status(), 429);
    assert_eq!(
        post(&s, None).await.status(),
        200,
        "the client policy is separate"
    );
}

#[tokio::test]
async fn client_keys_have_their_own_policy_and_name() {
    use sha2::Digest;
    let hashed = hex::encode(sha2::Sha256::digest(b"partner-key-2"));
    let keys = format!(
        r#"[{{"name": "web", "key": "web-key-1", "requests": 2, "window_secs": 60}}, {{"name": "partner", "sha256": "{hashed}", "requests": 5, "window_secs": 60}}]"#
    );
    let s = limited(1, 60)
        .env("AUTBOT_SECURITY__CLIENT_KEYS", keys)
        .start()
        .ready()
        .await;
    let with_key = |k: &'static str| {
        client()
            .post(s.url("/api/query"))
            .header("x-api-key", k)
            .json(&json!({"query": "What is AutBot?"}))
            .send()
    };
    let r = with_key("web-key-1").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-limit"), 2, "the key's own policy");
    assert_eq!(with_key("web-key-1").await.unwrap().status(), 200);
    assert_eq!(with_key("web-key-1").await.unwrap().status(), 429);
    let r = with_key("partner-key-2").await.unwrap();
    assert_eq!(header(&r, "x-ratelimit-limit"), 5, "a key given as sha256");
    let r = with_key("wrong").await.unwrap();
    assert_eq!(r.status(), 403);
    // Anonymous callers keep the per-IP policy (the public web client needs no key).
    assert_eq!(post(&s, None).await.status(), 200);
    assert_eq!(post(&s, None).await.status(), 429);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = s.logs();
    assert!(
        logs.contains("\"client\":\"web\""),
        "the key's name is logged"
    );
    assert!(
        !logs.contains("web-key-1") && !logs.contains("partner-key-2"),
        "keys never logged"
    );

    let s = limited(10, 60)
        .env(
            "AUTBOT_SECURITY__CLIENT_KEYS",
            r#"[{"name": "web", "key": "k", "requests": 5, "window_secs": 60}]"#,
        )
        .env("AUTBOT_SECURITY__REQUIRE_CLIENT_KEY", "true")
        .start()
        .ready()
        .await;
    let r = post(&s, None).await;
    assert_eq!(r.status(), 401);
}

/// Requests through a trusted proxy on loopback, each with the given forwarding headers.
async fn post_with(s: &Server, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = client()
        .post(s.url("/api/query"))
        .json(&json!({"query": "What is AutBot?"}));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_client_behind_a_trusted_proxy_cannot_buy_fresh_buckets() {
    let s = limited(2, 60)
        .env("AUTBOT_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .start()
        .ready()
        .await;
    // The proxy appends the client's address with a port; the client varies what it
    // puts in front of it.
    for (n, forged) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
        let xff = format!("{forged}, 198.51.100.77:51234");
        let r = post_with(&s, &[("x-forwarded-for", &xff)]).await;
        assert_eq!(r.status(), if n < 2 { 200 } else { 429 }, "{xff}");
    }
    // An IPv6 client is one bucket per /64, however its address is written.
    for (n, xff) in [
        "[2001:db8:1:2::1]:443",
        "2001:db8:1:2::2",
        "9.9.9.9, [2001:db8:1:2:ffff::3]",
    ]
    .iter()
    .enumerate()
    {
        let r = post_with(&s, &[("x-forwarded-for", xff)]).await;
        assert_eq!(r.status(), if n < 2 { 200 } else { 429 }, "{xff}");
    }

    // `Forwarded` configured: a client-sent X-Forwarded-For changes nothing.
    let s = limited(2, 60)
        .env("AUTBOT_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .env("AUTBOT_RATE_LIMIT__CLIENT_IP_HEADER", "forwarded")
        .start()
        .ready()
        .await;
    for (n, forged) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
        let r = post_with(
            &s,
            &[
                ("x-forwarded-for", forged),
                ("forwarded", "for=\"198.51.100.8:4711\";proto=https"),
            ],
        )
        .await;
        assert_eq!(r.status(), if n < 2 { 200 } else { 429 }, "{forged}");
    }
}

#[tokio::test]
async fn an_ipv4_mapped_proxy_range_trusts_the_ipv4_peer() {
    // Written as an IPv4-mapped IPv6 range, the loopback proxy is still trusted: each
    // forwarded client has its own bucket.
    let s = limited(2, 60)
        .env(
            "AUTBOT_RATE_LIMIT__TRUSTED_PROXIES",
            r#"["::ffff:127.0.0.0/104"]"#,
        )
        .start()
        .ready()
        .await;
    for ip in ["1.1.1.1", "2.2.2.2", "3.3.3.3", "::ffff:1.1.1.1"] {
        assert_eq!(post(&s, Some(ip)).await.status(), 200, "{ip}");
    }
    assert_eq!(
        post(&s, Some("1.1.1.1:8080")).await.status(),
        429,
        "1.1.1.1 in any spelling is one client"
    );
}

#[tokio::test]
async fn wrong_keys_are_limited_per_client_even_for_a_correct_key_afterwards() {
    // Request rate limiting off (as the builder sets it): key guessing is still limited.
    let s = ServerBuilder::new()
        .env(
            "AUTBOT_SECURITY__CLIENT_KEYS",
            r#"[{"name": "web", "key": "right-key", "requests": 100, "window_secs": 60}]"#,
        )
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
        .env("AUTBOT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "3")
        .env("AUTBOT_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .start()
        .ready()
        .await;
    let query = |key: &'static str, client_ip: &'static str| {
        client()
            .post(s.url("/api/query"))
            .header("x-api-key", key)
            .header("x-forwarded-for", client_ip)
            .json(&json!({"query": "What is AutBot?"}))
            .send()
    };
    let admin = |key: &'static str, client_ip: &'static str| {
        client()
            .get(s.url("/admin/plugins"))
            .header("x-api-key", key)
            .header("x-forwarded-for", client_ip)
            .send()
    };
    let guesser = "198.51.100.9";
    assert_eq!(query("right-key", guesser).await.unwrap().status(), 200);
    // Client-key and admin-key failures count together.
    assert_eq!(query("guess-1", guesser).await.unwrap().status(), 403);
    assert_eq!(admin("guess-2", guesser).await.unwrap().status(), 403);
    assert_eq!(query("guess-3", guesser).await.unwrap().status(), 403);
    for r in [
        query("right-key", guesser).await.unwrap(),
        admin("adm", guesser).await.unwrap(),
        query("guess-4", guesser).await.unwrap(),
    ] {
        assert_eq!(r.status(), 429);
        let retry = header(&r, "retry-after");
        assert!((1..=20).contains(&retry), "retry-after {retry}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
    }
    // Without a key the public route is unaffected; another client is unaffected.
    let r = post_with(&s, &[("x-forwarded-for", guesser)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        query("right-key", "203.0.113.1").await.unwrap().status(),
        200
    );
    assert_eq!(admin("adm", "203.0.113.1").await.unwrap().status(), 200);
    let logs = s.logs_flushed().await;
    assert!(logs.contains("wrong API key"), "failures are logged");
    assert!(!logs.contains("guess-1"), "guessed keys are not logged");
}

#[tokio::test]
async fn wrong_keys_are_counted_across_replicas_through_redis() {
    let redis = Redis::start();
    let start = || {
        with_redis(ServerBuilder::new(), &redis)
            .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
            .env("AUTBOT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "2")
            .start()
    };
    let a = start().ready().await;
    let b = start().ready().await;
    let admin = |s: &Server, key: &'static str| {
        client()
            .get(s.url("/admin/plugins"))
            .header("x-api-key", key)
            .send()
    };
    assert_eq!(admin(&a, "guess-1").await.unwrap().status(), 403);
    assert_eq!(admin(&b, "guess-2").await.unwrap().status(), 403);
    assert_eq!(admin(&a, "adm").await.unwrap().status(), 429);
    assert_eq!(admin(&b, "adm").await.unwrap().status(), 429);
}
