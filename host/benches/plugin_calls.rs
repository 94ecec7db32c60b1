//! `cargo bench --bench plugin_calls`: cost of the three default plugins per request
//! (fresh store + instantiate + call, through the public async API, on the caller's
//! task), a trivial plugin as the floor, a bare blocking-thread hop for comparison, and
//! compile time.

use autbot::config::Config;
use autbot::embeddings::LocalEmbedder;
use autbot::llm::Extractive;
use autbot::plugins::{HostServices, PluginHost, RequestContext};
use autbot::rag::live::LiveIndex;
use autbot::rag::retrieve::Passage;
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 3000;

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    format!(
        "mean {:>6.1} µs, p50 {:>6.1} µs, p99 {:>6.1} µs",
        mean.as_secs_f64() * 1e6,
        v[v.len() / 2].as_secs_f64() * 1e6,
        v[v.len() * 99 / 100].as_secs_f64() * 1e6
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let text = std::fs::read_to_string(repo().join("autbot.toml")).unwrap();
    let mut c: Config = toml::from_str(&text).unwrap();
    c.plugins.dir = repo().join("plugins/dist");
    let cache = tempfile::tempdir().unwrap();
    c.plugins.cache_dir = Some(cache.path().to_path_buf());
    let search_params = autbot::rag::params::SearchParams::from_config(&c);
    let services = || {
        Arc::new(HostServices {
            index: Arc::new(LiveIndex::default()),
            embedder: Arc::new(LocalEmbedder::new(384)),
            llm: Arc::new(Extractive),
            search_params,
        })
    };
    let t = Instant::now();
    let host = PluginHost::new(&c.plugins, services()).await.unwrap();
    println!(
        "load 3 plugins, cold (compile + checks + self-test): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(host);
    let t = Instant::now();
    let host = PluginHost::new(&c.plugins, services()).await.unwrap();
    println!(
        "load 3 plugins, warm compile cache:                {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let passages: Vec<Passage> = (0..4)
        .map(|i| Passage {
            id: format!("p{i}"),
            text: "AutBot is a retrieval-augmented chat server. Plugins run in a sandbox."
                .repeat(8),
            source: format!("doc{i}.md"),
            heading: "Guide > Plugins".into(),
            score: 1.0 - i as f64 * 0.1,
        })
        .collect();
    let (mut pre, mut rank, mut prompt, mut all) = (vec![], vec![], vec![], vec![]);
    for _ in 0..N {
        let t0 = Instant::now();
        let q = host
            .preprocess(
                "How are plugins sandboxed?".into(),
                &RequestContext::new("bench"),
            )
            .await
            .unwrap();
        let t1 = Instant::now();
        let ranked = host
            .rank(&q, &RequestContext::new("bench"), passages.clone())
            .await
            .unwrap();
        let t2 = Instant::now();
        let _ = host
            .build_prompt(&q, &RequestContext::new("bench"), &ranked)
            .await
            .unwrap();
        let t3 = Instant::now();
        pre.push(t1 - t0);
        rank.push(t2 - t1);
        prompt.push(t3 - t2);
        all.push(t3 - t0);
    }
    // What a plugin holding `search`/`embed`/`llm` pays on top: the hop to a blocking thread.
    let mut hop = vec![];
    for _ in 0..N {
        let t0 = Instant::now();
        tokio::task::spawn_blocking(|| ()).await.unwrap();
        hop.push(t0.elapsed());
    }
    // The floor: a plugin that imports nothing and only upper-cases the query.
    let mut floor_cfg = c.plugins.clone();
    floor_cfg.dir = repo().join("tests/plugins/dist");
    floor_cfg.chain = vec![toml::from_str(
        r#"name = "echo-upper"
hook = "preprocessor"
path = "echo-upper.wasm"
deadline_ms = 50"#,
    )
    .unwrap()];
    let floor = PluginHost::new(&floor_cfg, services()).await.unwrap();
    let mut trivial = vec![];
    for _ in 0..N {
        let t0 = Instant::now();
        let _ = floor
            .preprocess(
                "How are plugins sandboxed?".into(),
                &RequestContext::new("bench"),
            )
            .await
            .unwrap();
        trivial.push(t0.elapsed());
    }
    println!("echo-upper      (trivial floor):  {}", stats(trivial));
    println!("query-guard     (preprocessor):   {}", stats(pre));
    println!("source-weighter (ranker, 4 docs): {}", stats(rank));
    println!("prompt-builder  (prompt-builder): {}", stats(prompt));
    println!("all three hooks together:         {}", stats(all));
    println!(
        "bare spawn_blocking hop (paid only by plugins granted search/embed/llm): {}",
        stats(hop)
    );
}
