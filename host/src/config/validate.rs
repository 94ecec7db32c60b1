//! Start-up validation: every problem is reported on its own line naming its key.

use super::checked::{parse_net, ApiKeyHeader, Checked};
use super::{AdminKeys, Config, EmbeddingsProvider, Environment, LlmProvider};
use ipnet::IpNet;
use std::collections::HashSet;

/// Checks the configuration. Valid, it comes back with the values checking parsed
/// ([`Checked`]); otherwise every problem is reported, one message each, naming its key.
pub fn check(config: Config) -> Result<Checked, Vec<String>> {
    let (problems, parsed) = rules(&config);
    match parsed {
        Parsed {
            admin_keys: Some(admin_keys),
            api_key_header: Some(api_key_header),
            trusted_proxies,
        } if problems.is_empty() => Ok(Checked {
            config,
            admin_keys,
            api_key_header,
            trusted_proxies,
        }),
        _ => Err(problems),
    }
}

/// What the rules parse on the way (`None`: it did not parse, and a problem says so).
#[derive(Default)]
struct Parsed {
    admin_keys: Option<AdminKeys>,
    api_key_header: Option<ApiKeyHeader>,
    trusted_proxies: Vec<IpNet>,
}

/// Every rule, section by section: the problems, and what was parsed.
fn rules(c: &Config) -> (Vec<String>, Parsed) {
    let mut p = Vec::new();
    let mut parsed = Parsed::default();
    let s = &c.server;
    if s.port > 65535 {
        p.push(format!("server.port: {} is out of range (0-65535)", s.port));
    }
    if s.host.parse::<std::net::IpAddr>().is_err() && s.host != "localhost" {
        p.push(format!("server.host: `{}` is not an IP address", s.host));
    }
    for (key, value) in [
        (
            "server.request_timeout_secs",
            s.request_timeout_secs as usize,
        ),
        ("server.body_limit_bytes", s.body_limit_bytes),
        ("server.shutdown_grace_secs", s.shutdown_grace_secs as usize),
        ("server.max_concurrent_requests", s.max_concurrent_requests),
        ("server.max_query_chars", s.max_query_chars),
        (
            "server.header_read_timeout_secs",
            s.header_read_timeout_secs as usize,
        ),
        (
            "server.body_read_timeout_secs",
            s.body_read_timeout_secs as usize,
        ),
        ("server.max_connections", s.max_connections),
        ("server.max_connections_per_ip", s.max_connections_per_ip),
        (
            "server.max_concurrent_per_client",
            s.max_concurrent_per_client,
        ),
    ] {
        if value == 0 {
            p.push(format!("{key}: must be greater than 0"));
        }
    }

    let sec = &c.security;
    for origin in &sec.allowed_origins {
        if origin == "*" {
            if sec.environment == Environment::Production {
                p.push("security.allowed_origins: `*` is not allowed in production; list the exact origins".into());
            }
        } else if !is_origin(origin) {
            p.push(format!(
                "security.allowed_origins: `{origin}` is not an origin like https://app.example.com"
            ));
        }
    }
    parsed.api_key_header = ApiKeyHeader::parse(&sec.api_key_header);
    if parsed.api_key_header.is_none() {
        p.push(format!(
            "security.api_key_header: `{}` is not a valid header name",
            sec.api_key_header
        ));
    }
    match AdminKeys::load(&sec.admin_api_keys, sec.admin_api_keys_file.as_deref()) {
        Ok(keys) => {
            if keys.is_empty() && sec.environment == Environment::Production {
                p.push(
                    "security.admin_api_keys: production needs at least one admin key (AUTBOT_SECURITY__ADMIN_API_KEYS or security.admin_api_keys_file)".into(),
                );
            }
            parsed.admin_keys = Some(keys);
        }
        Err(e) => p.push(e),
    }

    if c.llm.provider == LlmProvider::Openai && c.llm.api_key.is_none() {
        p.push(
            "llm.api_key: provider \"openai\" needs the OPENAI_API_KEY environment variable".into(),
        );
    }
    if c.embeddings.provider == EmbeddingsProvider::Openai && c.embeddings.api_key.is_none() {
        p.push(
            "embeddings.api_key: provider \"openai\" needs the OPENAI_API_KEY environment variable"
                .into(),
        );
    }
    for (key, url) in [
        ("llm.base_url", &c.llm.base_url),
        ("embeddings.base_url", &c.embeddings.base_url),
    ] {
        if reqwest::Url::parse(url)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            p.push(format!(
                "{key}: `{}` is not an http(s) URL",
                super::redacted_url(url)
            ));
        }
    }
    if c.llm.timeout_secs == 0 {
        p.push("llm.timeout_secs: must be greater than 0".into());
    }
    let e = &c.embeddings;
    if !(8..=8192).contains(&e.dimensions) {
        p.push(format!(
            "embeddings.dimensions: {} is out of range (8-8192)",
            e.dimensions
        ));
    }
    if e.batch_size == 0 || e.concurrency == 0 {
        p.push("embeddings.batch_size and embeddings.concurrency: must be greater than 0".into());
    }
    if e.threads > 256 {
        p.push(format!(
            "embeddings.threads: {} is out of range (0 = one per core, at most 256)",
            e.threads
        ));
    }
    if e.provider == EmbeddingsProvider::Neural && e.model_dir.as_os_str().is_empty() {
        p.push("embeddings.model_dir: must name the model folder".into());
    }

    let i = &c.index;
    if i.chunk_size < 50 {
        p.push(format!(
            "index.chunk_size: {} is too small (at least 50 characters)",
            i.chunk_size
        ));
    }
    if i.chunk_overlap >= i.chunk_size {
        p.push(format!(
            "index.chunk_overlap: {} must be smaller than index.chunk_size ({})",
            i.chunk_overlap, i.chunk_size
        ));
    }
    if !(1..=50).contains(&i.top_k) {
        p.push(format!("index.top_k: {} is out of range (1-50)", i.top_k));
    }
    // Unset, the weight is chosen for the embedder (`embeddings::vector_weight`), and
    // either choice is positive: this rule does not depend on which.
    let vector_weight = i.vector_weight.unwrap_or(super::LOCAL_VECTOR_WEIGHT);
    let weights_ok = vector_weight.is_finite() && i.bm25_weight.is_finite();
    if !weights_ok
        || vector_weight < 0.0
        || i.bm25_weight < 0.0
        || vector_weight + i.bm25_weight <= 0.0
    {
        p.push(
            "index.vector_weight / index.bm25_weight: must be non-negative and not both 0".into(),
        );
    }
    if !(0.0..=1.0).contains(&i.superseded_weight) {
        p.push(format!(
            "index.superseded_weight: {} is out of range (0-1; 1 = no demotion)",
            i.superseded_weight
        ));
    }
    if !(i.rrf_k.is_finite() && i.rrf_k >= 0.0) {
        p.push(format!("index.rrf_k: {} must be a number >= 0", i.rrf_k));
    }
    if i.max_file_bytes == 0 || i.max_file_bytes > i.max_total_bytes {
        p.push(format!(
            "index.max_file_bytes: {} must be at least 1 and at most index.max_total_bytes ({})",
            i.max_file_bytes, i.max_total_bytes
        ));
    }
    if i.max_decoded_bytes < 1 << 20 {
        p.push(format!(
            "index.max_decoded_bytes: {} is too small (at least 1048576)",
            i.max_decoded_bytes
        ));
    }
    if !(1..=3600).contains(&i.max_parse_secs) {
        p.push(format!(
            "index.max_parse_secs: {} is out of range (1-3600)",
            i.max_parse_secs
        ));
    }

    let mut client_names = HashSet::new();
    for k in &sec.client_keys {
        let key = format!("security.client_keys ({})", k.name);
        if !client_names.insert(k.name.as_str()) || k.name.is_empty() {
            p.push(format!("{key}: names must be unique and non-empty"));
        }
        match (&k.key, &k.sha256) {
            (Some(_), None) => {}
            (None, Some(h)) if super::ApiKeyHash::from_hex(h).is_some() => {}
            (None, Some(_)) => p.push(format!("{key}.sha256: must be 64 hex digits")),
            _ => p.push(format!("{key}: give exactly one of `key` or `sha256`")),
        }
        if k.requests == 0 || k.window_secs == 0 || k.burst == Some(0) {
            p.push(format!(
                "{key}: requests, window_secs and burst must be greater than 0"
            ));
        }
    }
    if sec.require_client_key && sec.client_keys.is_empty() {
        p.push("security.require_client_key: no security.client_keys are configured".into());
    }

    let r = &c.rate_limit;
    for (key, policy) in [
        ("rate_limit", r.client_policy()),
        ("rate_limit.admin", r.admin),
    ] {
        if policy.requests == 0 || policy.window_secs == 0 || policy.burst == Some(0) {
            p.push(format!(
                "{key}: requests, window_secs and burst must be greater than 0"
            ));
        }
    }
    for proxy in &r.trusted_proxies {
        match parse_net(proxy) {
            Some(net) => parsed.trusted_proxies.push(net),
            None => p.push(format!(
                "rate_limit.trusted_proxies: `{proxy}` is not an IP address or CIDR"
            )),
        }
    }
    if !(1..=128).contains(&r.ipv6_prefix_len) {
        p.push(format!(
            "rate_limit.ipv6_prefix_len: {} is out of range (1-128)",
            r.ipv6_prefix_len
        ));
    }
    let redis_used =
        r.backend == super::SharedBackend::Redis || c.cache.backend == super::CacheBackend::Redis;
    if redis_used && redis::Client::open(c.redis.url.as_str()).is_err() {
        p.push("redis.url: not a valid redis:// URL".into());
    }
    if c.cache.backend != super::CacheBackend::Off
        && (c.cache.ttl_secs == 0 || c.cache.max_entries == 0)
    {
        p.push("cache.ttl_secs and cache.max_entries: must be greater than 0 (or cache.backend = \"off\")".into());
    }

    for key in &c.plugins.trusted_keys {
        if let Err(e) = crate::contract::parse_public_key(key) {
            p.push(format!("plugins.trusted_keys: {e}"));
        }
    }
    if c.plugins.signatures_required()
        && c.plugins.trusted_keys.is_empty()
        && !c.plugins.chain.is_empty()
    {
        p.push(
            "plugins.trusted_keys: signed plugins are required (plugins.require_signatures, on by default in production) but no key is trusted; add the public keys that sign your plugins (`autbot plugin keygen`, `autbot plugin sign`) or set plugins.require_signatures = false".into(),
        );
    }

    let mut names = HashSet::new();
    for (n, entry) in c.plugins.chain.iter().enumerate() {
        let key = format!("plugins.chain[{n}] ({})", entry.name);
        if !names.insert(entry.name.as_str()) {
            p.push(format!("{key}: duplicate plugin name"));
        }
        let canary_pin = entry.canary.as_ref().and_then(|c| c.sha256.as_ref());
        for pin in entry.sha256.iter().chain(canary_pin) {
            if pin.len() != 64 || !pin.chars().all(|ch| ch.is_ascii_hexdigit()) {
                p.push(format!("{key}.sha256: must be 64 hex digits"));
            }
        }
        if let Some(canary) = &entry.canary {
            // 0 serves nobody; 100 leaves the stable version no calls to compare with,
            // so the automatic rollback could never fire (promote instead).
            if !(1..=99).contains(&canary.percent) {
                p.push(format!(
                    "{key}.canary.percent: must be between 1 and 99 (to move everyone, promote it)"
                ));
            }
            if canary.path == entry.path {
                p.push(format!(
                    "{key}.canary.path: must be another file than `path`"
                ));
            }
        }
        if entry.memory_mb > crate::contract::MAX_PLUGIN_MEMORY_MB {
            p.push(format!(
                "{key}.memory_mb: {} is above the host maximum of {} MiB",
                entry.memory_mb,
                crate::contract::MAX_PLUGIN_MEMORY_MB
            ));
        }
        if entry.deadline_ms == 0
            || entry.memory_mb == 0
            || entry.max_output_bytes == 0
            || entry.max_output_entries == 0
        {
            p.push(format!(
                "{key}: deadline_ms, memory_mb, max_output_bytes and max_output_entries must be greater than 0"
            ));
        }
    }
    let r = &c.plugins.rollback;
    // Written so that NaN fails every comparison and is refused.
    let ok = r.min_calls > 0
        && (0.0..=1.0).contains(&r.failure_rate_margin)
        && r.p99_ratio >= 1.0
        && r.p99_ratio.is_finite()
        && r.p99_min_ms >= 0.0
        && r.p99_min_ms.is_finite();
    if !ok {
        p.push("plugins.rollback: min_calls > 0, failure_rate_margin in 0..1, p99_ratio >= 1 and p99_min_ms >= 0".into());
    }
    let api = &c.openai_api;
    if api.enabled && api.models.is_empty() {
        p.push("openai_api.models: at least one model is needed while openai_api.enabled".into());
    }
    let mut model_names = HashSet::new();
    for (n, m) in api.models.iter().enumerate() {
        let key = format!("openai_api.models[{n}]");
        if m.name.trim().is_empty() || m.name.len() > 128 {
            p.push(format!("{key}.name: must be 1 to 128 characters"));
        }
        if !model_names.insert(m.name.as_str()) {
            p.push(format!("{key}.name: `{}` is listed twice", m.name));
        }
        if let Some(k) = m.top_k.filter(|k| !(1..=50).contains(k)) {
            p.push(format!("{key}.top_k: {k} is out of range (1-50)"));
        }
    }
    if api.max_history_messages > 1000 {
        p.push(format!(
            "openai_api.max_history_messages: {} is out of range (0-1000)",
            api.max_history_messages
        ));
    }
    let builders = c
        .plugins
        .chain
        .iter()
        .filter(|e| e.hook == super::Hook::PromptBuilder)
        .count();
    if builders != 1 {
        p.push(format!(
            "plugins.chain: exactly one prompt-builder plugin is needed, found {builders}"
        ));
    }

    let o = &c.observability;
    if let Some(addr) = &o.metrics_addr {
        if addr.parse::<std::net::SocketAddr>().is_err() {
            p.push(format!(
                "observability.metrics_addr: `{addr}` is not an address like 127.0.0.1:9100"
            ));
        }
        if o.metrics_port.is_some() {
            p.push(
                "observability.metrics_addr: give it or observability.metrics_port, not both"
                    .into(),
            );
        }
    }
    if o.sentry_queue_size == 0 {
        p.push("observability.sentry_queue_size: must be greater than 0".into());
    }
    if tracing_subscriber::EnvFilter::try_new(&c.observability.log_level).is_err() {
        p.push(format!(
            "observability.log_level: `{}` is not a valid level or filter",
            c.observability.log_level
        ));
    }
    (p, parsed)
}

/// `scheme://host[:port]` with nothing after it.
fn is_origin(origin: &str) -> bool {
    match reqwest::Url::parse(origin) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && !origin.ends_with('/')
                && u.query().is_none()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
