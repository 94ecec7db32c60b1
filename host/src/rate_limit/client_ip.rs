//! The client's IP: the socket peer, unless the peer is a trusted proxy, in which
//! case the right-most untrusted address of `X-Forwarded-For` (or `Forwarded: for=`).
//! Headers from untrusted peers are ignored, so they cannot be spoofed.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// Parses `10.0.0.0/8` or a bare address.
pub fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The address to rate-limit.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        if let Ok(v) = v.to_str() {
            chain.extend(v.split(',').filter_map(|s| s.trim().parse::<IpAddr>().ok()));
        }
    }
    if chain.is_empty() {
        for v in headers.get_all("forwarded") {
            if let Ok(v) = v.to_str() {
                chain.extend(v.split([',', ';']).filter_map(|part| {
                    let value = part.trim().strip_prefix("for=")?.trim_matches('"');
                    let value = value
                        .trim_start_matches('[')
                        .split(']')
                        .next()
                        .unwrap_or(value);
                    value
                        .parse::<IpAddr>()
                        .ok()
                        .or_else(|| value.rsplit_once(':')?.0.parse().ok())
                }));
            }
        }
    }
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_only_from_trusted_peers() {
        let trusted = vec![parse_net("10.0.0.0/8").unwrap()];
        let spoof = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_ip("203.0.113.9".parse().unwrap(), &spoof, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let chain = headers(&[("x-forwarded-for", "9.9.9.9, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            client_ip("10.0.0.1".parse().unwrap(), &chain, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let fwd = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            client_ip("10.0.0.1".parse().unwrap(), &fwd, &trusted),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip("10.0.0.1".parse().unwrap(), &HeaderMap::new(), &trusted),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }
}
