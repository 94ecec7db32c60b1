//! The local neural embedder (`embeddings.provider = "neural"`): a sentence-transformer
//! of the BERT family (all-MiniLM-L6-v2 by default) run in this process, in pure Rust,
//! from a model folder (`embeddings.model_dir`). No Python, no ONNX runtime, no
//! network: `scripts/fetch-model.sh` or `autbot model pull` put the folder in place.
//!
//! The encoder, tokenizer and pooling are the `autbot-neural` crate (`host/neural/`,
//! optimised even in dev builds); this module puts it behind the [`Embedder`] trait,
//! and `pull` downloads models from the Hugging Face hub.

pub mod pull;
#[cfg(test)]
mod tests;

pub use autbot_neural::{EmbedStats, Pooling, SentenceModel, REQUIRED_FILES};

use super::Embedder;
use crate::config::EmbeddingsProvider;
use crate::upstream::UpstreamError;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// [`SentenceModel`] behind the [`Embedder`] trait: the CPU work runs on tokio's
/// blocking threads; a batch of several texts uses `threads` threads.
pub struct NeuralEmbedder {
    model: Arc<SentenceModel>,
    id: String,
    threads: usize,
    texts: AtomicU64,
    truncated: AtomicU64,
}

/// Whether `dir` holds none of a model's files (missing or empty folder): the caller
/// falls back to another embedder rather than failing.
pub fn is_absent(dir: &Path) -> bool {
    REQUIRED_FILES.iter().all(|f| !dir.join(f).exists())
}

impl NeuralEmbedder {
    /// Loads the model in `dir`; `threads` 0 means one per available core.
    pub fn load(dir: &Path, threads: usize) -> Result<Self, String> {
        let model = SentenceModel::load(dir)?;
        let name: String = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
            .take(64)
            .collect();
        // Name for people, digest for identity: the same files under another folder
        // name share the id's digest but not the name, which is harmless (a rebuild).
        let id = format!("neural-{name}-{}", &model.digest()[..16]);
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        Ok(Self {
            model: Arc::new(model),
            id,
            threads,
            texts: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
        })
    }

    /// The loaded model.
    pub fn model(&self) -> &SentenceModel {
        &self.model
    }

    /// Threads used for a batch.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Texts embedded so far, and how many of them were cut at the model's limit.
    pub fn truncation_counts(&self) -> (u64, u64) {
        (
            self.texts.load(Ordering::Relaxed),
            self.truncated.load(Ordering::Relaxed),
        )
    }
}

#[async_trait::async_trait]
impl Embedder for NeuralEmbedder {
    fn model_id(&self) -> String {
        self.id.clone()
    }

    fn dimensions(&self) -> usize {
        self.model.dimensions()
    }

    fn provider(&self) -> EmbeddingsProvider {
        EmbeddingsProvider::Neural
    }

    fn token_limit(&self) -> Option<usize> {
        Some(self.model.max_tokens())
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        // Without truncation: the true length, so a caller can tell by how much it is over.
        self.model.count_tokens(text).ok()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model.clone();
        let owned = texts.to_vec();
        // One text (a question) runs on one core; batches on all of them.
        let threads = if texts.len() > 1 { self.threads } else { 1 };
        let (vectors, stats) = tokio::task::spawn_blocking(move || model.embed(&owned, threads))
            .await
            .map_err(|e| UpstreamError::Malformed(format!("local model task failed: {e}")))?
            .map_err(|e| UpstreamError::Malformed(format!("local model: {e}")))?;
        self.texts.fetch_add(stats.texts as u64, Ordering::Relaxed);
        self.truncated
            .fetch_add(stats.truncated as u64, Ordering::Relaxed);
        if stats.truncated > 0 {
            tracing::info!(
                texts = stats.texts,
                truncated = stats.truncated,
                max_tokens = self.model.max_tokens(),
                "texts longer than the model's limit were cut (their end is not embedded)"
            );
        }
        Ok(vectors)
    }
}
