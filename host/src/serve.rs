//! `autbot serve`: build the application state, listen, load the index in the
//! background, watch plugins, and shut down gracefully on SIGTERM/SIGINT.

use crate::app::router;
use crate::cache::ResponseCache;
use crate::config::{CacheBackend, Checked, Environment, SharedBackend};
use crate::engine::{Engine, EngineParts};
use crate::indexer::{IndexSettings, Indexer};
use crate::pipeline::rate_limit::RateLimitLayer;
use crate::plugins::{HostServices, PluginHost};
use crate::rag::live::LiveIndex;
use crate::rate_limit::client_ip::ClientIpResolver;
use crate::rate_limit::{Policy, RateLimiter};
use crate::redis_store::RedisStore;
use crate::state::{AppState, Lifecycle};
use crate::{embeddings, llm};
use std::sync::Arc;
use std::time::Duration;

/// Builds everything the server needs. Plugins are compiled and verified here: a
/// plugin that fails its checks refuses the start.
pub async fn build_state(checked: Checked) -> Result<AppState, Vec<String>> {
    let Checked {
        config,
        admin_keys,
        api_key_header,
        trusted_proxies,
    } = checked;
    let config = Arc::new(config);
    // First, so that what start-up records (plugin versions) is kept.
    let metrics_handle = if config.observability.metrics_enabled {
        crate::observability::metrics::install()
    } else {
        None
    };
    let embedder = embeddings::from_config(&config.embeddings).map_err(|e| vec![e])?;
    let price = config
        .observability
        .llm_prices
        .get(&config.llm.model)
        .copied();
    let redis_used = config.rate_limit.backend == SharedBackend::Redis
        || config.cache.backend == CacheBackend::Redis;
    let redis = if redis_used {
        Some(RedisStore::start(&config.redis).map_err(|e| vec![e])?)
    } else {
        None
    };
    let limiter = RateLimiter::new(&config.rate_limit, redis.clone());
    let llm = llm::from_config(&config.llm, price).map_err(|e| vec![e])?;
    // Every model call (answers, streams, plugins' llm.complete) spends one budget.
    let llm = if config.llm.provider == crate::config::LlmProvider::Extractive {
        llm
    } else {
        llm::budget::BudgetedLlm::wrap(llm, limiter.clone(), config.rate_limit.llm_calls_per_minute)
    };
    let indexer = Arc::new(Indexer::new(
        IndexSettings::from_config(&config),
        Arc::new(LiveIndex::default()),
        embedder.clone(),
    ));
    let services = Arc::new(HostServices {
        index: indexer.live().clone(),
        embedder: embedder.clone(),
        llm: llm.clone(),
        search_params: indexer.settings().search,
    });
    let plugins = PluginHost::new(&config.plugins, services).await?;
    let engine = Engine::new(EngineParts {
        indexer: indexer.clone(),
        embedder,
        llm,
        plugins: Arc::new(plugins),
        cache: ResponseCache::new(&config.cache, redis.clone()),
    });
    let rate_limit = config.rate_limit.enabled.then(|| RateLimitLayer {
        limiter: limiter.clone(),
        client: Policy::new("ip", config.rate_limit.client_policy()),
        admin: Policy::new("admin", config.rate_limit.admin),
    });
    let client_ips = Arc::new(ClientIpResolver::new(
        trusted_proxies,
        config.rate_limit.client_ip_header,
        config.rate_limit.ipv6_prefix_len,
    ));
    Ok(AppState {
        config,
        admin_keys: Arc::new(admin_keys),
        api_key_header,
        client_ips,
        engine: Arc::new(engine),
        indexer,
        lifecycle: Arc::new(Lifecycle::default()),
        redis,
        rate_limit,
        limiter,
        metrics: metrics_handle,
    })
}

/// Runs the server until a shutdown signal, then drains for the grace period.
pub async fn serve(checked: Checked) -> anyhow::Result<()> {
    let config = &checked.config;
    let addr = format!("{}:{}", config.server.host, config.server.port);
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let watch = config.plugins.watch;
    let state = build_state(checked).await.map_err(|problems| {
        for p in &problems {
            tracing::error!("{p}");
        }
        anyhow::anyhow!("cannot start:\n{}", problems.join("\n"))
    })?;
    // A stored index made with another embedding model is a start-up error (unless the
    // configuration asks for a rebuild); what is found here is what gets loaded.
    let stored = state
        .indexer
        .check_stored()
        .map_err(|e| anyhow::anyhow!("cannot start:\n{e}"))?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("server.host/server.port: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let limits = crate::net::Limits::new(&state.config.server, state.client_ips.clone());
    tracing::info!(addr = %local, version = env!("CARGO_PKG_VERSION"), "listening");

    // `/metrics` on its own listener (observability.metrics_addr / metrics_port).
    spawn_metrics_listener(&state).await?;
    let indexer = state.indexer.clone();
    tokio::spawn(async move {
        if let Err(e) = indexer.load_or_build(stored).await {
            tracing::error!(error = %e, "the index could not be loaded or built; /ready stays 503");
        }
    });
    let _watcher = if watch {
        match crate::plugins::watcher::start(state.engine.plugins.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch plugin files; use POST /admin/plugins/reload");
                None
            }
        }
    } else {
        None
    };

    let lifecycle = state.lifecycle.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; draining in-flight requests");
        lifecycle.begin_shutdown();
        let _ = stop_tx.send(true);
    });
    let mut graceful = stop_rx.clone();
    let mut deadline = stop_rx;
    // Our own accept loop (host/src/net/): header read timeout, connection cap.
    let server = crate::net::serve(listener, router(state), limits, async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    tokio::select! {
        () = server => {},
        _ = async {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing the remaining connections"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Starts the separate metrics listener when metrics are on and
/// `observability.metrics_addr` (or the older `observability.metrics_port`, on
/// `server.host`) is set; an address that cannot be bound refuses the start, naming
/// the key. In production, serving metrics on the public port is logged as a warning.
async fn spawn_metrics_listener(state: &AppState) -> anyhow::Result<()> {
    if state.metrics.is_none() {
        return Ok(());
    }
    let config = &state.config;
    let o = &config.observability;
    let (key, addr) = match (&o.metrics_addr, o.metrics_port) {
        (Some(addr), _) => ("observability.metrics_addr", addr.clone()),
        (None, Some(port)) => (
            "observability.metrics_port",
            format!("{}:{port}", config.server.host),
        ),
        (None, None) => {
            if config.security.environment == Environment::Production {
                tracing::warn!(
                    "/metrics is served on the public port (plugin versions, models); set \
                     observability.metrics_addr, e.g. 127.0.0.1:9100, to serve it only there"
                );
            }
            return Ok(());
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("{key}: cannot listen on {addr}: {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let app = crate::api::metrics::listener_router(state.clone());
    // The same accept loop as the public port: header timeout, connection caps.
    let limits = crate::net::Limits::new(&config.server, state.client_ips.clone());
    tokio::spawn(crate::net::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
