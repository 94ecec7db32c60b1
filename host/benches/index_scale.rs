//! `cargo bench --bench index_scale`: ingestion throughput of the `local` embedder
//! (chunks/s) on a generated corpus of ~100,000 chunks, then — in a fresh process, so
//! the allocator's leftovers do not count — the index load time and the resident memory
//! it adds, against raw vector bytes plus chunk text.

use autbot::embeddings::LocalEmbedder;
use autbot::rag::chunk::ChunkParams;
use autbot::rag::ingest::{self, IngestPaths};
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::time::Instant;

const FILES: usize = 500;
const PARAGRAPHS: usize = 200;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 3 && args[1] == "load" {
        return load(std::path::Path::new(&args[2]));
    }
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let files = ((FILES as f64) * scale) as usize;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let vocab: Vec<String> = (0..20_000)
        .map(|i| format!("w{i:x}{}", ["ing", "ed", "", "s", "tion"][i % 5]))
        .collect();
    for f in 0..files {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(data.join(format!("doc{f}.txt"))).unwrap(),
        );
        for _ in 0..PARAGRAPHS {
            for _ in 0..7 {
                let n = rng.gen_range(8..16);
                let s: Vec<&str> = (0..n)
                    .map(|_| vocab[rng.gen_range(0..vocab.len())].as_str())
                    .collect();
                write!(out, "{}. ", s.join(" ")).unwrap();
            }
            writeln!(out, "\n").unwrap();
        }
    }
    let paths = IngestPaths {
        data_dir: data,
        index_dir: work.path().join("index"),
        cache_dir: work.path().join("cache"),
        limits: Default::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let embedder = LocalEmbedder::new(384);
    let t = Instant::now();
    let (index, report) = rt
        .block_on(ingest::build(
            &paths,
            ChunkParams {
                size: 800,
                overlap: 120,
            },
            &embedder,
            autbot::rag::params::SearchParams::from_config(&autbot::config::Config::default())
                .exhaustive_max_bytes,
            false,
        ))
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingested {} files -> {} chunks in {secs:.1} s: {:.0} chunks/s end to end (parse, chunk, embed, cache, graph, save; HNSW links only when the codes exceed index.exhaustive_max_mib)",
        report.documents,
        report.chunks,
        report.chunks as f64 / secs
    );
    drop(index);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["load", &paths.index_dir.display().to_string()])
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

fn load(dir: &std::path::Path) {
    let before = rss_kib();
    let t = Instant::now();
    let manifest = autbot::rag::store::read_manifest(dir).unwrap().unwrap();
    let index = autbot::rag::store::load(dir, manifest).unwrap();
    // As the server does before serving it (the default configuration makes the 4-bit
    // codes for exhaustive search at this size).
    index.prepare(&autbot::rag::params::SearchParams::from_config(
        &autbot::config::Config::default(),
    ));
    let secs = t.elapsed().as_secs_f64();
    let after = rss_kib();
    let vectors = index.chunks.len() * index.manifest.dimensions * 4;
    let text: usize = index.chunks.iter().map(|c| c.text.len()).sum();
    let raw = (vectors + text) as f64 / 1024.0;
    println!(
        "loaded {} chunks in {secs:.2} s; resident memory added {:.0} MiB vs raw vectors + text {:.0} MiB = {:.2}x",
        index.chunks.len(),
        (after - before) as f64 / 1024.0,
        raw / 1024.0,
        (after - before) as f64 / raw
    );
}
