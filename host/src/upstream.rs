//! Calls to upstream HTTP APIs (OpenAI-compatible): one error type, and retries with
//! exponential backoff and jitter on 429/5xx and connection errors, honouring `Retry-After`.

use rand::Rng;
use std::time::Duration;

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the configured timeout.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// The upstream answered with an error status (after retries).
    #[error("the upstream answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// Connection refused, reset, DNS failure...
    #[error("cannot reach the upstream: {0}")]
    Connect(String),
    /// The answer was not what the API promises.
    #[error("the upstream answer is malformed: {0}")]
    Malformed(String),
    /// The circuit breaker is open: the upstream failed repeatedly.
    #[error("the upstream is failing; calls are paused for {retry_after_secs} s")]
    CircuitOpen { retry_after_secs: u64 },
}

impl UpstreamError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Timeout => "timeout",
            UpstreamError::Status { status: 429, .. } => "rate_limited",
            UpstreamError::Status { status, .. } if *status >= 500 => "server_error",
            UpstreamError::Status { .. } => "client_error",
            UpstreamError::Connect(_) => "connect",
            UpstreamError::Malformed(_) => "malformed",
            UpstreamError::CircuitOpen { .. } => "circuit_open",
        }
    }
}

/// Sends the request built by `build` until it succeeds, fails for good, or
/// `max_retries` retries are spent. Retries 429, 5xx, timeouts and connection errors.
pub async fn send_with_retry(
    build: impl Fn() -> reqwest::RequestBuilder,
    max_retries: u32,
) -> Result<reqwest::Response, UpstreamError> {
    let mut attempt = 0;
    loop {
        let outcome = build().send().await;
        let retry_after = match &outcome {
            Ok(r) if r.status().is_success() => return outcome.map_err(classify),
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => r
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 30.0))),
            Ok(_) => None,
            Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => None,
            Err(_) => return outcome.map_err(classify),
        };
        let retryable = match &outcome {
            Ok(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
            Err(_) => true,
        };
        if !retryable || attempt >= max_retries {
            let err = match outcome {
                Ok(r) => status_error(r).await,
                Err(e) => classify(e),
            };
            metrics::counter!(crate::observability::metrics::UPSTREAM_ERRORS, "kind" => err.kind())
                .increment(1);
            return Err(err);
        }
        attempt += 1;
        tokio::time::sleep(retry_after.unwrap_or_else(|| backoff(attempt))).await;
    }
}

/// Exponential backoff with full jitter: 100 ms × 2^(attempt-1), capped at 5 s.
fn backoff(attempt: u32) -> Duration {
    let base_ms = (100u64 << (attempt - 1).min(6)).min(5000);
    Duration::from_millis(rand::thread_rng().gen_range(base_ms / 2..=base_ms))
}

async fn status_error(r: reqwest::Response) -> UpstreamError {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    UpstreamError::Status { status, message }
}

/// The error kind of a failed `reqwest` call (timeouts, connection errors, ...).
pub fn classify(e: reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        UpstreamError::Timeout
    } else if e.is_decode() {
        UpstreamError::Malformed(e.to_string())
    } else {
        // Without the URL: it may carry credentials in some deployments.
        UpstreamError::Connect(e.without_url().to_string())
    }
}
