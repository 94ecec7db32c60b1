//! `cargo bench --bench polyglot_calls`: the same three example plugins written in Rust,
//! JavaScript (componentize-js) and Python (componentize-py), each loaded alone into a
//! `PluginHost` and called through the public async API (a fresh store and instance per
//! call, as in the server). Per component: file size, compile time (wasmtime, a plain
//! engine), cold load (compile + checks + self-test, empty cache), warm load (compiled
//! cache hit), the smallest `memory_mb` its self-test passes with, the first call after
//! load, and per-call mean/p50/p99.
//!
//! A second table compares sandbox strategies for the prompt-builders on a bare wasmtime
//! engine (WASI only, no host): a fresh instance per call with the host's pooling
//! allocator and copy-on-write memory images (the server's configuration), with more or
//! less memory kept resident between calls, with the on-demand allocator, without
//! copy-on-write images, and, for comparison only, calls on one reused instance (what
//! the fresh-sandbox rule forbids).
//!
//! Build the components first: `scripts/build-plugins.sh` (examples/plugins/dist/).
//! `POLYGLOT_CALLS=N` sets the calls per plugin (default 1000); `POLYGLOT_ONLY=js` (or
//! `rust`, `py`) measures one language; `POLYGLOT_STRATEGIES=0` skips the second table;
//! `POLYGLOT_DIST=dir` reads the components from another folder.

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
    let dist = std::env::var_os("POLYGLOT_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("examples/plugins/dist"));
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
                        assert_eq!(out.len(), 2);
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
    if std::env::var("POLYGLOT_STRATEGIES").as_deref() != Ok("0") {
        strategies::run(&dist, calls, only.as_deref());
    }
}

/// Fresh-instance-per-call strategies on a bare engine (no AutBot host in the way).
mod strategies {
    use super::stats;
    use std::path::Path;
    use std::time::{Duration, Instant};
    use wasmtime::component::{Component, Linker, ResourceTable, Val};
    use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    struct Ctx {
        wasi: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for Ctx {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    /// (pooling allocator, bytes kept resident per memory, copy-on-write images); `None`
    /// is one reused instance.
    type Knobs = (bool, usize, bool);

    /// The host's engine settings (plugins/runtime.rs), with the knobs under test.
    fn engine(pooling: bool, keep_resident: usize, cow: bool) -> Engine {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.memory_init_cow(cow);
        config.memory_reservation(256 << 20);
        config.memory_guard_size(64 << 10);
        if pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(64)
                .total_core_instances(64 * 8)
                .total_memories(64 * 2)
                .total_tables(64 * 4)
                .total_stacks(64)
                .max_core_instances_per_component(32)
                .max_memories_per_component(4)
                .max_tables_per_component(16)
                .max_memory_size(256 << 20)
                .linear_memory_keep_resident(keep_resident)
                .table_keep_resident(keep_resident)
                .pagemap_scan(wasmtime::Enabled::Auto);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        Engine::new(&config).unwrap()
    }

    fn args() -> [Val; 2] {
        let text = |s: &str| Val::String(s.into());
        let passages = (0..4)
            .map(|i| {
                Val::Record(vec![
                    ("id".into(), text(&format!("p{i}"))),
                    (
                        "text".into(),
                        text(&"AutBot is a retrieval-augmented chat server. Plugins run in a sandbox.".repeat(8)),
                    ),
                    ("source".into(), text(&format!("doc{i}.md"))),
                    ("heading".into(), text("Guide > Plugins")),
                    ("score".into(), Val::Float64(1.0 - i as f64 * 0.1)),
                ])
            })
            .collect();
        [
            Val::Record(vec![
                ("text".into(), text("How are plugins sandboxed?")),
                ("request-id".into(), text("bench")),
            ]),
            Val::List(passages),
        ]
    }

    fn store(engine: &Engine) -> Store<Ctx> {
        Store::new(
            engine,
            Ctx {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            },
        )
    }

    pub fn run(dist: &Path, calls: usize, only: Option<&str>) {
        println!();
        println!(
            "{:<18} {:<44} {:>10} {:>10} {:>10} {:>10}",
            "prompt-builder", "strategy", "inst p50", "call p50", "call p99", "mean ms"
        );
        let strategies: [(&str, Option<Knobs>); 6] = [
            (
                "fresh: pooling + CoW, keep 4 MiB (server)",
                Some((true, 4 << 20, true)),
            ),
            ("fresh: pooling + CoW, keep 0", Some((true, 0, true))),
            (
                "fresh: pooling + CoW, keep 64 MiB",
                Some((true, 64 << 20, true)),
            ),
            ("fresh: on-demand + CoW", Some((false, 0, true))),
            (
                "fresh: pooling, no CoW (copy the image)",
                Some((true, 4 << 20, false)),
            ),
            ("reused instance (not isolated)", None),
        ];
        for lang in ["rust", "js", "py"] {
            if only.is_some_and(|o| o != lang) {
                continue;
            }
            let name = match lang {
                "rust" => "terse-prompt".to_string(),
                other => format!("terse-prompt-{other}"),
            };
            let Ok(bytes) = std::fs::read(dist.join(format!("{name}.wasm"))) else {
                continue;
            };
            for (label, strategy) in &strategies {
                let (pooling, keep, cow) = strategy.unwrap_or((true, 4 << 20, true));
                let engine = engine(pooling, keep, cow);
                let component = Component::new(&engine, &bytes).unwrap();
                let mut linker: Linker<Ctx> = Linker::new(&engine);
                wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
                linker.instance("autbot:plugin/types@0.2.0").unwrap();
                let pre = linker.instantiate_pre(&component).unwrap();
                let args = args();
                let mut inst = Vec::with_capacity(calls);
                let mut total = Vec::with_capacity(calls);
                let mut reused = strategy.is_none().then(|| {
                    let mut s = store(&engine);
                    let i = pre.instantiate(&mut s).unwrap();
                    (s, i)
                });
                for _ in 0..calls + 1 {
                    let t = Instant::now();
                    let mut results = [Val::Bool(false)];
                    match &mut reused {
                        Some((s, i)) => {
                            let f = i.get_func(&mut *s, "build-prompt").unwrap();
                            f.call(&mut *s, &args, &mut results).unwrap();
                            inst.push(Duration::ZERO);
                        }
                        None => {
                            let mut s = store(&engine);
                            let i = pre.instantiate(&mut s).unwrap();
                            inst.push(t.elapsed());
                            let f = i.get_func(&mut s, "build-prompt").unwrap();
                            f.call(&mut s, &args, &mut results).unwrap();
                        }
                    }
                    assert!(matches!(&results[0], Val::List(m) if m.len() == 2));
                    total.push(t.elapsed());
                }
                // The first call of a slot warms it; it is not counted.
                inst.remove(0);
                total.remove(0);
                let (_, inst_p50, _) = stats(inst);
                let (mean, p50, p99) = stats(total);
                println!(
                    "{name:<18} {label:<44} {inst_p50:>10.3} {p50:>10.3} {p99:>10.3} {mean:>10.3}"
                );
            }
        }
    }
}
