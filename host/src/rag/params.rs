//! Search parameters (`[index]`): built from the configuration in one place,
//! [`SearchParams::from_config`], for the engine, plugins' `search` and the CLI.

use crate::config::Config;

/// Retrieval knobs (from `[index]`).
#[derive(Debug, Clone, Copy)]
pub struct SearchParams {
    pub top_k: usize,
    pub vector_weight: f64,
    pub bm25_weight: f64,
    pub rrf_k: f64,
    /// How the two rankings are merged.
    pub fusion: crate::config::FusionMethod,
    /// Score factor of chunks of superseded documents (1 = none).
    pub superseded_weight: f64,
    pub ef_search: usize,
    /// While the 4-bit codes of all vectors take at most this many bytes, vector
    /// search scores every vector instead of walking the graph.
    pub exhaustive_max_bytes: usize,
}

impl SearchParams {
    /// `[index]`'s retrieval knobs; the vector weight follows the embedder in use when
    /// `index.vector_weight` is unset.
    pub fn from_config(c: &Config) -> Self {
        Self {
            top_k: c.index.top_k,
            vector_weight: crate::embeddings::vector_weight(&c.index, &c.embeddings),
            bm25_weight: c.index.bm25_weight,
            rrf_k: c.index.rrf_k,
            fusion: c.index.fusion,
            superseded_weight: c.index.superseded_weight,
            ef_search: c.index.ef_search,
            exhaustive_max_bytes: c.index.exhaustive_max_mib.saturating_mul(1 << 20),
        }
    }
}
