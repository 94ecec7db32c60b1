//! Configuration: one typed tree loaded from `autbot.toml`, overridden by
//! `AUTBOT_<SECTION>__<KEY>` environment variables, validated once at start-up.

mod load;
mod secrets;
mod validate;

pub use load::load;
pub use secrets::{AdminKeys, ApiKeyHash};
pub use validate::validate;

pub use crate::plugins::{Capability, Hook};
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            request_timeout_secs: 30,
            body_limit_bytes: 16 * 1024,
            shutdown_grace_secs: 20,
            max_concurrent_requests: 256,
            max_query_chars: 2000,
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
    /// Embedded default: hashed n-gram features, no network.
    #[default]
    Local,
    /// Any OpenAI-compatible `/v1/embeddings` endpoint.
    Openai,
}

/// `[embeddings]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    pub provider: EmbeddingsProvider,
    pub base_url: String,
    pub model: String,
    /// Vector size. For `local` any size from 64; for `openai` it is sent as `dimensions`.
    pub dimensions: usize,
    pub batch_size: usize,
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// Embedding requests in flight at once during indexing.
    pub concurrency: usize,
    #[serde(skip_deserializing, serialize_with = "secrets::redact_option")]
    pub api_key: Option<SecretString>,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        Self {
            provider: EmbeddingsProvider::Local,
            base_url: "https://api.openai.com/v1".into(),
            model: "local-ngram-v1".into(),
            dimensions: 384,
            batch_size: 64,
            timeout_secs: 30,
            max_retries: 4,
            concurrency: 4,
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
    /// Weight of the vector ranking in reciprocal-rank fusion.
    pub vector_weight: f64,
    /// Weight of the BM25 ranking in reciprocal-rank fusion (0 disables BM25).
    pub bm25_weight: f64,
    /// The `k` constant of reciprocal-rank fusion.
    pub rrf_k: f64,
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
            vector_weight: 1.0,
            bm25_weight: 1.0,
            rrf_k: 60.0,
            ef_search: 64,
            exhaustive_max_mib: 32,
            rebuild_on_mismatch: true,
        }
    }
}

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
    /// Plugins whose `deadline_ms` is at most this, and that hold no capability
    /// that waits (`search`, `embed`, `llm`), run on the request's own task instead
    /// of hopping to a blocking thread; 0 sends every call to the blocking pool.
    pub inline_max_deadline_ms: u64,
    /// The plugins, in chain order per hook.
    pub chain: Vec<PluginEntry>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: "plugins/dist".into(),
            watch: true,
            cache_dir: Some(".autbot/plugin-cache".into()),
            inline_max_deadline_ms: 50,
            chain: Vec::new(),
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
    /// Host capabilities the plugin may import.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Wall-clock budget of one call, in milliseconds.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Linear-memory cap of one instance, in MiB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Largest output accepted from one call, in bytes.
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: usize,
    #[serde(default)]
    pub on_error: OnPluginError,
    /// Call the plugin once with a sample input before it serves (at start-up and on
    /// every reload); a failing self-test keeps the previous version serving.
    #[serde(default = "default_self_test")]
    pub self_test: bool,
    /// The plugin's own settings, readable through the `config` capability.
    #[serde(default)]
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
    /// Peers (IPs or CIDRs) whose `X-Forwarded-For` / `Forwarded` headers are believed.
    pub trusted_proxies: Vec<String>,
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
            llm_prices: std::collections::BTreeMap::new(),
        }
    }
}
