//! Embedding providers behind one trait: `local` (embedded default, no network) and
//! `openai` (any OpenAI-compatible `/v1/embeddings`).

mod local;
mod openai;

pub use local::LocalEmbedder;
pub use openai::OpenAiEmbedder;

use crate::config::{EmbeddingsConfig, EmbeddingsProvider};
use crate::upstream::UpstreamError;
use std::sync::Arc;

/// Turns texts into L2-normalised vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// Identifies the model and its settings; stored in the index manifest and the
    /// embedding cache so vectors of different models never mix.
    fn model_id(&self) -> String;
    /// Vector length.
    fn dimensions(&self) -> usize;
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError>;
}

/// The configured embedder.
pub fn from_config(c: &EmbeddingsConfig) -> Result<Arc<dyn Embedder>, String> {
    Ok(match c.provider {
        EmbeddingsProvider::Local => Arc::new(LocalEmbedder::new(c.dimensions)),
        EmbeddingsProvider::Openai => Arc::new(OpenAiEmbedder::new(c)?),
    })
}

/// Scales `v` to unit length (leaves a zero vector alone).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
