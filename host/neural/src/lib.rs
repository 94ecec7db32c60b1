//! AutBot's local sentence embedder: a sentence-transformer of the BERT family
//! (all-MiniLM-L6-v2, bge-small-en-v1.5, e5-small-v2, …) run on the CPU in pure Rust
//! from a model folder. No Python, no ONNX runtime, no network.
//!
//! * [`safetensors`]: reads the weights one tensor at a time.
//! * [`bert`]: the encoder, on unpadded batches (the tokens of all sequences
//!   concatenated: token-wise steps are one matrix product, attention per sequence).
//! * [`kernels`]: matrix products (`gemm` crate) and vectorised element-wise steps.
//! * [`model`]: the folder (tokenizer, pooling, limits, identity), batching, threads.
//!
//! The server wraps [`SentenceModel`] as its `neural` embedder
//! (`host/src/embeddings/neural/`).

pub mod bert;
pub mod kernels;
pub mod model;
pub mod safetensors;

pub use model::{EmbedStats, Pooling, SentenceModel, REQUIRED_FILES};

/// Scales `v` to unit length (leaves a zero vector alone).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
