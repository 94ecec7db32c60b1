//! The plugin host: every configured plugin in a slot holding its serving version,
//! the hook chains in configuration order, per-plugin counters, and reloads that
//! swap a new version in atomically (requests in flight finish on the old one).

use super::bindings::types;
use super::call::{invoke, BuildPrompt, CallError, HookCall, Preprocess, Rank};
use super::canary::{assigned, verdict, Candidate, VersionStats};
use super::host_state::{CallSetup, LogRate};
use super::loader::{self, LoadedPlugin};
use super::runtime::Runtime;
use super::services::{to_chat, HostServices};
use super::signature::SignaturePolicy;
use crate::config::{CanaryEntry, Hook, OnPluginError, PluginEntry, PluginsConfig, RollbackConfig};
use crate::error::Error;
use crate::llm::ChatMessage;
use crate::observability::metrics::{
    PLUGIN_CALLS, PLUGIN_CANARY_PROMOTIONS, PLUGIN_CANARY_ROLLBACKS, PLUGIN_DURATION, PLUGIN_INFO,
    PLUGIN_RELOADS,
};
use crate::rag::retrieve::Passage;
use arc_swap::{ArcSwap, ArcSwapOption};
use serde::Serialize;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One configured plugin and its serving version.
pub struct PluginSlot {
    pub entry: PluginEntry,
    /// The stable version's file (the candidate's, once promoted).
    path: ArcSwap<PathBuf>,
    name: Arc<str>,
    config: Arc<HashMap<String, String>>,
    /// The plugin's log-line rate, shared by all its calls.
    log_rate: Arc<LogRate>,
    current: ArcSwap<LoadedPlugin>,
    /// The stable version's counters since the candidate arrived (or the start).
    stable: VersionStats,
    /// The candidate version while it serves its share.
    canary: ArcSwapOption<Candidate>,
    /// The configured candidate (file, share, pin), until it is promoted.
    candidate: Mutex<Option<CanaryEntry>>,
    /// The version of a withdrawn candidate: it stays out until its file changes.
    withdrawn: Mutex<Option<String>>,
    /// Held by reloads, promotions and rollbacks: one change to the slot at a time,
    /// so a reload that compiled for seconds cannot undo a promotion meanwhile.
    changing: tokio::sync::Mutex<()>,
    calls: AtomicU64,
    failures: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl PluginSlot {
    /// The files to watch: the stable version's and the candidate's.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.path.load().as_ref().clone()];
        paths.extend(lock(&self.candidate).as_ref().map(|c| c.path.clone()));
        paths
    }

    /// The version serving `client`: the candidate's when the client is in its share.
    fn serving(&self, client: &str) -> Serving {
        let canary = self.canary.load_full();
        match canary.filter(|c| assigned(client, &self.entry.name, c.percent)) {
            Some(c) => Serving::Canary(c),
            None => Serving::Stable(self.current.load_full()),
        }
    }
}

/// A slot of `C`'s chain (from [`PluginHost::chain`]).
struct Member<'a, C> {
    slot: &'a Arc<PluginSlot>,
    _call: PhantomData<fn() -> C>,
}

/// The version chosen for one call.
enum Serving {
    Stable(Arc<LoadedPlugin>),
    Canary(Arc<Candidate>),
}

impl Serving {
    fn loaded(&self) -> &LoadedPlugin {
        match self {
            Serving::Stable(l) => l,
            Serving::Canary(c) => &c.loaded,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A candidate version's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CanaryStatus {
    pub path: String,
    pub version: String,
    pub signer: Option<String>,
    /// Share of clients it serves.
    pub percent: u8,
    pub calls: u64,
    pub failures: u64,
    pub refusals: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Status of one plugin, for `/admin/plugins`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    pub name: String,
    pub hook: String,
    pub path: String,
    /// SHA-256 of the serving file.
    pub version: String,
    /// The key id that signed the serving file, when its signature was verified.
    pub signer: Option<String>,
    /// The most linear memory one call of the serving version has used, in bytes.
    pub peak_memory_bytes: u64,
    pub size_bytes: usize,
    pub capabilities: Vec<String>,
    pub imports: Vec<String>,
    pub deadline_ms: u64,
    pub memory_mb: u64,
    pub max_output_bytes: usize,
    pub on_error: String,
    /// Unix seconds when the serving version was loaded.
    pub loaded_at_unix: u64,
    pub calls: u64,
    pub failures: u64,
    pub reloads: u64,
    pub reload_failures: u64,
    /// The last reload failure, while the previous version keeps serving.
    pub last_error: Option<String>,
    /// The stable version since the candidate arrived (or the start): calls, failures,
    /// refusals (preprocessor rejections) and latency quantiles (±41 %).
    pub stable: VersionCounters,
    /// The candidate version, while one serves.
    pub canary: Option<CanaryStatus>,
    /// The version of the last withdrawn candidate (it stays out until its file changes).
    pub canary_withdrawn: Option<String>,
}

/// A version's counters, side by side with the other's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionCounters {
    pub calls: u64,
    pub failures: u64,
    pub refusals: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl From<&VersionStats> for VersionCounters {
    fn from(s: &VersionStats) -> Self {
        Self {
            calls: s.calls.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            refusals: s.refusals.load(Ordering::Relaxed),
            p50_ms: s.quantile_ms(0.5),
            p99_ms: s.quantile_ms(0.99),
        }
    }
}

/// Which version of a plugin a reload concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadTarget {
    Stable,
    Canary,
}

impl ReloadTarget {
    fn name(self) -> &'static str {
        match self {
            ReloadTarget::Stable => "stable",
            ReloadTarget::Canary => "canary",
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadResult {
    /// The file has not changed (or is a withdrawn candidate's).
    Unchanged,
    /// The new version passed every check and serves.
    Reloaded,
    /// It failed a check; the version serving keeps serving.
    Failed,
}

/// Result of one reload attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReloadOutcome {
    pub name: String,
    pub target: ReloadTarget,
    /// `unchanged`, `reloaded` or `failed`.
    pub result: ReloadResult,
    pub version: String,
    pub error: Option<String>,
}

/// Plugin calls that may run at once. Each may use up to the per-call caps
/// (`limits.rs`), so this many fit the instance pool (`runtime.rs`) whatever the
/// plugins are: no plugin can exhaust the pool and starve the others. Calls beyond wait
/// for a place within their own deadline.
const CONCURRENT_CALLS: usize = 128;

/// All plugins of the process.
pub struct PluginHost {
    places: tokio::sync::Semaphore,
    runtime: Runtime,
    services: Arc<HostServices>,
    slots: Vec<Arc<PluginSlot>>,
    dir: PathBuf,
    signatures: SignaturePolicy,
    rollback: RollbackConfig,
}

impl PluginHost {
    /// Loads every configured plugin; any failure refuses the start (one line each).
    pub async fn new(
        config: &PluginsConfig,
        services: Arc<HostServices>,
    ) -> Result<Self, Vec<String>> {
        let runtime = Runtime::new(config.cache_dir.clone()).map_err(|e| {
            vec![format!(
                "plugins: cannot start the WebAssembly engine: {e:#}"
            )]
        })?;
        let signatures = SignaturePolicy::new(&config.trusted_keys, config.signatures_required())
            .map_err(|e| vec![format!("plugins.trusted_keys: {e}")])?;
        let mut slots = Vec::new();
        let mut problems = Vec::new();
        for entry in &config.chain {
            let path = resolve(&config.dir, &entry.path);
            let loaded = match load_blocking(&runtime, &signatures, entry, &path).await {
                Ok(l) => self_test(entry, &services, l).await,
                Err(e) => Err(e),
            };
            let candidate = entry.canary.clone().map(|mut c| {
                c.path = resolve(&config.dir, &c.path);
                c
            });
            let canary = match &candidate {
                Some(c) => {
                    let e = candidate_entry(entry, c);
                    match load_blocking(&runtime, &signatures, &e, &c.path).await {
                        Ok(l) => self_test(&e, &services, l)
                            .await
                            .map(|l| Some(new_candidate(c, l))),
                        Err(e) => Err(format!("canary: {e}")),
                    }
                }
                None => Ok(None),
            };
            match loaded.and_then(|l| canary.map(|c| (l, c))) {
                Ok((loaded, canary)) => slots.push({
                    plugin_info(entry, &loaded.sha256, 1.0);
                    if let Some(c) = &canary {
                        plugin_info(entry, &c.loaded.sha256, 1.0);
                    }
                    Arc::new(PluginSlot {
                        name: Arc::from(entry.name.as_str()),
                        config: Arc::new(plugin_config(&entry.config)),
                        log_rate: Arc::new(LogRate::default()),
                        entry: entry.clone(),
                        path: ArcSwap::from_pointee(path),
                        current: ArcSwap::from_pointee(loaded),
                        stable: VersionStats::default(),
                        canary: ArcSwapOption::new(canary.map(Arc::new)),
                        candidate: Mutex::new(candidate),
                        withdrawn: Mutex::new(None),
                        changing: tokio::sync::Mutex::new(()),
                        calls: AtomicU64::new(0),
                        failures: AtomicU64::new(0),
                        reloads: AtomicU64::new(0),
                        reload_failures: AtomicU64::new(0),
                        last_error: Mutex::new(None),
                    })
                }),
                Err(e) => problems.push(format!("plugins.chain `{}`: {e}", entry.name)),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            places: tokio::sync::Semaphore::new(CONCURRENT_CALLS),
            runtime,
            services,
            slots,
            dir: config.dir.clone(),
            signatures,
            rollback: config.rollback.clone(),
        })
    }

    /// The folder plugin paths are resolved against.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every slot, in configuration order.
    pub fn slots(&self) -> &[Arc<PluginSlot>] {
        &self.slots
    }

    /// A fingerprint of the stable versions.
    pub fn versions(&self) -> String {
        self.versions_for(None)
    }

    /// A fingerprint of the versions that serve `client` (for cache keys: a
    /// candidate's answers are never served to stable traffic, nor the reverse).
    pub fn versions_for(&self, client: Option<&str>) -> String {
        self.slots
            .iter()
            .map(|s| {
                let serving = match client {
                    Some(c) => s.serving(c),
                    None => Serving::Stable(s.current.load_full()),
                };
                format!("{}={}", s.entry.name, &serving.loaded().sha256[..16])
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The members of `C`'s chain, in configuration order: only `C` calls can be made
    /// on them (a ranker's slot cannot be given a preprocessor's input).
    fn chain<C: HookCall>(&self) -> impl Iterator<Item = Member<'_, C>> {
        self.slots
            .iter()
            .filter(|s| s.entry.hook == C::HOOK)
            .map(|slot| Member {
                slot,
                _call: PhantomData,
            })
    }

    /// Runs the preprocessor chain. `Ok(Err(..))` is a refusal by a plugin.
    pub async fn preprocess(&self, text: String, ctx: &RequestContext) -> Result<String, Error> {
        let request_id = ctx.request_id.as_str();
        let mut query = types::Query {
            text,
            request_id: request_id.to_string(),
        };
        for member in self.chain::<Preprocess>() {
            let slot = member.slot;
            let outcome = self.call(member, ctx, Preprocess(query.clone())).await;
            match self.settle(slot, outcome)? {
                None => {}
                Some(Ok(q)) => {
                    if q.text.trim().is_empty() {
                        return Err(Error::PluginFailed {
                            plugin: slot.entry.name.clone(),
                            message: "returned an empty query".into(),
                        });
                    }
                    query.text = q.text;
                }
                Some(Err(rejection)) => {
                    match slot.serving(&ctx.client) {
                        Serving::Canary(c) => c.stats.refusals.fetch_add(1, Ordering::Relaxed),
                        Serving::Stable(_) => slot.stable.refusals.fetch_add(1, Ordering::Relaxed),
                    };
                    return Err(Error::unprocessable(
                        rejection_code(&rejection.code),
                        rejection.reason,
                    ));
                }
            }
        }
        Ok(query.text)
    }

    /// Runs the ranker chain over the retrieved passages.
    pub async fn rank(
        &self,
        text: &str,
        ctx: &RequestContext,
        mut passages: Vec<Passage>,
    ) -> Result<Vec<Passage>, Error> {
        let request_id = ctx.request_id.as_str();
        for member in self.chain::<Rank>() {
            let slot = member.slot;
            let query = types::Query {
                text: text.to_string(),
                request_id: request_id.to_string(),
            };
            let candidates: Vec<types::Passage> = passages.iter().map(to_wit).collect();
            let outcome = self.call(member, ctx, Rank(query, candidates)).await;
            let Some(ranked) = self.settle(slot, outcome)? else {
                continue;
            };
            let by_id: HashMap<&str, &Passage> =
                passages.iter().map(|p| (p.id.as_str(), p)).collect();
            let mut next = Vec::with_capacity(ranked.len());
            let mut seen = std::collections::HashSet::new();
            for r in ranked {
                let Some(p) = by_id.get(r.id.as_str()) else {
                    // Clipped: the id is the plugin's text, and this message reaches the
                    // client and the log on every request.
                    let id: String = r.id.chars().take(64).collect();
                    let more = if id.len() < r.id.len() { "…" } else { "" };
                    return self
                        .contract(slot, format!("ranked an unknown passage id `{id}{more}`"));
                };
                if !r.score.is_finite() {
                    return self
                        .contract(slot, "returned a score that is not a finite number".into());
                }
                if seen.insert(r.id.clone()) {
                    next.push(Passage {
                        score: r.score,
                        ..(*p).clone()
                    });
                }
            }
            passages = next;
        }
        Ok(passages)
    }

    /// Runs the prompt-builder.
    pub async fn build_prompt(
        &self,
        text: &str,
        ctx: &RequestContext,
        passages: &[Passage],
    ) -> Result<Vec<ChatMessage>, Error> {
        let request_id = ctx.request_id.as_str();
        let Some(member) = self.chain::<BuildPrompt>().next() else {
            return Err(Error::Internal("no prompt-builder plugin is loaded".into()));
        };
        let query = types::Query {
            text: text.to_string(),
            request_id: request_id.to_string(),
        };
        let wit: Vec<types::Passage> = passages.iter().map(to_wit).collect();
        let slot = member.slot;
        let outcome = self.call(member, ctx, BuildPrompt(query, wit)).await;
        // A skipped prompt-builder has nothing to fall back to: that is a failure too.
        let messages = match outcome {
            Ok(m) => m,
            Err(e) => return Err(self.failed(slot, e)),
        };
        if messages.is_empty() {
            return self.contract(slot, "returned no messages".into());
        }
        Ok(messages.into_iter().map(to_chat).collect())
    }

    /// One call on this task, with counting and metrics.
    async fn call<C: HookCall>(
        &self,
        member: Member<'_, C>,
        ctx: &RequestContext,
        input: C,
    ) -> Result<C::Output, CallError> {
        let slot = member.slot;
        slot.calls.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let (plugin, hook) = (slot.entry.name.clone(), slot.entry.hook.name());
        let serving = slot.serving(&ctx.client);
        let loaded = serving.loaded();
        let version: String = loaded.sha256.chars().take(12).collect();
        let setup = CallSetup {
            plugin: slot.name.clone(),
            version: Arc::from(version.as_str()),
            request_id: &ctx.request_id,
            history: ctx.history.clone(),
            entry: &slot.entry,
            config: slot.config.clone(),
            services: self.services.clone(),
            log_rate: slot.log_rate.clone(),
        };
        let deadline = std::time::Duration::from_millis(slot.entry.deadline_ms);
        let outcome = match tokio::time::timeout(deadline, self.places.acquire()).await {
            Ok(Ok(_place)) => invoke(setup, loaded, input).await,
            _ => Err(CallError::Deadline(slot.entry.deadline_ms)),
        };
        let took = started.elapsed();
        metrics::histogram!(PLUGIN_DURATION, "plugin" => plugin.clone(), "hook" => hook, "version" => version.clone())
            .record(took.as_secs_f64());
        let result = if outcome.is_ok() { "ok" } else { "failed" };
        metrics::counter!(PLUGIN_CALLS, "plugin" => plugin, "hook" => hook, "outcome" => result, "version" => version)
            .increment(1);
        match &serving {
            Serving::Stable(_) => slot.stable.record(took, outcome.is_err()),
            Serving::Canary(c) => {
                c.stats.record(took, outcome.is_err());
                if let Some(reason) = verdict(&slot.stable, &c.stats, &self.rollback) {
                    self.withdraw(slot, c, "automatic", &reason);
                }
            }
        }
        outcome
    }

    /// Applies the plugin's `on_error` policy: `Ok(None)` means "skipped".
    fn settle<R>(
        &self,
        slot: &PluginSlot,
        outcome: Result<R, CallError>,
    ) -> Result<Option<R>, Error> {
        match outcome {
            Ok(r) => Ok(Some(r)),
            Err(e) if slot.entry.on_error == OnPluginError::Skip => {
                slot.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(plugin = %slot.entry.name, error = %e, "plugin failed; skipped (on_error = \"skip\")");
                Ok(None)
            }
            Err(e) => Err(self.failed(slot, e)),
        }
    }

    fn failed(&self, slot: &PluginSlot, e: CallError) -> Error {
        slot.failures.fetch_add(1, Ordering::Relaxed);
        Error::PluginFailed {
            plugin: slot.entry.name.clone(),
            message: e.to_string(),
        }
    }

    fn contract<T>(&self, slot: &PluginSlot, message: String) -> Result<T, Error> {
        Err(self.failed(slot, CallError::Contract(message)))
    }

    /// Reloads one plugin's files (stable and candidate) where they changed; a
    /// version failing any check leaves the one serving in place.
    pub async fn reload(&self, slot: &PluginSlot) -> Vec<ReloadOutcome> {
        let _changing = slot.changing.lock().await;
        let mut out = vec![self.reload_stable(slot).await];
        let spec = lock(&slot.candidate).clone();
        if let Some(spec) = spec {
            out.push(self.reload_candidate(slot, &spec).await);
        }
        out
    }

    async fn reload_stable(&self, slot: &PluginSlot) -> ReloadOutcome {
        let current = slot.current.load_full();
        let path = slot.path.load_full();
        let entry = &slot.entry;
        let outcome = match file_sha(&path) {
            Ok(sha) if sha == current.sha256 => return unchanged(entry, ReloadTarget::Stable, sha),
            Ok(_) => self.load_checked(entry, &path).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(loaded) => {
                let version = loaded.sha256.clone();
                plugin_info(entry, &current.sha256, 0.0);
                plugin_info(entry, &version, 1.0);
                slot.current.store(Arc::new(loaded));
                self.reloaded(slot, ReloadTarget::Stable, version)
            }
            Err(e) => self.reload_failed(slot, ReloadTarget::Stable, current.sha256.clone(), e),
        }
    }

    async fn reload_candidate(&self, slot: &PluginSlot, spec: &CanaryEntry) -> ReloadOutcome {
        let serving = slot.canary.load_full();
        let serving_sha = serving.as_ref().map(|c| c.loaded.sha256.clone());
        let entry = candidate_entry(&slot.entry, spec);
        let outcome = match file_sha(&spec.path) {
            Ok(sha) if Some(&sha) == serving_sha.as_ref() => {
                return unchanged(&slot.entry, ReloadTarget::Canary, sha)
            }
            // Withdrawn: it stays out until its file changes.
            Ok(sha) if lock(&slot.withdrawn).as_ref() == Some(&sha) => {
                return unchanged(&slot.entry, ReloadTarget::Canary, sha)
            }
            Ok(_) => self.load_checked(&entry, &spec.path).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(loaded) => {
                let version = loaded.sha256.clone();
                if let Some(old) = &serving_sha {
                    plugin_info(&slot.entry, old, 0.0);
                }
                plugin_info(&slot.entry, &version, 1.0);
                // Both versions count from now on, on the same traffic period.
                slot.stable.reset();
                slot.canary
                    .store(Some(Arc::new(new_candidate(spec, loaded))));
                *lock(&slot.withdrawn) = None;
                self.reloaded(slot, ReloadTarget::Canary, version)
            }
            Err(e) => {
                let version = serving_sha.unwrap_or_default();
                self.reload_failed(slot, ReloadTarget::Canary, version, e)
            }
        }
    }

    async fn load_checked(&self, entry: &PluginEntry, path: &Path) -> Result<LoadedPlugin, String> {
        let loaded = load_blocking(&self.runtime, &self.signatures, entry, path).await?;
        self_test(entry, &self.services, loaded).await
    }

    fn reloaded(&self, slot: &PluginSlot, target: ReloadTarget, version: String) -> ReloadOutcome {
        slot.reloads.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(PLUGIN_RELOADS, "plugin" => slot.entry.name.clone(), "result" => "reloaded").increment(1);
        *lock(&slot.last_error) = None;
        tracing::info!(plugin = %slot.entry.name, target = target.name(), version = %version, "plugin reloaded");
        ReloadOutcome {
            name: slot.entry.name.clone(),
            target,
            result: ReloadResult::Reloaded,
            version,
            error: None,
        }
    }

    fn reload_failed(
        &self,
        slot: &PluginSlot,
        target: ReloadTarget,
        version: String,
        e: String,
    ) -> ReloadOutcome {
        slot.reload_failures.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(PLUGIN_RELOADS, "plugin" => slot.entry.name.clone(), "result" => "failed").increment(1);
        tracing::error!(plugin = %slot.entry.name, target = target.name(), error = %e, "plugin reload failed; the version serving keeps serving");
        *lock(&slot.last_error) = Some(e.clone());
        ReloadOutcome {
            name: slot.entry.name.clone(),
            target,
            result: ReloadResult::Failed,
            version,
            error: Some(e),
        }
    }

    /// Withdraws the candidate `c` (if it is still the one serving): all traffic goes
    /// to the stable version, and the event is logged and counted.
    fn withdraw(
        &self,
        slot: &PluginSlot,
        c: &Arc<Candidate>,
        trigger: &'static str,
        reason: &str,
    ) -> bool {
        let previous = slot.canary.compare_and_swap(&Some(c.clone()), None);
        if !previous.as_ref().is_some_and(|p| Arc::ptr_eq(p, c)) {
            return false; // already withdrawn or replaced
        }
        *lock(&slot.withdrawn) = Some(c.loaded.sha256.clone());
        plugin_info(&slot.entry, &c.loaded.sha256, 0.0);
        metrics::counter!(PLUGIN_CANARY_ROLLBACKS, "plugin" => slot.entry.name.clone(), "trigger" => trigger).increment(1);
        tracing::error!(plugin = %slot.entry.name, version = %&c.loaded.sha256[..12], trigger, reason, "canary withdrawn; the stable version serves all traffic");
        true
    }

    /// The slot named `name`.
    pub fn slot(&self, name: &str) -> Option<&Arc<PluginSlot>> {
        self.slots.iter().find(|s| s.entry.name == name)
    }

    /// `POST /admin/plugins/{name}/rollback`: withdraws the candidate by hand.
    pub async fn rollback(&self, name: &str) -> Result<String, CanaryActionError> {
        let slot = self.slot(name).ok_or(CanaryActionError::UnknownPlugin)?;
        let _changing = slot.changing.lock().await;
        let c = slot
            .canary
            .load_full()
            .ok_or(CanaryActionError::NoCandidate)?;
        if !self.withdraw(slot, &c, "manual", "rolled back by an operator") {
            return Err(CanaryActionError::NoCandidate);
        }
        Ok(c.loaded.sha256.clone())
    }

    /// `POST /admin/plugins/{name}/promote`: the candidate becomes the stable version
    /// for all traffic (until restart: update the configuration to keep it).
    pub async fn promote(&self, name: &str) -> Result<String, CanaryActionError> {
        let slot = self.slot(name).ok_or(CanaryActionError::UnknownPlugin)?;
        let _changing = slot.changing.lock().await;
        let c = slot
            .canary
            .load_full()
            .ok_or(CanaryActionError::NoCandidate)?;
        let previous = slot.canary.compare_and_swap(&Some(c.clone()), None);
        if !previous.as_ref().is_some_and(|p| Arc::ptr_eq(p, &c)) {
            return Err(CanaryActionError::NoCandidate);
        }
        let old = slot.current.swap(c.loaded.clone());
        plugin_info(&slot.entry, &old.sha256, 0.0);
        slot.path.store(Arc::new(c.path.clone()));
        *lock(&slot.candidate) = None;
        slot.stable.reset();
        metrics::counter!(PLUGIN_CANARY_PROMOTIONS, "plugin" => slot.entry.name.clone())
            .increment(1);
        tracing::info!(plugin = %slot.entry.name, version = %&c.loaded.sha256[..12], "canary promoted; it serves all traffic");
        Ok(c.loaded.sha256.clone())
    }

    /// Reloads every plugin whose file changed.
    pub async fn reload_all(&self) -> Vec<ReloadOutcome> {
        let mut out = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            out.extend(self.reload(slot).await);
        }
        out
    }

    /// Status of every plugin.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.slots
            .iter()
            .map(|s| {
                let cur = s.current.load();
                PluginStatus {
                    name: s.entry.name.clone(),
                    hook: s.entry.hook.to_string(),
                    path: s.path.load().display().to_string(),
                    version: cur.sha256.clone(),
                    signer: cur.signer.clone(),
                    peak_memory_bytes: cur.peak_memory.load(Ordering::Relaxed),
                    size_bytes: cur.size,
                    capabilities: s.entry.capabilities.iter().map(|c| c.to_string()).collect(),
                    imports: cur.imports.clone(),
                    deadline_ms: s.entry.deadline_ms,
                    memory_mb: s.entry.memory_mb,
                    max_output_bytes: s.entry.max_output_bytes,
                    on_error: format!("{:?}", s.entry.on_error).to_lowercase(),
                    loaded_at_unix: cur
                        .loaded_at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                    calls: s.calls.load(Ordering::Relaxed),
                    failures: s.failures.load(Ordering::Relaxed),
                    reloads: s.reloads.load(Ordering::Relaxed),
                    reload_failures: s.reload_failures.load(Ordering::Relaxed),
                    last_error: lock(&s.last_error).clone(),
                    stable: VersionCounters::from(&s.stable),
                    canary: s.canary.load_full().map(|c| {
                        let counters = VersionCounters::from(&c.stats);
                        CanaryStatus {
                            path: c.path.display().to_string(),
                            version: c.loaded.sha256.clone(),
                            signer: c.loaded.signer.clone(),
                            percent: c.percent,
                            calls: counters.calls,
                            failures: counters.failures,
                            refusals: counters.refusals,
                            p50_ms: counters.p50_ms,
                            p99_ms: counters.p99_ms,
                        }
                    }),
                    canary_withdrawn: lock(&s.withdrawn).clone(),
                }
            })
            .collect()
    }
}

/// Sets the info gauge of one plugin version (1 serving, 0 replaced).
fn plugin_info(entry: &PluginEntry, sha256: &str, value: f64) {
    let version: String = sha256.chars().take(12).collect();
    metrics::gauge!(PLUGIN_INFO, "plugin" => entry.name.clone(), "hook" => entry.hook.name(), "version" => version).set(value);
}

/// A promotion or rollback that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum CanaryActionError {
    #[error("no plugin has this name")]
    UnknownPlugin,
    #[error("this plugin has no candidate version serving")]
    NoCandidate,
}

/// `entry` as its candidate: the candidate's file and pin, the same grant and limits.
fn candidate_entry(entry: &PluginEntry, c: &CanaryEntry) -> PluginEntry {
    PluginEntry {
        path: c.path.clone(),
        sha256: c.sha256.clone(),
        canary: None,
        ..entry.clone()
    }
}

fn new_candidate(spec: &CanaryEntry, loaded: LoadedPlugin) -> Candidate {
    Candidate {
        loaded: Arc::new(loaded),
        path: spec.path.clone(),
        percent: spec.percent,
        stats: VersionStats::default(),
    }
}

/// The SHA-256 of a file, hex.
fn file_sha(path: &Path) -> Result<String, String> {
    use sha2::Digest;
    std::fs::read(path)
        .map(|bytes| hex::encode(sha2::Sha256::digest(&bytes)))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn unchanged(entry: &PluginEntry, target: ReloadTarget, version: String) -> ReloadOutcome {
    ReloadOutcome {
        name: entry.name.clone(),
        target,
        result: ReloadResult::Unchanged,
        version,
        error: None,
    }
}

/// Plugin paths are relative to `plugins.dir` unless absolute.
fn resolve(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// The plugin's `config` table as strings: strings as-is, everything else as JSON.
fn plugin_config(table: &toml::Table) -> HashMap<String, String> {
    table
        .iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            (k.clone(), s)
        })
        .collect()
}

/// A rejection code as given when it is snake_case, else a generic one.
fn rejection_code(code: &str) -> String {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        code.to_string()
    } else {
        "rejected_by_plugin".to_string()
    }
}

fn to_wit(p: &Passage) -> types::Passage {
    types::Passage {
        id: p.id.clone(),
        text: p.text.clone(),
        source: p.source.clone(),
        heading: p.heading.clone(),
        score: p.score,
    }
}

/// What a plugin call knows of its request: its id (for log lines) and the
/// conversation before the question (capability `conversation`).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub history: Arc<[ChatMessage]>,
    /// Who asks (client key name or IP): decides, sticky, which version serves.
    pub client: String,
}

impl RequestContext {
    /// A single question, with no earlier turns.
    pub fn new(request_id: &str) -> Self {
        Self {
            request_id: request_id.to_string(),
            history: Arc::from(Vec::new()),
            client: String::new(),
        }
    }

    /// The same request from `client`.
    pub fn with_client(mut self, client: &str) -> Self {
        self.client = client.to_string();
        self
    }

    /// The same request with the conversation's earlier turns.
    pub fn with_history(mut self, history: Vec<ChatMessage>) -> Self {
        self.history = Arc::from(history);
        self
    }
}

/// Compiles and checks a plugin file on a blocking thread (compilation takes
/// milliseconds to seconds of CPU).
async fn load_blocking(
    runtime: &Runtime,
    signatures: &SignaturePolicy,
    entry: &PluginEntry,
    path: &Path,
) -> Result<LoadedPlugin, String> {
    let (runtime, entry, path) = (runtime.clone(), entry.clone(), path.to_path_buf());
    let signatures = signatures.clone();
    tokio::task::spawn_blocking(move || loader::load(&runtime, &signatures, &entry, &path))
        .await
        .map_err(|e| format!("plugin loading failed: {e}"))?
}

/// The optional self-test: one call with a sample input must not fail.
async fn self_test(
    entry: &PluginEntry,
    services: &Arc<HostServices>,
    loaded: LoadedPlugin,
) -> Result<LoadedPlugin, String> {
    if !entry.self_test {
        return Ok(loaded);
    }
    let query = types::Query {
        text: "What is AutBot?".into(),
        request_id: "self-test".into(),
    };
    let passage = types::Passage {
        id: "self-test".into(),
        text: "AutBot is a retrieval-augmented chat server.".into(),
        source: "self-test.md".into(),
        heading: String::new(),
        score: 1.0,
    };
    let attempt = || {
        let setup = CallSetup {
            plugin: Arc::from(entry.name.as_str()),
            version: Arc::from(&loaded.sha256[..12]),
            request_id: "self-test",
            history: Arc::from(Vec::new()),
            entry,
            config: Arc::new(plugin_config(&entry.config)),
            services: services.clone(),
            log_rate: Arc::new(LogRate::default()),
        };
        let (query, passage) = (query.clone(), passage.clone());
        let loaded = &loaded;
        async move {
            match entry.hook {
                Hook::Preprocessor => invoke(setup, loaded, Preprocess(query)).await.map(drop),
                Hook::Ranker => invoke(setup, loaded, Rank(query, vec![passage]))
                    .await
                    .map(drop),
                Hook::PromptBuilder => invoke(setup, loaded, BuildPrompt(query, vec![passage]))
                    .await
                    .map(drop),
            }
        }
    };
    let mut outcome = attempt().await;
    // Seen once in about 130 loads of a 12 MiB component: wasmtime could not seal the
    // memfd of its copy-on-write memory image. Transient; one more try.
    if matches!(&outcome, Err(CallError::Instantiate(m)) if m.contains("memfd")) {
        tracing::warn!(plugin = %entry.name, "self-test could not start the plugin (memory image); trying once more");
        outcome = attempt().await;
    }
    match outcome {
        Ok(()) => Ok(loaded),
        Err(e) => Err(format!("self-test call failed: the plugin {e}")),
    }
}
