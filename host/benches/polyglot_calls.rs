//! `cargo bench --bench polyglot_calls`: the same three example plugins written in Rust,
//! JavaScript (componentize-js) and Python (componentize-py), each loaded alone into a
//! `PluginHost` and called through the public async API (a fresh store and instance per
//! call, as in the server). Per component: file size, compile time (wasmtime, a plain
//! engine), cold load (compile + checks + self-test, empty cache), warm load (compiled
//! cache hit), the smallest `memory_mb` its self-test passes with, the first call after
//! load, and per-call mean/p50/p99.
//!
//! Build the components first: `scripts/build-plugins.sh` (examples/plugins/dist/).
//! `POLYGLOT_CALLS=N` sets the calls per plugin (default 1000); `POLYGLOT_ONLY=js` (or
//! `rust`, `py`) measures one language.

use autbot::config::{Config, PluginEntry, PluginsConfig};
use autbot::embeddings::LocalEmbedder;
use autbot::llm::Extractive;
use autbot::plugins::{HostServices, PluginHost, RequestContext};
use autbot::rag::live::LiveIndex;
use autbot::rag::retrieve::Passage;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    (ms(mean), ms(v[v.len() / 2]), ms(v[v.len() * 99 / 100]))
}

/// (hook, example base name, capabilities, config table)
const PLUGINS: &[(&str, &str, &str, &str)] = &[
    (
        "preprocessor",
        "acronym-expander",
        r#"["config", "log"]"#,
        r#"acronyms = { RAG = "retrieval-augmented generation", LLM = "large language model" }"#,
    ),
    (
        "ranker",
        "keyword-boost",
        r#"["config", "log"]"#,
        "boost = 0.5",
    ),
    ("prompt-builder", "terse-prompt", "[]", ""),
];

fn entry(hook: &str, name: &str, caps: &str, config: &str, memory_mb: u64) -> PluginEntry {
    toml::from_str(&format!(
        "name = \"{name}\"\nhook = \"{hook}\"\npath = \"{name}.wasm\"\ncapabilities = {caps}\n\
         deadline_ms = 5000\nmemory_mb = {memory_mb}\nmax_log_lines = 100000\n\
         [config]\n{config}\n"
    ))
    .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls: usize = std::env::var("POLYGLOT_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let only = std::env::var("POLYGLOT_ONLY").ok();
    let c = Config::default();
    let search_params = autbot::engine::search_params(&c);
    let services = || {
        Arc::new(HostServices {
            index: Arc::new(LiveIndex::default()),
            embedder: Arc::new(LocalEmbedder::new(384)),
            llm: Arc::new(Extractive),
            search_params,
        })
    };
    let dist = repo().join("examples/plugins/dist");
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
    let question = "How does RAG keep plugins sandboxed?";
    let plain = wasmtime::Engine::new(wasmtime::Config::new().wasm_component_model(true)).unwrap();

    println!(
        "{:<22} {:>9} {:>10} {:>10} {:>10} {:>7} {:>10} {:>9} {:>9} {:>9}",
        "component",
        "size MiB",
        "compile ms",
        "cold ms",
        "warm ms",
        "min MiB",
        "1st call",
        "mean ms",
        "p50 ms",
        "p99 ms"
    );
    for lang in ["rust", "js", "py"] {
        if only.as_deref().is_some_and(|o| o != lang) {
            continue;
        }
        for (hook, base, caps, config) in PLUGINS {
            let name = match lang {
                "rust" => base.to_string(),
                other => format!("{base}-{other}"),
            };
            let path = dist.join(format!("{name}.wasm"));
            let Ok(bytes) = std::fs::read(&path) else {
                println!(
                    "{name:<22} missing: {} (scripts/build-plugins.sh)",
                    path.display()
                );
                continue;
            };
            let t = Instant::now();
            wasmtime::component::Component::new(&plain, &bytes).unwrap();
            let compile = t.elapsed();

            // The smallest memory cap the self-test call passes with.
            let cache = tempfile::tempdir().unwrap();
            let mut pc = PluginsConfig {
                dir: dist.clone(),
                watch: false,
                cache_dir: Some(cache.path().join("c")),
                ..PluginsConfig::default()
            };
            let mut min_mb = None;
            for mb in [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256] {
                pc.chain = vec![entry(hook, &name, caps, config, mb)];
                if PluginHost::new(&pc, services()).await.is_ok() {
                    min_mb = Some(mb);
                    break;
                }
            }
            let memory_mb = 128;
            pc.chain = vec![entry(hook, &name, caps, config, memory_mb)];
            pc.cache_dir = Some(cache.path().join("fresh"));
            let t = Instant::now();
            let host = PluginHost::new(&pc, services()).await.unwrap();
            let cold = t.elapsed();
            drop(host);
            let t = Instant::now();
            let host = PluginHost::new(&pc, services()).await.unwrap();
            let warm = t.elapsed();

            let ctx = RequestContext::new("bench");
            let call = || async {
                match *hook {
                    "preprocessor" => {
                        let out = host.preprocess(question.into(), &ctx).await.unwrap();
                        assert!(out.contains("retrieval-augmented generation"), "{out}");
                    }
                    "ranker" => {
                        let out = host.rank(question, &ctx, passages.clone()).await.unwrap();
                        assert_eq!(out.len(), passages.len());
                    }
                    _ => {
                        let out = host.build_prompt(question, &ctx, &passages).await.unwrap();
                        assert!(out[0].content.contains("bullet"));
                    }
                }
            };
            let t = Instant::now();
            call().await;
            let first = t.elapsed();
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                call().await;
                times.push(t.elapsed());
            }
            let (mean, p50, p99) = stats(times);
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{name:<22} {:>9.2} {:>10.1} {:>10.1} {:>10.1} {:>7} {:>10.2} {:>9.3} {:>9.3} {:>9.3}",
                bytes.len() as f64 / 1048576.0,
                ms(compile),
                ms(cold),
                ms(warm),
                min_mb.map_or("-".into(), |m| m.to_string()),
                ms(first),
                mean,
                p50,
                p99
            );
        }
    }
    println!("({calls} calls per plugin; memory_mb = 128 for the timed calls)");
}
