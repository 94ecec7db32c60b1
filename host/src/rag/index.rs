//! The in-memory hybrid index: an `hnsw_rs` graph over unit vectors (cosine) plus BM25,
//! fused by weighted reciprocal-rank fusion.

use super::bm25::Bm25;
use super::chunk::Chunk;
use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;
use serde::{Deserialize, Serialize};

/// Layout version of the persisted index; bump when the files change shape.
pub const FORMAT_VERSION: u32 = 1;

/// Graph parameters: max neighbours per node, construction breadth, layers.
pub const MAX_NB_CONNECTION: usize = 24;
pub const EF_CONSTRUCTION: usize = 200;
const MAX_LAYER: usize = 16;

/// What an index was built from; stored next to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    /// Embedding model id ([`crate::embeddings::Embedder::model_id`]).
    pub model: String,
    pub dimensions: usize,
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    pub documents: usize,
    pub chunks: usize,
    pub built_at_unix: u64,
    /// Content version: changes whenever any chunk or the model changes.
    pub version: String,
}

/// Cosine distance for unit vectors: `1 - a·b`, clamped (rounding can push a·b past 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Dot product with eight independent accumulators, so the compiler can vectorise it
/// (a plain `sum()` of f32 must keep its order and runs one add at a time).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Retrieval knobs (from `[index]`).
#[derive(Debug, Clone, Copy)]
pub struct SearchParams {
    pub top_k: usize,
    pub vector_weight: f64,
    pub bm25_weight: f64,
    pub rrf_k: f64,
    pub ef_search: usize,
}

/// One retrieved chunk.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Position in [`Index::chunks`].
    pub chunk: usize,
    /// Fused score scaled to 0..=1 (1 = ranked first by every enabled retriever).
    pub score: f64,
    /// Cosine similarity, when the vector search found it.
    pub similarity: Option<f32>,
}

/// A loaded, searchable index.
pub struct Index {
    pub manifest: Manifest,
    pub chunks: Vec<Chunk>,
    graph: Option<Hnsw<'static, f32, UnitCosine>>,
    bm25: Bm25,
}

impl Index {
    /// Builds the graph and the lexical index. `vectors[i]` belongs to `chunks[i]`.
    pub fn build(manifest: Manifest, chunks: Vec<Chunk>, vectors: &[Vec<f32>]) -> Self {
        let graph = (!vectors.is_empty()).then(|| {
            let mut g = Hnsw::new(
                MAX_NB_CONNECTION,
                vectors.len(),
                MAX_LAYER,
                EF_CONSTRUCTION,
                UnitCosine,
            );
            let items: Vec<(&Vec<f32>, usize)> = vectors.iter().zip(0..).collect();
            g.parallel_insert(&items);
            g.set_searching_mode(true);
            g
        });
        let texts: Vec<String> = chunks.iter().map(Chunk::embedding_text).collect();
        let bm25 = Bm25::build(texts.iter().map(String::as_str));
        Self {
            manifest,
            chunks,
            graph,
            bm25,
        }
    }

    /// Hybrid search: vector neighbours and BM25 matches fused by weighted RRF.
    pub fn search(&self, query_vec: &[f32], query_text: &str, p: &SearchParams) -> Vec<Hit> {
        let pool = (p.top_k * 5).max(20);
        let vector: Vec<(usize, f32)> = match (&self.graph, p.vector_weight > 0.0) {
            (Some(g), true) => g
                .search(query_vec, pool, p.ef_search.max(pool))
                .into_iter()
                .map(|n| (n.d_id, 1.0 - n.distance))
                .collect(),
            _ => Vec::new(),
        };
        let lexical = if p.bm25_weight > 0.0 {
            self.bm25.search(query_text, pool)
        } else {
            Vec::new()
        };
        let mut fused: std::collections::HashMap<usize, (f64, Option<f32>)> = Default::default();
        for (rank, (id, sim)) in vector.iter().enumerate() {
            let e = fused.entry(*id).or_default();
            e.0 += p.vector_weight / (p.rrf_k + rank as f64 + 1.0);
            e.1 = Some(*sim);
        }
        for (rank, (id, _)) in lexical.iter().enumerate() {
            fused.entry(*id as usize).or_default().0 +=
                p.bm25_weight / (p.rrf_k + rank as f64 + 1.0);
        }
        let best_possible = (p.vector_weight + p.bm25_weight) / (p.rrf_k + 1.0);
        let mut hits: Vec<Hit> = fused
            .into_iter()
            .filter(|(id, _)| *id < self.chunks.len())
            .map(|(chunk, (score, similarity))| Hit {
                chunk,
                score: score / best_possible,
                similarity,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
        hits.truncate(p.top_k);
        hits
    }

    /// Number of distinct source documents.
    pub fn documents(&self) -> usize {
        self.manifest.documents
    }
}
