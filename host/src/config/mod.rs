//! Configuration: one typed tree loaded from `autbot.toml`, overridden by
//! `AUTBOT_<SECTION>__<KEY>` environment variables, checked once at start-up
//! ([`check`]: every problem named by its key; the values it parses come back typed,
//! [`Checked`]).

mod checked;
mod load;
mod secrets;
mod validate;

pub use checked::{parse_net, ApiKeyHeader, Checked};
pub use load::load;
pub use secrets::{redacted_excerpt, redacted_text, redacted_url, AdminKeys, ApiKeyHash};
pub use validate::check;

pub use crate::contract::{Capability, Hook};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole configuration of one AutBot process.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub security: SecurityConfig,
    pub llm: LlmConfig,
    pub embeddings: EmbeddingsConfig,
    pub index: IndexConfig,
    pub plugins: PluginsConfig,
    pub rate_limit: RateLimitConfig,
    pub cache: CacheConfig,
    pub redis: RedisConfig,
    pub observability: ObservabilityConfig,
    pub openai_api: OpenAiApiConfig,
}

/// `[server]`: the listening socket and per-request limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    /// TCP port; 0 picks a free port (the chosen one is logged).
    pub port: u32,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub shutdown_grace_secs: u64,
    /// Requests processed at once before new ones are shed with 503.
    pub max_concurrent_requests: usize,
    /// Longest accepted query, in characters.
    pub max_query_chars: usize,
    /// A connection must deliver a complete request head within this many seconds
    /// (counted from its opening, and again from the end of each response while it is
    /// kept alive), or it is closed.
    pub header_read_timeout_secs: u64,
    /// A request body not complete within this many seconds of its head gets 408
    /// `body_timeout` and its connection is closed.
    pub body_read_timeout_secs: u64,
    /// Open connections at once; a connection beyond this is closed as soon as it is
    /// accepted (existing connections keep being served).
    pub max_connections: usize,
    /// Open connections at once from one peer IP (IPv6: one prefix of
    /// `rate_limit.ipv6_prefix_len`); trusted proxies are exempt. Beyond it, new
    /// connections of that peer are closed as soon as they are accepted.
    pub max_connections_per_ip: usize,
    /// Requests in flight at once from one client (IP, or IPv6 prefix); beyond this,
    /// 429 `too_many_concurrent_requests`.
    pub max_concurrent_per_client: usize,
    /// Serve the built-in chat page at `/`.
    pub chat_page: bool,
    /// The chat page's title (plain text).
    pub chat_title: String,
    /// The line of text under the title (plain text).
    pub chat_intro: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            request_timeout_secs: 30,
            body_limit_bytes: 32 * 1024,
            shutdown_grace_secs: 20,
            max_concurrent_requests: 256,
            max_query_chars: 2000,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            max_connections: 1024,
            max_connections_per_ip: 64,
            max_concurrent_per_client: 64,
            chat_page: true,
            chat_title: "AutBot".into(),
            chat_intro: "Ask a question about the indexed documents.".into(),
        }
    }
}

/// Deployment environment: decides how strict CORS and key checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

/// `[security]`: CORS and admin API keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    pub environment: Environment,
    pub allowed_origins: Vec<String>,
    /// Admin keys in clear (usually from `AUTBOT_SECURITY__ADMIN_API_KEYS`).
    #[serde(serialize_with = "secrets::redact_list")]
    pub admin_api_keys: Vec<SecretString>,
    /// A file with one admin key per line, either in clear or as `sha256:<hex>`.
    pub admin_api_keys_file: Option<PathBuf>,
    pub api_key_header: String,
    /// Optional client keys for `/api/*`, each with a name (shown in logs and metrics
    /// instead of the key) and its own rate-limit policy.
    pub client_keys: Vec<ClientKey>,
    /// Refuse `/api/*` requests without a client key (401). Off: the public web client
    /// keeps working without a key.
    pub require_client_key: bool,
}

/// One `[[security.client_keys]]` entry: a key in clear (`key`) or as a SHA-256 hex
/// digest (`sha256`), and its limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKey {
    pub name: String,
    #[serde(default, serialize_with = "secrets::redact_option")]
    pub key: Option<SecretString>,
    #[serde(default)]
    pub sha256: Option<String>,
    pub requests: u32,
    pub window_secs: u64,
    #[serde(default)]
    pub burst: Option<u32>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            environment: Environment::Development,
            allowed_origins: Vec::new(),
            admin_api_keys: Vec::new(),
            admin_api_keys_file: None,
            api_key_header: "X-API-Key".into(),
            client_keys: Vec::new(),
            require_client_key: false,
        }
    }
}

/// Which language model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// Embedded default: answers with the best-matching retrieved sentences.
    #[default]
    Extractive,
    /// Any OpenAI-compatible `/v1/chat/completions` endpoint.
    Openai,
}

/// `[llm]`: the answering model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: LlmProvider,
    /// Printed with credentials masked (`secrets::redacted_url`).
    #[serde(serialize_with = "secrets::redact_url")]
    pub base_url: String,
    pub model: String,
    pub timeout_secs: u64,
    pub max_retries: u32,
    pub temperature: f32,
    pub max_tokens: u32,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one trial call.
    pub breaker_cooldown_secs: u64,
    /// Read from `OPENAI_API_KEY` (never from the file).
    #[serde(skip_deserializing, serialize_with = "secrets::redact_option")]
    pub api_key: Option<SecretString>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            provider: LlmProvider::Extractive,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            timeout_secs: 20,
            max_retries: 2,
            temperature: 0.2,
            max_tokens: 512,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            api_key: None,
        }
    }
}

/// Which embedding model vectorises chunks and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingsProvider {
    /// Hashed n-gram features, no model file, no network (the fallback of `neural`).
    Local,
    /// Any OpenAI-compatible `/v1/embeddings` endpoint.
    Openai,
    /// Default: a sentence-transformer (BERT family) run in this process from
    /// `model_dir`; `local` when that folder holds no model.
    #[default]
    Neural,
}

/// `[embeddings]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    pub provider: EmbeddingsProvider,
    /// Printed with credentials masked (`secrets::redacted_url`).
    #[serde(serialize_with = "secrets::redact_url")]
    pub base_url: String,
    pub model: String,
    /// Vector size. For `local` any size from 64; for `openai` it is sent as `dimensions`.
    pub dimensions: usize,
    pub batch_size: usize,
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// Embedding requests in flight at once during indexing.
    pub concurrency: usize,
    /// `neural`: the model folder (config.json, tokenizer.json, model.safetensors,
    /// 1_Pooling/config.json), relative to the working directory.
    pub model_dir: PathBuf,
    /// `neural`: threads for a batch of texts (0 = one per core); a question uses one.
    pub threads: usize,
    #[serde(skip_deserializing, serialize_with = "secrets::redact_option")]
    pub api_key: Option<SecretString>,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        Self {
            provider: EmbeddingsProvider::Neural,
            base_url: "https://api.openai.com/v1".into(),
            model: "local-ngram-v1".into(),
            dimensions: 384,
            batch_size: 64,
            timeout_secs: 30,
            max_retries: 4,
            concurrency: 4,
            model_dir: PathBuf::from("models/all-MiniLM-L6-v2"),
            threads: 0,
            api_key: None,
        }
    }
}

/// `[index]`: ingestion, persistence and retrieval.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    pub data_dir: PathBuf,
    pub dir: PathBuf,
    /// Embedding cache, keyed by (model, content hash); survives re-indexing.
    pub cache_dir: PathBuf,
    /// Target chunk size in characters.
    pub chunk_size: usize,
    /// Characters shared by consecutive chunks (whole sentences).
    pub chunk_overlap: usize,
    pub top_k: usize,
    /// How the vector and BM25 rankings are merged.
    pub fusion: FusionMethod,
    /// Weight of the vector ranking in the fusion (0 disables vector search). Unset:
    /// chosen for the embedder (`embeddings::vector_weight`): the hashed `local`
    /// embedder is weaker than BM25 and counts less than a neural or OpenAI one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_weight: Option<f64>,
    /// Weight of the BM25 ranking in the fusion (0 disables BM25).
    pub bm25_weight: f64,
    /// The `k` constant of reciprocal-rank fusion (`fusion = "rrf"`).
    pub rrf_k: f64,
    /// Score factor of superseded documents: older versions of a document that is also
    /// indexed (`travel-policy-2023.md` next to `travel-policy-2025.md`), or documents
    /// that say they are superseded. 1 = no demotion.
    pub superseded_weight: f64,
    /// HNSW search breadth (indexes too large for `exhaustive_max_mib`).
    pub ef_search: usize,
    /// Vector search scores every vector while their 4-bit codes (dimensions / 2 + 4
    /// bytes each: 18.7 MiB for 100,000 × 384) take at most this many MiB, about what
    /// a server CPU's last-level cache holds; its recall does not depend on how the
    /// data is spread. Larger indexes walk the HNSW graph. 0 = always the graph (an
    /// index built without graph links is scanned until it is rebuilt).
    pub exhaustive_max_mib: usize,
    /// Rebuild instead of refusing to start when the stored index was made
    /// with another embedding model or dimension.
    pub rebuild_on_mismatch: bool,
    /// Files larger than this are skipped (read through a bounded reader).
    pub max_file_bytes: u64,
    /// All files of the data folder together; files beyond are skipped.
    pub max_total_bytes: u64,
    /// Most bytes one PDF's streams may decode to (decompression bombs are skipped).
    pub max_decoded_bytes: u64,
    /// Time budget for parsing one document; a slower one is skipped.
    pub max_parse_secs: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            data_dir: "data".into(),
            dir: ".autbot/index".into(),
            cache_dir: ".autbot/embed-cache".into(),
            chunk_size: 800,
            chunk_overlap: 120,
            top_k: 4,
            fusion: FusionMethod::Score,
            vector_weight: None,
            bm25_weight: 1.0,
            rrf_k: 60.0,
            superseded_weight: 0.7,
            ef_search: 64,
            exhaustive_max_mib: 32,
            rebuild_on_mismatch: true,
            max_file_bytes: 20 << 20,
            max_total_bytes: 2 << 30,
            max_decoded_bytes: 256 << 20,
            max_parse_secs: 30,
        }
    }
}

/// How retrieval merges the vector and BM25 rankings (`index.fusion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Weighted mean of the scores, normalised per ranking.
    #[default]
    Score,
    /// Weighted reciprocal-rank fusion (`rrf_k`).
    Rrf,
}

/// Fusion weight of the hashed `local` embedder (BM25's is 1): a tie-breaker. On both
/// development sets (tests/eval/) it finds no passage BM25 misses, and any larger
/// weight costs hits (README, *Evaluation*).
pub const LOCAL_VECTOR_WEIGHT: f64 = 0.02;
/// Fusion weight of neural and OpenAI embedders (BM25's is 1).
pub const MODEL_VECTOR_WEIGHT: f64 = 1.5;

/// `[plugins]`: where plugin components live and which run for each hook.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder that plugin paths are resolved against, and that is watched.
    pub dir: PathBuf,
    /// Hot-reload plugins when their files change.
    pub watch: bool,
    /// Where compiled plugin code is cached between runs (none: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Deprecated, no effect: every plugin call now runs on the request's task and
    /// yields at every epoch tick, so no call holds a thread. Still accepted so that
    /// older configuration files load.
    #[serde(skip_serializing)]
    pub inline_max_deadline_ms: u64,
    /// The plugins, in chain order per hook.
    pub chain: Vec<PluginEntry>,
    /// Public keys (ed25519, hex, optionally `ed25519:`-prefixed) whose signatures
    /// (`<file>.sig`, `autbot plugin sign`) are trusted.
    pub trusted_keys: Vec<String>,
    /// Refuse plugins without a good signature by a trusted key. Unset: on in
    /// `security.environment = "production"`, off (a warning) in development.
    pub require_signatures: Option<bool>,
    /// When a candidate version (`canary`) is withdrawn automatically.
    pub rollback: RollbackConfig,
}

/// `[plugins.rollback]`: a candidate is withdrawn when, over at least `min_calls`
/// calls of each version, its failure rate exceeds the stable version's by more than
/// `failure_rate_margin`, or its p99 latency is above `p99_ratio` times the stable
/// one's and at least `p99_min_ms` more.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RollbackConfig {
    pub min_calls: u64,
    /// In failures per call (0.05 = 5 percentage points).
    pub failure_rate_margin: f64,
    pub p99_ratio: f64,
    pub p99_min_ms: f64,
}

impl Default for RollbackConfig {
    fn default() -> Self {
        Self {
            min_calls: 100,
            failure_rate_margin: 0.05,
            p99_ratio: 2.0,
            p99_min_ms: 5.0,
        }
    }
}

/// A candidate version of a plugin: `canary = { path = "x-v2.wasm", percent = 10 }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CanaryEntry {
    /// Component file, relative to `plugins.dir` unless absolute.
    pub path: PathBuf,
    /// Share of clients it serves, 0 to 100 (sticky per client).
    pub percent: u8,
    /// Optional pin of the candidate file, as for the stable one.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl PluginsConfig {
    /// Whether signatures are required, `require_signatures` resolved against the
    /// environment.
    pub fn signatures_required(&self) -> bool {
        self.require_signatures.unwrap_or(false)
    }

    /// Fills in what depends on the environment (called once, at load).
    pub fn resolve(&mut self, environment: Environment) {
        if self.require_signatures.is_none() {
            self.require_signatures = Some(environment == Environment::Production);
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: "plugins/dist".into(),
            watch: true,
            cache_dir: Some(".autbot/plugin-cache".into()),
            inline_max_deadline_ms: 50,
            chain: Vec::new(),
            trusted_keys: Vec::new(),
            require_signatures: None,
            rollback: RollbackConfig::default(),
        }
    }
}

/// What happens to a request when one of its plugin calls fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnPluginError {
    /// The request fails with 500 `plugin_failed`.
    #[default]
    Fail,
    /// The failing plugin is skipped (its input passes through unchanged).
    Skip,
}

/// One `[[plugins.chain]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    pub name: String,
    pub hook: Hook,
    /// Component file, relative to `plugins.dir` unless absolute.
    pub path: PathBuf,
    /// Optional pin: the lowercase hex SHA-256 of the component file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// A candidate version serving a share of clients (same grant and limits).
    #[serde(default)]
    pub canary: Option<CanaryEntry>,
    /// Host capabilities the plugin may import.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Wall-clock budget of one call, in milliseconds.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Linear-memory cap of one instance, in MiB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Largest output accepted from one call, in bytes (checked before it is copied).
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: usize,
    /// Most entries in a returned list (ranked passages, prompt messages) and in the
    /// messages a plugin sends to `llm.complete`.
    #[serde(default = "default_max_output_entries")]
    pub max_output_entries: usize,
    /// Most `search` / `embed` / `llm` calls one plugin call may make; one more fails
    /// the call.
    #[serde(default = "default_max_host_calls")]
    pub max_host_calls: u32,
    /// Largest input one `llm.complete` call may send (all message contents), in bytes.
    #[serde(default = "default_max_llm_input_bytes")]
    pub max_llm_input_bytes: usize,
    /// Most log lines (the `log` capability, plus one for stderr) one call may write;
    /// the rest are dropped and counted.
    #[serde(default = "default_max_log_lines")]
    pub max_log_lines: u32,
    #[serde(default)]
    pub on_error: OnPluginError,
    /// Call the plugin once with a sample input before it serves (at start-up and on
    /// every reload); a failing self-test keeps the previous version serving.
    #[serde(default = "default_self_test")]
    pub self_test: bool,
    /// The plugin's own settings, readable through the `config` capability (printed
    /// with URL credentials and secret-looking keys masked).
    #[serde(default, serialize_with = "secrets::redact_table")]
    pub config: toml::Table,
}

fn default_self_test() -> bool {
    true
}

fn default_deadline_ms() -> u64 {
    100
}

fn default_memory_mb() -> u64 {
    32
}

fn default_max_output_bytes() -> usize {
    256 * 1024
}

fn default_max_output_entries() -> usize {
    1024
}

fn default_max_host_calls() -> u32 {
    8
}

fn default_max_llm_input_bytes() -> usize {
    64 * 1024
}

fn default_max_log_lines() -> u32 {
    16
}

/// Where rate-limit counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SharedBackend {
    /// In this process only.
    #[default]
    Memory,
    /// Shared by every replica through `[redis]`.
    Redis,
}

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnRedisError {
    /// Fall back to the in-process limiter (with a warning) and keep serving.
    #[default]
    FailOpen,
    /// Refuse with 503 until Redis is back.
    FailClosed,
}

/// One rate-limit policy: `requests` per `window_secs`, up to `burst` at once.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitPolicy {
    pub requests: u32,
    pub window_secs: u64,
    /// Requests allowed at once (default: `requests`).
    #[serde(default)]
    pub burst: Option<u32>,
}

/// `[rate_limit]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub backend: SharedBackend,
    /// Per client IP (or per client key) on `/api/*`.
    pub requests: u32,
    pub window_secs: u64,
    pub burst: Option<u32>,
    /// Per client IP on `/admin/*`.
    pub admin: LimitPolicy,
    /// Calls to the language model per minute, all clients together (0: no limit).
    pub llm_calls_per_minute: u32,
    pub on_redis_error: OnRedisError,
    /// Peers (IPs or CIDRs) whose `client_ip_header` is believed.
    pub trusted_proxies: Vec<String>,
    /// The one header that names the client behind a trusted proxy.
    pub client_ip_header: ClientIpHeader,
    /// IPv6 clients share one bucket per prefix of this length (1-128).
    pub ipv6_prefix_len: u8,
    /// Wrong API keys (client or admin) accepted per minute from one client before
    /// every request carrying a key gets 429 (0: no limit).
    pub failed_auth_per_minute: u32,
}

/// The header a trusted proxy uses to name the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (each proxy appends its peer).
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:443"`.
    #[serde(rename = "forwarded")]
    Forwarded,
    /// `X-Real-IP: client` (set, not appended, by the proxy).
    #[serde(rename = "x-real-ip")]
    XRealIp,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: SharedBackend::Memory,
            requests: 60,
            window_secs: 60,
            burst: None,
            admin: LimitPolicy {
                requests: 10,
                window_secs: 60,
                burst: None,
            },
            llm_calls_per_minute: 0,
            on_redis_error: OnRedisError::FailOpen,
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::XForwardedFor,
            ipv6_prefix_len: 64,
            failed_auth_per_minute: 10,
        }
    }
}

impl RateLimitConfig {
    /// The per-client policy of `/api/*`.
    pub fn client_policy(&self) -> LimitPolicy {
        LimitPolicy {
            requests: self.requests,
            window_secs: self.window_secs,
            burst: self.burst,
        }
    }
}

/// Where cached answers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    Off,
    #[default]
    Memory,
    Redis,
}

/// `[cache]`: the exact-match answer cache.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub backend: CacheBackend,
    pub ttl_secs: u64,
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            backend: CacheBackend::Memory,
            ttl_secs: 600,
            max_entries: 10_000,
        }
    }
}

/// `[redis]`: the shared store for several replicas.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db` (secret when it carries a password).
    #[serde(serialize_with = "secrets::redact_url")]
    pub url: String,
    pub connect_timeout_ms: u64,
    pub command_timeout_ms: u64,
    /// Prefix of every key AutBot writes.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            connect_timeout_ms: 300,
            command_timeout_ms: 200,
            key_prefix: "autbot:".into(),
        }
    }
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Pretty,
}

/// `[observability]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObservabilityConfig {
    pub log_level: String,
    pub log_format: LogFormat,
    #[serde(serialize_with = "secrets::redact_option")]
    pub sentry_dsn: Option<SecretString>,
    /// Sentry environment (default: `security.environment`).
    pub sentry_environment: Option<String>,
    /// Share of requests traced to Sentry (0 to 1).
    pub traces_sample_rate: f32,
    /// Serve `GET /metrics`.
    pub metrics_enabled: bool,
    /// Serve `/metrics` on this separate port (on `server.host`) instead of the main one.
    pub metrics_port: Option<u16>,
    /// Serve `/metrics` only on this separate address (e.g. `127.0.0.1:9100`), not on
    /// the public port. Takes the place of `metrics_port`.
    pub metrics_addr: Option<String>,
    /// Sentry envelopes waiting to be sent; beyond this they are dropped (and counted).
    pub sentry_queue_size: usize,
    /// Price per 1,000 tokens by model, for the estimated-cost metric.
    pub llm_prices: std::collections::BTreeMap<String, TokenPrice>,
}

/// Price of a model per 1,000 tokens, in US dollars.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPrice {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

impl Default for ObservabilityConfig {
    fn default() -> Self {
        Self {
            log_level: "info".into(),
            log_format: LogFormat::Json,
            sentry_dsn: None,
            sentry_environment: None,
            traces_sample_rate: 0.0,
            metrics_enabled: true,
            metrics_port: None,
            metrics_addr: None,
            sentry_queue_size: 100,
            llm_prices: std::collections::BTreeMap::new(),
        }
    }
}

/// `[openai_api]`: the OpenAI-compatible endpoints (`/v1/chat/completions`, `/v1/models`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiApiConfig {
    /// Serve `/v1/*`.
    pub enabled: bool,
    /// The model names clients may ask for, each a pipeline configuration.
    pub models: Vec<PublicModel>,
    /// Earlier messages of a conversation passed on (the oldest are dropped beyond it).
    pub max_history_messages: usize,
}

impl Default for OpenAiApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            models: vec![PublicModel::default()],
            max_history_messages: 20,
        }
    }
}

/// One `[[openai_api.models]]` entry: a name clients use as `model`, and how the
/// pipeline answers under it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PublicModel {
    /// The `model` value clients send (and `/v1/models` lists).
    pub name: String,
    /// Passages given to the model; `index.top_k` when unset.
    pub top_k: Option<usize>,
    /// Append the sources to the answer text as a markdown list.
    pub citations: bool,
}

impl Default for PublicModel {
    fn default() -> Self {
        Self {
            name: "autbot".into(),
            top_k: None,
            citations: false,
        }
    }
}
