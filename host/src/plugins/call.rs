//! One sandboxed plugin call: a fresh `Store` (so nothing survives between requests)
//! with the plugin's resource caps and budgets, instantiated from the prepared
//! component and run asynchronously on the caller's task.
//!
//! The deadline is a timer around the whole call, host callbacks included: guest code
//! yields to the executor at every epoch tick (2 ms), and a callback that waits (WASI
//! clocks, `search`, `embed`, `llm`) is an await point, so when the timer fires the
//! call's future is dropped wherever it is and the task moves on. No call ever blocks
//! a thread beyond one tick of guest code.

use super::bindings::types;
use super::host_state::{CallSetup, HostCallRefused, HostState};
use super::imports::CallbackDeadline;
use super::lift::{
    BoundedVec, LiftBudget, LiftError, RawQuery, RawRanked, RawRejection, RawResultMessage,
    WithBudget,
};
use super::limits::LimitHit;
use super::loader::LoadedPlugin;
use crate::contract::Hook;
use std::future::Future;
use std::time::Duration;
use wasmtime::component::{ComponentExportIndex, Instance};
use wasmtime::{Store, Trap};

/// Time a call may run past its deadline before the timer gives up on it: the
/// timer's own granularity.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(2);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("ran past its deadline of {0} ms")]
    Deadline(u64),
    #[error("exceeded its memory cap of {0} MiB")]
    Memory(u64),
    #[error("exceeded its resource caps: {0}")]
    Resources(String),
    #[error("trapped (a panic or an invalid operation)")]
    Trap,
    #[error("{0}")]
    Output(LiftError),
    #[error("{0}")]
    HostCalls(HostCallRefused),
    #[error("broke the contract: {0}")]
    Contract(String),
    #[error("could not be started: {0}")]
    Instantiate(String),
}

/// One hook's call: its input, how the export is called, and its output, lifted
/// within the plugin's output limits. Each hook is its own type, so a chain of one
/// hook can only be called with that hook's input and only yields its output.
pub trait HookCall: Send {
    type Output: Send;
    /// The hook (and WIT world) this call belongs to.
    const HOOK: Hook;
    /// Calls the export of an instance of the plugin.
    fn call(
        self,
        store: &mut Store<HostState>,
        instance: &Instance,
        export: &ComponentExportIndex,
    ) -> impl Future<Output = wasmtime::Result<Self::Output>> + Send;
}

/// `preprocess(q)`.
pub struct Preprocess(pub types::Query);
/// `rank(q, candidates)`.
pub struct Rank(pub types::Query, pub Vec<types::Passage>);
/// `build-prompt(q, passages)`.
pub struct BuildPrompt(pub types::Query, pub Vec<types::Passage>);

impl HookCall for Preprocess {
    type Output = Result<types::Query, types::Rejection>;
    const HOOK: Hook = Hook::Preprocessor;

    async fn call(
        self,
        store: &mut Store<HostState>,
        instance: &Instance,
        export: &ComponentExportIndex,
    ) -> wasmtime::Result<Self::Output> {
        let f = instance.get_typed_func::<(&types::Query,), (Result<RawQuery, RawRejection>,)>(
            &mut *store,
            export,
        )?;
        let (raw,) = f
            .call_async(&mut *store, (&self.0,))
            .await
            .map_err(call_phase)?;
        Ok(match raw {
            Ok(q) => Ok(types::Query {
                text: q.text.0,
                request_id: q.request_id.0,
            }),
            Err(r) => Err(types::Rejection {
                reason: r.reason.0,
                code: r.code.0,
            }),
        })
    }
}

impl HookCall for Rank {
    type Output = Vec<types::Ranked>;
    const HOOK: Hook = Hook::Ranker;

    async fn call(
        self,
        store: &mut Store<HostState>,
        instance: &Instance,
        export: &ComponentExportIndex,
    ) -> wasmtime::Result<Self::Output> {
        let f = instance
            .get_typed_func::<(&types::Query, &[types::Passage]), (BoundedVec<RawRanked>,)>(
                &mut *store,
                export,
            )?;
        let (raw,) = f
            .call_async(&mut *store, (&self.0, &self.1))
            .await
            .map_err(call_phase)?;
        Ok(raw
            .0
            .into_iter()
            .map(|r| types::Ranked {
                id: r.id.0,
                score: r.score,
            })
            .collect())
    }
}

impl HookCall for BuildPrompt {
    type Output = Vec<types::Message>;
    const HOOK: Hook = Hook::PromptBuilder;

    async fn call(
        self,
        store: &mut Store<HostState>,
        instance: &Instance,
        export: &ComponentExportIndex,
    ) -> wasmtime::Result<Self::Output> {
        let f = instance
            .get_typed_func::<(&types::Query, &[types::Passage]), (BoundedVec<RawResultMessage>,)>(
                &mut *store,
                export,
            )?;
        let (raw,) = f
            .call_async(&mut *store, (&self.0, &self.1))
            .await
            .map_err(call_phase)?;
        Ok(raw
            .0
            .into_iter()
            .map(|m| types::Message {
                role: m.role,
                content: m.content.0,
            })
            .collect())
    }
}

/// Runs one call in a fresh store, within its deadline; forwards stderr to the log.
pub async fn invoke<C: HookCall>(
    setup: CallSetup<'_>,
    loaded: &LoadedPlugin,
    input: C,
) -> Result<C::Output, CallError> {
    let entry = setup.entry;
    let budget = LiftBudget {
        max_entries: entry.max_output_entries,
        max_bytes: entry.max_output_bytes,
    };
    let deadline = Duration::from_millis(entry.deadline_ms);
    let mut store = Store::new(loaded.pre.engine(), HostState::new(setup));
    store.limiter(|s| &mut s.limits);
    // Guest code yields at every tick; the timer below ends the call.
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    let outcome = tokio::time::timeout(
        deadline + DEADLINE_SLACK,
        WithBudget::new(run(&mut store, loaded, input), budget),
    )
    .await;
    store.data_mut().flush_stderr();
    let used = store.data().limits.memory_used() as u64;
    loaded
        .peak_memory
        .fetch_max(used, std::sync::atomic::Ordering::Relaxed);
    match outcome {
        Err(_) => Err(CallError::Deadline(entry.deadline_ms)),
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => Err(classify(e, entry)),
    }
}

/// Instantiates and calls the hook's export. Its result is lifted within the call's
/// budget (installed by `WithBudget`), before the guest's post-return cleanup.
async fn run<C: HookCall>(
    store: &mut Store<HostState>,
    loaded: &LoadedPlugin,
    input: C,
) -> wasmtime::Result<C::Output> {
    let instance = loaded.pre.instantiate_async(&mut *store).await?;
    input.call(store, &instance, &loaded.export).await
}

/// An error from calling the export (not from instantiating it) that is none of the
/// host's own (a trap, a cap, a budget) is the guest's result failing to lift: bad
/// UTF-8, a pointer out of bounds, an invalid discriminant.
fn call_phase(e: wasmtime::Error) -> wasmtime::Error {
    let ours = e.downcast_ref::<Trap>().is_some()
        || e.downcast_ref::<LimitHit>().is_some()
        || e.downcast_ref::<CallbackDeadline>().is_some()
        || e.downcast_ref::<HostCallRefused>().is_some()
        || e.downcast_ref::<LiftError>().is_some();
    if ours {
        e
    } else {
        wasmtime::Error::new(LiftError::Invalid(format!("{e:#}")))
    }
}

fn classify(e: wasmtime::Error, entry: &crate::config::PluginEntry) -> CallError {
    let detail = format!("{e:?}");
    let err = if let Some(hit) = e.downcast_ref::<LimitHit>() {
        match hit {
            LimitHit::Memory { .. } => CallError::Memory(entry.memory_mb),
            other => CallError::Resources(other.to_string()),
        }
    } else if e.downcast_ref::<CallbackDeadline>().is_some()
        || matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt))
    {
        CallError::Deadline(entry.deadline_ms)
    } else if let Some(refused) = e.downcast_ref::<HostCallRefused>() {
        CallError::HostCalls(HostCallRefused(refused.0))
    } else if let Some(lift) = e.downcast_ref::<LiftError>() {
        CallError::Output(lift.clone())
    } else if detail.contains("resource limit exceeded")
        || detail.contains("instance count too high")
        || detail.contains("memory count too high")
        || detail.contains("table count too high")
        || detail.contains("maximum concurrent")
    {
        CallError::Resources(e.to_string())
    } else if e.downcast_ref::<Trap>().is_some() {
        CallError::Trap
    } else {
        CallError::Instantiate(e.to_string())
    };
    tracing::warn!(plugin = %entry.name, error = %err, detail = %detail.chars().take(2000).collect::<String>(), "plugin call failed");
    err
}
