//! Forwarded-header parsing (`rate_limit::client_ip`): which client a request is
//! counted against, from the socket peer and, behind a trusted proxy, the one
//! configured forwarding header.
//!
//! A fuzz input is a small text file (see the corpus):
//!
//! ```text
//! header: x-forwarded-for          (or forwarded, x-real-ip)
//! peer: 10.0.0.1
//! trusted: 10.0.0.0/8              (repeatable)
//! prefix: 64                       (IPv6 bucket prefix length)
//! value: 203.0.113.9, 10.0.0.7     (one header line each; repeatable)
//! ```
//!
//! For any input: no panic; an untrusted peer is the client whatever the headers say;
//! otherwise the client is the peer or an address the configured header names; the
//! bucket key is well formed. The properties below the fuzz target check what a
//! client must never achieve: choosing its own address (and so a fresh bucket) by
//! what it sends in front of a trusted proxy.

use super::{fuzz, mutants, Outcome};
use autbot::config::{parse_net, ClientIpHeader, RateLimitConfig};
use autbot::rate_limit::client_ip::{bucket_key, canonical, chain, parse_node, ClientIpResolver};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One parsed fuzz input.
struct Case {
    header: ClientIpHeader,
    peer: IpAddr,
    trusted: Vec<String>,
    prefix: u8,
    headers: HeaderMap,
}

fn header_name(h: ClientIpHeader) -> &'static str {
    match h {
        ClientIpHeader::XForwardedFor => "x-forwarded-for",
        ClientIpHeader::Forwarded => "forwarded",
        ClientIpHeader::XRealIp => "x-real-ip",
    }
}

fn parse_case(input: &[u8]) -> Case {
    let mut case = Case {
        header: ClientIpHeader::XForwardedFor,
        peer: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        trusted: Vec::new(),
        prefix: 64,
        headers: HeaderMap::new(),
    };
    for line in input.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let text = String::from_utf8_lossy(value);
        match key {
            b"header" => {
                case.header = match text.trim() {
                    "forwarded" => ClientIpHeader::Forwarded,
                    "x-real-ip" => ClientIpHeader::XRealIp,
                    _ => ClientIpHeader::XForwardedFor,
                }
            }
            b"peer" => {
                if let Ok(ip) = text.trim().parse() {
                    case.peer = ip;
                }
            }
            b"trusted" => case.trusted.push(text.into_owned()),
            b"prefix" => case.prefix = text.trim().parse().unwrap_or(64),
            b"value" => {
                if let Ok(v) = HeaderValue::from_bytes(value) {
                    // Every configured kind sees the same lines under its own name,
                    // and the other names carry them too (they must be ignored).
                    for name in ["x-forwarded-for", "forwarded", "x-real-ip"] {
                        case.headers
                            .append(HeaderName::from_static(name), v.clone());
                    }
                }
            }
            _ => {}
        }
    }
    case
}

fn check(input: &[u8]) -> Outcome {
    let case = parse_case(input);
    for net in &case.trusted {
        let _ = parse_net(net);
    }
    let nets: Vec<IpNet> = case.trusted.iter().filter_map(|n| parse_net(n)).collect();
    let is_trusted = |ip: &IpAddr| nets.iter().any(|n| n.contains(ip));
    let resolver = ClientIpResolver::new(nets.clone(), case.header, case.prefix);
    let hops = chain(&case.headers, case.header);
    let client = resolver.client_ip(case.peer, &case.headers);
    let peer = canonical(case.peer);
    if canonical(client) != client {
        return Err(format!("client {client} is not canonical"));
    }
    if !is_trusted(&peer) && client != peer {
        return Err(format!(
            "untrusted peer {peer}, but the client is {client} (taken from {})",
            header_name(case.header)
        ));
    }
    if client != peer && !hops.contains(&Some(client)) {
        return Err(format!(
            "client {client} is neither the peer nor a hop of {hops:?}"
        ));
    }
    let key = resolver.key(client);
    match client {
        IpAddr::V4(v4) => {
            if key != v4.to_string() {
                return Err(format!("IPv4 key {key} for {v4}"));
            }
        }
        IpAddr::V6(v6) => {
            let net: ipnet::Ipv6Net = key
                .parse()
                .map_err(|_| format!("IPv6 key {key} is not a prefix"))?;
            if net.prefix_len() != case.prefix.clamp(1, 128) || !net.contains(&v6) {
                return Err(format!(
                    "IPv6 key {key} for {client} with prefix {}",
                    case.prefix
                ));
            }
        }
    }
    for v in case.headers.get_all("x-forwarded-for") {
        for entry in String::from_utf8_lossy(v.as_bytes()).split(',') {
            if let Some(ip) = parse_node(entry) {
                if canonical(ip) != ip {
                    return Err(format!("parse_node({entry:?}) = {ip}, not canonical"));
                }
            }
        }
    }
    Ok(())
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        any::<[u8; 4]>().prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
        prop::sample::select(vec![
            "10.0.0.1",
            "10.255.255.255",
            "127.0.0.1",
            "::1",
            "::",
            "0.0.0.0",
            "::ffff:10.0.0.1",
            "fd00::1",
            "2001:db8::1",
            "255.255.255.255",
        ])
        .prop_map(|s| s.parse().unwrap()),
    ]
}

/// The ways a proxy may write an address.
fn written(ip: IpAddr, style: u8, port: u16) -> String {
    match (ip, style % 4) {
        (IpAddr::V4(v4), 0) => v4.to_string(),
        (IpAddr::V4(v4), 1) => format!("{v4}:{port}"),
        (IpAddr::V4(v4), 2) => format!(" {v4} "),
        (IpAddr::V4(v4), _) => format!("\"{v4}:{port}\""),
        (IpAddr::V6(v6), 0) => v6.to_string(),
        (IpAddr::V6(v6), 1) => format!("[{v6}]:{port}"),
        (IpAddr::V6(v6), 2) => format!("[{v6}]"),
        (IpAddr::V6(v6), _) => format!("\"[{v6}]:{port}\""),
    }
}

/// Anything a client can put in a header value.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![
                32u8..127,
                Just(b'\t'),
                0x80u8..=0xff,
                Just(b','),
                Just(b'"'),
                Just(b';'),
                Just(b'=')
            ],
            0..80
        ),
        (ip(), any::<u8>(), any::<u16>()).prop_map(|(ip, s, p)| written(ip, s, p).into_bytes()),
        prop::sample::select(vec![
            "unknown",
            "_hidden",
            "for=",
            "for=\"",
            "for=\"[",
            "for=\"[::1]",
            "\"",
            "\\\"",
            "[",
            "]:",
            "1.2.3.4:99999",
            "1.2.3.4:-1",
            "[::ffff:1.2.3.4]",
            "::ffff:1.2.3.4",
            "0x7f.1",
            "127.1",
            "1.2.3.4%eth0",
            "fe80::1%eth0",
            "[fe80::1%25eth0]:80",
            "for=1.2.3.4;for=5.6.7.8",
            "by=1.2.3.4;for=9.9.9.9;proto=https",
            "FOR=8.8.8.8",
            "for = 8.8.8.8",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn case_input() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(vec!["x-forwarded-for", "forwarded", "x-real-ip"]);
    let net = prop_oneof![
        (ip(), 0u8..=128).prop_map(|(ip, l)| format!("{ip}/{l}")),
        ip().prop_map(|ip| ip.to_string()),
        "[ -~]{0,20}",
        Just("10.0.0.0/8".to_string()),
        Just("::ffff:10.0.0.0/104".to_string()),
    ];
    (
        kind,
        ip(),
        proptest::collection::vec(net, 0..4),
        prop_oneof![Just(64u8), any::<u8>()],
        proptest::collection::vec(proptest::collection::vec(junk(), 0..6), 0..4),
    )
        .prop_map(|(kind, peer, trusted, prefix, values)| {
            let mut s = format!("header: {kind}\npeer: {peer}\nprefix: {prefix}\n").into_bytes();
            for t in trusted {
                s.extend_from_slice(format!("trusted: {t}\n").as_bytes());
            }
            for entries in values {
                s.extend_from_slice(b"value: ");
                let sep: &[u8] = if kind == "forwarded" {
                    b", for="
                } else {
                    b", "
                };
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        s.extend_from_slice(sep);
                    }
                    s.extend(e.iter().filter(|b| **b != b'\n'));
                }
                s.push(b'\n');
            }
            s
        })
}

#[test]
fn forwarded() {
    fuzz(
        "forwarded",
        prop_oneof![
            3 => case_input(),
            2 => mutants("forwarded", &[b",", b"\"", b"[", b"]", b":", b";", b"for=", b"::ffff:", b"\nvalue: ", b"\ntrusted: ::/0", b"%"]),
        ],
        check,
    );
}

// ---------------------------------------------------------------------------------
// What a client must not be able to do behind a trusted proxy.

const PROXY: &str = "10.0.0.1";
const TRUSTED: &[&str] = &["10.0.0.0/8", "fd00::/8"];

fn resolver(header: ClientIpHeader) -> ClientIpResolver {
    let trusted = TRUSTED.iter().map(|s| parse_net(s).unwrap()).collect();
    ClientIpResolver::new(trusted, header, RateLimitConfig::default().ipv6_prefix_len)
}

fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
    ip().prop_filter("untrusted", |ip| {
        let c = canonical(*ip);
        !TRUSTED.iter().any(|n| parse_net(n).unwrap().contains(&c))
    })
}

fn value(bytes: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// X-Forwarded-For: whatever the client sent, the proxy's appended entry (in any
    /// notation, with trusted hops after it) is the client.
    #[test]
    fn xff_client_cannot_choose_its_address(
        sent in junk(), real in untrusted_ip(), style in any::<u8>(), port in any::<u16>(),
        inner_proxies in 0usize..3,
    ) {
        let mut v = sent.clone();
        v.extend_from_slice(format!(", {}", written(real, style, port)).as_bytes());
        for i in 0..inner_proxies {
            v.extend_from_slice(format!(", 10.0.0.{}", i + 2).as_bytes());
        }
        let Some(v) = value(&v) else { return Ok(()) };
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", v);
        let got = resolver(ClientIpHeader::XForwardedFor).client_ip(PROXY.parse().unwrap(), &h);
        prop_assert_eq!(got, canonical(real));
    }

    /// A client-sent header line before the proxy's own line changes nothing either.
    #[test]
    fn xff_earlier_header_lines_do_not_count(sent in junk(), real in untrusted_ip()) {
        let mut h = HeaderMap::new();
        if let Some(v) = value(&sent) { h.append("x-forwarded-for", v); }
        h.append("x-forwarded-for", value(real.to_string().as_bytes()).unwrap());
        let got = resolver(ClientIpHeader::XForwardedFor).client_ip(PROXY.parse().unwrap(), &h);
        prop_assert_eq!(got, canonical(real));
    }

    /// Forwarded, the proxy adding its own header line.
    #[test]
    fn forwarded_client_cannot_choose_its_address(
        sent in junk(), real in untrusted_ip(), style in any::<u8>(), port in any::<u16>(),
    ) {
        let mut h = HeaderMap::new();
        if let Some(v) = value(&sent) { h.append("forwarded", v); }
        // Unquoted IPv6 and ports are invalid in Forwarded: proxies quote them.
        let node = match (real, style % 2) {
            (IpAddr::V4(v4), 0) => v4.to_string(),
            (IpAddr::V4(v4), _) => format!("\"{v4}:{port}\""),
            (IpAddr::V6(v6), 0) => format!("\"[{v6}]\""),
            (IpAddr::V6(v6), _) => format!("\"[{v6}]:{port}\""),
        };
        h.append("forwarded", value(format!("for={node};proto=https").as_bytes()).unwrap());
        // A forged X-Forwarded-For is ignored when Forwarded is configured.
        h.append("x-forwarded-for", value(b"203.0.113.66").unwrap());
        let got = resolver(ClientIpHeader::Forwarded).client_ip(PROXY.parse().unwrap(), &h);
        prop_assert_eq!(got, canonical(real));
    }

    /// Forwarded, the proxy appending to the client's line: a client can at worst make
    /// its entry unreadable (and be counted as the proxy), never pick an address.
    #[test]
    fn forwarded_same_line_yields_the_client_or_the_proxy(sent in junk(), real in untrusted_ip()) {
        let node = match real {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("\"[{v6}]\""),
        };
        let mut v = sent.clone();
        v.extend_from_slice(format!(", for={node}").as_bytes());
        let Some(v) = value(&v) else { return Ok(()) };
        let mut h = HeaderMap::new();
        h.append("forwarded", v);
        let proxy: IpAddr = PROXY.parse().unwrap();
        let got = resolver(ClientIpHeader::Forwarded).client_ip(proxy, &h);
        prop_assert!(got == canonical(real) || got == proxy, "got {}", got);
    }

    /// Formatting round trip: every notation of an address parses back to it, and
    /// IPv4-mapped IPv6 is the IPv4 address.
    #[test]
    fn every_notation_parses_back(ip in ip(), style in any::<u8>(), port in any::<u16>()) {
        prop_assert_eq!(parse_node(&written(ip, style, port)), Some(canonical(ip)));
    }

    /// IPv6 clients in one prefix share a bucket; IPv4 is keyed by address.
    #[test]
    fn ipv6_prefix_shares_one_bucket(a in any::<[u8; 16]>(), tail in any::<u64>(), len in 1u8..=64) {
        let a = Ipv6Addr::from(a);
        if a.to_ipv4_mapped().is_some() { return Ok(()); }
        let net = ipnet::Ipv6Net::new(a, len).unwrap().trunc();
        let b = Ipv6Addr::from(u128::from(net.network()) | (tail as u128 & (u128::MAX >> len)));
        if b.to_ipv4_mapped().is_some() { return Ok(()); }
        prop_assert_eq!(bucket_key(IpAddr::V6(a), len), bucket_key(IpAddr::V6(b), len));
    }
}
