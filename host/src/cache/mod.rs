//! The exact-match answer cache. Keys hash the question after preprocessing, the
//! index version, the model and the plugin versions, so a re-index or a plugin swap
//! never serves a stale answer. Backends: `memory` (bounded, TTL) or `redis` (shared
//! by replicas; failures count as misses). Concurrent identical misses are coalesced:
//! one computation (one LLM call), every waiter gets its result.

mod single_flight;

use crate::answer::Outcome;
use crate::config::{CacheBackend, CacheConfig};
use crate::redis_store::RedisStore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

pub use single_flight::SingleFlight;

/// Whether an answer came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    /// The client asked to skip the cache (`Cache-Control: no-cache`) or it is off.
    Bypass,
}

impl CacheStatus {
    /// The `X-Cache` header value.
    pub fn header(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

enum Store {
    Off,
    Memory(moka::future::Cache<String, Arc<Outcome>>),
    Redis(Arc<RedisStore>),
}

/// The cache of final answers.
pub struct ResponseCache {
    store: Store,
    ttl: Duration,
}

impl ResponseCache {
    /// From `[cache]`; `redis` is required for the redis backend.
    pub fn new(c: &CacheConfig, redis: Option<Arc<RedisStore>>) -> Self {
        let ttl = Duration::from_secs(c.ttl_secs);
        let store = match (c.backend, redis) {
            (CacheBackend::Off, _) => Store::Off,
            (CacheBackend::Redis, Some(r)) => Store::Redis(r),
            _ => Store::Memory(
                moka::future::Cache::builder()
                    .max_capacity(c.max_entries)
                    .time_to_live(ttl)
                    .eviction_listener(|_, _, cause| {
                        if cause.was_evicted() {
                            metrics::counter!(crate::observability::metrics::CACHE_EVICTIONS)
                                .increment(1);
                        }
                    })
                    .build(),
            ),
        };
        Self { store, ttl }
    }

    /// Whether caching is on.
    pub fn enabled(&self) -> bool {
        !matches!(self.store, Store::Off)
    }

    /// The cache key of one question in the current configuration.
    pub fn key(question: &str, index_version: &str, model: &str, plugins: &str) -> String {
        let mut h = Sha256::new();
        for part in [question, index_version, model, plugins] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// A cached answer, if any.
    pub async fn get(&self, key: &str) -> Option<Arc<Outcome>> {
        match &self.store {
            Store::Off => None,
            Store::Memory(m) => m.get(key).await,
            Store::Redis(r) => {
                let k = format!("{}answer:{key}", r.prefix);
                let raw: Option<Vec<u8>> = r
                    .run(|mut c| async move { redis::cmd("GET").arg(k).query_async(&mut c).await })
                    .await
                    .map_err(
                        |e| tracing::debug!(error = %e, "cache read failed; treated as a miss"),
                    )
                    .ok()
                    .flatten();
                raw.and_then(|b| serde_json::from_slice(&b).ok())
                    .map(Arc::new)
            }
        }
    }

    /// Stores an answer (best effort).
    pub async fn put(&self, key: &str, outcome: Arc<Outcome>) {
        match &self.store {
            Store::Off => {}
            Store::Memory(m) => m.insert(key.to_string(), outcome).await,
            Store::Redis(r) => {
                let Ok(bytes) = serde_json::to_vec(&*outcome) else {
                    return;
                };
                let k = format!("{}answer:{key}", r.prefix);
                let ttl = self.ttl.as_secs().max(1);
                let result: Result<(), String> = r
                    .run(|mut c| async move {
                        redis::cmd("SET")
                            .arg(k)
                            .arg(bytes)
                            .arg("EX")
                            .arg(ttl)
                            .query_async(&mut c)
                            .await
                    })
                    .await;
                if let Err(e) = result {
                    tracing::debug!(error = %e, "cache write failed");
                }
            }
        }
    }
}
