//! `cargo bench --bench limiter_cache`: cost of one rate-limit decision and one cache
//! lookup, in process and through a real `redis-server` on loopback (started here when
//! the binary is on PATH).

use autbot::answer::Outcome;
use autbot::cache::ResponseCache;
use autbot::config::{
    CacheBackend, CacheConfig, LimitPolicy, RateLimitConfig, RedisConfig, SharedBackend,
};
use autbot::rate_limit::{Policy, RateLimiter};
use autbot::redis_store::RedisStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn time<F: std::future::Future>(n: u32, mut f: impl FnMut(u32) -> F) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        f(i).await;
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let policy = Policy::new(
        "ip",
        LimitPolicy {
            requests: 1_000_000,
            window_secs: 1,
            burst: None,
        },
    );
    let outcome = Arc::new(Outcome {
        response: "An answer of typical length. ".repeat(20),
        passages: Vec::new(),
        model: "extractive".into(),
        usage: None,
        finish_reason: None,
    });

    let limiter = RateLimiter::new(&RateLimitConfig::default(), None);
    let us = time(200_000, |i| {
        let (l, p) = (&limiter, &policy);
        async move {
            l.check(p, &format!("10.0.{}.{}", i % 200, i % 250))
                .await
                .unwrap()
        }
    })
    .await;
    println!("memory limiter: {us:.2} µs per decision");
    let cache = ResponseCache::new(&CacheConfig::default(), None);
    cache.put("k", outcome.clone()).await;
    let us = time(200_000, |_| async { cache.get("k").await.unwrap() }).await;
    println!("memory cache:   {us:.2} µs per hit");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Ok(mut child) = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        println!("redis-server not found: redis numbers skipped");
        return;
    };
    let store = RedisStore::start(&RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        ..RedisConfig::default()
    })
    .unwrap();
    while !store.is_healthy() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rl = RateLimitConfig {
        backend: SharedBackend::Redis,
        ..RateLimitConfig::default()
    };
    let limiter = RateLimiter::new(&rl, Some(store.clone()));
    let us = time(20_000, |i| {
        let (l, p) = (&limiter, &policy);
        async move {
            l.check(p, &format!("10.0.{}.{}", i % 200, i % 250))
                .await
                .unwrap()
        }
    })
    .await;
    println!("redis limiter:  {us:.2} µs per decision (one EVALSHA round trip)");
    let cache = ResponseCache::new(
        &CacheConfig {
            backend: CacheBackend::Redis,
            ..CacheConfig::default()
        },
        Some(store),
    );
    cache.put("k", outcome).await;
    let us = time(20_000, |_| async { cache.get("k").await.unwrap() }).await;
    println!("redis cache:    {us:.2} µs per hit (one GET round trip + JSON decode)");
    let _ = child.kill();
}
