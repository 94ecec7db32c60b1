//! Retrieval quality on the labelled question set over the default corpus, for the
//! local embedder with and without BM25 fusion.

use crate::support::repo;
use autbot::embeddings::{Embedder, LocalEmbedder};
use autbot::rag::chunk::ChunkParams;
use autbot::rag::index::SearchParams;
use autbot::rag::ingest::{self, IngestPaths};
use autbot::rag::retrieve::retrieve;

#[tokio::test]
async fn hit_at_3_on_the_labelled_questions() {
    let work = tempfile::tempdir().unwrap();
    let paths = IngestPaths {
        data_dir: repo().join("data"),
        index_dir: work.path().join("index"),
        cache_dir: work.path().join("cache"),
    };
    let embedder = LocalEmbedder::new(384);
    let (index, _) = ingest::build(
        &paths,
        ChunkParams {
            size: 800,
            overlap: 120,
        },
        &embedder,
        0, // with HNSW links, so the graph walk below has a graph
        false,
    )
    .await
    .unwrap();
    let qa: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/qa.json")).unwrap(),
    )
    .unwrap();
    let mut results = Vec::new();
    // exhaustive_max_bytes 0: the HNSW graph walk instead of scoring every vector.
    for (label, vector_weight, bm25_weight, exhaustive_max_bytes) in [
        ("vector only", 1.0, 0.0, 32 << 20),
        ("bm25 only", 0.0, 1.0, 32 << 20),
        ("hybrid", 1.0, 1.0, 32 << 20),
        ("vector only, graph walk", 1.0, 0.0, 0),
    ] {
        let params = SearchParams {
            top_k: 3,
            vector_weight,
            bm25_weight,
            rrf_k: 60.0,
            ef_search: 64,
            exhaustive_max_bytes,
        };
        let mut hits = 0;
        for item in &qa {
            let q = item["question"].as_str().unwrap();
            let want = item["source"].as_str().unwrap();
            let passages = retrieve(&index, &embedder as &dyn Embedder, q, &params)
                .await
                .unwrap();
            if passages.iter().any(|p| p.source == want) {
                hits += 1;
            }
        }
        let rate = hits as f64 / qa.len() as f64;
        println!("hit@3 {label}: {hits}/{} = {rate:.2}", qa.len());
        results.push(rate);
    }
    assert!(qa.len() >= 20);
    assert!(results[0] >= 0.6, "vector-only hit@3 {:.2}", results[0]);
    assert!(results[2] >= 0.8, "hybrid hit@3 {:.2}", results[2]);
    assert!(results[2] >= results[0], "fusion should not hurt");
    assert!(
        (results[3] - results[0]).abs() <= 0.1,
        "graph walk hit@3 {:.2} vs exhaustive {:.2}",
        results[3],
        results[0]
    );
}
