//! In-process limiter: one `governor` keyed GCRA limiter per policy.

use super::{Decision, Policy};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Per-policy keyed limiters, created on first use.
#[derive(Default)]
pub struct MemoryLimiter {
    limiters: Mutex<HashMap<Policy, Arc<Keyed>>>,
}

impl MemoryLimiter {
    fn limiter(&self, policy: &Policy) -> Arc<Keyed> {
        let mut map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(*policy)
            .or_insert_with(|| {
                let period = policy.period();
                let burst = NonZeroU32::new(policy.burst.max(1)).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(period)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(burst);
                Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>())
            })
            .clone()
    }

    /// Decides one request for `key` under `policy`.
    pub fn check(&self, policy: &Policy, key: &str) -> Decision {
        let limiter = self.limiter(policy);
        let period = policy.period();
        match limiter.check_key(&key.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: policy.burst,
                    remaining,
                    reset_secs: (period * (policy.burst - remaining.min(policy.burst)))
                        .as_secs_f64()
                        .ceil() as u64,
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    allowed: false,
                    limit: policy.burst,
                    remaining: 0,
                    reset_secs: (period * policy.burst).as_secs_f64().ceil() as u64,
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
        }
    }

    /// Drops state of keys that are back to full capacity (bounded memory).
    pub fn retain_recent(&self) {
        let map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        for l in map.values() {
            l.retain_recent();
        }
    }
}
