//! Logging: JSON lines (one object per line, with the request span's fields) or
//! human-friendly output for development.

use crate::config::{LogFormat, ObservabilityConfig};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init(c: &ObservabilityConfig) {
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| c.log_level.clone());
    // hnsw_rs logs every graph construction at info; keep it quiet unless asked for.
    let directives = if wanted.contains("hnsw_rs") {
        wanted
    } else {
        format!("{wanted},hnsw_rs=warn")
    };
    let filter =
        EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info,hnsw_rs=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = match c.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
