//! One budget for every call to the language model, whoever makes it: the engine's
//! answers (plain and streamed) and plugins' `llm.complete` go through the same
//! wrapper around the client, so a plugin cannot spend calls the budget does not
//! allow (`rate_limit.llm_calls_per_minute`, shared through Redis when the rate
//! limiter is).

use super::{Answer, AnswerRequest, ChatMessage, Llm, TextStream};
use crate::observability::metrics::LLM_BUDGET_REFUSED;
use crate::rate_limit::{Policy, RateLimiter};
use crate::upstream::UpstreamError;
use std::sync::Arc;

/// Words in the error text of a refused call (plugins see the text).
pub const BUDGET_EXHAUSTED: &str = "budget is exhausted";

/// A model client that spends the shared budget before each call.
pub struct BudgetedLlm {
    inner: Arc<dyn Llm>,
    limiter: Arc<RateLimiter>,
    policy: Policy,
}

impl BudgetedLlm {
    /// Wraps `inner` when `per_minute > 0`; returns it as it is otherwise.
    pub fn wrap(inner: Arc<dyn Llm>, limiter: Arc<RateLimiter>, per_minute: u32) -> Arc<dyn Llm> {
        if per_minute == 0 {
            return inner;
        }
        let policy = Policy::new(
            "llm",
            crate::config::LimitPolicy {
                requests: per_minute,
                window_secs: 60,
                burst: None,
            },
        );
        Arc::new(Self {
            inner,
            limiter,
            policy,
        })
    }

    async fn spend(&self) -> Result<(), UpstreamError> {
        let decision = self
            .limiter
            .check(&self.policy, "global")
            .await
            .map_err(|_| UpstreamError::BudgetUnavailable)?;
        if decision.allowed {
            return Ok(());
        }
        metrics::counter!(LLM_BUDGET_REFUSED, "kind" => "llm").increment(1);
        Err(UpstreamError::Budget {
            retry_after_secs: decision.retry_after_secs.max(1),
        })
    }
}

#[async_trait::async_trait]
impl Llm for BudgetedLlm {
    fn model(&self) -> String {
        self.inner.model()
    }

    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError> {
        self.spend().await?;
        self.inner.answer(request).await
    }

    async fn answer_stream(
        &self,
        request: &AnswerRequest<'_>,
    ) -> Result<TextStream, UpstreamError> {
        self.spend().await?;
        self.inner.answer_stream(request).await
    }

    async fn complete(&self, messages: &[ChatMessage]) -> Result<String, UpstreamError> {
        self.spend().await?;
        self.inner.complete(messages).await
    }

    fn is_unavailable(&self) -> bool {
        self.inner.is_unavailable()
    }
}
