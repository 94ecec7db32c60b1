//! Load test of `POST /api/query` through the real router on a loopback port.
//!
//! `cargo bench --bench http_load` reports, for N concurrent keep-alive clients:
//! 1. the embedded defaults (local embedder, extractive answers, default plugins):
//!    requests/s and p50/p99 latency;
//! 2. the OpenAI path against a fake LLM with a fixed delay, one client, next to the
//!    same client calling the fake directly: the difference of the p50s and of the
//!    p99s is what the pipeline adds around the LLM call;
//! 3. `POST /v1/chat/completions` against `POST /api/query` on the embedded defaults,
//!    one client, the two alternating: what the OpenAI-compatible layer adds.
//!
//! Client, server and fake share this machine's cores; numbers are conservative.

// The tests' fake OpenAI server; this benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/e2e/support/fake_openai.rs"]
mod fake_openai;

use autbot::config::Config;
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const SECONDS: u64 = 5;
const LLM_DELAY: Duration = Duration::from_millis(20);
/// Alternating (through AutBot, direct) pairs for the overhead measurement.
const PAIRS: usize = 1000;

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn config(work: &std::path::Path) -> Config {
    let text = std::fs::read_to_string(repo().join("autbot.toml")).expect("autbot.toml");
    let mut c: Config = toml::from_str(&text).expect("config");
    c.index.data_dir = repo().join("data");
    c.index.dir = work.join("index");
    c.index.cache_dir = work.join("cache");
    c.plugins.dir = repo().join("plugins/dist");
    c.plugins.cache_dir = Some(work.join("plugin-cache"));
    c.server.max_concurrent_requests = 1024;
    c.rate_limit.enabled = false;
    c.cache.backend = autbot::config::CacheBackend::Off;
    c
}

async fn start(c: Config) -> String {
    let checked = autbot::config::check(c).expect("valid configuration");
    let state = autbot::serve::build_state(checked).await.expect("state");
    let stored = state.indexer.check_stored().expect("index");
    state.indexer.load_or_build(stored).await.expect("index");
    let app = autbot::app::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/query")
}

async fn run(url: &str, questions: &[&str], clients: usize) -> (f64, Vec<Duration>) {
    let qs: Vec<String> = questions.iter().map(|s| s.to_string()).collect();
    post_for(
        url,
        clients,
        move |i| serde_json::json!({"query": qs[i % qs.len()]}),
    )
    .await
}

/// `clients` keep-alive clients POST `body(i)` to `url` for [`SECONDS`]; every answer must be 200.
async fn post_for(
    url: &str,
    clients: usize,
    body: impl Fn(usize) -> serde_json::Value + Clone + Send + 'static,
) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut tasks = Vec::new();
    for n in 0..clients {
        let url = url.to_string();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut i = n;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = c.post(&url).json(&body(i)).send().await.unwrap();
                let status = r.status();
                if status != 200 {
                    panic!("{status}: {}", r.text().await.unwrap_or_default());
                }
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rps, all)
}

fn pct(v: &[Duration], p: f64) -> Duration {
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let questions = [
        "How do I change the port the server listens on?",
        "How are plugins sandboxed?",
        "What happens when Redis is down?",
        "How do I rotate admin keys?",
        "What is reciprocal rank fusion?",
    ];
    let work = tempfile::tempdir().unwrap();
    let url = start(config(work.path())).await;
    let (rps, lat) = run(&url, &questions, 1).await;
    println!(
        "embedded defaults, cache off: 1 client, {SECONDS} s: {rps:.0} req/s, p50 {:?}, p99 {:?}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    let (rps, lat) = run(&url, &questions, CLIENTS).await;
    println!(
        "embedded defaults, cache off: {CLIENTS} clients, {SECONDS} s: {rps:.0} req/s, p50 {:?}, p99 {:?} ({} requests)",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len()
    );
    let mut c = config(work.path());
    c.cache.backend = autbot::config::CacheBackend::Memory;
    let url = start(c).await;
    let (rps, lat) = run(&url, &questions, CLIENTS).await;
    println!(
        "cache hits (memory cache, 5 questions): {rps:.0} req/s, p50 {:?}, p99 {:?}",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    let fake = fake_openai::FakeOpenAi::start().await;
    fake.delay(LLM_DELAY);
    fake.reply("ok");
    let work = tempfile::tempdir().unwrap();
    let mut c = config(work.path());
    c.llm.provider = autbot::config::LlmProvider::Openai;
    c.llm.base_url = fake.base_url();
    c.llm.api_key = Some("sk-bench".to_string().into());
    let url = start(c).await;
    // The baseline: the same client calling the fake directly with a prompt of the
    // size the pipeline sends (the fake sleeps its delay to within tens of µs). The two
    // calls alternate, so both see the same machine; overhead = through AutBot −
    // direct, percentile by percentile.
    let chat = format!("{}/chat/completions", fake.base_url());
    let direct_body = serde_json::json!({"model": "m", "messages": [
        {"role": "system", "content": "You are AutBot."},
        {"role": "user", "content": "AutBot is a retrieval-augmented chat server. ".repeat(60)},
    ]});
    let client = reqwest::Client::new();
    let (mut lat, mut direct) = (Vec::new(), Vec::new());
    for i in 0..PAIRS {
        let t = Instant::now();
        let r = client
            .post(&url)
            .json(&serde_json::json!({"query": questions[i % questions.len()]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        lat.push(t.elapsed());
        let t = Instant::now();
        let r = client.post(&chat).json(&direct_body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        direct.push(t.elapsed());
    }
    lat.sort();
    direct.sort();
    println!(
        "fake LLM with {LLM_DELAY:?} delay, one client, {PAIRS} requests: p50 {:?}, p99 {:?}; \
         calling the fake directly: p50 {:?}, p99 {:?}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&direct, 0.5),
        pct(&direct, 0.99)
    );
    println!(
        "pipeline overhead around the LLM call: p50 {:?}, p99 {:?}",
        pct(&lat, 0.5).saturating_sub(pct(&direct, 0.5)),
        pct(&lat, 0.99).saturating_sub(pct(&direct, 0.99))
    );

    // 3. The OpenAI-compatible route against /api/query, same questions, alternating.
    let work = tempfile::tempdir().unwrap();
    let query_url = start(config(work.path())).await;
    let chat_url = query_url.replace("/api/query", "/v1/chat/completions");
    let (mut api, mut v1) = (Vec::new(), Vec::new());
    for i in 0..PAIRS * 2 {
        let q = questions[i % questions.len()];
        let t = Instant::now();
        let r = client
            .post(&query_url)
            .json(&serde_json::json!({ "query": q }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        api.push(t.elapsed());
        let t = Instant::now();
        let r = client
            .post(&chat_url)
            .json(&serde_json::json!({"model": "autbot", "messages": [{"role": "user", "content": q}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        v1.push(t.elapsed());
    }
    api.sort();
    v1.sort();
    println!(
        "embedded defaults, one client, {} pairs: /api/query p50 {:?}, p99 {:?}; /v1/chat/completions p50 {:?}, p99 {:?}; overhead p50 {:?}",
        PAIRS * 2,
        pct(&api, 0.5),
        pct(&api, 0.99),
        pct(&v1, 0.5),
        pct(&v1, 0.99),
        pct(&v1, 0.5).saturating_sub(pct(&api, 0.5)),
    );
}
