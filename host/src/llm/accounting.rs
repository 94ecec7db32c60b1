//! What the model clients report after a call: the breaker's verdict on the
//! upstream's health, and the token and cost metrics. Shared by the plain and the
//! streamed client.

use super::{CircuitBreaker, TokenUsage};
use crate::config::TokenPrice;
use crate::observability::metrics::{LLM_CIRCUIT_OPEN, LLM_COST, LLM_TOKENS};
use crate::upstream::UpstreamError;

/// Tells `breaker` how a call went. Client errors (4xx other than 429) are our fault,
/// not the upstream's health.
pub(super) fn record_health(breaker: &CircuitBreaker, outcome: Result<(), &UpstreamError>) {
    let healthy = match outcome {
        Ok(()) => true,
        Err(UpstreamError::Status { status, .. }) => *status < 500 && *status != 429,
        Err(_) => false,
    };
    breaker.record(healthy);
    metrics::gauge!(LLM_CIRCUIT_OPEN).set(if breaker.is_open() { 1.0 } else { 0.0 });
}

/// Token and cost metrics for one answer.
pub(super) fn count_usage(model: &str, price: Option<TokenPrice>, u: &TokenUsage) {
    let model = model.to_string();
    metrics::counter!(LLM_TOKENS, "model" => model.clone(), "direction" => "in")
        .increment(u.prompt_tokens);
    metrics::counter!(LLM_TOKENS, "model" => model.clone(), "direction" => "out")
        .increment(u.completion_tokens);
    if let Some(p) = price {
        let usd = u.prompt_tokens as f64 / 1000.0 * p.input_per_1k
            + u.completion_tokens as f64 / 1000.0 * p.output_per_1k;
        metrics::counter!(LLM_COST, "model" => model).increment((usd * 1e6).round() as u64);
    }
}
