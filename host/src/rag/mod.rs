//! Retrieval: documents → sections → chunks → embeddings → a persisted hybrid index
//! (HNSW vectors + BM25) → ranked passages.

pub mod bm25;
pub mod chunk;
pub mod document;
pub mod embed_cache;
pub mod fusion;
pub mod graph;
pub mod index;
pub mod ingest;
pub mod live;
pub mod nibble_scan;
pub mod params;
pub mod retrieve;
pub mod store;
pub mod superseded;
pub mod vector_math;
