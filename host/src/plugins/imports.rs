//! The host side of the capability interfaces (`log`, `config`, `search`, `embed`,
//! `llm`), linked only when granted. Written against the raw component API rather
//! than the generated traits so that every argument is lifted with a size bound
//! (`lift.rs`), every waiting call is bounded by what is left of the plugin call's
//! deadline, and every call is counted against the call's budgets.

use super::bindings::log::Level;
use super::bindings::types;
use super::host_state::{HostState, LOG_MESSAGE_CHARS};
use super::lift::{self, LiftBudget, RawMessage};
use super::{Capability, ContractVersion};
use crate::llm::budget::BUDGET_EXHAUSTED;
use std::future::Future;
use wasmtime::component::{Linker, WasmList, WasmStr};
use wasmtime::StoreContextMut;

/// The WIT package every capability interface belongs to.
const PACKAGE: &str = "autbot:plugin";

/// Largest `config` key, `search` text and `embed` text a plugin may pass, in bytes.
const MAX_ARG_BYTES: usize = 16 * 1024;
/// Bytes of one `log` message copied out of the guest (the rest is never read).
const MAX_LOG_BYTES: usize = LOG_MESSAGE_CHARS * 4;

/// A waiting host call ran into the plugin call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("a `{0}` host call was still waiting at the plugin call's deadline")]
pub struct CallbackDeadline(pub &'static str);

/// Links the interfaces of the granted capabilities, under every contract version
/// that has them (a component built against 0.1.0 imports `…/log@0.1.0`).
pub fn link(linker: &mut Linker<HostState>, granted: &[Capability]) -> wasmtime::Result<()> {
    for cap in granted {
        for version in ContractVersion::ALL
            .into_iter()
            .filter(|v| *v >= cap.since())
        {
            link_one(linker, *cap, version)?;
        }
    }
    Ok(())
}

fn link_one(
    linker: &mut Linker<HostState>,
    cap: Capability,
    version: ContractVersion,
) -> wasmtime::Result<()> {
    let mut i = linker.instance(&format!("{PACKAGE}/{}@{}", cap.name(), version.semver()))?;
    {
        match cap {
            Capability::Log => i.func_wrap("log", log)?,
            Capability::Config => i.func_wrap("get", config_get)?,
            Capability::Search => {
                i.func_wrap_async("search", |store, args| Box::new(search(store, args)))?
            }
            Capability::Embed => {
                i.func_wrap_async("embed", |store, args| Box::new(embed(store, args)))?
            }
            Capability::Llm => {
                i.func_wrap_async("complete", |store, args| Box::new(complete(store, args)))?
            }
            Capability::Conversation => i.func_wrap("history", history)?,
        }
    }
    Ok(())
}

/// Lifts one string argument: a trap when it is over `max` (the guest broke the contract).
fn arg(
    store: &mut StoreContextMut<'_, HostState>,
    s: &WasmStr,
    max: usize,
) -> wasmtime::Result<String> {
    lift::string(store, s, max).map_err(wasmtime::Error::new)
}

fn log(
    mut store: StoreContextMut<'_, HostState>,
    (level, message): (Level, WasmStr),
) -> wasmtime::Result<()> {
    if !store.data_mut().take_log_line("log") {
        return Ok(());
    }
    let text = match message.to_str(&store) {
        Ok(s) => {
            let mut end = s.len().min(MAX_LOG_BYTES);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].chars().take(LOG_MESSAGE_CHARS).collect::<String>()
        }
        Err(e) => return Err(e.context("log message is not valid UTF-8")),
    };
    let state = store.data();
    let (plugin, version, request_id) =
        (&*state.plugin, &*state.version, state.request_id.as_str());
    match level {
        Level::Debug => tracing::debug!(plugin, version, request_id, "{text}"),
        Level::Info => tracing::info!(plugin, version, request_id, "{text}"),
        Level::Warn => tracing::warn!(plugin, version, request_id, "{text}"),
        Level::Error => tracing::error!(plugin, version, request_id, "{text}"),
    }
    Ok(())
}

fn config_get(
    mut store: StoreContextMut<'_, HostState>,
    (key,): (WasmStr,),
) -> wasmtime::Result<(Option<String>,)> {
    let key = arg(&mut store, &key, MAX_ARG_BYTES)?;
    Ok((store.data().config.get(&key).cloned(),))
}

/// The conversation's earlier turns (already bounded by the host: at most
/// `openai_api.max_history_messages` messages of a body under `server.body_limit_bytes`).
fn history(
    store: StoreContextMut<'_, HostState>,
    (): (),
) -> wasmtime::Result<(Vec<types::Message>,)> {
    let turns = store
        .data()
        .history
        .iter()
        .map(super::services::to_wit_message);
    Ok((turns.collect(),))
}

/// Runs a waiting service call within what is left of the plugin call's deadline,
/// after taking it from the call's host-call budget. A refused call is an error
/// result the plugin sees; a call cut off by the deadline traps the plugin call.
async fn bounded<T, F>(
    store: &mut StoreContextMut<'_, HostState>,
    capability: &'static str,
    call: F,
) -> wasmtime::Result<Result<T, String>>
where
    F: Future<Output = Result<T, String>>,
{
    let state = store.data_mut();
    state
        .take_host_call(capability)
        .map_err(wasmtime::Error::new)?;
    let remaining = state.remaining();
    let outcome = tokio::time::timeout(remaining, call).await;
    let state = store.data();
    match outcome {
        Err(_) => {
            state.count_host_call(capability, "timeout");
            Err(wasmtime::Error::new(CallbackDeadline(capability)))
        }
        Ok(Ok(v)) => {
            state.count_host_call(capability, "ok");
            Ok(Ok(v))
        }
        Ok(Err(e)) => {
            let outcome = if e.contains(BUDGET_EXHAUSTED) {
                "refused"
            } else {
                "error"
            };
            state.count_host_call(capability, outcome);
            Ok(Err(e))
        }
    }
}

async fn search(
    mut store: StoreContextMut<'_, HostState>,
    (text, top_k): (WasmStr, u32),
) -> wasmtime::Result<(Result<Vec<types::Passage>, String>,)> {
    let text = arg(&mut store, &text, MAX_ARG_BYTES)?;
    let services = store.data().services.clone();
    let r = bounded(&mut store, "search", async move {
        services.search(&text, top_k).await
    })
    .await?;
    Ok((r,))
}

async fn embed(
    mut store: StoreContextMut<'_, HostState>,
    (text,): (WasmStr,),
) -> wasmtime::Result<(Result<Vec<f32>, String>,)> {
    let text = arg(&mut store, &text, MAX_ARG_BYTES)?;
    let services = store.data().services.clone();
    let r = bounded(
        &mut store,
        "embed",
        async move { services.embed(&text).await },
    )
    .await?;
    Ok((r,))
}

async fn complete(
    mut store: StoreContextMut<'_, HostState>,
    (messages,): (WasmList<RawMessage>,),
) -> wasmtime::Result<(Result<String, String>,)> {
    let budget = LiftBudget {
        max_entries: store.data().max_output_entries,
        max_bytes: store.data().max_llm_input_bytes,
    };
    let messages = lift::message_list(&mut store, &messages, budget).map_err(|e| {
        wasmtime::Error::new(e)
            .context("the messages passed to llm.complete are over the plugin's limits")
    })?;
    let services = store.data().services.clone();
    let r = bounded(&mut store, "llm", async move {
        services.complete(messages).await
    })
    .await?;
    Ok((r,))
}
