//! Calls to upstream HTTP APIs (OpenAI-compatible): one error type, and retries with
//! exponential backoff and jitter on 429/5xx and connection errors, honouring
//! `Retry-After` (the schedule is `backon`'s; see [`send_with_retry`]).
//!
//! What an upstream says about a failure (its error body, a streamed error message, a
//! parse error quoting its answer) never becomes part of an [`UpstreamError`]'s text,
//! which reaches clients and Sentry: it is logged here, truncated and with credentials
//! masked ([`crate::config::redacted_excerpt`]), and the error keeps only the status.

use crate::error::Error;
use backon::{ExponentialBuilder, Retryable};
use std::time::Duration;

/// Longest excerpt of an upstream's own words kept for the logs.
const EXCERPT_CHARS: usize = 200;

/// Why an upstream call failed. The text (`Display`) is short, generic and written by
/// the host, so it can be shown to clients: "HTTP 500, server error", "malformed
/// answer: ...".
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the configured timeout.
    #[error("no answer in time")]
    Timeout,
    /// The upstream answered with an error status (after retries). `message` is written
    /// by the host (empty for upstream answers, whose body is only logged).
    #[error("{}", status_text(*status, message))]
    Status { status: u16, message: String },
    /// Connection refused, reset, DNS failure... (reqwest's text, without the URL).
    #[error("unreachable: {0}")]
    Connect(String),
    /// The answer was not what the API promises (a host-written description).
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The circuit breaker is open: the upstream failed repeatedly.
    #[error("calls are paused for {retry_after_secs} s after repeated failures")]
    CircuitOpen { retry_after_secs: u64 },
    /// The shared model budget (`rate_limit.llm_calls_per_minute`) is spent; the
    /// call was never sent.
    #[error("the language model budget is exhausted; retry in {retry_after_secs} s")]
    Budget { retry_after_secs: u64 },
    /// The shared budget cannot be checked (Redis down with `on_redis_error =
    /// "fail_closed"`); the call was never sent.
    #[error("the language model budget cannot be checked; retry shortly")]
    BudgetUnavailable,
}

/// `HTTP 503, server error`, plus the host's own explanation when there is one.
fn status_text(status: u16, message: &str) -> String {
    let class = match status {
        429 => "rate limited",
        500..=599 => "server error",
        400..=499 => "client error",
        _ => "unexpected status",
    };
    if message.is_empty() {
        format!("HTTP {status}, {class}")
    } else {
        format!("HTTP {status}, {class}: {message}")
    }
}

impl UpstreamError {
    /// A malformed answer: `public` (host-written) is what the error says; `detail`,
    /// which may quote the upstream, is only logged, as a redacted excerpt.
    pub fn malformed(public: &str, detail: impl std::fmt::Display) -> Self {
        tracing::warn!(
            detail = %crate::config::redacted_excerpt(&detail.to_string(), EXCERPT_CHARS),
            "upstream answer is malformed: {public}"
        );
        UpstreamError::Malformed(public.to_string())
    }

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
            UpstreamError::Budget { .. } => "budget",
            UpstreamError::BudgetUnavailable => "budget_unavailable",
        }
    }
}

/// How an upstream failure reaches the client: a timeout is 504, an open circuit or a
/// spent budget says when to retry, anything else is 502 with the host-written text.
impl From<UpstreamError> for Error {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Timeout => {
                Error::Timeout("the language model did not answer in time".into())
            }
            UpstreamError::CircuitOpen { retry_after_secs } => {
                Error::UpstreamUnavailable { retry_after_secs }
            }
            UpstreamError::Budget { retry_after_secs } => Error::RateLimited { retry_after_secs },
            UpstreamError::BudgetUnavailable => Error::NotReady(
                "the language model budget cannot be checked (redis unreachable); retry shortly"
                    .into(),
            ),
            other => Error::Upstream(other.to_string()),
        }
    }
}

/// Sends the request built by `build` until it succeeds, fails for good, or
/// `max_retries` retries are spent. Retries 429, 5xx, timeouts and connection errors,
/// after the answer's `Retry-After` (at most 30 s) when it has one, else after
/// [`backoff`].
pub async fn send_with_retry(
    build: impl Fn() -> reqwest::RequestBuilder,
    max_retries: u32,
) -> Result<reqwest::Response, UpstreamError> {
    let attempt = || async {
        match build().send().await {
            Ok(r) if r.status().is_success() => Ok(r),
            Ok(r) => Err(Failure::Status(r)),
            Err(e) => Err(Failure::Send(e)),
        }
    };
    let failure = match attempt
        .retry(backoff(max_retries))
        .when(Failure::retryable)
        .adjust(|f, next| next.map(|delay| f.retry_after().unwrap_or(delay)))
        .await
    {
        Ok(r) => return Ok(r),
        Err(f) => f,
    };
    let err = match failure {
        // Not an upstream failure (the request could not be built): not counted.
        Failure::Send(e) if !Failure::is_transient(&e) => return Err(classify(e)),
        Failure::Send(e) => classify(e),
        Failure::Status(r) => status_error(r).await,
    };
    metrics::counter!(crate::observability::metrics::UPSTREAM_ERRORS, "kind" => err.kind())
        .increment(1);
    Err(err)
}

/// How one try failed.
enum Failure {
    /// An answer with an error status.
    Status(reqwest::Response),
    /// No answer.
    Send(reqwest::Error),
}

impl Failure {
    /// 429, 5xx, timeouts and connection errors: worth another try.
    fn retryable(&self) -> bool {
        match self {
            Failure::Status(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
            Failure::Send(e) => Self::is_transient(e),
        }
    }

    fn is_transient(e: &reqwest::Error) -> bool {
        e.is_timeout() || e.is_connect() || e.is_request()
    }

    /// The answer's `Retry-After` in seconds, clamped to 0-30 s.
    fn retry_after(&self) -> Option<Duration> {
        let Failure::Status(r) = self else {
            return None;
        };
        r.headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            // `NaN` and `inf` parse as numbers; an upstream's header must not panic us.
            .filter(|s| s.is_finite())
            .map(|s| Duration::from_secs_f64(s.clamp(0.0, 30.0)))
    }
}

/// Exponential backoff with jitter: the n-th retry waits 100 ms × 2^(n-1), capped at
/// 5 s, times a random factor from 0.5 to 1 (50-100 ms, 100-200 ms, ..., 2.5-5 s).
fn backoff(max_retries: u32) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_factor(2.0)
        .with_max_delay(Duration::from_millis(2500))
        .with_jitter()
        .with_max_times(max_retries as usize)
}

/// The error for a failed answer. Its body is logged as a redacted excerpt (OpenAI's
/// `error.message` when there is one) and kept out of the error.
async fn status_error(r: reqwest::Response) -> UpstreamError {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    let said = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or(body);
    tracing::warn!(
        status,
        excerpt = %crate::config::redacted_excerpt(&said, EXCERPT_CHARS),
        "upstream answered with an error status"
    );
    UpstreamError::Status {
        status,
        message: String::new(),
    }
}

/// The error kind of a failed `reqwest` call (timeouts, connection errors, ...).
pub fn classify(e: reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        UpstreamError::Timeout
    } else if e.is_decode() {
        UpstreamError::malformed("the body cannot be decoded", error_chain(&e))
    } else {
        tracing::debug!(error = %error_chain(&e), "upstream call failed");
        // Without the URL: it may carry credentials in some deployments.
        UpstreamError::Connect(e.without_url().to_string())
    }
}

/// `e` and its sources, without the URL, for a log line.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut next: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = next {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&err.to_string());
        next = err.source();
    }
    // reqwest names the URL in its own text; the URL may carry credentials.
    match e.url() {
        Some(url) => text.replace(url.as_str(), &crate::config::redacted_url(url.as_str())),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder;

    #[test]
    fn a_retry_after_that_is_not_a_finite_number_is_ignored() {
        let failure = |value: &str| {
            let r = axum::http::Response::builder()
                .status(429)
                .header("retry-after", value)
                .body("")
                .unwrap();
            Failure::Status(reqwest::Response::from(r))
        };
        for bad in ["NaN", "inf", "-inf", "soon"] {
            assert_eq!(failure(bad).retry_after(), None, "{bad}");
        }
        assert_eq!(failure("2").retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(
            failure("99999").retry_after(),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn the_backoff_doubles_from_100_ms_to_5_s_with_jitter_in_the_upper_half() {
        for _ in 0..50 {
            let delays: Vec<Duration> = backoff(9).build().collect();
            assert_eq!(delays.len(), 9, "one delay per retry");
            for (n, d) in delays.iter().enumerate() {
                let base = Duration::from_millis((100u64 << n.min(6)).min(5000));
                assert!(*d >= base / 2 && *d <= base, "retry {}: {d:?}", n + 1);
            }
        }
        assert_eq!(backoff(0).build().next(), None);
    }

    #[test]
    fn upstream_failures_map_to_client_errors() {
        let cases = [
            (
                UpstreamError::Timeout,
                504,
                "timeout",
                "the language model did not answer in time".to_string(),
            ),
            (
                UpstreamError::CircuitOpen {
                    retry_after_secs: 9,
                },
                503,
                "upstream_unavailable",
                "the language model is unavailable; retry in 9 s".to_string(),
            ),
            (
                UpstreamError::Budget {
                    retry_after_secs: 4,
                },
                429,
                "rate_limited",
                "too many requests; retry in 4 s".to_string(),
            ),
            (
                UpstreamError::BudgetUnavailable,
                503,
                "not_ready",
                "the language model budget cannot be checked (redis unreachable); retry shortly"
                    .to_string(),
            ),
            (
                UpstreamError::Status {
                    status: 500,
                    message: String::new(),
                },
                502,
                "upstream_error",
                "the language model service failed (HTTP 500, server error)".to_string(),
            ),
            (
                UpstreamError::Connect("connection refused".into()),
                502,
                "upstream_error",
                "the language model service failed (unreachable: connection refused)".to_string(),
            ),
            (
                UpstreamError::Malformed("no choices".into()),
                502,
                "upstream_error",
                "the language model service failed (malformed answer: no choices)".to_string(),
            ),
        ];
        for (upstream, status, code, message) in cases {
            let e = Error::from(upstream);
            assert_eq!(
                (e.status().as_u16(), e.code(), e.to_string()),
                (status, code.to_string(), message)
            );
        }
    }

    #[test]
    fn texts_are_generic() {
        let e = UpstreamError::Status {
            status: 500,
            message: String::new(),
        };
        assert_eq!(e.to_string(), "HTTP 500, server error");
        let e = UpstreamError::Status {
            status: 429,
            message: String::new(),
        };
        assert_eq!(e.to_string(), "HTTP 429, rate limited");
        let e = UpstreamError::malformed("the stream reported an error", "password=hunter2");
        assert_eq!(
            e.to_string(),
            "malformed answer: the stream reported an error"
        );
    }
}
