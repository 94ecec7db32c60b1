//! Rate limiting with GCRA: in process (`governor`) by default, or shared by every
//! replica through Redis (one atomic Lua script, one round trip per decision). When
//! Redis is unreachable the limiter fails open (in-process fallback, with a warning) or
//! closed (503), as configured.

pub mod client_ip;
mod memory;
mod policy;
mod redis;

use crate::config::{OnRedisError, RateLimitConfig, SharedBackend};
use crate::error::Error;
use crate::redis_store::RedisStore;
use memory::{EventLimiter, MemoryLimiter};
pub use policy::{Decision, Policy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The process's rate limiter.
pub struct RateLimiter {
    backend: SharedBackend,
    memory: MemoryLimiter,
    events: EventLimiter,
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
            events: EventLimiter::default(),
            redis,
            on_error: c.on_redis_error,
            degraded: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&limiter);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                match weak.upgrade() {
                    Some(l) => {
                        l.memory.retain_recent();
                        l.events.retain_recent();
                    }
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
        let shared = redis::check(redis, policy, key).await;
        self.fall_back(shared, || self.memory.check(policy, key))
    }

    /// Whether one more event (a failed authentication) for `key` would be allowed now,
    /// without recording one. Same backend and Redis failure policy as [`Self::check`].
    pub async fn peek(&self, policy: &Policy, key: &str) -> Result<Decision, Error> {
        self.event(policy, key, false).await
    }

    /// Records one event for `key`: after `policy.burst` of them, [`Self::peek`]
    /// refuses until they are earned back.
    pub async fn charge(&self, policy: &Policy, key: &str) -> Result<Decision, Error> {
        self.event(policy, key, true).await
    }

    async fn event(&self, policy: &Policy, key: &str, commit: bool) -> Result<Decision, Error> {
        let local = || {
            if commit {
                self.events.charge(policy, key)
            } else {
                self.events.peek(policy, key)
            }
        };
        let redis = match (&self.backend, &self.redis) {
            (SharedBackend::Redis, Some(r)) => r,
            _ => return Ok(local()),
        };
        let shared = redis::event(redis, policy, key, commit).await;
        self.fall_back(shared, local)
    }

    /// A Redis answer, or the in-process one when Redis failed and the policy is
    /// fail-open.
    fn fall_back(
        &self,
        shared: Result<Decision, String>,
        local: impl FnOnce() -> Decision,
    ) -> Result<Decision, Error> {
        match shared {
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
                    Ok(local())
                }
                OnRedisError::FailClosed => Err(Error::NotReady(
                    "rate limiting is unavailable (redis unreachable); retry shortly".into(),
                )),
            },
        }
    }
}
