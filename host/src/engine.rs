//! The question-answering engine: preprocess (plugins) → retrieve (hybrid index) →
//! rank (plugins) → build the prompt (plugin) → answer (LLM provider), with the answer
//! cache in front. The index it searches is kept by [`crate::indexer`].

use crate::cache::{CacheStatus, ResponseCache, SingleFlight};
use crate::config::Config;
use crate::embeddings::Embedder;
use crate::error::Error;
use crate::indexer::{IndexError, Indexer};
use crate::llm::{AnswerRequest, Llm};
use crate::observability::metrics::{CACHE, STAGE_DURATION};
use crate::plugins::{PluginHost, RequestContext};
use crate::rag::ingest::IngestReport;
use crate::rag::live::LiveIndex;
use crate::rag::params::SearchParams;
use crate::rag::retrieve::{retrieve, Passage};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

use crate::answer::{Ask, Outcome, StreamedOutcome};

/// The engine's collaborators.
pub struct EngineParts {
    /// Keeps the index the engine searches; its settings give the search parameters.
    pub indexer: Arc<Indexer>,
    pub embedder: Arc<dyn Embedder>,
    pub llm: Arc<dyn Llm>,
    pub plugins: Arc<PluginHost>,
    pub cache: ResponseCache,
}

/// Everything needed to answer questions.
pub struct Engine {
    pub index: Arc<LiveIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub llm: Arc<dyn Llm>,
    pub plugins: Arc<PluginHost>,
    pub params: SearchParams,
    indexer: Arc<Indexer>,
    cache: ResponseCache,
    flights: SingleFlight<Result<Arc<Outcome>, Error>>,
}

impl Engine {
    /// Assembles the engine from its parts.
    pub fn new(parts: EngineParts) -> Self {
        let EngineParts {
            indexer,
            embedder,
            llm,
            plugins,
            cache,
        } = parts;
        Self {
            cache,
            flights: SingleFlight::default(),
            index: indexer.live().clone(),
            params: indexer.settings().search,
            indexer,
            embedder,
            llm,
            plugins,
        }
    }

    /// Answers one question: from the cache when possible (unless `bypass_cache`),
    /// coalescing concurrent identical questions into one computation.
    pub async fn answer(
        &self,
        ask: &Ask,
        bypass_cache: bool,
    ) -> Result<(Arc<Outcome>, CacheStatus), Error> {
        let ctx = plugin_context(ask);
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
            &self.plugins.versions_for(Some(&ask.client)),
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
        let ctx = plugin_context(ask);
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

    /// Rebuilds the index ([`Indexer::reindex`]; the admin handler reaches it here).
    pub async fn reindex(&self) -> Result<IngestReport, IndexError> {
        self.indexer.reindex().await
    }

    /// Whether a rebuild is running ([`Indexer::is_building`]).
    pub fn is_building(&self) -> bool {
        self.indexer.is_building()
    }
}

/// What plugin calls know of the request.
fn plugin_context(ask: &Ask) -> RequestContext {
    RequestContext::new(&ask.request_id)
        .with_history(ask.history.clone())
        .with_client(&ask.client)
}

/// `[index]` retrieval knobs: [`SearchParams::from_config`], under the name callers
/// outside this module's last change still use.
pub fn search_params(c: &Config) -> SearchParams {
    SearchParams::from_config(c)
}
