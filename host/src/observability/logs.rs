//! Logging: JSON lines (one object per line, with the request span's fields) or
//! human-friendly output for development, written to stdout in batches by a background
//! thread (`log_writer.rs`) so a request never waits on the terminal or the log pipe.

use super::json_format::{JsonFields, JsonLines};
use super::log_writer::{batched, FlushGuard};
use crate::config::{LogFormat, ObservabilityConfig};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber writing to stdout through the batching writer.
/// Keep the returned guard alive until exit: dropping it writes the lines still buffered.
pub fn init(c: &ObservabilityConfig) -> Option<FlushGuard> {
    // Fails only when a subscriber is already installed (e.g. in tests): keep that one.
    match batched(std::io::stdout()) {
        Ok((writer, guard)) => {
            let _ = try_init_with(c, writer);
            Some(guard)
        }
        Err(e) => {
            // No thread for the writer: write each line straight to stdout instead.
            let _ = try_init_with(c, std::io::stdout);
            tracing::warn!(error = %e, "cannot start the log writer thread; logging unbuffered");
            None
        }
    }
}

/// Installs the global subscriber with `writer`. `RUST_LOG`, when set, overrides the
/// configured level.
pub fn try_init_with<W>(
    c: &ObservabilityConfig,
    writer: W,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
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
        .with_writer(writer);
    match c.log_format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    }
}
