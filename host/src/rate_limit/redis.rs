//! The shared limiter: GCRA in one Lua script, using Redis's clock so replicas agree.
//! Keys expire when their bucket is full again.

use super::policy::{Decision, Policy};
use crate::redis_store::RedisStore;
use std::sync::LazyLock;

/// One decision through Redis (the request is counted when allowed).
pub async fn check(store: &RedisStore, policy: &Policy, key: &str) -> Result<Decision, String> {
    run(store, "rl", policy, key, true).await
}

/// GCRA in one script: KEYS[1] = bucket; ARGV = period in µs, burst, and 1 to record
/// the event when allowed or 0 only to ask whether it would be. Returns
/// {allowed, remaining, retry_after_µs, reset_µs}.
static GCRA: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tau = period * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + period
if new_tat - now > tau then
  return {0, 0, new_tat - now - tau, tat - now}
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
  return {1, math.floor((tau - (new_tat - now)) / period), 0, new_tat - now}
end
return {1, math.floor((tau - (tat - now)) / period), 0, tat - now}
"#,
    )
});

/// Asks whether one more event would be allowed (`commit` false) or records one.
pub async fn event(
    store: &RedisStore,
    policy: &Policy,
    key: &str,
    commit: bool,
) -> Result<Decision, String> {
    run(store, "ev", policy, key, commit).await
}

/// Runs the script on the bucket `<prefix><family>:<policy>:<key>`.
async fn run(
    store: &RedisStore,
    family: &str,
    policy: &Policy,
    key: &str,
    commit: bool,
) -> Result<Decision, String> {
    let bucket = format!(
        "{}{family}:{}:{}:{}:{}",
        store.prefix, policy.name, policy.requests, policy.window_secs, key
    );
    let period_us = policy.period().as_micros().max(1) as u64;
    let burst = policy.burst;
    let out: Vec<i64> = store
        .run(|mut c| async move {
            GCRA.key(bucket)
                .arg(period_us)
                .arg(burst)
                .arg(if commit { "1" } else { "0" })
                .invoke_async(&mut c)
                .await
        })
        .await?;
    decision(&out, burst)
}

fn decision(out: &[i64], burst: u32) -> Result<Decision, String> {
    let [allowed, remaining, retry_us, reset_us] = out[..] else {
        return Err("unexpected answer from the rate-limit script".into());
    };
    let secs = |us: i64| (us.max(0) as f64 / 1e6).ceil() as u64;
    Ok(Decision {
        allowed: allowed == 1,
        limit: burst,
        remaining: remaining.max(0) as u32,
        reset_secs: secs(reset_us),
        retry_after_secs: if allowed == 1 {
            0
        } else {
            secs(retry_us).max(1)
        },
    })
}
