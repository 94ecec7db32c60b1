//! The question-answering engine: preprocess (plugins) → retrieve (hybrid index) →
//! rank (plugins) → build the prompt (plugin) → answer (LLM provider). Also owns the
//! index lifecycle: load at start-up, build when missing, background re-index.

use crate::cache::{CacheStatus, ResponseCache, SingleFlight};
use crate::config::Config;
use crate::embeddings::Embedder;
use crate::error::Error;
use crate::llm::{AnswerRequest, ChatMessage, GenerationOptions, Llm, TextStream, TokenUsage};
use crate::observability::metrics::{
    CACHE, INDEX_BUILD_DURATION, INDEX_BUILD_TIME, INDEX_CHUNKS, INDEX_DOCUMENTS, STAGE_DURATION,
};
use crate::plugins::{PluginHost, RequestContext};
use crate::rag::chunk::ChunkParams;
use crate::rag::index::SearchParams;
use crate::rag::ingest::{self, IngestPaths, IngestReport};
use crate::rag::live::LiveIndex;
use crate::rag::retrieve::{retrieve, Passage};
use crate::rag::store;
use crate::upstream::UpstreamError;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

/// A finished answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub response: String,
    pub passages: Vec<Passage>,
    pub model: String,
    /// Token counts, when the model gave them.
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    /// Why the model stopped (`stop`, `length`, ...).
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// One question to answer and what the client asked around it.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// The validated question.
    pub question: String,
    pub request_id: String,
    /// The conversation before the question (oldest first), for plugins with the
    /// `conversation` capability.
    pub history: Vec<ChatMessage>,
    /// Sampling parameters for the model.
    pub options: GenerationOptions,
    /// Passages given to the model, instead of `index.top_k`.
    pub top_k: Option<usize>,
}

impl Ask {
    /// A single question with the configured defaults.
    pub fn new(question: &str, request_id: &str) -> Self {
        Self {
            question: question.to_string(),
            request_id: request_id.to_string(),
            ..Self::default()
        }
    }

    /// What besides the question decides the answer, for the cache key ("" when
    /// nothing does, so single questions share entries with `/api/query`).
    fn variant(&self) -> String {
        if self.history.is_empty() && self.options.is_default() && self.top_k.is_none() {
            return String::new();
        }
        serde_json::json!({
            "history": self.history,
            "options": self.options,
            "top_k": self.top_k,
        })
        .to_string()
    }
}

/// An answer being written: its passages now, its text as it comes.
pub struct StreamedOutcome {
    pub passages: Vec<Passage>,
    pub model: String,
    pub pieces: TextStream,
}

/// The engine's collaborators.
pub struct EngineParts {
    pub index: Arc<LiveIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub llm: Arc<dyn Llm>,
    pub plugins: Arc<PluginHost>,
    pub cache: ResponseCache,
}

/// Where the index stands, for readiness and admin.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IndexState {
    pub building: bool,
    pub last_error: Option<String>,
    pub last_report: Option<IngestReport>,
}

/// Everything needed to answer questions.
pub struct Engine {
    pub index: Arc<LiveIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub llm: Arc<dyn Llm>,
    pub plugins: Arc<PluginHost>,
    pub params: SearchParams,
    paths: IngestPaths,
    chunking: ChunkParams,
    rebuild_on_mismatch: bool,
    state: Mutex<IndexState>,
    build_lock: tokio::sync::Mutex<()>,
    cache: ResponseCache,
    flights: SingleFlight<Result<Arc<Outcome>, Error>>,
}

impl Engine {
    /// Assembles the engine from its parts.
    pub fn new(config: &Config, parts: EngineParts) -> Self {
        let EngineParts {
            index,
            embedder,
            llm,
            plugins,
            cache,
        } = parts;
        Self {
            cache,
            flights: SingleFlight::default(),
            index,
            embedder,
            llm,
            plugins,
            params: search_params(config),
            paths: ingest_paths(config),
            chunking: ChunkParams {
                size: config.index.chunk_size,
                overlap: config.index.chunk_overlap,
            },
            rebuild_on_mismatch: config.index.rebuild_on_mismatch,
            state: Mutex::new(IndexState::default()),
            build_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Answers one question: from the cache when possible (unless `bypass_cache`),
    /// coalescing concurrent identical questions into one computation.
    pub async fn answer(
        &self,
        ask: &Ask,
        bypass_cache: bool,
    ) -> Result<(Arc<Outcome>, CacheStatus), Error> {
        let ctx = RequestContext::new(&ask.request_id).with_history(ask.history.clone());
        let (index, query) = self.preprocess(&ask.question, &ctx).await?;
        if bypass_cache || !self.cache.enabled() {
            metrics::counter!(CACHE, "result" => "bypass").increment(1);
            let outcome = self.compute(&index, &query, ask, &ctx).await?;
            return Ok((Arc::new(outcome), CacheStatus::Bypass));
        }
        let key = ResponseCache::key(
            &format!("{query}\0{}", ask.variant()),
            &index.manifest.version,
            &self.llm.model(),
            &self.plugins.versions(),
        );
        if let Some(hit) = self.cache.get(&key).await {
            metrics::counter!(CACHE, "result" => "hit").increment(1);
            return Ok((hit, CacheStatus::Hit));
        }
        metrics::counter!(CACHE, "result" => "miss").increment(1);
        let (result, _led) = self
            .flights
            .run(&key, || async {
                let outcome = Arc::new(self.compute(&index, &query, ask, &ctx).await?);
                self.cache.put(&key, outcome.clone()).await;
                Ok(outcome)
            })
            .await;
        result.map(|o| (o, CacheStatus::Miss))
    }

    /// Answers one question as a stream of text pieces (never cached: the answer is
    /// written as the model produces it). Failures until the model starts answering
    /// (its response headers) are errors with their status, as for [`Engine::answer`];
    /// later ones are the stream's last item. The `llm_stream_start` stage measures
    /// the time to the model's response headers.
    pub async fn answer_stream(&self, ask: &Ask) -> Result<StreamedOutcome, Error> {
        let ctx = RequestContext::new(&ask.request_id).with_history(ask.history.clone());
        let (index, query) = self.preprocess(&ask.question, &ctx).await?;
        metrics::counter!(CACHE, "result" => "bypass").increment(1);
        let (passages, messages) = self.prompt(&index, &query, ask, &ctx).await?;
        let started = Instant::now();
        let pieces = self
            .llm
            .answer_stream(&AnswerRequest {
                question: &query,
                passages: &passages,
                messages: &messages,
                corpus: Some(index.lexicon()),
                options: &ask.options,
            })
            .instrument(tracing::info_span!("llm"))
            .await;
        metrics::histogram!(STAGE_DURATION, "stage" => "llm_stream_start")
            .record(started.elapsed().as_secs_f64());
        Ok(StreamedOutcome {
            passages,
            model: self.llm.model(),
            pieces: pieces?,
        })
    }

    /// The serving index and the question after the preprocessor plugins.
    async fn preprocess(
        &self,
        question: &str,
        ctx: &RequestContext,
    ) -> Result<(Arc<crate::rag::index::Index>, String), Error> {
        let index = self.index.get().ok_or_else(|| {
            Error::NotReady("the document index is still being built; retry shortly".into())
        })?;
        let query = self
            .plugins
            .preprocess(question.to_string(), ctx)
            .instrument(tracing::info_span!("preprocess"))
            .await?;
        Ok((index, query))
    }

    /// Retrieval, ranking, prompt and answer for a preprocessed question.
    async fn compute(
        &self,
        index: &crate::rag::index::Index,
        query: &str,
        ask: &Ask,
        ctx: &RequestContext,
    ) -> Result<Outcome, Error> {
        let (passages, messages) = self.prompt(index, query, ask, ctx).await?;
        let started = Instant::now();
        let answer = self
            .llm
            .answer(&AnswerRequest {
                question: query,
                passages: &passages,
                messages: &messages,
                corpus: Some(index.lexicon()),
                options: &ask.options,
            })
            .instrument(tracing::info_span!("llm"))
            .await;
        metrics::histogram!(STAGE_DURATION, "stage" => "llm")
            .record(started.elapsed().as_secs_f64());
        let answer = answer?;
        Ok(Outcome {
            response: answer.text,
            passages,
            model: answer.model,
            usage: answer.usage,
            finish_reason: answer.finish_reason,
        })
    }

    /// Retrieval, ranking and prompt for a preprocessed question.
    async fn prompt(
        &self,
        index: &crate::rag::index::Index,
        query: &str,
        ask: &Ask,
        ctx: &RequestContext,
    ) -> Result<(Vec<Passage>, Vec<crate::llm::ChatMessage>), Error> {
        let started = Instant::now();
        let params = SearchParams {
            top_k: ask.top_k.unwrap_or(self.params.top_k),
            ..self.params
        };
        let candidates = retrieve(index, self.embedder.as_ref(), query, &params)
            .instrument(tracing::info_span!("retrieval"))
            .await
            .map_err(|e| Error::Upstream(format!("embedding the question failed: {e}")))?;
        metrics::histogram!(STAGE_DURATION, "stage" => "retrieval")
            .record(started.elapsed().as_secs_f64());
        let mut passages = self
            .plugins
            .rank(query, ctx, candidates)
            .instrument(tracing::info_span!("rank"))
            .await?;
        passages.truncate(params.top_k);
        let messages = self
            .plugins
            .build_prompt(query, ctx, &passages)
            .instrument(tracing::info_span!("prompt"))
            .await?;
        Ok((passages, messages))
    }

    /// Index status.
    pub fn index_state(&self) -> IndexState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads the persisted index, or builds it when there is none (or it was built
    /// with another embedding model and `rebuild_on_mismatch` is set).
    pub async fn load_or_build(&self) -> Result<(), String> {
        let dir = self.paths.index_dir.clone();
        match self.stored_manifest()? {
            Some(m) => {
                let started = std::time::Instant::now();
                let index = tokio::task::spawn_blocking(move || store::load(&dir, m))
                    .await
                    .map_err(|e| e.to_string())??;
                tracing::info!(
                    chunks = index.chunks.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "index loaded"
                );
                self.install(index, Replace::OnlyFirst).await
            }
            None => {
                if let Ok(Some(m)) = store::read_manifest(&dir) {
                    tracing::warn!(
                        stored_model = %m.model,
                        stored_dimensions = m.dimensions,
                        stored_format = m.format_version,
                        model = %self.embedder.model_id(),
                        dimensions = self.embedder.dimensions(),
                        format = crate::rag::index::FORMAT_VERSION,
                        "the stored index does not match the configured embedder or this version's index format; rebuilding"
                    );
                }
                self.reindex().await.map(|_| ())
            }
        }
    }

    /// The stored manifest when it matches the configured embedder; `None` when there
    /// is no index or it must be rebuilt; an error when it does not match and
    /// `index.rebuild_on_mismatch` is off. Cheap: the server checks it before listening.
    pub fn stored_manifest(&self) -> Result<Option<crate::rag::index::Manifest>, String> {
        let Some(m) = store::read_manifest(&self.paths.index_dir)? else {
            return Ok(None);
        };
        let model = self.embedder.model_id();
        let dims = self.embedder.dimensions();
        let format = crate::rag::index::FORMAT_VERSION;
        if m.model == model && m.dimensions == dims && m.format_version == format {
            return Ok(Some(m));
        }
        if self.rebuild_on_mismatch {
            // `load_or_build` says so in the log when it rebuilds.
            return Ok(None);
        }
        Err(format!(
            "index.dir: the index in {} was built with model `{}` ({} dimensions, format {}), but the configuration uses `{model}` ({dims} dimensions, format {format}); run `autbot index` or set index.rebuild_on_mismatch = true",
            self.paths.index_dir.display(),
            m.model,
            m.dimensions,
            m.format_version,
        ))
    }

    /// Rebuilds the index from the data folder and swaps it in atomically. Queries keep
    /// using the previous index meanwhile. One rebuild at a time.
    pub async fn reindex(&self) -> Result<IngestReport, String> {
        let _guard = self.build_lock.lock().await;
        self.update_state(|s| s.building = true);
        let result = ingest::build(
            &self.paths,
            self.chunking,
            self.embedder.as_ref(),
            self.params.exhaustive_max_bytes,
            false,
        )
        .await;
        match result {
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
                if let Err(e) = self.install(index, Replace::Always).await {
                    tracing::error!(error = %e, "index install failed");
                    self.update_state(|s| {
                        s.building = false;
                        s.last_error = Some(e.clone());
                    });
                    return Err(e);
                }
                self.update_state(|s| {
                    s.building = false;
                    s.last_error = None;
                    s.last_report = Some(report.clone());
                });
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, "index build failed");
                self.update_state(|s| {
                    s.building = false;
                    s.last_error = Some(e.clone());
                });
                Err(e)
            }
        }
    }

    /// Serves `index` from now on, once what its searches need is made (off the
    /// async workers: the 4-bit codes of 100,000 vectors take about 0.1 s).
    async fn install(&self, index: crate::rag::index::Index, mode: Replace) -> Result<(), String> {
        let params = self.params;
        let index = tokio::task::spawn_blocking(move || {
            index.prepare(&params);
            index
        })
        .await
        .map_err(|e| format!("preparing the index for search failed: {e}"))?;
        let (chunks, documents) = (index.chunks.len(), index.documents());
        let built_at = index.manifest.built_at_unix;
        match mode {
            Replace::Always => self.index.install(index),
            Replace::OnlyFirst => {
                if !self.index.install_if_empty(index) {
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

    /// Whether a rebuild is running.
    pub fn is_building(&self) -> bool {
        self.build_lock.try_lock().is_err()
    }

    fn update_state(&self, f: impl FnOnce(&mut IndexState)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// `[index]` retrieval knobs.
pub fn search_params(c: &Config) -> SearchParams {
    SearchParams {
        top_k: c.index.top_k,
        vector_weight: c.index.vector_weight_for(&c.embeddings),
        bm25_weight: c.index.bm25_weight,
        rrf_k: c.index.rrf_k,
        fusion: c.index.fusion,
        superseded_weight: c.index.superseded_weight,
        ef_search: c.index.ef_search,
        exhaustive_max_bytes: c.index.exhaustive_max_mib.saturating_mul(1 << 20),
    }
}

/// `[index]` paths.
pub fn ingest_paths(c: &Config) -> IngestPaths {
    IngestPaths {
        data_dir: c.index.data_dir.clone(),
        index_dir: c.index.dir.clone(),
        cache_dir: c.index.cache_dir.clone(),
        limits: crate::rag::ingest::IngestLimits::from_config(&c.index),
    }
}

impl From<UpstreamError> for Error {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Timeout => {
                Error::Timeout("the language model did not answer in time".into())
            }
            UpstreamError::CircuitOpen { retry_after_secs } => {
                Error::UpstreamUnavailable { retry_after_secs }
            }
            UpstreamError::Budget { retry_after_secs } => Error::RateLimited { retry_after_secs },
            UpstreamError::BudgetUnavailable => Error::NotReady(
                "the language model budget cannot be checked (redis unreachable); retry shortly"
                    .into(),
            ),
            other => Error::Upstream(other.to_string()),
        }
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
