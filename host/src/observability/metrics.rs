//! Prometheus metrics: the recorder, the metric names, and the label rules. Labels
//! are bounded by construction: route templates from a fixed list, status classes,
//! configured plugin and model names — never raw paths, queries, IPs or keys.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Requests by route template, method and status class.
pub const HTTP_REQUESTS: &str = "autbot_http_requests_total";
/// Request latency by route template.
pub const HTTP_DURATION: &str = "autbot_http_request_duration_seconds";
/// Requests being processed.
pub const HTTP_IN_FLIGHT: &str = "autbot_http_requests_in_flight";
/// Time per pipeline stage (`validation`, `retrieval`, `llm`).
pub const STAGE_DURATION: &str = "autbot_stage_duration_seconds";
/// Time per plugin call, by plugin and hook.
pub const PLUGIN_DURATION: &str = "autbot_plugin_call_duration_seconds";
/// Plugin calls by plugin, hook and outcome (`ok`, `failed`).
pub const PLUGIN_CALLS: &str = "autbot_plugin_calls_total";
/// Plugin reloads by plugin and result (`reloaded`, `failed`).
pub const PLUGIN_RELOADS: &str = "autbot_plugin_reloads_total";
/// 1 for the serving version of each plugin (label `version`: sha256 prefix).
pub const PLUGIN_INFO: &str = "autbot_plugin_info";
/// Candidate versions withdrawn (`trigger`: `automatic` or `manual`).
pub const PLUGIN_CANARY_ROLLBACKS: &str = "autbot_plugin_canary_rollbacks_total";
/// Candidate versions promoted to stable.
pub const PLUGIN_CANARY_PROMOTIONS: &str = "autbot_plugin_canary_promotions_total";
/// Counter: host capability calls made by plugins, by `plugin`, `capability` and
/// `outcome` (`ok`, `error`, `refused`: over the call's `max_host_calls` or the LLM budget).
pub const PLUGIN_HOST_CALLS: &str = "autbot_plugin_host_calls_total";
/// Counter: plugin log lines (and stderr bytes) dropped over their budgets, by `plugin`
/// and `stream` (`log`, `stderr`).
pub const PLUGIN_LOG_DROPPED: &str = "autbot_plugin_log_dropped_total";
/// Counter: model and embedding calls refused by the shared budget, by `kind`.
pub const LLM_BUDGET_REFUSED: &str = "autbot_llm_budget_refused_total";
/// LLM tokens by model and direction (`in`, `out`).
pub const LLM_TOKENS: &str = "autbot_llm_tokens_total";
/// Estimated LLM cost in micro-dollars (1e-6 USD) by model, from
/// `observability.llm_prices` (a counter, so integral units).
pub const LLM_COST: &str = "autbot_llm_cost_microdollars_total";
/// 1 while the LLM circuit breaker is open.
pub const LLM_CIRCUIT_OPEN: &str = "autbot_llm_circuit_open";
/// Upstream (LLM / embeddings) errors by kind.
pub const UPSTREAM_ERRORS: &str = "autbot_upstream_errors_total";
/// Rate-limit decisions by policy, client (a configured client-key name, or
/// `anonymous`) and decision (`allowed`, `refused`).
pub const RATE_LIMIT: &str = "autbot_rate_limit_decisions_total";
/// Answer-cache lookups by result (`hit`, `miss`, `bypass`).
pub const CACHE: &str = "autbot_cache_requests_total";
/// Answers evicted from the in-memory cache.
pub const CACHE_EVICTIONS: &str = "autbot_cache_evictions_total";
/// Chunks and documents in the serving index.
pub const INDEX_CHUNKS: &str = "autbot_index_chunks";
pub const INDEX_DOCUMENTS: &str = "autbot_index_documents";
/// Unix time and duration of the last index build.
pub const INDEX_BUILD_TIME: &str = "autbot_index_last_build_timestamp_seconds";
pub const INDEX_BUILD_DURATION: &str = "autbot_index_build_duration_seconds";
/// Redis command errors.
pub const REDIS_ERRORS: &str = "autbot_redis_errors_total";
/// 1, labelled with the version and git commit.
pub const BUILD_INFO: &str = "autbot_build_info";

/// Latency buckets for a chat API: 1 ms … 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Finer buckets for plugin calls (10 µs … 1 s).
const PLUGIN_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 1.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PLUGIN_DURATION.into()), PLUGIN_BUCKETS));
            let handle = match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    return None;
                }
            };
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .ok()?;
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "git_sha" => env!("AUTBOT_GIT_SHA")).set(1.0);
            Some(handle)
        })
        .clone()
}

/// `2xx`, `4xx`, ...
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
