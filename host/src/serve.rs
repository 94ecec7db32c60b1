//! `autbot serve`: build the application state, listen, load the index in the
//! background, watch plugins, and shut down gracefully on SIGTERM/SIGINT.

use crate::app::{router, AppState, Lifecycle};
use crate::cache::ResponseCache;
use crate::config::{AdminKeys, Config};
use crate::config::{CacheBackend, SharedBackend};
use crate::engine::{search_params, Engine, EngineParts};
use crate::pipeline::rate_limit::RateLimitLayer;
use crate::plugins::{HostServices, PluginHost};
use crate::rag::live::LiveIndex;
use crate::rate_limit::client_ip::parse_net;
use crate::rate_limit::{Policy, RateLimiter};
use crate::redis_store::RedisStore;
use crate::{embeddings, llm};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Builds everything the server needs. Plugins are compiled and verified here: a
/// plugin that fails its checks refuses the start.
pub async fn build_state(config: Config) -> Result<AppState, Vec<String>> {
    let config = Arc::new(config);
    // First, so that what start-up records (plugin versions) is kept.
    let metrics_handle = if config.observability.metrics_enabled {
        crate::observability::metrics::install()
    } else {
        None
    };
    let admin_keys = AdminKeys::load(
        &config.security.admin_api_keys,
        config.security.admin_api_keys_file.as_deref(),
    )
    .map_err(|e| vec![e])?;
    let embedder = embeddings::from_config(&config.embeddings).map_err(|e| vec![e])?;
    let price = config
        .observability
        .llm_prices
        .get(&config.llm.model)
        .copied();
    let llm = llm::from_config(&config.llm, price).map_err(|e| vec![e])?;
    let index = Arc::new(LiveIndex::default());
    let services = Arc::new(HostServices {
        index: index.clone(),
        embedder: embedder.clone(),
        llm: llm.clone(),
        search_params: search_params(&config),
        runtime: tokio::runtime::Handle::current(),
    });
    let plugins_config = config.plugins.clone();
    let plugins = tokio::task::spawn_blocking(move || PluginHost::new(&plugins_config, services))
        .await
        .map_err(|e| vec![format!("plugin loading failed: {e}")])??;
    let redis_used = config.rate_limit.backend == SharedBackend::Redis
        || config.cache.backend == CacheBackend::Redis;
    let redis = if redis_used {
        Some(RedisStore::start(&config.redis).map_err(|e| vec![e])?)
    } else {
        None
    };
    let limiter = RateLimiter::new(&config.rate_limit, redis.clone());
    let engine = Engine::new(
        &config,
        EngineParts {
            index,
            embedder,
            llm,
            plugins: Arc::new(plugins),
            cache: ResponseCache::new(&config.cache, redis.clone()),
            limiter: limiter.clone(),
        },
    );
    let rate_limit = config.rate_limit.enabled.then(|| RateLimitLayer {
        limiter,
        client: Policy::new("ip", config.rate_limit.client_policy()),
        admin: Policy::new("admin", config.rate_limit.admin),
        trusted: Arc::new(
            config
                .rate_limit
                .trusted_proxies
                .iter()
                .filter_map(|p| parse_net(p))
                .collect(),
        ),
    });
    Ok(AppState {
        config,
        admin_keys: Arc::new(admin_keys),
        engine: Arc::new(engine),
        lifecycle: Arc::new(Lifecycle::default()),
        redis,
        rate_limit,
        metrics: metrics_handle,
    })
}

/// Runs the server until a shutdown signal, then drains for the grace period.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.server.host, config.server.port);
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let watch = config.plugins.watch;
    let metrics_port = config.observability.metrics_port;
    let host = config.server.host.clone();
    let state = build_state(config).await.map_err(|problems| {
        for p in &problems {
            tracing::error!("{p}");
        }
        anyhow::anyhow!("cannot start:\n{}", problems.join("\n"))
    })?;
    // A stored index made with another embedding model is a start-up error (unless the
    // configuration asks for a rebuild).
    state
        .engine
        .stored_manifest()
        .map_err(|e| anyhow::anyhow!("cannot start:\n{e}"))?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("server.host/server.port: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, version = env!("CARGO_PKG_VERSION"), "listening");

    if let (Some(port), Some(_)) = (metrics_port, &state.metrics) {
        let addr = format!("{host}:{port}");
        // A stored index made with another embedding model is a start-up error (unless the
        // configuration asks for a rebuild).
        state
            .engine
            .stored_manifest()
            .map_err(|e| anyhow::anyhow!("cannot start:\n{e}"))?;
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
            anyhow::anyhow!("observability.metrics_port: cannot listen on {addr}: {e}")
        })?;
        tracing::info!(addr = %listener.local_addr()?, "metrics listening");
        let app = crate::app::metrics_router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    let engine = state.engine.clone();
    tokio::spawn(async move {
        if let Err(e) = engine.load_or_build().await {
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
    let server = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing the remaining connections"),
    }
    tracing::info!("stopped");
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
