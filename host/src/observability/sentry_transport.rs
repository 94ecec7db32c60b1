//! A Sentry transport on the HTTP client the host already uses (reqwest 0.12), so the
//! `sentry` crate does not bring a second HTTP and TLS stack. Envelopes are posted from
//! one background thread; `flush` waits until the queue is empty.
//!
//! Bounded and polite:
//! - the queue holds at most `observability.sentry_queue_size` envelopes; when it is
//!   full (Sentry slow or unreachable while errors pour in) new envelopes are dropped
//!   and counted, instead of piling up in memory;
//! - Sentry's rate limits are honoured: after a `429`, a `Retry-After` or an
//!   `X-Sentry-Rate-Limits` answer, envelopes of the limited categories are dropped
//!   (and counted) until the limit expires, without a request.

use sentry::protocol::{EnvelopeItem, ItemContainer};
use sentry::transports::{RateLimiter, RateLimitingCategory};
use sentry::Envelope;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Counter: Sentry envelopes dropped, by `reason` (`queue_full`, `rate_limited`).
pub const SENTRY_DROPPED: &str = "autbot_sentry_envelopes_dropped_total";

/// Posts envelopes to the DSN's envelope endpoint.
pub struct HttpTransport {
    queue: Mutex<Option<mpsc::SyncSender<Envelope>>>,
    pending: Arc<(Mutex<usize>, Condvar)>,
    limits: Arc<Mutex<RateLimiter>>,
    dropped: Arc<AtomicU64>,
}

impl HttpTransport {
    /// A transport for the client's DSN, holding at most `capacity` envelopes in its
    /// queue (at least 1).
    pub fn new(options: &sentry::ClientOptions, capacity: usize) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Envelope>(capacity.max(1));
        let pending = Arc::new((Mutex::new(0usize), Condvar::new()));
        let limits = Arc::new(Mutex::new(RateLimiter::new()));
        let dropped = Arc::new(AtomicU64::new(0));
        let target = options.dsn.as_ref().map(|dsn| {
            (
                dsn.envelope_api_url().to_string(),
                dsn.to_auth(Some(concat!("autbot/", env!("CARGO_PKG_VERSION"))))
                    .to_string(),
            )
        });
        let done = pending.clone();
        let worker_limits = limits.clone();
        let worker_dropped = dropped.clone();
        let _ = std::thread::Builder::new()
            .name("sentry-transport".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let _runtime = rt.enter();
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default();
                for envelope in rx {
                    // A limit may have arrived while this envelope waited.
                    match (allowed(&worker_limits, envelope), &target) {
                        (Some(envelope), Some((url, auth))) => {
                            rt.block_on(post(&client, url, auth, &envelope, &worker_limits));
                        }
                        (Some(_), None) => {}
                        (None, _) => count_drop(&worker_dropped, "rate_limited"),
                    }
                    let (count, cv) = &*done;
                    let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
                    *n = n.saturating_sub(1);
                    cv.notify_all();
                }
            });
        Self {
            queue: Mutex::new(Some(tx)),
            pending,
            limits,
            dropped,
        }
    }

    /// Envelopes dropped so far (queue full or rate limited).
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Posts one envelope and learns Sentry's rate limits from the answer.
async fn post(
    client: &reqwest::Client,
    url: &str,
    auth: &str,
    envelope: &Envelope,
    limits: &Mutex<RateLimiter>,
) {
    let mut body = Vec::new();
    if envelope.to_writer(&mut body).is_err() {
        return;
    }
    let response = match client
        .post(url)
        .header("X-Sentry-Auth", auth)
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e.without_url(), "sentry event not delivered");
            return;
        }
    };
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // The same precedence as the sentry crate's own transports.
    let mut rl = limits.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = header("x-sentry-rate-limits") {
        rl.update_from_sentry_header(&h);
    } else if let Some(h) = header(reqwest::header::RETRY_AFTER.as_str()) {
        rl.update_from_retry_after(&h);
    } else if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
        rl.update_from_429();
    }
    if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
        tracing::debug!(
            "sentry is rate limiting this client; events are dropped until the limit expires"
        );
    }
}

/// The envelope without the items Sentry currently refuses (`None`: nothing left).
fn allowed(limits: &Mutex<RateLimiter>, envelope: Envelope) -> Option<Envelope> {
    let rl = limits.lock().unwrap_or_else(|e| e.into_inner());
    if rl.is_enabled(RateLimitingCategory::Any)
        && envelope.items().all(|item| rl.is_enabled(category(item)))
    {
        return Some(envelope);
    }
    envelope.filter(|item: &EnvelopeItem| rl.is_enabled(category(item)))
}

/// The rate-limit category of an envelope item.
fn category(item: &EnvelopeItem) -> RateLimitingCategory {
    match item {
        EnvelopeItem::Event(_) => RateLimitingCategory::Error,
        EnvelopeItem::SessionUpdate(_) | EnvelopeItem::SessionAggregates(_) => {
            RateLimitingCategory::Session
        }
        EnvelopeItem::Transaction(_) => RateLimitingCategory::Transaction,
        EnvelopeItem::Attachment(_) => RateLimitingCategory::Attachment,
        EnvelopeItem::ItemContainer(ItemContainer::Logs(_)) => RateLimitingCategory::LogItem,
        EnvelopeItem::ItemContainer(ItemContainer::Metrics(_)) => RateLimitingCategory::TraceMetric,
        _ => RateLimitingCategory::Any,
    }
}

fn count_drop(dropped: &AtomicU64, reason: &'static str) {
    dropped.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(SENTRY_DROPPED, "reason" => reason).increment(1);
}

impl sentry::Transport for HttpTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let Some(envelope) = allowed(&self.limits, envelope) else {
            count_drop(&self.dropped, "rate_limited");
            return;
        };
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = queue.as_ref() else {
            return;
        };
        *self.pending.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        if let Err(e) = tx.try_send(envelope) {
            *self.pending.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            if matches!(e, TrySendError::Full(_)) {
                count_drop(&self.dropped, "queue_full");
            }
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (count, cv) = &*self.pending;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            n = cv
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let flushed = self.flush(timeout);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::Transport;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn options(addr: std::net::SocketAddr) -> sentry::ClientOptions {
        let mut options = sentry::ClientOptions::default();
        options.dsn = format!("http://publickey@{addr}/42").parse().ok();
        options
    }

    fn event_envelope() -> Envelope {
        let mut envelope = Envelope::new();
        envelope.add_item(sentry::protocol::Event::default());
        envelope
    }

    /// A Sentry that accepts connections and never answers: the worker is stuck on
    /// the first envelope (5 s client timeout), so the queue fills up.
    #[test]
    fn a_full_queue_drops_and_counts() {
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let transport = HttpTransport::new(&options(addr), 3);
        for _ in 0..20 {
            transport.send_envelope(event_envelope());
        }
        // One in flight (or about to be), at most 3 queued: the rest are dropped.
        let dropped = transport.dropped();
        assert!((16..=17).contains(&dropped), "dropped {dropped}");
        drop(silent);
    }

    /// A Sentry that answers 429 with `Retry-After: 60` and counts requests.
    #[test]
    fn retry_after_stops_sending_until_it_expires() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for stream in server.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut buf = [0u8; 65536];
                let _ = stream.read(&mut buf);
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        let transport = HttpTransport::new(&options(addr), 10);
        transport.send_envelope(event_envelope());
        assert!(transport.flush(Duration::from_secs(5)));
        for _ in 0..5 {
            transport.send_envelope(event_envelope());
        }
        assert!(transport.flush(Duration::from_secs(5)));
        assert_eq!(seen.load(Ordering::SeqCst), 1, "one request, then silence");
        assert_eq!(transport.dropped(), 5);
    }

    #[test]
    fn category_limits_drop_only_their_items() {
        let limits = Mutex::new(RateLimiter::new());
        limits
            .lock()
            .unwrap()
            .update_from_sentry_header("60:transaction:organization");
        assert!(allowed(&limits, event_envelope()).is_some());
        limits
            .lock()
            .unwrap()
            .update_from_sentry_header("60:error:organization");
        assert!(allowed(&limits, event_envelope()).is_none());
    }
}
