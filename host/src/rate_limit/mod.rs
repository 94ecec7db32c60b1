//! Rate limiting with GCRA: in process (`governor`) by default, or shared by every
//! replica through Redis (one atomic Lua script, one round trip per decision). When
//! Redis is unreachable the limiter fails open (in-process fallback, with a warning) or
//! closed (503), as configured.

pub mod client_ip;
mod memory;
mod redis;

use crate::config::{LimitPolicy, OnRedisError, RateLimitConfig, SharedBackend};
use crate::error::Error;
use crate::redis_store::RedisStore;
use memory::MemoryLimiter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A policy as the limiters use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Names the counter family (`ip`, `key`, `admin`, `llm`).
    pub name: &'static str,
    pub requests: u32,
    pub window_secs: u64,
    pub burst: u32,
}

impl Policy {
    /// From configuration.
    pub fn new(name: &'static str, p: LimitPolicy) -> Self {
        Self {
            name,
            requests: p.requests.max(1),
            window_secs: p.window_secs.max(1),
            burst: p.burst.unwrap_or(p.requests).max(1),
        }
    }

    /// Time to earn one request back.
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.window_secs) / self.requests
    }
}

/// The outcome of one check, with what the response headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `X-RateLimit-Limit`: requests allowed at once.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: seconds until the full burst is available again.
    pub reset_secs: u64,
    /// `Retry-After` when refused.
    pub retry_after_secs: u64,
}

/// The process's rate limiter.
pub struct RateLimiter {
    backend: SharedBackend,
    memory: MemoryLimiter,
    redis: Option<Arc<RedisStore>>,
    on_error: OnRedisError,
    degraded: AtomicBool,
}

impl RateLimiter {
    /// Builds the limiter; `redis` is required for the redis backend.
    pub fn new(c: &RateLimitConfig, redis: Option<Arc<RedisStore>>) -> Arc<Self> {
        let limiter = Arc::new(Self {
            backend: c.backend,
            memory: MemoryLimiter::default(),
            redis,
            on_error: c.on_redis_error,
            degraded: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&limiter);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                match weak.upgrade() {
                    Some(l) => l.memory.retain_recent(),
                    None => break,
                }
            }
        });
        limiter
    }

    /// Decides one request. `Err` only when Redis is down and the policy is fail-closed.
    pub async fn check(&self, policy: &Policy, key: &str) -> Result<Decision, Error> {
        let redis = match (&self.backend, &self.redis) {
            (SharedBackend::Redis, Some(r)) => r,
            _ => return Ok(self.memory.check(policy, key)),
        };
        match redis::check(redis, policy, key).await {
            Ok(d) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis rate limiting resumed");
                }
                Ok(d)
            }
            Err(e) => match self.on_error {
                OnRedisError::FailOpen => {
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "redis unreachable: rate limiting falls back to this process (fail_open)");
                    }
                    Ok(self.memory.check(policy, key))
                }
                OnRedisError::FailClosed => Err(Error::NotReady(
                    "rate limiting is unavailable (redis unreachable); retry shortly".into(),
                )),
            },
        }
    }
}
