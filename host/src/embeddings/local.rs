//! The embedded default embedder: feature hashing of words, word bigrams and character
//! trigrams into a fixed number of dimensions, with sublinear term frequency and signed
//! hashing, L2-normalised. Deterministic, needs no model file and no network.
//!
//! It is stateless on purpose (no corpus-wide IDF), so a chunk's vector depends only on
//! its text and cached vectors stay valid when other documents change; the BM25 side
//! of hybrid retrieval supplies the corpus statistics.

use super::{normalize, Embedder};
use crate::text::terms;
use crate::upstream::UpstreamError;
use std::collections::HashMap;

/// Hashed n-gram embedder.
pub struct LocalEmbedder {
    dims: usize,
}

const WORD_WEIGHT: f32 = 1.0;
const BIGRAM_WEIGHT: f32 = 0.7;
const TRIGRAM_WEIGHT: f32 = 0.25;

impl LocalEmbedder {
    /// An embedder producing `dims`-long vectors.
    pub fn new(dims: usize) -> Self {
        Self { dims }
    }

    /// Embeds one text.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let words = terms(text);
        let mut features: HashMap<u64, f32> = HashMap::new();
        for w in &words {
            *features.entry(hash(b"w", w.as_bytes())).or_default() += WORD_WEIGHT;
            let padded: Vec<char> = format!("<{w}>").chars().collect();
            for tri in padded.windows(3) {
                let s: String = tri.iter().collect();
                *features.entry(hash(b"c", s.as_bytes())).or_default() += TRIGRAM_WEIGHT;
            }
        }
        for pair in words.windows(2) {
            let s = format!("{} {}", pair[0], pair[1]);
            *features.entry(hash(b"b", s.as_bytes())).or_default() += BIGRAM_WEIGHT;
        }
        let mut v = vec![0f32; self.dims];
        for (h, tf) in features {
            // Sublinear tf, signed hashing to keep collisions unbiased.
            let weight = 1.0 + tf.ln_1p();
            let sign = if (h >> 63) & 1 == 0 { 1.0 } else { -1.0 };
            v[(h % self.dims as u64) as usize] += sign * weight;
        }
        normalize(&mut v);
        v
    }
}

/// FNV-1a over a namespace and the bytes: stable across runs and platforms.
fn hash(namespace: &[u8], bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in namespace.iter().chain([0u8].iter()).chain(bytes) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    // Final avalanche so the low bits (used for the bucket) are well mixed.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn model_id(&self) -> String {
        format!("local-ngram-v1/{}", self.dims)
    }

    fn provider(&self) -> crate::config::EmbeddingsProvider {
        crate::config::EmbeddingsProvider::Local
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn related_texts_are_closer_than_unrelated() {
        let e = LocalEmbedder::new(384);
        let q = e.embed_one("How do I change the port the server listens on?");
        let near = e.embed_one("The server listens on port 8080; set server.port to change it.");
        let far = e.embed_one("Zebras migrate across the savanna in the dry season.");
        assert!(cos(&q, &near) > cos(&q, &far) + 0.1);
        let norm: f32 = q.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
