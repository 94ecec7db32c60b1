//! Observability: JSON logs with request spans (`logs.rs`, formatted by
//! `json_format.rs`, written by `log_writer.rs`), Prometheus metrics
//! (`metrics.rs`), and Sentry error reporting (`sentry.rs`, `sentry_transport.rs`).

mod json_format;
pub mod log_writer;
pub mod logs;
pub mod metrics;
pub mod sentry;
mod sentry_transport;

pub use logs::init;
