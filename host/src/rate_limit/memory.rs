//! In-process limiter: one `governor` keyed GCRA limiter per policy, and
//! [`EventLimiter`] for limits that are read before they are charged.

use super::policy::{Decision, Policy};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

/// GCRA state that can be read without being charged, for events counted after the
/// fact (failed authentication): `peek` asks whether one more event would be allowed,
/// `charge` records one.
#[derive(Default)]
pub struct EventLimiter {
    /// (policy, key) → theoretical arrival time of the next event.
    tats: Mutex<HashMap<(Policy, String), Instant>>,
}

impl EventLimiter {
    fn decide(&self, policy: &Policy, key: &str, commit: bool) -> Decision {
        let now = Instant::now();
        let period = policy.period();
        let tau = period * policy.burst;
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let id = (*policy, key.to_string());
        let tat = tats.get(&id).copied().unwrap_or(now).max(now);
        let new_tat = tat + period;
        let ahead = new_tat - now;
        if ahead > tau {
            return Decision {
                allowed: false,
                limit: policy.burst,
                remaining: 0,
                reset_secs: (tat - now).as_secs_f64().ceil() as u64,
                retry_after_secs: (ahead - tau).as_secs_f64().ceil().max(1.0) as u64,
            };
        }
        if commit {
            tats.insert(id, new_tat);
        }
        let used = if commit { ahead } else { tat - now };
        Decision {
            allowed: true,
            limit: policy.burst,
            remaining: ((tau - used).as_nanos() / period.as_nanos().max(1)) as u32,
            reset_secs: used.as_secs_f64().ceil() as u64,
            retry_after_secs: 0,
        }
    }

    /// Whether one more event for `key` would be allowed now; records nothing.
    pub fn peek(&self, policy: &Policy, key: &str) -> Decision {
        self.decide(policy, key, false)
    }

    /// Records one event for `key` (unless it is refused).
    pub fn charge(&self, policy: &Policy, key: &str) -> Decision {
        self.decide(policy, key, true)
    }

    /// Forgets keys whose every event has been earned back.
    pub fn retain_recent(&self) {
        let now = Instant::now();
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        tats.retain(|_, tat| *tat > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_refused_after_the_burst_and_peeking_charges_nothing() {
        let policy = Policy {
            name: "auth_fail",
            requests: 3,
            window_secs: 60,
            burst: 3,
        };
        let l = EventLimiter::default();
        for _ in 0..10 {
            assert!(l.peek(&policy, "a").allowed, "peeking records nothing");
        }
        for left in (0..3).rev() {
            let d = l.charge(&policy, "a");
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let d = l.peek(&policy, "a");
        assert!(!d.allowed);
        assert!((19..=20).contains(&d.retry_after_secs), "{d:?}");
        assert!(!l.charge(&policy, "a").allowed);
        assert!(l.peek(&policy, "b").allowed, "another key is separate");
        l.retain_recent();
        assert!(!l.peek(&policy, "a").allowed, "state still needed is kept");
    }
}
