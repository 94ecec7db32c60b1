//! OpenAI-compatible embeddings: `POST {base_url}/embeddings`, batched, with bounded
//! concurrency, a timeout and retries (see [`crate::upstream`]).

use super::{normalize, Embedder};
use crate::config::EmbeddingsConfig;
use crate::upstream::{send_with_retry, UpstreamError};
use futures::stream::{self, StreamExt, TryStreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// Client for an OpenAI-compatible `/embeddings` endpoint.
pub struct OpenAiEmbedder {
    http: reqwest::Client,
    url: String,
    model: String,
    dims: usize,
    batch_size: usize,
    concurrency: usize,
    max_retries: u32,
    key: SecretString,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// A client from `[embeddings]`; the key comes from `OPENAI_API_KEY`.
    pub fn new(c: &EmbeddingsConfig) -> Result<Self, String> {
        let key = c
            .api_key
            .clone()
            .ok_or("embeddings.api_key: OPENAI_API_KEY is not set")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            url: format!("{}/embeddings", c.base_url.trim_end_matches('/')),
            model: c.model.clone(),
            dims: c.dimensions,
            batch_size: c.batch_size,
            concurrency: c.concurrency,
            max_retries: c.max_retries,
            key,
        })
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError> {
        let body = serde_json::json!({
            "model": self.model,
            "input": batch,
            "dimensions": self.dims,
            "encoding_format": "float",
        });
        let response = send_with_retry(
            || {
                self.http
                    .post(&self.url)
                    .bearer_auth(self.key.expose_secret())
                    .json(&body)
            },
            self.max_retries,
        )
        .await?;
        let parsed: EmbeddingsResponse = response.json().await.map_err(|e| {
            UpstreamError::malformed(
                "the answer is not the expected JSON",
                crate::upstream::error_chain(&e),
            )
        })?;
        let mut out = vec![Vec::new(); batch.len()];
        for item in parsed.data {
            if item.index >= batch.len() || item.embedding.len() != self.dims {
                return Err(UpstreamError::Malformed(format!(
                    "embedding {} has {} dimensions, expected {}",
                    item.index,
                    item.embedding.len(),
                    self.dims
                )));
            }
            let mut v = item.embedding;
            normalize(&mut v);
            out[item.index] = v;
        }
        if out.iter().any(Vec::is_empty) {
            return Err(UpstreamError::Malformed(
                "missing embeddings in the answer".into(),
            ));
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> String {
        format!("openai:{}/{}", self.model, self.dims)
    }

    fn provider(&self) -> crate::config::EmbeddingsProvider {
        crate::config::EmbeddingsProvider::Openai
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError> {
        let calls: Vec<_> = texts
            .chunks(self.batch_size)
            .map(|batch| self.embed_batch(batch))
            .collect();
        let batches: Vec<Vec<Vec<f32>>> = stream::iter(calls)
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(batches.into_iter().flatten().collect())
    }
}
