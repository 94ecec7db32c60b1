//! The HTTP listener: our own accept loop over hyper's HTTP/1 connection, so that slow
//! clients cannot hold the server's resources.
//!
//! * **Header read timeout** (`server.header_read_timeout_secs`): a connection must
//!   deliver a complete request head within this time of opening, and again within
//!   this time of the end of each response while it is kept alive, or hyper closes it.
//!   Partial headers (slowloris) and idle keep-alive connections are closed alike.
//! * **Connection caps** (`server.max_connections`, and `server.max_connections_per_ip`
//!   for one peer IP or IPv6 prefix, trusted proxies exempt): a connection accepted
//!   beyond either is closed at once, without a response, so the queue of the listen
//!   socket keeps draining; the open connections keep being served.
//! * **Graceful shutdown**: on the signal the listener is closed, idle connections are
//!   closed, and connections with a request in flight finish it (the caller bounds the
//!   wait with `server.shutdown_grace_secs`).
//!
//! The body read timeout and the per-client concurrency limit are request layers
//! (`pipeline::body_read`, `pipeline::client_concurrency`).

pub mod slots;

use crate::rate_limit::client_ip::ClientIpResolver;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connections closed at once because `server.max_connections` (label
/// `reason="max_connections"`) or `server.max_connections_per_ip`
/// (`reason="max_connections_per_ip"`) were open.
pub const CONNECTIONS_REFUSED: &str = "autbot_connections_refused_total";

/// The listener's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Keys peers (IPv6 by prefix) and knows the trusted proxies, which are exempt
    /// from the per-IP cap.
    pub peers: Arc<ClientIpResolver>,
}

impl Limits {
    /// From `[server]`; `peers` knows `[rate_limit]`'s trusted proxies.
    pub fn new(c: &crate::config::ServerConfig, peers: Arc<ClientIpResolver>) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(c.header_read_timeout_secs.max(1)),
            max_connections: c.max_connections.max(1),
            max_connections_per_ip: c.max_connections_per_ip.max(1),
            peers,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for the open
/// connections to finish their requests. Each request carries the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_peer = slots::KeyedSlots::new(limits.max_connections_per_ip);
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    // Refusals are counted in the metric; logged at most once per interval.
    let mut warn_full = Throttle::default();
    let mut warn_peer = Throttle::default();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = shutdown.as_mut() => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!(CONNECTIONS_REFUSED, "reason" => "max_connections").increment(1);
            if warn_full.due() {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached: closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        let peer_slot = if limits.peers.is_trusted_proxy(peer.ip()) {
            None
        } else {
            let key = limits.peers.key(peer.ip());
            match per_peer.try_acquire(Arc::from(key.as_str())) {
                Some(slot) => Some(slot),
                None => {
                    metrics::counter!(CONNECTIONS_REFUSED, "reason" => "max_connections_per_ip")
                        .increment(1);
                    if warn_peer.due() {
                        tracing::warn!(
                            peer = %key,
                            max_connections_per_ip = limits.max_connections_per_ip,
                            "too many connections from one peer: closing its new connections"
                        );
                    }
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            drop((permit, peer_slot));
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// True at most once per 10 seconds.
#[derive(Default)]
struct Throttle(Option<std::time::Instant>);

impl Throttle {
    fn due(&mut self) -> bool {
        let now = std::time::Instant::now();
        let due = self
            .0
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(10));
        if due {
            self.0 = Some(now);
        }
        due
    }
}

/// Accept errors: per-connection ones (the peer gave up) are ignored; others (out of
/// file descriptors) are logged and accepting pauses briefly instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept connections; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
