//! One sandboxed plugin call: a fresh `Store` (so nothing survives between requests)
//! with the plugin's memory cap and CPU deadline, instantiated from the prepared
//! component; failures are classified for the user and the logs.

use super::host_state::HostState;
use super::loader::LoadedPlugin;
use super::runtime::EPOCH_TICK;
use super::services::HostServices;
use crate::config::PluginEntry;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("ran past its deadline of {0} ms")]
    Deadline(u64),
    #[error("exceeded its memory cap of {0} MiB")]
    Memory(u64),
    #[error("trapped (a panic or an invalid operation)")]
    Trap,
    #[error("returned {0} bytes, more than its limit of {1}")]
    Output(usize, usize),
    #[error("broke the contract: {0}")]
    Contract(String),
    #[error("could not be started: {0}")]
    Instantiate(String),
}

/// What one call needs besides the component.
pub struct CallContext<'a> {
    pub name: &'a Arc<str>,
    pub entry: &'a PluginEntry,
    pub config: &'a Arc<HashMap<String, String>>,
    pub services: &'a Arc<HostServices>,
    pub request_id: &'a str,
}

/// Runs `f` against a fresh store; classifies failures and forwards plugin stderr to the log.
pub fn with_store<R>(
    engine: &wasmtime::Engine,
    ctx: &CallContext<'_>,
    loaded: &LoadedPlugin,
    f: impl FnOnce(&mut Store<HostState>, &LoadedPlugin) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    let limits = StoreLimitsBuilder::new()
        .memory_size((ctx.entry.memory_mb << 20) as usize)
        .trap_on_grow_failure(true)
        .build();
    let state = HostState::new(
        ctx.name.clone(),
        ctx.request_id.to_string(),
        ctx.config.clone(),
        ctx.services.clone(),
        limits,
    );
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    let ticks = ctx
        .entry
        .deadline_ms
        .div_ceil(EPOCH_TICK.as_millis() as u64)
        + 1;
    store.set_epoch_deadline(ticks);
    let outcome = f(&mut store, loaded);
    let stderr = store.data().stderr.contents();
    if !stderr.is_empty() {
        let text = String::from_utf8_lossy(&stderr);
        tracing::warn!(plugin = %ctx.name, request_id = ctx.request_id, stderr = %text.trim_end(), "plugin wrote to stderr");
    }
    outcome.map_err(|e| classify(e, ctx.entry))
}

fn classify(e: wasmtime::Error, entry: &PluginEntry) -> CallError {
    let detail = format!("{e:?}");
    let err = if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        CallError::Deadline(entry.deadline_ms)
    } else if detail.contains("growing memory")
        || detail.contains("memory") && detail.contains("limit")
    {
        CallError::Memory(entry.memory_mb)
    } else if e.downcast_ref::<Trap>().is_some() {
        CallError::Trap
    } else {
        CallError::Instantiate(e.to_string())
    };
    tracing::warn!(plugin = %entry.name, error = %err, detail = %detail.chars().take(2000).collect::<String>(), "plugin call failed");
    err
}
