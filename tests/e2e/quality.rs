//! Retrieval quality on the labelled question sets (tests/eval/): the default corpus
//! and the Fernhill development corpus, with the hashed `local` embedder, for each
//! retriever alone and fused as configured by default. The thresholds are loose floors
//! that catch a broken retriever; the measured figures are in the README
//! (*Evaluation*), produced by `autbot eval`.

use crate::support::repo;
use autbot::config::{FusionMethod, IndexConfig, LOCAL_VECTOR_WEIGHT};
use autbot::embeddings::{Embedder, LocalEmbedder};
use autbot::eval::{first_rank, load_questions};
use autbot::rag::chunk::ChunkParams;
use autbot::rag::index::Index;
use autbot::rag::ingest::{self, IngestPaths};
use autbot::rag::params::SearchParams;
use autbot::rag::retrieve::retrieve;
use std::path::Path;

async fn build(data: &Path, work: &Path, embedder: &LocalEmbedder) -> Index {
    let paths = IngestPaths {
        data_dir: data.to_path_buf(),
        index_dir: work.join("index"),
        cache_dir: work.join("cache"),
        limits: Default::default(),
    };
    let (index, _) = ingest::build(
        &paths,
        ChunkParams {
            size: 800,
            overlap: 120,
        },
        embedder,
        0, // with HNSW links, so the graph walk below has a graph
        false,
    )
    .await
    .unwrap();
    index
}

/// hit@3 of `questions` over `index` with the given weights.
async fn hit_at_3(
    index: &Index,
    embedder: &LocalEmbedder,
    questions: &Path,
    (vector_weight, bm25_weight, exhaustive_max_bytes): (f64, f64, usize),
) -> f64 {
    let defaults = IndexConfig::default();
    let params = SearchParams {
        top_k: 3,
        vector_weight,
        bm25_weight,
        rrf_k: defaults.rrf_k,
        fusion: FusionMethod::Score,
        superseded_weight: defaults.superseded_weight,
        ef_search: 64,
        exhaustive_max_bytes,
    };
    let qs = load_questions(questions).unwrap();
    let mut hits = 0;
    for q in &qs {
        let passages = retrieve(index, embedder as &dyn Embedder, &q.question, &params)
            .await
            .unwrap();
        let got: Vec<String> = passages.into_iter().map(|p| p.source).collect();
        if first_rank(&got, &q.source.paths()).is_some() {
            hits += 1;
        }
    }
    hits as f64 / qs.len() as f64
}

#[tokio::test]
async fn hit_at_3_on_the_labelled_questions() {
    let embedder = LocalEmbedder::new(384);
    for (name, data, questions) in [
        ("default", "data", "tests/eval/autbot/questions.jsonl"),
        (
            "fernhill",
            "tests/eval/fernhill/docs",
            "tests/eval/fernhill/questions.jsonl",
        ),
    ] {
        let work = tempfile::tempdir().unwrap();
        let index = build(&repo().join(data), work.path(), &embedder).await;
        let questions = repo().join(questions);
        let n = load_questions(&questions).unwrap().len() as f64;
        let mut results = Vec::new();
        // exhaustive_max_bytes 0: the HNSW graph walk instead of scoring every vector.
        for (label, weights) in [
            ("vector only", (1.0, 0.0, 32 << 20)),
            ("bm25 only", (0.0, 1.0, 32 << 20)),
            ("hybrid", (LOCAL_VECTOR_WEIGHT, 1.0, 32 << 20)),
            ("vector only, graph walk", (1.0, 0.0, 0)),
        ] {
            let rate = hit_at_3(&index, &embedder, &questions, weights).await;
            println!("{name}: hit@3 {label}: {rate:.2}");
            results.push(rate);
        }
        assert!(n >= 20.0);
        assert!(
            results[0] >= 0.6,
            "{name}: vector-only hit@3 {:.2}",
            results[0]
        );
        assert!(
            results[1] >= 0.8,
            "{name}: bm25-only hit@3 {:.2}",
            results[1]
        );
        assert!(results[2] >= 0.8, "{name}: hybrid hit@3 {:.2}", results[2]);
        // Fusion must not cost more than one question against the better retriever.
        let best = results[0].max(results[1]);
        assert!(
            results[2] + 1.0 / n >= best,
            "{name}: fusion hurts: hybrid {:.2}, best single {best:.2}",
            results[2]
        );
        assert!(
            (results[3] - results[0]).abs() <= 0.1,
            "{name}: graph walk hit@3 {:.2} vs exhaustive {:.2}",
            results[3],
            results[0]
        );
    }
}

/// `autbot eval` on a few questions of the Fernhill set (and one whose expected
/// document does not exist): the report's shape, and hit@k, MRR and answered computed
/// from the per-question ranks and answers it reports.
#[test]
fn autbot_eval_reports_hit_at_k_per_kind_as_json_and_tables() {
    use crate::support::server::ServerBuilder;
    let work = tempfile::tempdir().unwrap();
    let all = std::fs::read_to_string(repo().join("tests/eval/fernhill/questions.jsonl")).unwrap();
    let mut subset: Vec<String> = Vec::new();
    for kind in ["lookup", "numeric", "stale"] {
        let pick = all
            .lines()
            .filter(|l| l.contains(&format!("\"kind\": \"{kind}\"")));
        subset.extend(pick.take(2).map(str::to_string));
    }
    subset.push(
        r#"{"question": "Which network do visitors use?", "answer_keywords": ["no such words anywhere"], "source": "it/missing.html", "kind": "lookup"}"#
            .into(),
    );
    let questions = work.path().join("q.jsonl");
    std::fs::write(&questions, subset.join("\n")).unwrap();
    let data = repo().join("tests/eval/fernhill/docs");
    let server = ServerBuilder::new();
    let (status, stdout, stderr) = server.run(&[
        "eval",
        questions.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("eval --json did not print JSON ({e}): {stdout}\n{stderr}"));
    let qs = report["questions"].as_array().unwrap();
    assert_eq!(qs.len(), 7);
    assert_eq!(
        report["settings"]["documents"], 30,
        "{}",
        report["settings"]
    );
    assert_eq!(report["settings"]["top_k"], 5);
    // The question whose document does not exist is never a hit nor answered.
    let last = &qs[6];
    assert!(last["rank"].is_null(), "{last}");
    assert_eq!(last["answered"], false);
    assert_eq!(last["missing_keywords"][0], "no such words anywhere");
    // Every answer was computed by the pipeline: the extractive answerer's label.
    for q in qs {
        let response = q["response"].as_str().unwrap();
        assert!(response.starts_with("Extractive answer"), "{q}");
        assert!(q["latency_ms"].as_f64().unwrap() > 0.0);
        assert!(q["retrieved"].as_array().unwrap().len() <= 5);
    }
    let check = |m: &serde_json::Value, group: Vec<&serde_json::Value>| {
        let n = group.len() as f64;
        assert_eq!(m["questions"].as_u64(), Some(group.len() as u64));
        let rank = |q: &serde_json::Value| q["rank"].as_u64();
        for (k, key) in [(1, "hit_at_1"), (3, "hit_at_3"), (5, "hit_at_5")] {
            let hits = group
                .iter()
                .filter(|q| rank(q).is_some_and(|r| r <= k))
                .count();
            let got = m[key].as_f64().unwrap();
            assert!((got - hits as f64 / n).abs() < 1e-9, "{key}: {m}");
        }
        let mrr: f64 = group
            .iter()
            .map(|q| rank(q).map_or(0.0, |r| 1.0 / r as f64))
            .sum::<f64>()
            / n;
        assert!((m["mrr"].as_f64().unwrap() - mrr).abs() < 1e-9, "{m}");
        let answered = group.iter().filter(|q| q["answered"] == true).count() as f64 / n;
        assert!(
            (m["answered"].as_f64().unwrap() - answered).abs() < 1e-9,
            "{m}"
        );
        let p50 = m["latency_p50_ms"].as_f64().unwrap();
        assert!(p50 > 0.0 && p50 <= m["latency_p99_ms"].as_f64().unwrap());
    };
    check(&report["overall"], qs.iter().collect());
    for kind in ["lookup", "numeric", "stale"] {
        check(
            &report["by_kind"][kind],
            qs.iter().filter(|q| q["kind"] == kind).collect(),
        );
    }
    // Some questions must be hits, or nothing was measured.
    assert!(
        report["overall"]["hit_at_5"].as_f64().unwrap() > 0.0,
        "{report}"
    );

    // The same as tables, one row per kind and overall.
    let (status, stdout, stderr) = server.run(&[
        "eval",
        questions.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--retriever",
        "bm25",
    ]);
    assert!(status.success(), "{stderr}");
    for needle in [
        "hit@1",
        "hit@3",
        "hit@5",
        "MRR",
        "answered",
        "p99 ms",
        "retriever: bm25",
    ] {
        assert!(stdout.contains(needle), "{needle} missing: {stdout}");
    }
    for row in ["lookup", "numeric", "stale", "overall"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "{row} row missing: {stdout}"
        );
    }

    // A malformed line is refused with its line number.
    std::fs::write(
        &questions,
        "{\"question\": \"x?\", \"source\": \"a.md\"}\nnot json\n",
    )
    .unwrap();
    let (status, _, stderr) = server.run(&["eval", questions.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains("q.jsonl:2"), "{stderr}");
}
