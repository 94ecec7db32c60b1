//! The index lifecycle: check the stored index against the configured embedder and
//! this version's format, load it (or build it when it is missing or must be
//! rebuilt), re-index in the background, and install each new index atomically.
//! Queries keep using the serving index meanwhile (`rag::live`).

use crate::config::Config;
use crate::embeddings::Embedder;
use crate::observability::metrics::{
    INDEX_BUILD_DURATION, INDEX_BUILD_TIME, INDEX_CHUNKS, INDEX_DOCUMENTS,
};
use crate::rag::chunk::ChunkParams;
use crate::rag::index::{Index, Manifest, FORMAT_VERSION};
use crate::rag::ingest::{self, IngestLimits, IngestPaths, IngestReport};
use crate::rag::live::LiveIndex;
use crate::rag::params::SearchParams;
use crate::rag::store;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `[index]` as the lifecycle and the searches use it, built once from the
/// configuration (the server, `autbot index` and `autbot eval` alike).
#[derive(Debug, Clone)]
pub struct IndexSettings {
    pub paths: IngestPaths,
    pub chunking: ChunkParams,
    pub search: SearchParams,
    /// `index.rebuild_on_mismatch`.
    pub rebuild_on_mismatch: bool,
}

impl IndexSettings {
    /// From `[index]` (and `[embeddings]`, for the default vector weight).
    pub fn from_config(c: &Config) -> Self {
        Self {
            paths: IngestPaths {
                data_dir: c.index.data_dir.clone(),
                index_dir: c.index.dir.clone(),
                cache_dir: c.index.cache_dir.clone(),
                limits: IngestLimits::from_config(&c.index),
            },
            chunking: ChunkParams {
                size: c.index.chunk_size,
                overlap: c.index.chunk_overlap,
            },
            search: SearchParams::from_config(c),
            rebuild_on_mismatch: c.index.rebuild_on_mismatch,
        }
    }
}

/// Why the index could not be checked, loaded or built. The texts are the ones
/// `/ready` and the logs show.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    /// The stored index was built with another embedding model or index format, and
    /// `index.rebuild_on_mismatch` is off: a start-up error.
    #[error(
        "index.dir: the index in {} was built with model `{}` ({} dimensions, format {}), but the configuration uses `{model}` ({dimensions} dimensions, format {format}); run `autbot index` or set index.rebuild_on_mismatch = true",
        dir.display(), stored.model, stored.dimensions, stored.format_version
    )]
    Mismatch {
        dir: PathBuf,
        stored: Box<Manifest>,
        model: String,
        dimensions: usize,
        format: u32,
    },
    /// Reading the stored index failed.
    #[error("{0}")]
    Store(String),
    /// Building from the data folder (or saving the result) failed.
    #[error("{0}")]
    Build(String),
    /// Loading the stored index stopped (its task panicked or was cancelled).
    #[error("{0}")]
    Load(String),
    /// Preparing a built index for search stopped.
    #[error("preparing the index for search failed: {0}")]
    Prepare(String),
}

/// What is stored in `index.dir`, as [`Indexer::check_stored`] found it.
#[derive(Debug, Clone)]
pub enum Stored {
    /// An index made by the configured embedder: load it.
    Matching(Manifest),
    /// No index: build one.
    Missing,
    /// An index made otherwise, with `index.rebuild_on_mismatch` set: rebuild.
    Mismatched(Manifest),
}

/// Where the index stands, for readiness and admin.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IndexState {
    pub building: bool,
    pub last_error: Option<String>,
    pub last_report: Option<IngestReport>,
}

/// Builds an index from the data folder and saves it (`progress`: a progress bar on the
/// terminal, for `autbot index`).
pub async fn build(
    settings: &IndexSettings,
    embedder: &dyn Embedder,
    progress: bool,
) -> Result<(Index, IngestReport), IndexError> {
    ingest::build(
        &settings.paths,
        settings.chunking,
        embedder,
        settings.search.exhaustive_max_bytes,
        progress,
    )
    .await
    .map_err(IndexError::Build)
}

/// Loads, builds and re-builds the serving index.
pub struct Indexer {
    live: Arc<LiveIndex>,
    embedder: Arc<dyn Embedder>,
    settings: IndexSettings,
    state: Mutex<IndexState>,
    build_lock: tokio::sync::Mutex<()>,
}

impl Indexer {
    /// An indexer that installs into `live` what `embedder` indexes.
    pub fn new(settings: IndexSettings, live: Arc<LiveIndex>, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            live,
            embedder,
            settings,
            state: Mutex::new(IndexState::default()),
            build_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    /// The index being served (empty until the first one is installed).
    pub fn live(&self) -> &Arc<LiveIndex> {
        &self.live
    }

    /// Index status.
    pub fn state(&self) -> IndexState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether a rebuild is running.
    pub fn is_building(&self) -> bool {
        self.build_lock.try_lock().is_err()
    }

    /// What `index.dir` holds, checked against the configured embedder and this
    /// version's index format. Cheap (the manifest only): the server checks it before
    /// listening, and loads what it found.
    pub fn check_stored(&self) -> Result<Stored, IndexError> {
        let dir = &self.settings.paths.index_dir;
        let Some(m) = store::read_manifest(dir).map_err(IndexError::Store)? else {
            return Ok(Stored::Missing);
        };
        let model = self.embedder.model_id();
        let dimensions = self.embedder.dimensions();
        if m.model == model && m.dimensions == dimensions && m.format_version == FORMAT_VERSION {
            return Ok(Stored::Matching(m));
        }
        if self.settings.rebuild_on_mismatch {
            return Ok(Stored::Mismatched(m));
        }
        Err(IndexError::Mismatch {
            dir: dir.clone(),
            stored: Box::new(m),
            model,
            dimensions,
            format: FORMAT_VERSION,
        })
    }

    /// Loads the stored index found by [`Indexer::check_stored`], or builds one when
    /// there is none or it must be rebuilt.
    pub async fn load_or_build(&self, stored: Stored) -> Result<(), IndexError> {
        match stored {
            Stored::Matching(m) => {
                let started = Instant::now();
                let dir = self.settings.paths.index_dir.clone();
                let index = tokio::task::spawn_blocking(move || store::load(&dir, m))
                    .await
                    .map_err(|e| IndexError::Load(e.to_string()))?
                    .map_err(IndexError::Store)?;
                tracing::info!(
                    chunks = index.chunks.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "index loaded"
                );
                self.install(index, Replace::OnlyFirst).await
            }
            Stored::Missing => self.reindex().await.map(|_| ()),
            Stored::Mismatched(m) => {
                tracing::warn!(
                    stored_model = %m.model,
                    stored_dimensions = m.dimensions,
                    stored_format = m.format_version,
                    model = %self.embedder.model_id(),
                    dimensions = self.embedder.dimensions(),
                    format = FORMAT_VERSION,
                    "the stored index does not match the configured embedder or this version's index format; rebuilding"
                );
                self.reindex().await.map(|_| ())
            }
        }
    }

    /// Rebuilds the index from the data folder and swaps it in atomically. Queries keep
    /// using the previous index meanwhile. One rebuild at a time.
    pub async fn reindex(&self) -> Result<IngestReport, IndexError> {
        let _guard = self.build_lock.lock().await;
        self.update_state(|s| s.building = true);
        let result = build(&self.settings, self.embedder.as_ref(), false).await;
        let result = match result {
            Ok((index, report)) => {
                tracing::info!(
                    documents = report.documents,
                    chunks = report.chunks,
                    embedded = report.embedded,
                    reused = report.reused,
                    skipped = report.skipped.len(),
                    seconds = report.seconds,
                    "index built"
                );
                metrics::gauge!(INDEX_BUILD_DURATION).set(report.seconds);
                match self.install(index, Replace::Always).await {
                    Ok(()) => Ok(report),
                    Err(e) => {
                        tracing::error!(error = %e, "index install failed");
                        Err(e)
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "index build failed");
                Err(e)
            }
        };
        self.update_state(|s| {
            s.building = false;
            match &result {
                Ok(report) => {
                    s.last_error = None;
                    s.last_report = Some(report.clone());
                }
                Err(e) => s.last_error = Some(e.to_string()),
            }
        });
        result
    }

    /// Serves `index` from now on, once what its searches need is made (off the
    /// async workers: the 4-bit codes of 100,000 vectors take about 0.1 s).
    async fn install(&self, index: Index, mode: Replace) -> Result<(), IndexError> {
        let params = self.settings.search;
        let index = tokio::task::spawn_blocking(move || {
            index.prepare(&params);
            index
        })
        .await
        .map_err(|e| IndexError::Prepare(e.to_string()))?;
        let (chunks, documents) = (index.chunks.len(), index.documents());
        let built_at = index.manifest.built_at_unix;
        match mode {
            Replace::Always => self.live.install(index),
            Replace::OnlyFirst => {
                if !self.live.install_if_empty(index) {
                    tracing::info!("a rebuild installed a newer index meanwhile; keeping it");
                    return Ok(());
                }
            }
        }
        metrics::gauge!(INDEX_CHUNKS).set(chunks as f64);
        metrics::gauge!(INDEX_DOCUMENTS).set(documents as f64);
        metrics::gauge!(INDEX_BUILD_TIME).set(built_at as f64);
        Ok(())
    }

    fn update_state(&self, f: impl FnOnce(&mut IndexState)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Whether installing an index replaces the one serving.
#[derive(Clone, Copy)]
enum Replace {
    /// A rebuild: always.
    Always,
    /// The index loaded at start-up: only if nothing is serving yet.
    OnlyFirst,
}
