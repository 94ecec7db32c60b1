//! What one plugin call's `Store` holds: only the plugin's own settings, the services
//! of the capabilities it was granted, a locked-down WASI context, its resource
//! limits and its budgets (time, host calls, log lines).

use super::limits::CallLimits;
use super::services::HostServices;
use super::stderr_pipe::BoundedPipe;
use crate::config::PluginEntry;
use crate::observability::metrics::{PLUGIN_HOST_CALLS, PLUGIN_LOG_DROPPED};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of plugin stderr kept per call (the rest is counted and dropped).
const STDERR_CAPACITY: usize = 4 * 1024;

/// Characters of one `log` message kept.
pub const LOG_MESSAGE_CHARS: usize = 2000;

/// Log lines per second one plugin may write across all of its calls, and the burst
/// it may write at once: beyond, lines are dropped and counted, so no plugin can
/// flood the log or make the log writer's queue wait.
const LOG_LINES_PER_SECOND: u32 = 200;
const LOG_BURST: u32 = 400;

/// The log budget shared by every call of one plugin.
pub struct LogRate(DefaultDirectRateLimiter);

impl Default for LogRate {
    fn default() -> Self {
        let per_second = NonZeroU32::new(LOG_LINES_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(LOG_BURST).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::direct(
            Quota::per_second(per_second).allow_burst(burst),
        ))
    }
}

/// Per-call store data.
pub struct HostState {
    pub plugin: Arc<str>,
    /// The serving version (first 12 hex digits of its SHA-256), in log lines.
    pub version: Arc<str>,
    pub request_id: String,
    /// The conversation's earlier turns (capability `conversation`).
    pub history: Arc<[crate::llm::ChatMessage]>,
    pub config: Arc<HashMap<String, String>>,
    pub services: Arc<HostServices>,
    pub limits: CallLimits,
    pub stderr: BoundedPipe,
    /// When the call's deadline passes; host callbacks get only what is left.
    pub deadline: Instant,
    pub max_output_entries: usize,
    pub max_llm_input_bytes: usize,
    host_calls_left: u32,
    log_lines_left: u32,
    log_rate: Arc<LogRate>,
    wasi: WasiCtx,
    table: ResourceTable,
}

/// Who and what a call is for, and its budgets.
pub struct CallSetup<'a> {
    pub plugin: Arc<str>,
    pub version: Arc<str>,
    pub request_id: &'a str,
    pub history: Arc<[crate::llm::ChatMessage]>,
    pub entry: &'a PluginEntry,
    pub config: Arc<HashMap<String, String>>,
    pub services: Arc<HostServices>,
    pub log_rate: Arc<LogRate>,
}

impl HostState {
    /// A store for one call: no preopened directories, no network, no environment,
    /// no arguments, stdin empty, stdout discarded, stderr captured (bounded).
    pub fn new(setup: CallSetup<'_>) -> Self {
        let stderr = BoundedPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let entry = setup.entry;
        Self {
            plugin: setup.plugin,
            version: setup.version,
            request_id: setup.request_id.to_string(),
            history: setup.history,
            config: setup.config,
            services: setup.services,
            limits: CallLimits::new((entry.memory_mb << 20) as usize),
            stderr,
            deadline: Instant::now() + Duration::from_millis(entry.deadline_ms),
            max_output_entries: entry.max_output_entries,
            max_llm_input_bytes: entry.max_llm_input_bytes,
            host_calls_left: entry.max_host_calls,
            log_lines_left: entry.max_log_lines,
            log_rate: setup.log_rate,
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// Time left before the call's deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Takes one host call (`search`, `embed`, `llm`) from the call's budget.
    pub fn take_host_call(&mut self, capability: &'static str) -> Result<(), HostCallRefused> {
        if self.host_calls_left == 0 {
            self.count_host_call(capability, "refused");
            return Err(HostCallRefused(capability));
        }
        self.host_calls_left -= 1;
        Ok(())
    }

    /// Records the outcome of a host call in `autbot_plugin_host_calls_total`.
    pub fn count_host_call(&self, capability: &'static str, outcome: &'static str) {
        metrics::counter!(PLUGIN_HOST_CALLS, "plugin" => self.plugin.to_string(), "version" => self.version.to_string(), "capability" => capability, "outcome" => outcome).increment(1);
    }

    /// Whether one more log line may be written; counts the drop when not.
    pub fn take_log_line(&mut self, stream: &'static str) -> bool {
        let ok = self.log_lines_left > 0 && self.log_rate.0.check().is_ok();
        if ok {
            self.log_lines_left -= 1;
        } else {
            metrics::counter!(PLUGIN_LOG_DROPPED, "plugin" => self.plugin.to_string(), "version" => self.version.to_string(), "stream" => stream).increment(1);
        }
        ok
    }

    /// Writes what the plugin sent to stderr as one (truncated) log line, if the
    /// budget allows; dropped bytes are counted.
    pub fn flush_stderr(&mut self) {
        let (kept, dropped) = self.stderr.take();
        if dropped > 0 {
            metrics::counter!(PLUGIN_LOG_DROPPED, "plugin" => self.plugin.to_string(), "version" => self.version.to_string(), "stream" => "stderr_bytes").increment(dropped);
        }
        if kept.is_empty() || !self.take_log_line("stderr") {
            return;
        }
        let text = String::from_utf8_lossy(&kept);
        tracing::warn!(plugin = %self.plugin, version = %self.version, request_id = %self.request_id, stderr = %text.trim_end(), dropped_bytes = dropped, "plugin wrote to stderr");
    }
}

/// A host call over the call's `max_host_calls`.
#[derive(Debug, thiserror::Error)]
#[error("made more `{0}` and other host calls than its max_host_calls allows")]
pub struct HostCallRefused(pub &'static str);

impl super::bindings::types::Host for HostState {}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
