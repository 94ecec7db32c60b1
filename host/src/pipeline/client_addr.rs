//! Finds the client of every request once, early: the socket peer, or the client a
//! trusted proxy names ([`ClientIpResolver`]). Later layers (per-client concurrency,
//! failed-key limiting, rate limiting) read the [`ClientAddr`] extension.

use crate::rate_limit::client_ip::ClientIpResolver;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The client of a request, in the request extensions.
#[derive(Debug, Clone)]
pub struct ClientAddr {
    /// Its bucket for per-client limits: the IPv4 address or the IPv6 prefix.
    pub key: Arc<str>,
}

impl ClientAddr {
    /// The client of `req` (or an "unknown" client when no layer found it).
    pub fn of(req: &Request) -> ClientAddr {
        req.extensions()
            .get::<ClientAddr>()
            .cloned()
            .unwrap_or_else(|| ClientAddr {
                key: Arc::from("unknown"),
            })
    }
}

/// Middleware; the state is the resolver built from `[rate_limit]`.
pub async fn layer(
    State(resolver): State<Arc<ClientIpResolver>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = resolver.client_ip(peer, req.headers());
    let key = Arc::from(resolver.key(ip));
    req.extensions_mut().insert(ClientAddr { key });
    next.run(req).await
}
