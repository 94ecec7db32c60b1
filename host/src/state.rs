//! What the handlers and layers share, built once by
//! [`serve::build_state`](crate::serve::build_state): the configuration with the values
//! checking it parsed, the engine and the index, and the process-wide services.

use crate::config::{AdminKeys, ApiKeyHeader, Config};
use crate::engine::Engine;
use crate::indexer::Indexer;
use crate::pipeline::rate_limit::RateLimitLayer;
use crate::rate_limit::client_ip::ClientIpResolver;
use crate::rate_limit::RateLimiter;
use crate::redis_store::RedisStore;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub admin_keys: Arc<AdminKeys>,
    /// `security.api_key_header`.
    pub api_key_header: ApiKeyHeader,
    /// The client of a request (`rate_limit.trusted_proxies`, `client_ip_header`).
    pub client_ips: Arc<ClientIpResolver>,
    pub engine: Arc<Engine>,
    /// Keeps the index the engine searches (load, re-index, status).
    pub indexer: Arc<Indexer>,
    pub lifecycle: Arc<Lifecycle>,
    /// The shared store, when a backend uses Redis.
    pub redis: Option<Arc<RedisStore>>,
    /// Per-client rate limiting (none when `rate_limit.enabled = false`).
    pub rate_limit: Option<RateLimitLayer>,
    /// The process's limiter (also counts failed API keys, whatever `rate_limit.enabled`).
    pub limiter: Arc<RateLimiter>,
    /// The Prometheus recorder (none when metrics are disabled).
    pub metrics: Option<PrometheusHandle>,
}

/// Process lifecycle flags.
#[derive(Debug, Default)]
pub struct Lifecycle {
    shutting_down: AtomicBool,
}

impl Lifecycle {
    /// Marks the start of graceful shutdown (readiness turns 503).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}
