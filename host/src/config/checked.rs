//! Configuration values parsed once. [`check`](super::check) validates the whole tree
//! and returns, beside it, the values it had to parse to validate them, typed; the
//! server takes these instead of parsing the text again.

use super::{AdminKeys, Config};
use axum::http::HeaderName;
use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;
use std::sync::Arc;

/// A configuration that passed every check, with what checking it parsed.
#[derive(Debug, Clone)]
pub struct Checked {
    pub config: Config,
    /// `security.admin_api_keys` and the keys of `security.admin_api_keys_file`.
    pub admin_keys: AdminKeys,
    /// `security.api_key_header`.
    pub api_key_header: ApiKeyHeader,
    /// `rate_limit.trusted_proxies`.
    pub trusted_proxies: Vec<IpNet>,
}

/// `security.api_key_header`: the name requests are searched for, and the spelling of
/// the configuration, which error messages show.
#[derive(Debug, Clone)]
pub struct ApiKeyHeader {
    name: HeaderName,
    configured: Arc<str>,
}

impl ApiKeyHeader {
    /// `None` for an empty or invalid header name.
    pub fn parse(text: &str) -> Option<Self> {
        if text.trim().is_empty() {
            return None;
        }
        Some(Self {
            name: HeaderName::try_from(text).ok()?,
            configured: Arc::from(text),
        })
    }

    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// As written in the configuration (`X-API-Key`).
    pub fn as_configured(&self) -> &str {
        &self.configured
    }
}

impl Default for ApiKeyHeader {
    fn default() -> Self {
        Self::parse(&super::SecurityConfig::default().api_key_header).expect("a valid default")
    }
}

/// Parses one of `rate_limit.trusted_proxies`: `10.0.0.0/8` or a bare address. An
/// IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) becomes the IPv4 range it maps.
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    let net = s
        .parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))?;
    Some(match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(|n| IpNet::V4(n.trunc()))
                .unwrap_or(net),
            None => net,
        },
        other => other,
    })
}
