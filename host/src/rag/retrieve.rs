//! Query-time retrieval: embed the question, search the index, return passages.

use super::index::Index;
use super::params::SearchParams;
use crate::embeddings::Embedder;
use crate::upstream::UpstreamError;

/// A retrieved passage, as plugins and answerers see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Passage {
    /// Chunk id.
    pub id: String,
    pub text: String,
    pub source: String,
    pub heading: String,
    /// Retrieval (or ranker) score; higher is better.
    pub score: f64,
}

/// The best passages for `question`.
pub async fn retrieve(
    index: &Index,
    embedder: &dyn Embedder,
    question: &str,
    params: &SearchParams,
) -> Result<Vec<Passage>, UpstreamError> {
    // Without vector search (vector_weight 0) the question need not be embedded.
    let vector = if params.vector_weight > 0.0 {
        embedder
            .embed(&[question.to_string()])
            .await?
            .pop()
            .ok_or_else(|| UpstreamError::Malformed("no query embedding".into()))?
    } else {
        Vec::new()
    };
    Ok(index
        .search(&vector, question, params)
        .into_iter()
        .filter_map(|hit| {
            let c = index.chunks.get(hit.chunk)?;
            Some(Passage {
                id: c.id.clone(),
                text: c.text.clone(),
                source: c.source.clone(),
                heading: c.heading.clone(),
                score: hit.score,
            })
        })
        .collect())
}
