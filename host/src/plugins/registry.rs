//! The plugin host: every configured plugin in a slot holding its serving version,
//! the hook chains in configuration order, per-plugin counters, and reloads that
//! swap a new version in atomically (requests in flight finish on the old one).

use super::bindings::types;
use super::call::{invoke, CallError, HookInput, HookOutput};
use super::host_state::{CallSetup, LogRate};
use super::loader::{self, LoadedPlugin};
use super::runtime::Runtime;
use super::services::{to_chat, HostServices};
use super::signature::SignaturePolicy;
use crate::config::{Hook, OnPluginError, PluginEntry, PluginsConfig};
use crate::error::Error;
use crate::llm::ChatMessage;
use crate::observability::metrics::{PLUGIN_CALLS, PLUGIN_DURATION, PLUGIN_INFO, PLUGIN_RELOADS};
use crate::rag::retrieve::Passage;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One configured plugin and its serving version.
pub struct PluginSlot {
    pub entry: PluginEntry,
    pub path: PathBuf,
    name: Arc<str>,
    config: Arc<HashMap<String, String>>,
    /// The plugin's log-line rate, shared by all its calls.
    log_rate: Arc<LogRate>,
    current: ArcSwap<LoadedPlugin>,
    calls: AtomicU64,
    failures: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    last_error: Mutex<Option<String>>,
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
}

/// Result of one reload attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReloadOutcome {
    pub name: String,
    /// `unchanged`, `reloaded` or `failed`.
    pub result: String,
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
            match loaded {
                Ok(loaded) => slots.push({
                    plugin_info(entry, &loaded.sha256, 1.0);
                    Arc::new(PluginSlot {
                        name: Arc::from(entry.name.as_str()),
                        config: Arc::new(plugin_config(&entry.config)),
                        log_rate: Arc::new(LogRate::default()),
                        entry: entry.clone(),
                        path,
                        current: ArcSwap::from_pointee(loaded),
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

    /// A fingerprint of the serving versions (for cache keys).
    pub fn versions(&self) -> String {
        self.slots
            .iter()
            .map(|s| format!("{}={}", s.entry.name, &s.current.load().sha256[..16]))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn chain(&self, hook: Hook) -> impl Iterator<Item = &Arc<PluginSlot>> {
        self.slots.iter().filter(move |s| s.entry.hook == hook)
    }

    /// Runs the preprocessor chain. `Ok(Err(..))` is a refusal by a plugin.
    pub async fn preprocess(&self, text: String, ctx: &RequestContext) -> Result<String, Error> {
        let request_id = ctx.request_id.as_str();
        let mut query = types::Query {
            text,
            request_id: request_id.to_string(),
        };
        for slot in self.chain(Hook::Preprocessor) {
            let outcome = self
                .call(slot, ctx, HookInput::Preprocess(query.clone()))
                .await
                .and_then(|out| match out {
                    HookOutput::Preprocess(r) => Ok(r),
                    _ => Err(CallError::Contract("wrong hook output".into())),
                });
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
                    return Err(Error::unprocessable(
                        rejection_code(&rejection.code),
                        rejection.reason,
                    ))
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
        for slot in self.chain(Hook::Ranker) {
            let query = types::Query {
                text: text.to_string(),
                request_id: request_id.to_string(),
            };
            let candidates: Vec<types::Passage> = passages.iter().map(to_wit).collect();
            let outcome = self
                .call(slot, ctx, HookInput::Rank(query, candidates))
                .await
                .and_then(|out| match out {
                    HookOutput::Rank(r) => Ok(r),
                    _ => Err(CallError::Contract("wrong hook output".into())),
                });
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
        let Some(slot) = self.chain(Hook::PromptBuilder).next() else {
            return Err(Error::Internal("no prompt-builder plugin is loaded".into()));
        };
        let query = types::Query {
            text: text.to_string(),
            request_id: request_id.to_string(),
        };
        let wit: Vec<types::Passage> = passages.iter().map(to_wit).collect();
        let outcome = self
            .call(slot, ctx, HookInput::BuildPrompt(query, wit))
            .await
            .and_then(|out| match out {
                HookOutput::BuildPrompt(m) => Ok(m),
                _ => Err(CallError::Contract("wrong hook output".into())),
            });
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
    async fn call(
        &self,
        slot: &Arc<PluginSlot>,
        ctx: &RequestContext,
        input: HookInput,
    ) -> Result<HookOutput, CallError> {
        slot.calls.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let (plugin, hook) = (slot.entry.name.clone(), slot.entry.hook.name());
        let loaded = slot.current.load_full();
        let setup = CallSetup {
            plugin: slot.name.clone(),
            request_id: &ctx.request_id,
            history: ctx.history.clone(),
            entry: &slot.entry,
            config: slot.config.clone(),
            services: self.services.clone(),
            log_rate: slot.log_rate.clone(),
        };
        let deadline = std::time::Duration::from_millis(slot.entry.deadline_ms);
        let outcome = match tokio::time::timeout(deadline, self.places.acquire()).await {
            Ok(Ok(_place)) => invoke(setup, &loaded, input).await,
            _ => Err(CallError::Deadline(slot.entry.deadline_ms)),
        };
        metrics::histogram!(PLUGIN_DURATION, "plugin" => plugin.clone(), "hook" => hook)
            .record(started.elapsed().as_secs_f64());
        let result = if outcome.is_ok() { "ok" } else { "failed" };
        metrics::counter!(PLUGIN_CALLS, "plugin" => plugin, "hook" => hook, "outcome" => result)
            .increment(1);
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

    /// Reloads one plugin from its file if the file changed; the old version keeps
    /// serving when the new one fails any check.
    pub async fn reload(&self, slot: &PluginSlot) -> ReloadOutcome {
        let current = slot.current.load_full();
        let result = std::fs::read(&slot.path)
            .map_err(|e| format!("cannot read {}: {e}", slot.path.display()))
            .map(|bytes| {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&bytes))
            });
        let outcome = match result {
            Ok(sha) if sha == current.sha256 => {
                return ReloadOutcome {
                    name: slot.entry.name.clone(),
                    result: "unchanged".into(),
                    version: sha,
                    error: None,
                }
            }
            Ok(_) => match load_blocking(&self.runtime, &self.signatures, &slot.entry, &slot.path)
                .await
            {
                Ok(l) => self_test(&slot.entry, &self.services, l).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(loaded) => {
                let version = loaded.sha256.clone();
                plugin_info(&slot.entry, &current.sha256, 0.0);
                plugin_info(&slot.entry, &version, 1.0);
                slot.current.store(Arc::new(loaded));
                slot.reloads.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(PLUGIN_RELOADS, "plugin" => slot.entry.name.clone(), "result" => "reloaded").increment(1);
                *slot.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::info!(plugin = %slot.entry.name, version = %version, "plugin reloaded");
                ReloadOutcome {
                    name: slot.entry.name.clone(),
                    result: "reloaded".into(),
                    version,
                    error: None,
                }
            }
            Err(e) => {
                slot.reload_failures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(PLUGIN_RELOADS, "plugin" => slot.entry.name.clone(), "result" => "failed").increment(1);
                tracing::error!(plugin = %slot.entry.name, error = %e, "plugin reload failed; the previous version keeps serving");
                *slot.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
                ReloadOutcome {
                    name: slot.entry.name.clone(),
                    result: "failed".into(),
                    version: current.sha256.clone(),
                    error: Some(e),
                }
            }
        }
    }

    /// Reloads every plugin whose file changed.
    pub async fn reload_all(&self) -> Vec<ReloadOutcome> {
        let mut out = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            out.push(self.reload(slot).await);
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
                    path: s.path.display().to_string(),
                    version: cur.sha256.clone(),
                    signer: cur.signer.clone(),
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
                    last_error: s
                        .last_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
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
}

impl RequestContext {
    /// A single question, with no earlier turns.
    pub fn new(request_id: &str) -> Self {
        Self {
            request_id: request_id.to_string(),
            history: Arc::from(Vec::new()),
        }
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
    let input = match entry.hook {
        Hook::Preprocessor => HookInput::Preprocess(query),
        Hook::Ranker => HookInput::Rank(query, vec![passage]),
        Hook::PromptBuilder => HookInput::BuildPrompt(query, vec![passage]),
    };
    let setup = CallSetup {
        plugin: Arc::from(entry.name.as_str()),
        request_id: "self-test",
        history: Arc::from(Vec::new()),
        entry,
        config: Arc::new(plugin_config(&entry.config)),
        services: services.clone(),
        log_rate: Arc::new(LogRate::default()),
    };
    match invoke(setup, &loaded, input).await {
        Ok(_) => Ok(loaded),
        Err(e) => Err(format!("self-test call failed: the plugin {e}")),
    }
}
