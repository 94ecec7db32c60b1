//! Ingestion: walk the data folder, load and chunk every supported file, embed only the
//! chunks the embedding cache does not have, build the index and persist it.
//!
//! The data folder is not trusted: `walk` reads only regular files inside it, within
//! byte limits, and each document is parsed with a time budget and bounded decoding
//! (see [`document`]). A file that fails any of this is skipped and reported by name
//! (a `skipped file` warning, and [`IngestReport::skipped`]); the rest is indexed.

mod walk;

use super::chunk::{chunk_document, Chunk, ChunkParams};
use super::document;
use super::embed_cache::EmbedCache;
use super::index::{Index, Manifest, FORMAT_VERSION};
use super::store;
use crate::embeddings::Embedder;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where ingestion reads and writes, and how much it may read.
#[derive(Debug, Clone)]
pub struct IngestPaths {
    pub data_dir: PathBuf,
    pub index_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub limits: IngestLimits,
}

/// What reading the data folder may cost (the `index.max_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Largest file read; larger files are skipped.
    pub max_file_bytes: u64,
    /// All files read together; files beyond are skipped.
    pub max_total_bytes: u64,
    /// Most bytes one PDF's streams may decode to.
    pub max_decoded_bytes: u64,
    /// Time budget for parsing one document.
    pub max_parse_secs: u64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        let document = document::Limits::default();
        Self {
            max_file_bytes: document.max_file_bytes,
            max_total_bytes: 2 << 30,
            max_decoded_bytes: document.max_decoded_bytes,
            max_parse_secs: document.max_parse.as_secs(),
        }
    }
}

impl IngestLimits {
    /// The limits set in `[index]`.
    pub fn from_config(c: &crate::config::IndexConfig) -> Self {
        Self {
            max_file_bytes: c.max_file_bytes,
            max_total_bytes: c.max_total_bytes,
            max_decoded_bytes: c.max_decoded_bytes,
            max_parse_secs: c.max_parse_secs,
        }
    }

    fn document(&self) -> document::Limits {
        document::Limits {
            max_file_bytes: self.max_file_bytes,
            max_decoded_bytes: self.max_decoded_bytes,
            max_parse: std::time::Duration::from_secs(self.max_parse_secs),
        }
    }
}

/// A file that was not indexed, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What one ingestion run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub documents: usize,
    pub chunks: usize,
    /// Chunks sent to the embedder this run.
    pub embedded: usize,
    /// Chunks whose vectors came from the cache.
    pub reused: usize,
    pub skipped: Vec<Skipped>,
    pub seconds: f64,
}

/// Builds the index from `paths.data_dir` and saves it to `paths.index_dir`. The HNSW
/// links are built only when the vectors' 4-bit codes exceed `exhaustive_max_bytes`
/// (`index.exhaustive_max_mib`): smaller indexes are searched by scoring every vector.
pub async fn build(
    paths: &IngestPaths,
    params: ChunkParams,
    embedder: &dyn Embedder,
    exhaustive_max_bytes: usize,
    progress: bool,
) -> Result<(Index, IngestReport), String> {
    let started = Instant::now();
    let data_dir = paths.data_dir.clone();
    let limits = paths.limits;
    let (chunks, documents, skipped) =
        tokio::task::spawn_blocking(move || read_all(&data_dir, params, limits))
            .await
            .map_err(|e| format!("ingestion task failed: {e}"))??;
    for s in &skipped {
        tracing::warn!(path = %s.path, reason = %s.reason, "skipped file");
    }
    let chunks = fit_to_model(chunks, embedder, params);

    let model = embedder.model_id();
    let dims = embedder.dimensions();
    let mut cache = EmbedCache::open(&paths.cache_dir, &model, dims)
        .map_err(|e| format!("embedding cache {}: {e}", paths.cache_dir.display()))?;
    let mut seen = HashSet::new();
    let missing: Vec<&Chunk> = chunks
        .iter()
        .filter(|c| cache.get(&c.hash).is_none() && seen.insert(c.hash.clone()))
        .collect();
    let embedded = missing.len();
    let bar = progress_bar(progress, missing.len());
    for batch in missing.chunks(256) {
        let texts: Vec<String> = batch.iter().map(|c| c.embedding_text()).collect();
        let vectors = embedder
            .embed(&texts)
            .await
            .map_err(|e| format!("embedding failed: {e}"))?;
        let items = batch.iter().map(|c| c.hash.clone()).zip(vectors).collect();
        cache
            .insert_all(items)
            .map_err(|e| format!("embedding cache: {e}"))?;
        match &bar {
            Some(bar) => bar.inc(batch.len() as u64),
            None => tracing::info!(done = batch.len(), "embedded a batch"),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let vectors: Vec<Vec<f32>> = chunks
        .iter()
        .map(|c| {
            cache
                .get(&c.hash)
                .cloned()
                .ok_or("a vector is missing from the cache")
        })
        .collect::<Result<_, _>>()?;
    drop(cache);

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        model: model.clone(),
        dimensions: dims,
        chunk_size: params.size,
        chunk_overlap: params.overlap,
        documents,
        chunks: chunks.len(),
        built_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        version: content_version(&model, &chunks),
    };
    let index_dir = paths.index_dir.clone();
    let report = IngestReport {
        documents,
        chunks: chunks.len(),
        embedded,
        reused: chunks.len() - embedded.min(chunks.len()),
        skipped,
        seconds: 0.0,
    };
    let index = tokio::task::spawn_blocking(move || {
        let dims = vectors.first().map_or(0, Vec::len);
        let linked = crate::rag::index::needs_links(vectors.len(), dims, exhaustive_max_bytes);
        let index = Index::build(manifest, chunks, &vectors, linked);
        store::save(&index_dir, &index, &vectors)
            .map_err(|e| format!("cannot save the index to {}: {e}", index_dir.display()))?;
        Ok::<_, String>(index)
    })
    .await
    .map_err(|e| format!("index build task failed: {e}"))??;
    let report = IngestReport {
        seconds: started.elapsed().as_secs_f64(),
        ..report
    };
    Ok((index, report))
}

/// Chunks are sized in characters; a chunk whose text (with its heading) has more
/// tokens than the embedding model reads would be silently cut, so it is split
/// (halving the size until every piece fits).
fn fit_to_model(chunks: Vec<Chunk>, embedder: &dyn Embedder, params: ChunkParams) -> Vec<Chunk> {
    let Some(limit) = embedder.token_limit() else {
        return chunks;
    };
    let (mut out, mut split) = (Vec::with_capacity(chunks.len()), 0);
    let mut todo: Vec<(Chunk, usize)> =
        chunks.into_iter().rev().map(|c| (c, params.size)).collect();
    while let Some((chunk, size)) = todo.pop() {
        let fits = embedder
            .count_tokens(&chunk.embedding_text())
            .is_none_or(|n| n <= limit);
        let parts = if fits || size < 64 {
            Vec::new()
        } else {
            super::chunk::split(&chunk, size / 2)
        };
        if parts.len() < 2 {
            out.push(chunk);
            continue;
        }
        split += 1;
        todo.extend(parts.into_iter().rev().map(|p| (p, size / 2)));
    }
    if split > 0 {
        tracing::info!(
            split,
            token_limit = limit,
            "chunks split to fit the embedding model"
        );
    }
    out
}

/// Loads and chunks every file under `data_dir` (sorted, hidden files ignored), one
/// file in memory at a time.
fn read_all(
    data_dir: &Path,
    params: ChunkParams,
    limits: IngestLimits,
) -> Result<(Vec<Chunk>, usize, Vec<Skipped>), String> {
    let mut chunks = Vec::new();
    let mut skipped = Vec::new();
    let mut documents = 0;
    let document_limits = limits.document();
    let mut parse = |file: walk::FileRead| match document::parse_guarded(
        file.bytes,
        &file.ext,
        file.source.clone(),
        &document_limits,
    ) {
        Ok(doc) => {
            documents += 1;
            chunks.extend(chunk_document(&doc, params));
        }
        Err(reason) => skipped.push(Skipped {
            path: file.source,
            reason,
        }),
    };
    let mut walk_skipped = Vec::new();
    walk::walk(
        data_dir,
        walk::WalkLimits {
            max_file_bytes: limits.max_file_bytes,
            max_total_bytes: limits.max_total_bytes,
        },
        &mut parse,
        |s| walk_skipped.push(s),
    )?;
    skipped.extend(walk_skipped);
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((chunks, documents, skipped))
}

fn content_version(model: &str, chunks: &[Chunk]) -> String {
    let mut h = Sha256::new();
    h.update(model.as_bytes());
    for c in chunks {
        h.update(c.id.as_bytes());
    }
    hex::encode(&h.finalize()[..6])
}

fn progress_bar(wanted: bool, len: usize) -> Option<indicatif::ProgressBar> {
    (wanted && len > 0 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(len as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "embedding {bar:40} {pos}/{len} chunks ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::document::{Document, Section};
    use crate::upstream::UpstreamError;

    /// Reads at most 20 "tokens" (words, plus one for the heading line).
    struct ShortModel;

    #[async_trait::async_trait]
    impl Embedder for ShortModel {
        fn model_id(&self) -> String {
            "short".into()
        }
        fn dimensions(&self) -> usize {
            1
        }
        fn provider(&self) -> crate::config::EmbeddingsProvider {
            crate::config::EmbeddingsProvider::Local
        }
        fn token_limit(&self) -> Option<usize> {
            Some(20)
        }
        fn count_tokens(&self, text: &str) -> Option<usize> {
            Some(text.split_whitespace().count())
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, UpstreamError> {
            Ok(texts.iter().map(|_| vec![1.0]).collect())
        }
    }

    #[test]
    fn chunks_longer_than_the_model_reads_are_split_until_they_fit() {
        let sentence = "The kettle whistles at seven every single morning without fail. ";
        let doc = Document {
            source: "k.md".into(),
            sections: vec![Section {
                heading: "Kettle".into(),
                page: None,
                text: sentence.repeat(12),
            }],
        };
        let params = ChunkParams {
            size: 800,
            overlap: 0,
        };
        let chunks = chunk_document(&doc, params);
        assert!(ShortModel.count_tokens(&chunks[0].embedding_text()) > Some(20));
        let fitted = fit_to_model(chunks, &ShortModel, params);
        assert!(fitted.len() > 1);
        for c in &fitted {
            let n = ShortModel.count_tokens(&c.embedding_text()).unwrap();
            assert!(n <= 20, "{n} tokens: {}", c.text);
        }
        // Nothing lost: every sentence is still there, in order.
        let joined = fitted
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined.matches("kettle whistles").count(), 12);
    }
}
