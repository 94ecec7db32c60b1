//! Sentry error reporting: enabled when `observability.sentry_dsn` is set. Panics and
//! 5xx responses are reported with the request id as a tag; 4xx are not. No personal
//! data: no query text, no IPs, no headers; API keys never reach an event. The queue
//! is bounded and Sentry's rate limits are honoured (`sentry_transport.rs`).

use super::sentry_transport::HttpTransport;
use crate::config::Config;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// Keeps the client alive; dropping it flushes pending events.
pub struct SentryGuard(Option<sentry::ClientInitGuard>);

impl SentryGuard {
    /// Sends what is pending, waiting at most `timeout`.
    pub fn flush(&self, timeout: std::time::Duration) {
        if let Some(g) = &self.0 {
            g.flush(Some(timeout));
        }
    }
}

/// Starts Sentry when a DSN is configured.
pub fn init(c: &Config) -> Result<SentryGuard, String> {
    let Some(dsn) = &c.observability.sentry_dsn else {
        return Ok(SentryGuard(None));
    };
    let dsn: sentry::types::Dsn = dsn
        .expose_secret()
        .parse()
        .map_err(|_| "observability.sentry_dsn: not a valid Sentry DSN".to_string())?;
    let environment = c
        .observability
        .sentry_environment
        .clone()
        .unwrap_or_else(|| format!("{:?}", c.security.environment).to_lowercase());
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(concat!("autbot@", env!("CARGO_PKG_VERSION")).into());
    options.environment = Some(environment.into());
    options.send_default_pii = false;
    let rate = c.observability.traces_sample_rate;
    if rate > 0.0 {
        options.traces_sampling_strategy = sentry::TracesSamplingStrategy::FixedRate(rate);
    }
    let queue_size = c.observability.sentry_queue_size;
    options.transport = Some(Arc::new(
        move |opts: &sentry::ClientOptions| -> Arc<dyn sentry::Transport> {
            Arc::new(HttpTransport::new(opts, queue_size))
        },
    ));
    options.before_send = Some(Arc::new(|mut event| {
        // Belt and braces: events never carry request data or user data.
        event.request = None;
        event.user = None;
        event.server_name = None;
        Some(event)
    }));
    Ok(SentryGuard(Some(sentry::init(options))))
}

/// Reports a 5xx answer (called by the error-body layer, which knows the request id).
/// `message` is the client-facing message, which is generic for upstream failures (an
/// upstream's own error body never reaches Sentry).
pub fn report_server_error(status: u16, code: &str, message: &str, request_id: &str) {
    if sentry::Hub::current().client().is_none() {
        return;
    }
    sentry::with_scope(
        |scope| {
            scope.set_tag("request_id", request_id);
            scope.set_tag("status", status);
            scope.set_tag("code", code);
        },
        || sentry::capture_message(&format!("{status} {code}: {message}"), sentry::Level::Error),
    );
}
