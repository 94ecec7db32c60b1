//! What one plugin call's `Store` holds: only the plugin's own settings, the services
//! of the capabilities it was granted, a locked-down WASI context and its limits.

use super::bindings::{config, embed, llm, log, search, types};
use super::services::HostServices;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of plugin stderr kept per call (the rest is dropped).
const STDERR_CAPACITY: usize = 16 * 1024;

/// Per-call store data.
pub struct HostState {
    pub plugin: Arc<str>,
    pub request_id: String,
    pub config: Arc<HashMap<String, String>>,
    pub services: Arc<HostServices>,
    pub limits: StoreLimits,
    pub stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// A store for one call: no preopened directories, no network, no environment,
    /// no arguments, stdin closed, stdout discarded, stderr captured.
    pub fn new(
        plugin: Arc<str>,
        request_id: String,
        config: Arc<HashMap<String, String>>,
        services: Arc<HostServices>,
        limits: StoreLimits,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            plugin,
            request_id,
            config,
            services,
            limits,
            stderr,
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let message: String = message.chars().take(2000).collect();
        let (plugin, request_id) = (&*self.plugin, &self.request_id);
        match level {
            log::Level::Debug => tracing::debug!(plugin, request_id, "{message}"),
            log::Level::Info => tracing::info!(plugin, request_id, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, request_id, "{message}"),
            log::Level::Error => tracing::error!(plugin, request_id, "{message}"),
        }
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }
}

impl search::Host for HostState {
    fn search(&mut self, text: String, top_k: u32) -> Result<Vec<types::Passage>, String> {
        self.services.search(&text, top_k)
    }
}

impl embed::Host for HostState {
    fn embed(&mut self, text: String) -> Result<Vec<f32>, String> {
        self.services.embed(&text)
    }
}

impl llm::Host for HostState {
    fn complete(&mut self, messages: Vec<types::Message>) -> Result<String, String> {
        self.services.complete(messages)
    }
}
