//! The in-memory hybrid index: the HNSW graph over unit vectors (cosine, `graph.rs`) plus BM25F
//! (`bm25.rs`), fused by score or reciprocal-rank fusion (`fusion.rs`).

use super::bm25::Bm25;
use super::chunk::Chunk;
use super::fusion;
use super::graph::Graph;
use super::nibble_scan::NibbleCodes;
use super::params::SearchParams;
use super::superseded::superseded_chunks;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Layout version of the persisted index; bump when the files change shape.
/// 2: the frozen HNSW graph is stored in `graph.bin` instead of rebuilt at load.
/// 3: `graph.bin` may hold no links (an index scanned in full); older versions
///    would walk it, so they must not read it.
pub const FORMAT_VERSION: u32 = 3;

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
    graph: Option<Graph>,
    /// 4-bit codes for exhaustive search, made by [`Index::prepare`] when used.
    exhaustive: OnceLock<NibbleCodes>,
    bm25: Bm25,
    /// Per chunk: its document is superseded by another indexed version.
    superseded: Vec<bool>,
}

impl Index {
    /// Builds the graph (with links only when `linked`) and the lexical index.
    /// `vectors[i]` belongs to `chunks[i]`.
    pub fn build(
        manifest: Manifest,
        chunks: Vec<Chunk>,
        vectors: &[Vec<f32>],
        linked: bool,
    ) -> Self {
        let graph = if linked {
            Graph::build(vectors)
        } else {
            Graph::unlinked(vectors)
        };
        Self::with_graph(manifest, chunks, graph)
    }

    /// Assembles an index around an already built (or loaded) graph.
    pub fn with_graph(manifest: Manifest, chunks: Vec<Chunk>, graph: Option<Graph>) -> Self {
        let bm25 = Bm25::for_chunks(&chunks);
        let superseded = superseded_chunks(&chunks);
        Self {
            manifest,
            chunks,
            graph,
            exhaustive: OnceLock::new(),
            bm25,
            superseded,
        }
    }

    /// Makes what searching with `p` needs (the 4-bit codes when the index is small
    /// enough for exhaustive search, or was built without graph links), so the first
    /// query does not pay for it.
    pub fn prepare(&self, p: &SearchParams) {
        if let Some(g) = &self.graph {
            if !g.is_linked() && needs_links(g.len(), g.dims(), p.exhaustive_max_bytes) {
                tracing::warn!(
                    vectors = g.len(),
                    "this index was built without HNSW links (its vectors fitted index.exhaustive_max_mib then); every search scores every vector until `autbot index` or POST /admin/reindex rebuilds it"
                );
            }
            if scans_every_vector(g, p) {
                self.codes(g);
            }
        }
    }

    /// The 4-bit codes of `g`, made on first use.
    fn codes(&self, g: &Graph) -> &NibbleCodes {
        self.exhaustive.get_or_init(|| NibbleCodes::from_graph(g))
    }

    /// The `k` nearest chunks to `query_vec`: every vector scored when the index is
    /// small enough, else a graph walk.
    fn nearest(
        &self,
        g: &Graph,
        query_vec: &[f32],
        k: usize,
        p: &SearchParams,
    ) -> Vec<(usize, f32)> {
        if scans_every_vector(g, p) {
            self.codes(g).search(g, query_vec, k)
        } else {
            g.search(query_vec, k, p.ef_search.max(k))
        }
    }

    /// The vector graph (none for an empty index).
    pub fn graph(&self) -> Option<&Graph> {
        self.graph.as_ref()
    }

    /// Hybrid search: vector neighbours and BM25 matches, fused ([`fusion::fuse`]).
    pub fn search(&self, query_vec: &[f32], query_text: &str, p: &SearchParams) -> Vec<Hit> {
        let pool = fusion::pool_size(p.top_k);
        let vector: Vec<(usize, f32)> = match (&self.graph, p.vector_weight > 0.0) {
            (Some(g), true) if query_vec.len() == g.dims() => self.nearest(g, query_vec, pool, p),
            _ => Vec::new(),
        };
        let lexical = if p.bm25_weight > 0.0 {
            self.bm25.search(query_text, pool)
        } else {
            Vec::new()
        };
        fusion::fuse(&vector, &lexical, p, |c| {
            self.superseded.get(c).copied().unwrap_or(false)
        })
        .into_iter()
        .filter(|h| h.chunk < self.chunks.len())
        .map(|h| Hit {
            chunk: h.chunk,
            score: h.score,
            similarity: h.similarity,
        })
        .collect()
    }

    /// The lexical (BM25F) index, for its word statistics.
    pub fn lexicon(&self) -> &Bm25 {
        &self.bm25
    }

    /// Whether chunk `i`'s document is superseded by another indexed version.
    pub fn is_superseded(&self, i: usize) -> bool {
        self.superseded.get(i).copied().unwrap_or(false)
    }

    /// Number of distinct source documents.
    pub fn documents(&self) -> usize {
        self.manifest.documents
    }
}

/// Whether searches over `g` score every vector: it is small enough for `p`, or has
/// no links to walk.
fn scans_every_vector(g: &Graph, p: &SearchParams) -> bool {
    !g.is_linked() || !needs_links(g.len(), g.dims(), p.exhaustive_max_bytes)
}

/// Whether an index of `vectors` vectors of `dims` dimensions needs HNSW links: only
/// when its 4-bit codes exceed `exhaustive_max_bytes` (smaller ones are scanned).
pub fn needs_links(vectors: usize, dims: usize, exhaustive_max_bytes: usize) -> bool {
    NibbleCodes::size_for(vectors, dims) > exhaustive_max_bytes
}
