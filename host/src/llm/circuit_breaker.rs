//! A circuit breaker: after `threshold` consecutive failures calls are refused for
//! `cooldown`; then one trial call decides whether to close it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// Shared breaker state for one upstream.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// `Ok` when a call may go ahead; `Err(seconds to wait)` when the circuit is open.
    pub fn admit(&self) -> Result<(), u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            State::Closed { .. } => Ok(()),
            State::HalfOpen => Err(1),
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen;
                    Ok(())
                } else {
                    Err((until - now).as_secs().max(1))
                }
            }
        }
    }

    /// Records the outcome of an admitted call.
    pub fn record(&self, success: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = match (&*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            _ => State::Open {
                until: Instant::now() + self.cooldown,
            },
        };
    }

    /// Whether calls are currently refused.
    pub fn is_open(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|e| e.into_inner()),
            State::Open { until } if Instant::now() < until
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers_after_a_successful_trial() {
        let b = CircuitBreaker::new(2, Duration::from_millis(30));
        b.record(false);
        assert!(b.admit().is_ok());
        b.record(false);
        assert!(b.admit().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.admit().is_ok(), "one trial call after the cooldown");
        assert!(b.admit().is_err(), "only one trial at a time");
        b.record(true);
        assert!(b.admit().is_ok());
    }
}
