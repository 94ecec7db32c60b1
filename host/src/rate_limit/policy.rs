//! A rate-limit policy as the limiters apply it, and one decision with what the
//! response headers need: shared by the in-process and the Redis limiter.

use crate::config::LimitPolicy;
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
