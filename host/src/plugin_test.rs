//! `autbot plugin test`: runs one hook of a component on sample input, in the same
//! sandbox with the same limits as the server (it is the server's plugin host, with one
//! chain entry), against stand-in capabilities: `search` answers from a small folder of
//! documents indexed on the spot (`--docs`), `llm` with a canned reply (`--llm-reply`),
//! `embed` with the hashed embedder, `conversation` from the case's `history`. It prints
//! the result, the time, the memory used and what the component imported; a folder of
//! golden cases (`--cases`) runs in one command and fails with a diff.
//!
//! A case file is JSON:
//! `{"input": {"query": "...", "passages": [...], "history": [...]}, "expect": {...},
//!   "config": {...}, "llm_reply": "..."}` where `expect` is, by hook,
//! `{"query": "..."}` or `{"rejected": {"code": "...", "reason": "..."}}`
//! (preprocessor), `{"ranked": [{"id": "...", "score": 1.0}]}` (ranker),
//! `{"messages": [{"role": "system", "content": "..."}]}` (prompt-builder), or
//! `{"error": "<code>"}` when the call must fail.

use crate::config::{Capability, Hook, PluginEntry, PluginsConfig};
use crate::embeddings::{Embedder, LocalEmbedder};
use crate::error::Error;
use crate::llm::{Answer, AnswerRequest, ChatMessage, Extractive, Llm, TokenUsage};
use crate::plugins::{HostServices, PluginHost, RequestContext};
use crate::rag::live::LiveIndex;
use crate::rag::retrieve::Passage;
use crate::upstream::UpstreamError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run and with which stand-ins.
#[derive(Debug, Clone)]
pub struct TestSetup {
    pub file: PathBuf,
    pub hook: Hook,
    /// Capabilities granted (default: all, so any import links).
    pub grant: Option<Vec<Capability>>,
    /// Documents `search` answers from.
    pub docs: Option<PathBuf>,
    /// What `llm.complete` answers.
    pub llm_reply: Option<String>,
    pub config: toml::Table,
    pub deadline_ms: Option<u64>,
    pub memory_mb: Option<u64>,
}

/// One sample input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseInput {
    pub query: String,
    #[serde(default)]
    pub passages: Vec<CasePassage>,
    #[serde(default)]
    pub history: Vec<ChatMessage>,
}

/// A passage of a case (`source`, `heading` and `score` may be left out).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasePassage {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub heading: String,
    #[serde(default = "one")]
    pub score: f64,
}

fn one() -> f64 {
    1.0
}

/// A golden case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    input: CaseInput,
    expect: Value,
    #[serde(default)]
    config: Option<toml::Table>,
    #[serde(default)]
    llm_reply: Option<String>,
}

/// One run's report.
pub struct RunReport {
    pub output: Value,
    pub took: Duration,
    pub peak_memory_bytes: u64,
    pub imports: Vec<String>,
}

/// Loads the component as the server would and runs its hook once on `input`.
pub async fn run_once(setup: &TestSetup, input: &CaseInput) -> Result<RunReport, String> {
    let host = host(setup).await?;
    let started = Instant::now();
    let output = call(&host, setup.hook, input).await;
    let took = started.elapsed();
    let status = host.status().into_iter().next().ok_or("no plugin loaded")?;
    Ok(RunReport {
        output,
        took,
        peak_memory_bytes: status.peak_memory_bytes,
        imports: status.imports,
    })
}

/// Runs every `*.json` case in `dir`; returns the report text and whether all passed.
pub async fn run_cases(setup: &TestSetup, dir: &Path) -> Result<(String, bool), String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.json case in {}", dir.display()));
    }
    let (mut report, mut passed) = (String::new(), 0);
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let case: Case = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a case file: {e}", file.display()))?;
        let mut setup = setup.clone();
        if let Some(c) = case.config {
            setup.config.extend(c);
        }
        if case.llm_reply.is_some() {
            setup.llm_reply = case.llm_reply;
        }
        let got = run_once(&setup, &case.input).await?;
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        if got.output == case.expect {
            passed += 1;
            report.push_str(&format!("ok    {name} ({:.2} ms)\n", ms(got.took)));
        } else {
            report.push_str(&format!(
                "FAIL  {name}\n{}",
                diff(&case.expect, &got.output)
            ));
        }
    }
    report.push_str(&format!("{passed} of {} cases passed\n", files.len()));
    Ok((report, passed == files.len()))
}

/// The report of one run, for people.
pub fn describe(setup: &TestSetup, r: &RunReport) -> String {
    let cap = setup.memory_mb.unwrap_or_else(default_memory_mb);
    format!(
        "result:  {}\ntime:    {:.2} ms (one call, fresh sandbox)\nmemory:  {:.2} MiB of linear memory (cap {cap} MiB)\nimports:\n{}",
        serde_json::to_string_pretty(&r.output).unwrap_or_default(),
        ms(r.took),
        r.peak_memory_bytes as f64 / (1 << 20) as f64,
        r.imports
            .iter()
            .map(|i| format!("  {i}\n"))
            .collect::<String>()
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn default_memory_mb() -> u64 {
    let entry: PluginEntry =
        toml::from_str("name = \"x\"\nhook = \"ranker\"\npath = \"x\"").expect("defaults");
    entry.memory_mb
}

/// A plugin host with the component as its only chain entry.
async fn host(setup: &TestSetup) -> Result<PluginHost, String> {
    let mut entry: PluginEntry = toml::from_str(&format!(
        "name = {}\nhook = {}\npath = {}",
        toml_str(&name_of(&setup.file)),
        toml_str(hook_name(setup.hook)),
        toml_str(&setup.file.display().to_string()),
    ))
    .map_err(|e| e.to_string())?;
    entry.capabilities = setup
        .grant
        .clone()
        .unwrap_or_else(|| Capability::ALL.to_vec());
    entry.config = setup.config.clone();
    entry.self_test = false;
    if let Some(d) = setup.deadline_ms {
        entry.deadline_ms = d;
    }
    if let Some(m) = setup.memory_mb {
        entry.memory_mb = m;
    }
    let plugins = PluginsConfig {
        dir: PathBuf::from("."),
        watch: false,
        cache_dir: None,
        chain: vec![entry],
        require_signatures: Some(false),
        ..PluginsConfig::default()
    };
    let services = Arc::new(HostServices {
        index: Arc::new(index(setup.docs.as_deref()).await?),
        embedder: Arc::new(LocalEmbedder::new(384)),
        llm: match &setup.llm_reply {
            Some(reply) => Arc::new(Canned(reply.clone())),
            None => Arc::new(Extractive),
        },
        search_params: crate::rag::params::SearchParams::from_config(
            &crate::config::Config::default(),
        ),
    });
    PluginHost::new(&plugins, services)
        .await
        .map_err(|problems| problems.join("\n"))
}

/// The documents of `docs` indexed with the hashed embedder; without them no index is
/// loaded, and `search` fails with "the index is not loaded yet".
async fn index(docs: Option<&Path>) -> Result<LiveIndex, String> {
    let live = LiveIndex::default();
    let Some(docs) = docs else {
        return Ok(live);
    };
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = crate::config::Config::default();
    let paths = crate::rag::ingest::IngestPaths {
        data_dir: docs.to_path_buf(),
        index_dir: scratch.path().join("index"),
        cache_dir: scratch.path().join("cache"),
        limits: crate::rag::ingest::IngestLimits::from_config(&config.index),
    };
    let chunking = crate::rag::chunk::ChunkParams {
        size: config.index.chunk_size,
        overlap: config.index.chunk_overlap,
    };
    let embedder = LocalEmbedder::new(384);
    let params = crate::rag::params::SearchParams::from_config(&config);
    let (index, _) = crate::rag::ingest::build(
        &paths,
        chunking,
        &embedder as &dyn Embedder,
        params.exhaustive_max_bytes,
        false,
    )
    .await?;
    index.prepare(&params);
    live.install(index);
    Ok(live)
}

async fn call(host: &PluginHost, hook: Hook, input: &CaseInput) -> Value {
    let ctx = RequestContext::new("plugin-test").with_history(input.history.clone());
    let passages: Vec<Passage> = input
        .passages
        .iter()
        .map(|p| Passage {
            id: p.id.clone(),
            text: p.text.clone(),
            source: p.source.clone(),
            heading: p.heading.clone(),
            score: p.score,
        })
        .collect();
    let result = match hook {
        Hook::Preprocessor => host
            .preprocess(input.query.clone(), &ctx)
            .await
            .map(|q| json!({ "query": q })),
        Hook::Ranker => host.rank(&input.query, &ctx, passages).await.map(|ranked| {
            let ranked: Vec<Value> = ranked
                .iter()
                .map(|p| json!({"id": p.id, "score": p.score}))
                .collect();
            json!({ "ranked": ranked })
        }),
        Hook::PromptBuilder => host
            .build_prompt(&input.query, &ctx, &passages)
            .await
            .map(|m| json!({ "messages": m })),
    };
    match result {
        Ok(v) => v,
        Err(Error::Unprocessable { code, message }) => {
            json!({"rejected": {"code": code, "reason": message}})
        }
        Err(e) => json!({"error": e.code(), "message": e.to_string()}),
    }
}

/// Expected against got, line by line (pretty JSON).
pub fn diff(expected: &Value, got: &Value) -> String {
    let (a, b) = (
        serde_json::to_string_pretty(expected).unwrap_or_default(),
        serde_json::to_string_pretty(got).unwrap_or_default(),
    );
    let mut out = String::from("      --- expected\n      +++ got\n");
    for change in similar::TextDiff::from_lines(&a, &b).iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => " ",
        };
        out.push_str(&format!("      {sign}{change}"));
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out
}

fn name_of(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}

fn hook_name(hook: Hook) -> &'static str {
    hook.name()
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `llm` with a canned reply.
struct Canned(String);

#[async_trait::async_trait]
impl Llm for Canned {
    fn model(&self) -> String {
        "canned".into()
    }

    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError> {
        Ok(Answer {
            text: self.0.clone(),
            model: self.model(),
            usage: Some(TokenUsage::words(request.messages, &self.0)),
            finish_reason: Some("stop".into()),
        })
    }

    async fn complete(&self, _: &[ChatMessage]) -> Result<String, UpstreamError> {
        Ok(self.0.clone())
    }
}
