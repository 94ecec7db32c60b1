//! Slow and greedy clients, on raw TCP sockets: partial headers are closed at the
//! header read timeout, a stalled body gets 408 at the body read timeout and gives its
//! slot back, connections beyond `server.max_connections` (or
//! `server.max_connections_per_ip` from one peer) are closed while the open ones are
//! served, and one client cannot have more than `server.max_concurrent_per_client`
//! requests in flight.

use crate::support::client;
use crate::support::server::{Server, ServerBuilder};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTP response.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads one response (its `Content-Length`, or up to the end of the connection).
/// `None` when the server closed the connection before a response started.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<RawResponse> {
    tokio::time::timeout(within, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) if buf.is_empty() => return None,
                Ok(0) | Err(_) => panic!("connection closed inside a response head"),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let mut response = RawResponse {
            status,
            head,
            body: buf[head_end..].to_vec(),
        };
        let length = response
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        while length.is_none_or(|n| response.body.len() < n) {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.body.extend_from_slice(&chunk[..n]),
            }
        }
        Some(response)
    })
    .await
    .expect("no response in time")
}

/// Waits until the server closes `stream`; returns how long that took, or panics
/// after `within`. Any bytes the server sends first are returned too.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + within),
            stream.read(&mut chunk),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), got),
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Err(_) => panic!(
                "the connection is still open after {within:?} (received {:?})",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

async fn connect(s: &Server) -> TcpStream {
    TcpStream::connect(s.addr).await.expect("connect")
}

/// `GET /health` on a kept-alive raw connection.
async fn health_on(stream: &mut TcpStream) -> Option<u16> {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: autbot\r\n\r\n")
        .await
        .ok()?;
    read_response(stream, Duration::from_secs(5))
        .await
        .map(|r| r.status)
}

/// The head of a query whose body announces `length` bytes, and its first bytes.
fn query_head(length: usize, extra_headers: &str) -> String {
    format!(
        "POST /api/query HTTP/1.1\r\nHost: autbot\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{extra_headers}\r\n{{\"query\""
    )
}

const QUESTION: &str = r#"{"query": "What is AutBot?"}"#;

#[tokio::test]
async fn partial_headers_and_idle_connections_are_closed_at_the_header_read_timeout() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SERVER__HEADER_READ_TIMEOUT_SECS", "1")
        .start()
        .ready()
        .await;
    // Slowloris: a request head that never ends.
    let mut partial = connect(&s).await;
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: autbot\r\nX-Slow: 1\r\n")
        .await
        .unwrap();
    // A connection that never sends anything.
    let mut idle = connect(&s).await;
    let (took, got) = closed_within(&mut partial, Duration::from_secs(4)).await;
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    assert!(
        !String::from_utf8_lossy(&got).contains(" 200 "),
        "a partial head is never answered"
    );
    closed_within(&mut idle, Duration::from_secs(2)).await;

    // A complete request within the timeout is served, and a kept-alive connection
    // is closed once it has been idle for the timeout.
    let mut fine = connect(&s).await;
    assert_eq!(health_on(&mut fine).await, Some(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(health_on(&mut fine).await, Some(200), "kept alive");
    let (took, _) = closed_within(&mut fine, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(800), "{took:?}");
}

#[tokio::test]
async fn a_stalled_body_gets_408_in_time_and_gives_its_slot_back() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SERVER__BODY_READ_TIMEOUT_SECS", "1")
        .env("AUTBOT_SERVER__MAX_CONCURRENT_PER_CLIENT", "1")
        .env("AUTBOT_CACHE__BACKEND", "off")
        .start()
        .ready()
        .await;
    let mut stalled = connect(&s).await;
    let started = Instant::now();
    stalled
        .write_all(query_head(200, "").as_bytes())
        .await
        .unwrap();
    let r = read_response(&mut stalled, Duration::from_secs(4))
        .await
        .expect("a response, not a dropped connection");
    let took = started.elapsed();
    assert_eq!(r.status, 408, "{r:?}");
    assert!(
        (Duration::from_millis(800)..Duration::from_secs(4)).contains(&took),
        "{took:?}"
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = r.json();
    assert_eq!(body["code"], "body_timeout", "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    closed_within(&mut stalled, Duration::from_secs(2)).await;

    // Its slot (the only one of this client) is free again.
    let (status, answer) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200, "{answer}");

    // A body that arrives slowly but within the timeout is fine.
    let mut slow = connect(&s).await;
    let head = query_head(QUESTION.len(), "");
    let head = head.strip_suffix("{\"query\"").unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    for part in QUESTION.as_bytes().chunks(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        slow.write_all(part).await.unwrap();
    }
    let r = read_response(&mut slow, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_while_the_open_ones_are_served() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SERVER__MAX_CONNECTIONS", "3")
        .start()
        .ready()
        .await;
    // Connections the readiness poll used may still be closing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&s).await;
        assert_eq!(health_on(&mut c).await, Some(200));
        open.push(c);
    }
    for _ in 0..3 {
        let mut extra = connect(&s).await;
        let _ = extra
            .write_all(b"GET /health HTTP/1.1\r\nHost: autbot\r\n\r\n")
            .await;
        let (_, got) = closed_within(&mut extra, Duration::from_secs(2)).await;
        assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    }
    // The open connections are still served.
    for c in &mut open {
        assert_eq!(health_on(c).await, Some(200));
    }
    // Closing one makes room for a new one.
    drop(open.pop());
    let started = Instant::now();
    loop {
        let mut c = connect(&s).await;
        if health_on(&mut c).await == Some(200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the freed place was never reused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = s.logs_flushed().await;
    assert!(logs.contains("connection limit reached"), "{logs}");
}

#[tokio::test]
async fn one_client_cannot_have_more_than_its_share_in_flight() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SERVER__MAX_CONCURRENT_PER_CLIENT", "2")
        .env("AUTBOT_SERVER__BODY_READ_TIMEOUT_SECS", "10")
        .env("AUTBOT_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .env("AUTBOT_CACHE__BACKEND", "off")
        .start()
        .ready()
        .await;
    // Two requests of client 198.51.100.7 in flight (their bodies not sent yet).
    let head = query_head(QUESTION.len(), "X-Forwarded-For: 198.51.100.7\r\n");
    let head = head.strip_suffix("{\"query\"").unwrap().to_string();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&s).await;
        c.write_all(head.as_bytes()).await.unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let query = |xff: &'static str| {
        client()
            .post(s.url("/api/query"))
            .header("x-forwarded-for", xff)
            .json(&json!({"query": "What is AutBot?"}))
            .send()
    };
    let r = query("198.51.100.7").await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "too_many_concurrent_requests", "{body}");
    assert!(body["request_id"].is_string() && body["error"].is_string());
    // Another client is not affected.
    assert_eq!(query("203.0.113.5").await.unwrap().status(), 200);
    // The held requests complete; then the client has its slots back.
    for c in &mut held {
        c.write_all(QUESTION.as_bytes()).await.unwrap();
        let r = read_response(c, Duration::from_secs(10)).await.unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(query("198.51.100.7").await.unwrap().status(), 200);
}

/// A connection from another loopback address (127.0.0.0/8 is all this machine).
async fn connect_from(s: &Server, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(s.addr).await.expect("connect")
}

#[tokio::test]
async fn one_peer_cannot_hold_every_connection_but_a_trusted_proxy_may() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SERVER__MAX_CONNECTIONS_PER_IP", "2")
        .env("AUTBOT_RATE_LIMIT__TRUSTED_PROXIES", r#"["127.0.0.3"]"#)
        .start()
        .ready()
        .await;
    let mut greedy = Vec::new();
    for _ in 0..2 {
        let mut c = connect_from(&s, "127.0.0.2").await;
        assert_eq!(health_on(&mut c).await, Some(200));
        greedy.push(c);
    }
    let mut third = connect_from(&s, "127.0.0.2").await;
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nHost: autbot\r\n\r\n")
        .await;
    let (_, got) = closed_within(&mut third, Duration::from_secs(2)).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    // Other peers are served; the trusted proxy is not capped per IP.
    let mut other = connect_from(&s, "127.0.0.4").await;
    assert_eq!(health_on(&mut other).await, Some(200));
    let mut proxied = Vec::new();
    for _ in 0..4 {
        let mut c = connect_from(&s, "127.0.0.3").await;
        assert_eq!(health_on(&mut c).await, Some(200));
        proxied.push(c);
    }
    // The greedy peer's open connections are still served.
    for c in &mut greedy {
        assert_eq!(health_on(c).await, Some(200));
    }
}
