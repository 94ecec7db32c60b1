//! Ingestion: walk the data folder, load and chunk every supported file, embed only the
//! chunks the embedding cache does not have, build the index and persist it.

use super::chunk::{chunk_document, Chunk, ChunkParams};
use super::document::{self, SUPPORTED_EXTENSIONS};
use super::embed_cache::EmbedCache;
use super::index::{Index, Manifest, FORMAT_VERSION};
use super::store;
use crate::embeddings::Embedder;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where ingestion reads and writes.
#[derive(Debug, Clone)]
pub struct IngestPaths {
    pub data_dir: PathBuf,
    pub index_dir: PathBuf,
    pub cache_dir: PathBuf,
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
    let (chunks, documents, skipped) =
        tokio::task::spawn_blocking(move || read_all(&data_dir, params))
            .await
            .map_err(|e| format!("ingestion task failed: {e}"))??;
    for s in &skipped {
        tracing::warn!(path = %s.path, reason = %s.reason, "skipped file");
    }

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

/// Loads and chunks every file under `data_dir` (sorted, hidden files ignored).
fn read_all(
    data_dir: &Path,
    params: ChunkParams,
) -> Result<(Vec<Chunk>, usize, Vec<Skipped>), String> {
    if !data_dir.is_dir() {
        return Err(format!(
            "the data folder {} does not exist",
            data_dir.display()
        ));
    }
    let mut chunks = Vec::new();
    let mut skipped = Vec::new();
    let mut documents = 0;
    let walker = walkdir::WalkDir::new(data_dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| p.strip_prefix(data_dir).unwrap_or(p).display().to_string())
                    .unwrap_or_default();
                skipped.push(Skipped {
                    path,
                    reason: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let source = path
            .strip_prefix(data_dir)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !SUPPORTED_EXTENSIONS.contains(&ext.as_str()) {
            skipped.push(Skipped {
                path: source,
                reason: if ext.is_empty() {
                    "unsupported file type (no extension)".into()
                } else {
                    format!("unsupported file type `.{ext}`")
                },
            });
            continue;
        }
        match document::load(path, source.clone()) {
            Ok(doc) => {
                documents += 1;
                chunks.extend(chunk_document(&doc, params));
            }
            Err(reason) => skipped.push(Skipped {
                path: source,
                reason,
            }),
        }
    }
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
