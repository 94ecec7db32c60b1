//! A Sentry transport on the HTTP client the host already uses (reqwest 0.12), so the
//! `sentry` crate does not bring a second HTTP and TLS stack. Envelopes are posted from
//! one background thread; `flush` waits until the queue is empty.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Posts envelopes to the DSN's envelope endpoint.
pub struct HttpTransport {
    queue: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    pending: Arc<(Mutex<usize>, Condvar)>,
}

impl HttpTransport {
    /// A transport for the client's DSN.
    pub fn new(options: &sentry::ClientOptions) -> Self {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let pending = Arc::new((Mutex::new(0usize), Condvar::new()));
        let target = options.dsn.as_ref().map(|dsn| {
            (
                dsn.envelope_api_url().to_string(),
                dsn.to_auth(Some(concat!("autbot/", env!("CARGO_PKG_VERSION"))))
                    .to_string(),
            )
        });
        let done = pending.clone();
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
                for body in rx {
                    if let Some((url, auth)) = &target {
                        let sent = rt.block_on(
                            client
                                .post(url)
                                .header("X-Sentry-Auth", auth)
                                .body(body)
                                .send(),
                        );
                        if let Err(e) = sent {
                            tracing::debug!(error = %e.without_url(), "sentry event not delivered");
                        }
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
        }
    }
}

impl sentry::Transport for HttpTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let mut body = Vec::new();
        if envelope.to_writer(&mut body).is_err() {
            return;
        }
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = queue.as_ref() {
            *self.pending.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            if tx.send(body).is_err() {
                *self.pending.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
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
