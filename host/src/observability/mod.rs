//! Observability: JSON logs with request spans (`logs.rs`), Prometheus metrics
//! (`metrics.rs`), and Sentry error reporting (`sentry.rs`, `sentry_transport.rs`).

pub mod logs;
pub mod metrics;
pub mod sentry;
mod sentry_transport;

pub use logs::init;
