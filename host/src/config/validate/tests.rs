//! Every rule of [`check`]: one broken value at a time, the exact message it gives
//! (naming its key), and nothing else. Then what a valid configuration comes back with.

use super::super::{
    CacheBackend, ClientKey, Config, EmbeddingsProvider, Environment, LlmProvider, PluginEntry,
    SharedBackend, LOCAL_VECTOR_WEIGHT,
};
use super::check;
use secrecy::SecretString;

/// The smallest valid configuration: the defaults and one prompt builder.
fn valid() -> Config {
    let mut c = Config::default();
    c.plugins.chain.push(plugin("prompt", "prompt-builder"));
    c
}

fn plugin(name: &str, hook: &str) -> PluginEntry {
    toml::from_str(&format!(
        "name = \"{name}\"\nhook = \"{hook}\"\npath = \"{name}.wasm\""
    ))
    .expect("a plugin entry")
}

fn client_key(name: &str) -> ClientKey {
    ClientKey {
        name: name.into(),
        key: Some(SecretString::from("k")),
        sha256: None,
        requests: 10,
        window_secs: 60,
        burst: None,
    }
}

/// A change to the configuration.
type Edit = fn(&mut Config);

/// The problems of `valid()` after `edit`.
fn problems(edit: impl FnOnce(&mut Config)) -> Vec<String> {
    let mut c = valid();
    edit(&mut c);
    check(c).err().unwrap_or_default()
}

/// `edit` gives exactly `expected`.
#[track_caller]
fn gives(edit: impl FnOnce(&mut Config), expected: &[&str]) {
    assert_eq!(problems(edit), expected);
}

#[test]
fn the_base_configuration_is_valid() {
    assert_eq!(problems(|_| {}), Vec::<String>::new());
}

#[test]
fn server() {
    gives(
        |c| c.server.port = 70000,
        &["server.port: 70000 is out of range (0-65535)"],
    );
    gives(
        |c| c.server.host = "example.com".into(),
        &["server.host: `example.com` is not an IP address"],
    );
    gives(|c| c.server.host = "localhost".into(), &[]);
    gives(|c| c.server.host = "::1".into(), &[]);
    let zero: [(&str, Edit); 10] = [
        ("server.request_timeout_secs", |c| {
            c.server.request_timeout_secs = 0
        }),
        ("server.body_limit_bytes", |c| c.server.body_limit_bytes = 0),
        ("server.shutdown_grace_secs", |c| {
            c.server.shutdown_grace_secs = 0
        }),
        ("server.max_concurrent_requests", |c| {
            c.server.max_concurrent_requests = 0
        }),
        ("server.max_query_chars", |c| c.server.max_query_chars = 0),
        ("server.header_read_timeout_secs", |c| {
            c.server.header_read_timeout_secs = 0
        }),
        ("server.body_read_timeout_secs", |c| {
            c.server.body_read_timeout_secs = 0
        }),
        ("server.max_connections", |c| c.server.max_connections = 0),
        ("server.max_connections_per_ip", |c| {
            c.server.max_connections_per_ip = 0
        }),
        ("server.max_concurrent_per_client", |c| {
            c.server.max_concurrent_per_client = 0
        }),
    ];
    for (key, edit) in zero {
        gives(edit, &[&format!("{key}: must be greater than 0")]);
    }
}

#[test]
fn security() {
    gives(|c| c.security.allowed_origins = vec!["*".into()], &[]);
    gives(
        |c| {
            c.security.environment = Environment::Production;
            c.security.admin_api_keys = vec![SecretString::from("admin")];
            c.security.allowed_origins = vec!["*".into()];
        },
        &["security.allowed_origins: `*` is not allowed in production; list the exact origins"],
    );
    for origin in [
        "https://app.example.com/",
        "app.example.com",
        "ftp://x.example",
        "https://x.example/path",
    ] {
        gives(
            |c| c.security.allowed_origins = vec![origin.into()],
            &[&format!("security.allowed_origins: `{origin}` is not an origin like https://app.example.com")],
        );
    }
    gives(
        |c| c.security.allowed_origins = vec!["http://localhost:3000".into()],
        &[],
    );
    for header in ["", "  ", "X API Key", "é"] {
        gives(
            |c| c.security.api_key_header = header.into(),
            &[&format!(
                "security.api_key_header: `{header}` is not a valid header name"
            )],
        );
    }
    gives(
        |c| c.security.environment = Environment::Production,
        &["security.admin_api_keys: production needs at least one admin key (AUTBOT_SECURITY__ADMIN_API_KEYS or security.admin_api_keys_file)"],
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent");
    let problems = problems(|c| c.security.admin_api_keys_file = Some(missing.clone()));
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with(&format!(
            "security.admin_api_keys_file: cannot read {}: ",
            missing.display()
        )),
        "{problems:?}"
    );
    let file = dir.path().join("keys");
    std::fs::write(&file, "# admins\nclear-key\n\nsha256:abc\n").unwrap();
    gives(
        |c| c.security.admin_api_keys_file = Some(file.clone()),
        &[&format!(
            "security.admin_api_keys_file: line 4 of {} is not sha256:<64 hex digits>",
            file.display()
        )],
    );
}

#[test]
fn client_keys() {
    gives(
        |c| c.security.client_keys = vec![client_key("a"), client_key("b")],
        &[],
    );
    gives(
        |c| c.security.client_keys = vec![client_key("a"), client_key("a")],
        &["security.client_keys (a): names must be unique and non-empty"],
    );
    gives(
        |c| c.security.client_keys = vec![client_key("")],
        &["security.client_keys (): names must be unique and non-empty"],
    );
    gives(
        |c| {
            let mut k = client_key("a");
            k.key = None;
            k.sha256 = Some("00".repeat(32));
            c.security.client_keys = vec![k];
        },
        &[],
    );
    gives(
        |c| {
            let mut k = client_key("a");
            k.key = None;
            k.sha256 = Some("xyz".into());
            c.security.client_keys = vec![k];
        },
        &["security.client_keys (a).sha256: must be 64 hex digits"],
    );
    for (key, sha) in [(false, false), (true, true)] {
        gives(
            |c| {
                let mut k = client_key("a");
                k.key = key.then(|| SecretString::from("k"));
                k.sha256 = sha.then(|| "00".repeat(32));
                c.security.client_keys = vec![k];
            },
            &["security.client_keys (a): give exactly one of `key` or `sha256`"],
        );
    }
    let limits: [fn(&mut ClientKey); 3] = [
        |k| k.requests = 0,
        |k| k.window_secs = 0,
        |k| k.burst = Some(0),
    ];
    for edit in limits {
        gives(
            |c| {
                let mut k = client_key("a");
                edit(&mut k);
                c.security.client_keys = vec![k];
            },
            &["security.client_keys (a): requests, window_secs and burst must be greater than 0"],
        );
    }
    gives(
        |c| c.security.require_client_key = true,
        &["security.require_client_key: no security.client_keys are configured"],
    );
}

#[test]
fn llm_and_embeddings() {
    gives(
        |c| c.llm.provider = LlmProvider::Openai,
        &["llm.api_key: provider \"openai\" needs the OPENAI_API_KEY environment variable"],
    );
    gives(
        |c| {
            c.llm.provider = LlmProvider::Openai;
            c.llm.api_key = Some(SecretString::from("sk-test"));
        },
        &[],
    );
    gives(
        |c| c.embeddings.provider = EmbeddingsProvider::Openai,
        &["embeddings.api_key: provider \"openai\" needs the OPENAI_API_KEY environment variable"],
    );
    gives(
        |c| c.llm.base_url = "ftp://x.example".into(),
        &["llm.base_url: `ftp://x.example` is not an http(s) URL"],
    );
    // Credentials in a quoted URL are masked.
    gives(
        |c| c.embeddings.base_url = "gopher://user:hunter2@x.example".into(),
        &["embeddings.base_url: `gopher://user:***@x.example` is not an http(s) URL"],
    );
    gives(
        |c| c.llm.timeout_secs = 0,
        &["llm.timeout_secs: must be greater than 0"],
    );
    for dims in [7, 8193] {
        gives(
            |c| c.embeddings.dimensions = dims,
            &[&format!(
                "embeddings.dimensions: {dims} is out of range (8-8192)"
            )],
        );
    }
    for edit in [
        |c: &mut Config| c.embeddings.batch_size = 0,
        |c: &mut Config| c.embeddings.concurrency = 0,
    ] {
        gives(
            edit,
            &["embeddings.batch_size and embeddings.concurrency: must be greater than 0"],
        );
    }
    gives(
        |c| c.embeddings.threads = 257,
        &["embeddings.threads: 257 is out of range (0 = one per core, at most 256)"],
    );
    gives(
        |c| c.embeddings.model_dir = "".into(),
        &["embeddings.model_dir: must name the model folder"],
    );
    gives(
        |c| {
            c.embeddings.provider = EmbeddingsProvider::Local;
            c.embeddings.model_dir = "".into();
        },
        &[],
    );
}

#[test]
fn index() {
    gives(
        |c| {
            c.index.chunk_size = 49;
            c.index.chunk_overlap = 0;
        },
        &["index.chunk_size: 49 is too small (at least 50 characters)"],
    );
    gives(
        |c| c.index.chunk_overlap = c.index.chunk_size,
        &[&format!(
            "index.chunk_overlap: {0} must be smaller than index.chunk_size ({0})",
            Config::default().index.chunk_size
        )],
    );
    for k in [0, 51] {
        gives(
            |c| c.index.top_k = k,
            &[&format!("index.top_k: {k} is out of range (1-50)")],
        );
    }
    let weights = "index.vector_weight / index.bm25_weight: must be non-negative and not both 0";
    gives(|c| c.index.vector_weight = Some(-1.0), &[weights]);
    gives(|c| c.index.bm25_weight = f64::NAN, &[weights]);
    gives(
        |c| {
            c.index.vector_weight = Some(0.0);
            c.index.bm25_weight = 0.0;
        },
        &[weights],
    );
    gives(|c| c.index.vector_weight = Some(0.0), &[]);
    // Unset, the weight is the embedder's: positive either way.
    gives(|c| c.index.bm25_weight = 0.0, &[]);
    gives(|c| c.index.bm25_weight = -LOCAL_VECTOR_WEIGHT, &[weights]);
    gives(
        |c| c.index.superseded_weight = 1.5,
        &["index.superseded_weight: 1.5 is out of range (0-1; 1 = no demotion)"],
    );
    gives(
        |c| c.index.rrf_k = -1.0,
        &["index.rrf_k: -1 must be a number >= 0"],
    );
    gives(
        |c| c.index.max_file_bytes = 0,
        &[&format!(
            "index.max_file_bytes: 0 must be at least 1 and at most index.max_total_bytes ({})",
            Config::default().index.max_total_bytes
        )],
    );
    gives(
        |c| c.index.max_file_bytes = c.index.max_total_bytes + 1,
        &[&format!(
            "index.max_file_bytes: {} must be at least 1 and at most index.max_total_bytes ({})",
            Config::default().index.max_total_bytes + 1,
            Config::default().index.max_total_bytes
        )],
    );
    gives(
        |c| c.index.max_decoded_bytes = 1000,
        &["index.max_decoded_bytes: 1000 is too small (at least 1048576)"],
    );
    for secs in [0, 3601] {
        gives(
            |c| c.index.max_parse_secs = secs,
            &[&format!(
                "index.max_parse_secs: {secs} is out of range (1-3600)"
            )],
        );
    }
}

#[test]
fn rate_limit_redis_and_cache() {
    for edit in [
        |c: &mut Config| c.rate_limit.requests = 0,
        |c: &mut Config| c.rate_limit.window_secs = 0,
        |c: &mut Config| c.rate_limit.burst = Some(0),
    ] {
        gives(
            edit,
            &["rate_limit: requests, window_secs and burst must be greater than 0"],
        );
    }
    gives(
        |c| c.rate_limit.admin.requests = 0,
        &["rate_limit.admin: requests, window_secs and burst must be greater than 0"],
    );
    gives(
        |c| c.rate_limit.trusted_proxies = vec!["10.0.0.0/8".into(), "proxy.example".into()],
        &["rate_limit.trusted_proxies: `proxy.example` is not an IP address or CIDR"],
    );
    for len in [0, 129] {
        gives(
            |c| c.rate_limit.ipv6_prefix_len = len,
            &[&format!(
                "rate_limit.ipv6_prefix_len: {len} is out of range (1-128)"
            )],
        );
    }
    // The Redis URL is checked only when a backend uses Redis.
    gives(|c| c.redis.url = "not a url".into(), &[]);
    gives(
        |c| {
            c.redis.url = "not a url".into();
            c.rate_limit.backend = SharedBackend::Redis;
        },
        &["redis.url: not a valid redis:// URL"],
    );
    gives(
        |c| {
            c.redis.url = "not a url".into();
            c.cache.backend = CacheBackend::Redis;
        },
        &["redis.url: not a valid redis:// URL"],
    );
    let cache =
        "cache.ttl_secs and cache.max_entries: must be greater than 0 (or cache.backend = \"off\")";
    gives(|c| c.cache.ttl_secs = 0, &[cache]);
    gives(|c| c.cache.max_entries = 0, &[cache]);
    gives(
        |c| {
            c.cache.max_entries = 0;
            c.cache.backend = CacheBackend::Off;
        },
        &[],
    );
}

#[test]
fn plugins() {
    gives(
        |c| c.plugins.chain.push(plugin("prompt", "ranker")),
        &["plugins.chain[1] (prompt): duplicate plugin name"],
    );
    gives(
        |c| c.plugins.chain[0].sha256 = Some("abc".into()),
        &["plugins.chain[0] (prompt).sha256: must be 64 hex digits"],
    );
    gives(|c| c.plugins.chain[0].sha256 = Some("ab".repeat(32)), &[]);
    gives(
        |c| c.plugins.chain[0].memory_mb = 100_000,
        &["plugins.chain[0] (prompt).memory_mb: 100000 is above the host maximum of 256 MiB"],
    );
    for edit in [
        |e: &mut PluginEntry| e.deadline_ms = 0,
        |e: &mut PluginEntry| e.memory_mb = 0,
        |e: &mut PluginEntry| e.max_output_bytes = 0,
        |e: &mut PluginEntry| e.max_output_entries = 0,
    ] {
        gives(
            |c| edit(&mut c.plugins.chain[0]),
            &["plugins.chain[0] (prompt): deadline_ms, memory_mb, max_output_bytes and max_output_entries must be greater than 0"],
        );
    }
    gives(
        |c| c.plugins.chain.clear(),
        &["plugins.chain: exactly one prompt-builder plugin is needed, found 0"],
    );
    gives(
        |c| c.plugins.chain.push(plugin("second", "prompt-builder")),
        &["plugins.chain: exactly one prompt-builder plugin is needed, found 2"],
    );
    gives(
        |c| c.plugins.chain.push(plugin("guard", "preprocessor")),
        &[],
    );
    let p = problems(|c| c.plugins.trusted_keys = vec!["ed25519:zz".into()]);
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("plugins.trusted_keys: "), "{p:?}");
    gives(
        |c| c.plugins.require_signatures = Some(true),
        &["plugins.trusted_keys: signed plugins are required (plugins.require_signatures, on by default in production) but no key is trusted; add the public keys that sign your plugins (`autbot plugin keygen`, `autbot plugin sign`) or set plugins.require_signatures = false"],
    );
}

#[test]
fn observability() {
    gives(
        |c| c.observability.metrics_addr = Some("localhost".into()),
        &["observability.metrics_addr: `localhost` is not an address like 127.0.0.1:9100"],
    );
    gives(
        |c| {
            c.observability.metrics_addr = Some("127.0.0.1:9100".into());
            c.observability.metrics_port = Some(9100);
        },
        &["observability.metrics_addr: give it or observability.metrics_port, not both"],
    );
    gives(
        |c| c.observability.sentry_queue_size = 0,
        &["observability.sentry_queue_size: must be greater than 0"],
    );
    gives(
        |c| c.observability.log_level = "info,=bogus[".into(),
        &["observability.log_level: `info,=bogus[` is not a valid level or filter"],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(|c| {
        c.server.port = 70000;
        c.index.top_k = 0;
        c.plugins.chain.clear();
    });
    assert_eq!(
        p,
        [
            "server.port: 70000 is out of range (0-65535)",
            "index.top_k: 0 is out of range (1-50)",
            "plugins.chain: exactly one prompt-builder plugin is needed, found 0",
        ]
    );
}

#[test]
fn a_valid_configuration_comes_back_with_what_checking_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    std::fs::write(&file, format!("from-file\nsha256:{}\n", "ab".repeat(32))).unwrap();
    let mut c = valid();
    c.security.api_key_header = "X-Admin-Token".into();
    c.security.admin_api_keys = vec![SecretString::from("clear")];
    c.security.admin_api_keys_file = Some(file);
    c.rate_limit.trusted_proxies = vec!["10.0.0.0/8".into(), "::ffff:192.0.2.0/120".into()];
    let checked = check(c).expect("valid");
    assert_eq!(checked.api_key_header.name().as_str(), "x-admin-token");
    assert_eq!(checked.api_key_header.as_configured(), "X-Admin-Token");
    assert!(checked.admin_keys.contains("clear"));
    assert!(checked.admin_keys.contains("from-file"));
    assert!(!checked.admin_keys.contains("other"));
    let nets: Vec<String> = checked
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(nets, ["10.0.0.0/8", "192.0.2.0/24"]);
    assert_eq!(checked.config.security.api_key_header, "X-Admin-Token");
}
