//! The client's IP: the socket peer, unless the peer is a trusted proxy, in which case
//! the right-most untrusted hop of the one configured header
//! (`rate_limit.client_ip_header`). Headers from untrusted peers are ignored, and so
//! is every other forwarding header, so neither can be spoofed.
//!
//! Entries may carry a port and brackets (`198.51.100.7:51234`, `[2001:db8::1]:443`,
//! `for="[2001:db8::1]:443"`); IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are
//! the IPv4 address everywhere (peer, header entries, configured proxy ranges). IPv6
//! clients are keyed by their prefix (`rate_limit.ipv6_prefix_len`, default /64), since
//! one host usually owns a whole /64.

use crate::config::ClientIpHeader;
use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv6Net};
use std::net::{IpAddr, SocketAddr};

/// One address as the server sees it: IPv4-mapped IPv6 is IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parses one hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, optionally in double quotes. `None` for anything else
/// (`unknown`, an obfuscated `_name`, garbage).
pub fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .trim();
    let ip = if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Ok(sa) = s.parse::<SocketAddr>() {
        sa.ip()
    } else {
        // `[v6]` without a port.
        let inner = s.strip_prefix('[')?.strip_suffix(']')?;
        IpAddr::V6(inner.parse().ok()?)
    };
    Some(canonical(ip))
}

/// Splits on any of `seps`, except inside double quotes.
fn split_unquoted<'a>(s: &'a str, seps: &[char]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && seps.contains(&c) {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The hops a header names, left (farthest) to right (nearest). `None` is a hop that
/// cannot be identified.
pub fn chain(headers: &HeaderMap, header: ClientIpHeader) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    match header {
        ClientIpHeader::XForwardedFor => values("x-forwarded-for")
            .iter()
            .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| parse_node(&entry))
            .collect(),
        ClientIpHeader::Forwarded => values("forwarded")
            .iter()
            .flat_map(|v| {
                split_unquoted(v, &[','])
                    .into_iter()
                    .filter(|element| !element.trim().is_empty())
                    .map(|element| {
                        split_unquoted(element, &[';'])
                            .into_iter()
                            .find_map(|pair| {
                                let (name, value) = pair.split_once('=')?;
                                name.trim()
                                    .eq_ignore_ascii_case("for")
                                    .then(|| parse_node(value))
                                    .flatten()
                            })
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        // Set (not appended) by the proxy: only its last value counts.
        ClientIpHeader::XRealIp => values("x-real-ip")
            .last()
            .map(|v| vec![parse_node(v)])
            .unwrap_or_default(),
    }
}

/// The client among `peer` and the hops in front of it: walking from the nearest hop
/// outwards, the first address that is not a trusted proxy. When every hop is
/// trusted, the farthest one; when a hop cannot be identified, the trusted hop that
/// reported it (its address is all that is known).
pub fn select(
    peer: IpAddr,
    chain: &[Option<IpAddr>],
    is_trusted: impl Fn(&IpAddr) -> bool,
) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut nearest_known = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => nearest_known = *ip,
            Some(ip) => return *ip,
            None => return nearest_known,
        }
    }
    nearest_known
}

/// Finds the client of a request, and its rate-limit bucket.
#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
    header: ClientIpHeader,
    ipv6_prefix_len: u8,
}

impl ClientIpResolver {
    /// From `[rate_limit]`: the `trusted_proxies` (parsed by
    /// [`config::check`](crate::config::check)), `client_ip_header`, `ipv6_prefix_len`.
    pub fn new(trusted: Vec<IpNet>, header: ClientIpHeader, ipv6_prefix_len: u8) -> Self {
        Self {
            trusted,
            header,
            ipv6_prefix_len: ipv6_prefix_len.clamp(1, 128),
        }
    }

    fn is_trusted(&self, ip: &IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// Whether `peer` is one of `rate_limit.trusted_proxies`.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.is_trusted(&canonical(peer))
    }

    /// The client's address.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.trusted.is_empty() || !self.is_trusted(&canonical(peer)) {
            return canonical(peer);
        }
        select(peer, &chain(headers, self.header), |ip| self.is_trusted(ip))
    }

    /// The bucket of an address: the IPv4 address, or the IPv6 prefix.
    pub fn key(&self, ip: IpAddr) -> String {
        bucket_key(ip, self.ipv6_prefix_len)
    }
}

/// `198.51.100.7`, or `2001:db8:1:2::/64` for an IPv6 address and a /64 prefix.
pub fn bucket_key(ip: IpAddr, ipv6_prefix_len: u8) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let len = ipv6_prefix_len.clamp(1, 128);
            match Ipv6Net::new(v6, len) {
                Ok(net) => net.trunc().to_string(),
                Err(_) => v6.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_net;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn resolver(header: ClientIpHeader, trusted: &[&str]) -> ClientIpResolver {
        let trusted = trusted.iter().map(|s| parse_net(s).unwrap()).collect();
        ClientIpResolver::new(trusted, header, 64)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PROXY: &str = "10.0.0.1";

    #[test]
    fn forwarded_headers_only_from_trusted_peers() {
        let r = resolver(ClientIpHeader::XForwardedFor, &["10.0.0.0/8"]);
        let spoof = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(r.client_ip(ip("203.0.113.9"), &spoof), ip("203.0.113.9"));
        let chain = headers(&[("x-forwarded-for", "9.9.9.9, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(r.client_ip(ip(PROXY), &chain), ip("198.51.100.7"));
        assert_eq!(r.client_ip(ip(PROXY), &HeaderMap::new()), ip(PROXY));
        let r = resolver(ClientIpHeader::Forwarded, &["10.0.0.0/8"]);
        let fwd = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(r.client_ip(ip(PROXY), &fwd), ip("2001:db8::1"));
    }

    #[test]
    fn a_port_on_the_proxy_appended_entry_does_not_let_an_earlier_entry_win() {
        let r = resolver(ClientIpHeader::XForwardedFor, &["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.77:51234")]);
        assert_eq!(r.client_ip(ip(PROXY), &h), ip("198.51.100.77"));
        let h = headers(&[("x-forwarded-for", "6.6.6.6, [2001:db8::7]:443")]);
        assert_eq!(r.client_ip(ip(PROXY), &h), ip("2001:db8::7"));
    }

    #[test]
    fn only_the_configured_header_counts() {
        let both = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=198.51.100.7"),
            ("x-real-ip", "7.7.7.7"),
        ]);
        let r = resolver(ClientIpHeader::Forwarded, &["10.0.0.0/8"]);
        assert_eq!(r.client_ip(ip(PROXY), &both), ip("198.51.100.7"));
        let r = resolver(ClientIpHeader::XForwardedFor, &["10.0.0.0/8"]);
        assert_eq!(r.client_ip(ip(PROXY), &both), ip("6.6.6.6"));
        let r = resolver(ClientIpHeader::XRealIp, &["10.0.0.0/8"]);
        assert_eq!(r.client_ip(ip(PROXY), &both), ip("7.7.7.7"));
    }

    #[test]
    fn forwarded_elements_and_quoting() {
        let r = resolver(ClientIpHeader::Forwarded, &["10.0.0.0/8"]);
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6;by=\"x,y\", For=\"198.51.100.7:80\";proto=http, for=10.0.0.3",
        )]);
        assert_eq!(r.client_ip(ip(PROXY), &h), ip("198.51.100.7"));
        // An element without `for` (or `for=unknown`) is a hop that cannot be
        // identified: the trusted proxy that reported it is the client.
        let h = headers(&[("forwarded", "for=6.6.6.6, for=unknown, for=10.0.0.3")]);
        assert_eq!(r.client_ip(ip(PROXY), &h), ip("10.0.0.3"));
    }

    #[test]
    fn mapped_addresses_are_ipv4_everywhere() {
        // The peer, a header entry and a configured range.
        let r = resolver(ClientIpHeader::XForwardedFor, &["::ffff:10.0.0.0/104"]);
        let h = headers(&[(
            "x-forwarded-for",
            "[::ffff:198.51.100.7]:9, ::ffff:10.0.0.9",
        )]);
        assert_eq!(r.client_ip(ip("::ffff:10.0.0.1"), &h), ip("198.51.100.7"));
        let r = resolver(ClientIpHeader::XForwardedFor, &["10.0.0.0/8"]);
        assert_eq!(r.client_ip(ip("::ffff:10.0.0.1"), &h), ip("198.51.100.7"));
        assert_eq!(
            r.client_ip(ip("::ffff:203.0.113.1"), &h),
            ip("203.0.113.1"),
            "an untrusted mapped peer is its IPv4 address"
        );
        assert_eq!(parse_net("::ffff:10.0.0.0/104"), parse_net("10.0.0.0/8"));
    }

    #[test]
    fn ipv6_clients_share_their_prefix_bucket() {
        let r = resolver(ClientIpHeader::XForwardedFor, &[]);
        assert_eq!(r.key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(r.key(ip("2001:db8:1:2:ffff::9")), "2001:db8:1:2::/64");
        assert_ne!(r.key(ip("2001:db8:1:3::1")), r.key(ip("2001:db8:1:2::1")));
        assert_eq!(r.key(ip("::ffff:1.2.3.4")), "1.2.3.4");
        assert_eq!(bucket_key(ip("2001:db8::1"), 128), "2001:db8::1/128");
    }

    /// Addresses from two pools: 10.0.0.0/8 and fd00::/8 are the trusted proxies.
    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
            any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0xff_ffff)))),
            any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
            any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from((0xfd << 120) | (n >> 8)))),
        ]
        .prop_map(canonical)
    }

    const TRUSTED: [&str; 2] = ["10.0.0.0/8", "fd00::/8"];

    fn trusted(ip: &IpAddr) -> bool {
        TRUSTED
            .iter()
            .any(|n| parse_net(n).is_some_and(|n| n.contains(ip)))
    }

    /// One way of writing an address in `X-Forwarded-For`.
    fn xff_entry(ip: IpAddr, style: u8, port: u16) -> String {
        match (ip, style % 4) {
            (IpAddr::V4(v4), 0) => v4.to_string(),
            (IpAddr::V4(v4), 1) => format!("{v4}:{port}"),
            (IpAddr::V4(v4), 2) => v4.to_ipv6_mapped().to_string(),
            (IpAddr::V4(v4), _) => format!("[{}]:{port}", v4.to_ipv6_mapped()),
            (IpAddr::V6(v6), 0) => v6.to_string(),
            (IpAddr::V6(v6), 1) => format!("[{v6}]:{port}"),
            (IpAddr::V6(v6), 2) => format!("[{v6}]"),
            (IpAddr::V6(v6), _) => format!("\"[{v6}]:{port}\""),
        }
    }

    /// One way of writing an address as a `Forwarded` element.
    fn forwarded_element(ip: IpAddr, style: u8, port: u16) -> String {
        let node = match (ip, style % 3) {
            (IpAddr::V4(v4), 0) => v4.to_string(),
            (IpAddr::V4(v4), 1) => format!("\"{v4}:{port}\""),
            (IpAddr::V4(v4), _) => format!("\"[{}]\"", v4.to_ipv6_mapped()),
            (IpAddr::V6(v6), 0) => format!("\"[{v6}]\""),
            (IpAddr::V6(v6), _) => format!("\"[{v6}]:{port}\""),
        };
        if style.is_multiple_of(2) {
            format!("for={node}")
        } else {
            format!("proto=https;FOR={node};by=_hidden")
        }
    }

    fn expected(chain: &[IpAddr]) -> IpAddr {
        chain
            .iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(chain.first())
            .copied()
            .unwrap_or(ip(PROXY))
    }

    proptest! {
        #[test]
        fn the_client_is_the_rightmost_untrusted_hop(
            hops in prop::collection::vec((any_ip(), any::<u8>(), any::<u16>()), 0..8),
        ) {
            let chain: Vec<IpAddr> = hops.iter().map(|h| h.0).collect();
            let r = resolver(ClientIpHeader::XForwardedFor, &TRUSTED);
            let xff = hops.iter().map(|&(ip, s, p)| xff_entry(ip, s, p)).collect::<Vec<_>>().join(", ");
            let h = headers(&[("x-forwarded-for", &xff)]);
            prop_assert_eq!(r.client_ip(ip(PROXY), &h), expected(&chain));
            let r = resolver(ClientIpHeader::Forwarded, &TRUSTED);
            let fwd = hops.iter().map(|&(ip, s, p)| forwarded_element(ip, s, p)).collect::<Vec<_>>().join(", ");
            let h = headers(&[("forwarded", &fwd)]);
            prop_assert_eq!(r.client_ip(ip(PROXY), &h), expected(&chain));
        }

        #[test]
        fn entries_added_on_the_left_never_change_the_client(
            hops in prop::collection::vec((any_ip(), any::<u8>(), any::<u16>()), 0..6),
            client in any_ip().prop_filter("an untrusted client", |ip| !trusted(ip)),
            injected in prop::collection::vec("[ -~]{0,40}", 0..4),
            as_own_line in any::<bool>(),
        ) {
            // The client's address as the first proxy appended it, then proxies.
            let mut entries = vec![client.to_string()];
            entries.extend(hops.iter().filter(|h| trusted(&h.0)).map(|&(ip, s, p)| xff_entry(ip, s, p)));
            let honest = entries.join(", ");
            let r = resolver(ClientIpHeader::XForwardedFor, &TRUSTED);
            let before = r.client_ip(ip(PROXY), &headers(&[("x-forwarded-for", &honest)]));
            prop_assert_eq!(before, client);
            let forged = injected.join(", ");
            let h = if as_own_line {
                let mut h = HeaderMap::new();
                if let Ok(v) = forged.parse() { h.append("x-forwarded-for", v); }
                h.append("x-forwarded-for", honest.parse().unwrap());
                h
            } else {
                headers(&[("x-forwarded-for", &format!("{forged}, {honest}"))])
            };
            prop_assert_eq!(r.client_ip(ip(PROXY), &h), client);
        }

        #[test]
        fn every_formatting_of_one_address_has_one_key(
            client in any_ip(),
            port in any::<u16>(),
            a in any::<u8>(),
            b in any::<u8>(),
        ) {
            let r = resolver(ClientIpHeader::XForwardedFor, &["127.0.0.1"]);
            let key = |entry: String| {
                r.key(r.client_ip(ip("127.0.0.1"), &headers(&[("x-forwarded-for", &entry)])))
            };
            prop_assert_eq!(key(xff_entry(client, a, port)), key(xff_entry(client, b, port.wrapping_add(1))));
            prop_assert_eq!(key(xff_entry(client, a, port)), r.key(client));
            let f = resolver(ClientIpHeader::Forwarded, &["127.0.0.1"]);
            let fkey = f.key(f.client_ip(ip("127.0.0.1"), &headers(&[("forwarded", &forwarded_element(client, a, port))])));
            prop_assert_eq!(fkey, r.key(client));
        }

        #[test]
        fn ipv6_keys_are_the_prefix(hi in any::<u64>(), lo1 in any::<u64>(), lo2 in any::<u64>()) {
            let a = IpAddr::V6(Ipv6Addr::from(((hi as u128) << 64) | lo1 as u128));
            let b = IpAddr::V6(Ipv6Addr::from(((hi as u128) << 64) | lo2 as u128));
            prop_assume!(a.to_canonical() == a && b.to_canonical() == b);
            prop_assert_eq!(bucket_key(a, 64), bucket_key(b, 64));
            prop_assert_eq!(bucket_key(a, 128) == bucket_key(b, 128), lo1 == lo2);
        }
    }
}
