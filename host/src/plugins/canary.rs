//! Staged rollout: a chain entry may name a candidate version (`canary = { path,
//! percent }`) that serves that share of clients, sticky per client (a hash of the
//! client key's name or IP and the plugin's name, so one person does not flip between
//! versions). Both versions keep their own counters and latency histogram from the
//! moment the candidate is loaded; when the candidate's failure rate or p99 latency
//! exceeds the stable version's by the configured margin (`[plugins.rollback]`) over
//! at least `min_calls` calls of each, it is withdrawn.

use super::loader::LoadedPlugin;
use crate::config::RollbackConfig;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets: bucket `i` holds calls of less than `2^(i/2)` µs (so ±41 %), up
/// to about 70 minutes.
const BUCKETS: usize = 64;

/// Counters and latencies of one plugin version.
pub struct VersionStats {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub refusals: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

impl Default for VersionStats {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl VersionStats {
    /// Counts one call.
    pub fn record(&self, took: Duration, failed: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let us = took.as_micros().max(1) as f64;
        let bucket = ((us.log2() * 2.0).ceil() as usize).min(BUCKETS - 1);
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency under which `q` (0..1) of the calls finished, in milliseconds
    /// (bucket upper bound); 0 without calls.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let want = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return 2f64.powf(i as f64 / 2.0) / 1000.0;
            }
        }
        2f64.powf((BUCKETS - 1) as f64 / 2.0) / 1000.0
    }

    /// Failures per call (0 without calls).
    pub fn failure_rate(&self) -> f64 {
        let calls = self.calls.load(Ordering::Relaxed);
        if calls == 0 {
            return 0.0;
        }
        self.failures.load(Ordering::Relaxed) as f64 / calls as f64
    }

    /// Zeroes everything (both versions start counting when a candidate arrives).
    pub fn reset(&self) {
        for c in [&self.calls, &self.failures, &self.refusals]
            .into_iter()
            .chain(self.latency.iter())
        {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// A candidate version and its share of traffic.
pub struct Candidate {
    pub loaded: std::sync::Arc<LoadedPlugin>,
    pub path: PathBuf,
    pub percent: u8,
    pub stats: VersionStats,
}

/// Whether `client` is in the candidate's share of `plugin`'s traffic: sticky (the
/// same client always gets the same answer for a given plugin and share).
pub fn assigned(client: &str, plugin: &str, percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    let digest = Sha256::new()
        .chain_update(plugin.as_bytes())
        .chain_update([0u8])
        .chain_update(client.as_bytes())
        .finalize();
    let n = u16::from_be_bytes([digest[0], digest[1]]) % 100;
    n < u16::from(percent)
}

/// Why the candidate must be withdrawn, if it must.
pub fn verdict(
    stable: &VersionStats,
    canary: &VersionStats,
    rule: &RollbackConfig,
) -> Option<String> {
    let (s_calls, c_calls) = (
        stable.calls.load(Ordering::Relaxed),
        canary.calls.load(Ordering::Relaxed),
    );
    if c_calls < rule.min_calls || s_calls < rule.min_calls {
        return None;
    }
    let (s_fail, c_fail) = (stable.failure_rate(), canary.failure_rate());
    if c_fail > s_fail + rule.failure_rate_margin {
        return Some(format!(
            "failure rate {:.1} % against {:.1} % for the stable version (margin {:.1} points, {c_calls} and {s_calls} calls)",
            c_fail * 100.0,
            s_fail * 100.0,
            rule.failure_rate_margin * 100.0
        ));
    }
    let (s_p99, c_p99) = (stable.quantile_ms(0.99), canary.quantile_ms(0.99));
    if c_p99 > s_p99 * rule.p99_ratio && c_p99 - s_p99 > rule.p99_min_ms {
        return Some(format!(
            "p99 latency {c_p99:.2} ms against {s_p99:.2} ms for the stable version (allowed: {}x and at least {} ms more)",
            rule.p99_ratio, rule.p99_min_ms
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_sticky_and_near_the_share() {
        let picked = (0..10_000)
            .filter(|i| assigned(&format!("10.0.{}.{}", i / 256, i % 256), "guard", 10))
            .count();
        assert!((800..1200).contains(&picked), "{picked}");
        for i in 0..100 {
            let c = format!("client-{i}");
            assert_eq!(assigned(&c, "guard", 30), assigned(&c, "guard", 30));
        }
        assert!(!assigned("x", "guard", 0));
        assert!(assigned("x", "guard", 100));
    }

    #[test]
    fn quantiles_and_verdicts() {
        let rule = RollbackConfig {
            min_calls: 10,
            failure_rate_margin: 0.05,
            p99_ratio: 2.0,
            p99_min_ms: 1.0,
        };
        let (stable, canary) = (VersionStats::default(), VersionStats::default());
        for _ in 0..100 {
            stable.record(Duration::from_micros(100), false);
        }
        assert!((0.09..0.15).contains(&stable.quantile_ms(0.99)));
        for _ in 0..9 {
            canary.record(Duration::from_micros(100), true);
        }
        assert_eq!(verdict(&stable, &canary, &rule), None, "too few calls yet");
        canary.record(Duration::from_micros(100), true);
        assert!(verdict(&stable, &canary, &rule)
            .unwrap()
            .contains("failure rate"));
        canary.reset();
        for _ in 0..20 {
            canary.record(Duration::from_millis(20), false);
        }
        assert!(verdict(&stable, &canary, &rule).unwrap().contains("p99"));
        canary.reset();
        for _ in 0..20 {
            canary.record(Duration::from_micros(150), false);
        }
        assert_eq!(verdict(&stable, &canary, &rule), None, "within the margins");
    }
}
