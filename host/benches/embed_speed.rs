//! `cargo bench --bench embed_speed`: speed and memory of the local neural embedder
//! (all-MiniLM-L6-v2 from `models/`, fetched by `scripts/fetch-model.sh`; another folder
//! with `AUTBOT_MODEL_DIR`).
//!
//! * question embedding on one core: p50/p90/p99 over distinct ~20-word questions
//!   (wall time, and the thread's CPU time, which excludes waiting for a core on a
//!   busy machine), directly and through the async `Embedder` (as the server does);
//! * ingestion: every chunk of the default corpus (`data/`, the server's chunking:
//!   800 characters, 120 overlap), on 1 and on all threads, chunks/s, plus how many
//!   chunks exceed the model's token limit (their end is not embedded);
//! * resident memory after loading the model and after embedding.
//!
//! `BENCH_JSON=1` adds one JSON line with all the numbers.

use autbot::embeddings::{Embedder, NeuralEmbedder};
use autbot::rag::chunk::{chunk_document, ChunkParams};
use std::path::{Path, PathBuf};
use std::time::Instant;

const QUESTIONS: [&str; 8] = [
    "How do I change the port that the server listens on when it runs behind a reverse proxy?",
    "What happens to requests that are still running when the server receives a termination signal?",
    "Which environment variable overrides the list of allowed origins for cross-origin requests in production?",
    "Can a plugin read files or open network connections, and what happens if it tries to?",
    "How many requests per minute may a single client send before it gets rate limited by default?",
    "Where are the persisted index and the embedding cache stored, and when are they rebuilt?",
    "What does the extractive answer contain when no OpenAI key is configured for the language model?",
    "How long may a client take to send the request headers before its connection is closed?",
];

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time of the calling thread, ms: what the work cost on its core, excluding time
/// spent waiting for a core while other processes run (the machine is shared).
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("AUTBOT_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/all-MiniLM-L6-v2"));
    if autbot::embeddings::neural::is_absent(&dir) {
        eprintln!(
            "no model in {}: run scripts/fetch-model.sh first",
            dir.display()
        );
        std::process::exit(1);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before: {} (other processes share the cores: compare with nproc)",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let rss_before = rss_mib();
    let t = Instant::now();
    let embedder = NeuralEmbedder::load(&dir, 0).expect("model loads");
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let model = embedder.model();
    let rss_loaded = rss_mib();
    println!(
        "model {} ({}): {} dims, max {} word pieces, {} pooling, weights {:.0} MiB, loaded in {load_ms:.0} ms; RSS {rss_before:.0} -> {rss_loaded:.0} MiB",
        dir.display(),
        embedder.model_id(),
        model.dimensions(),
        model.max_tokens(),
        model.pooling().name(),
        model.weight_bytes() as f64 / (1 << 20) as f64,
    );

    // Questions, one core.
    let questions: Vec<String> = QUESTIONS.iter().map(|q| q.to_string()).collect();
    let tokens: Vec<usize> = questions
        .iter()
        .map(|q| model.tokenize(q).map(|(t, _)| t.len()).unwrap_or(0))
        .collect();
    let words: Vec<usize> = questions
        .iter()
        .map(|q| q.split_whitespace().count())
        .collect();
    for q in &questions {
        model.embed(std::slice::from_ref(q), 1).expect("embeds");
    }
    let rounds = 40;
    let mut direct = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..rounds {
        for q in &questions {
            let c = thread_cpu_ms();
            let t = Instant::now();
            // One text: embedded on this thread.
            model.embed(std::slice::from_ref(q), 1).expect("embeds");
            direct.push(t.elapsed().as_secs_f64() * 1e3);
            cpu.push(thread_cpu_ms() - c);
        }
    }
    direct.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut via_trait = Vec::new();
    rt.block_on(async {
        for _ in 0..rounds {
            for q in &questions {
                let t = Instant::now();
                embedder
                    .embed(std::slice::from_ref(q))
                    .await
                    .expect("embeds");
                via_trait.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    });
    via_trait.sort_by(f64::total_cmp);
    println!(
        "question ({}-{} words, {}-{} word pieces), one core, {} calls: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms (CPU time p50 {:.2} ms); through the async Embedder: p50 {:.2} ms",
        words.iter().min().unwrap_or(&0),
        words.iter().max().unwrap_or(&0),
        tokens.iter().min().unwrap_or(&0),
        tokens.iter().max().unwrap_or(&0),
        direct.len(),
        percentile(&direct, 0.5),
        percentile(&direct, 0.9),
        percentile(&direct, 0.99),
        percentile(&cpu, 0.5),
        percentile(&via_trait, 0.5),
    );

    // Ingestion: the default corpus, chunked as the server does.
    let mut paths = Vec::new();
    files(&root.join("data"), &mut paths);
    let params = ChunkParams {
        size: 800,
        overlap: 120,
    };
    let mut chunks = Vec::new();
    for p in &paths {
        let source = p.display().to_string();
        if let Ok(doc) = autbot::rag::document::load(p, source) {
            chunks.extend(
                chunk_document(&doc, params)
                    .iter()
                    .map(|c| c.embedding_text()),
            );
        }
    }
    // Before truncation.
    let lens: Vec<usize> = chunks
        .iter()
        .map(|c| model.count_tokens(c).unwrap_or(0))
        .collect();
    let chars: usize = chunks.iter().map(|c| c.chars().count()).sum();
    let mut sorted_lens = lens.clone();
    sorted_lens.sort_unstable();
    let threads_all = embedder.threads();
    let mut ingest = Vec::new();
    let mut truncated = 0;
    for threads in [1, threads_all] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            let (_, stats) = model.embed(&chunks, threads).expect("embeds");
            best = best.min(t.elapsed().as_secs_f64());
            truncated = stats.truncated;
        }
        ingest.push((threads, chunks.len() as f64 / best));
    }
    let total_tokens: usize = lens.iter().sum();
    println!(
        "ingestion: {} chunks of the default corpus ({} documents, mean {} chars, word pieces p50 {} / max {} before truncation; {} of {} cut at {}): {}",
        chunks.len(),
        paths.len(),
        chars / chunks.len().max(1),
        percentile(&sorted_lens.iter().map(|&l| l as f64).collect::<Vec<_>>(), 0.5),
        sorted_lens.last().unwrap_or(&0),
        truncated,
        chunks.len(),
        model.max_tokens(),
        ingest
            .iter()
            .map(|(t, r)| format!("{r:.1} chunks/s on {t} thread(s)"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    // 800-character chunks of plain prose (the corpus has short documents and code).
    let prose = "The server keeps a persisted index of every document it has read, and it rebuilds that index only when the files or the embedding model change. Each chunk is a run of whole sentences, about eight hundred characters long, so that a passage quoted in an answer reads naturally. ";
    let long: Vec<String> = (0..48)
        .map(|i| {
            let mut s = format!("Section {i}. ");
            while s.len() < 800 {
                s.push_str(prose);
            }
            s.truncate(800);
            s
        })
        .collect();
    let long_tokens = model.tokenize(&long[0]).map(|(t, _)| t.len()).unwrap_or(0);
    let mut prose_rates = Vec::new();
    for threads in [1, threads_all] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            model.embed(&long, threads).expect("embeds");
            best = best.min(t.elapsed().as_secs_f64());
        }
        prose_rates.push((threads, long.len() as f64 / best));
    }
    println!(
        "ingestion: {} prose chunks of 800 characters ({long_tokens} word pieces each): {}",
        long.len(),
        prose_rates
            .iter()
            .map(|(t, r)| format!("{r:.1} chunks/s on {t} thread(s)"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let rss_after = rss_mib();
    println!(
        "resident memory: {rss_loaded:.0} MiB with the model loaded, {rss_after:.0} MiB after embedding"
    );
    if std::env::var_os("BENCH_JSON").is_some() {
        println!(
            "{}",
            serde_json::json!({
                "model": embedder.model_id(),
                "load_ms": load_ms,
                "question_p50_ms": percentile(&direct, 0.5),
                "question_p90_ms": percentile(&direct, 0.9),
                "question_p99_ms": percentile(&direct, 0.99),
                "question_cpu_p50_ms": percentile(&cpu, 0.5),
                "question_async_p50_ms": percentile(&via_trait, 0.5),
                "corpus_chunks": chunks.len(),
                "corpus_tokens": total_tokens,
                "corpus_truncated": truncated,
                "corpus_chunks_per_s": ingest.iter().map(|(t, r)| serde_json::json!({"threads": t, "rate": r})).collect::<Vec<_>>(),
                "prose_chunks_per_s": prose_rates.iter().map(|(t, r)| serde_json::json!({"threads": t, "rate": r})).collect::<Vec<_>>(),
                "rss_loaded_mib": rss_loaded,
                "rss_after_mib": rss_after,
            })
        );
    }
}
