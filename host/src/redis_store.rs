//! The shared Redis connection: connects in the background (the server never waits
//! on Redis to start), reconnects after failures, bounds every command by
//! `redis.command_timeout_ms`, and tracks health for `/ready`.

use crate::config::RedisConfig;
use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the connection is checked (and re-established when lost).
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);

/// A Redis connection shared by the rate limiter and the cache.
pub struct RedisStore {
    client: redis::Client,
    conn: ArcSwapOption<ConnectionManager>,
    connect_timeout: Duration,
    command_timeout: Duration,
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Prefix of every key.
    pub prefix: String,
}

impl RedisStore {
    /// Starts connecting in the background.
    pub fn start(c: &RedisConfig) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(c.url.as_str())
            .map_err(|_| "redis.url: not a valid redis:// URL".to_string())?;
        let store = Arc::new(Self {
            client,
            conn: ArcSwapOption::empty(),
            connect_timeout: Duration::from_millis(c.connect_timeout_ms),
            command_timeout: Duration::from_millis(c.command_timeout_ms),
            healthy: AtomicBool::new(false),
            last_error: Mutex::new(Some("connecting".into())),
            prefix: c.key_prefix.clone(),
        });
        let weak = Arc::downgrade(&store);
        tokio::spawn(async move {
            while let Some(store) = weak.upgrade() {
                store.check().await;
                drop(store);
                tokio::time::sleep(HEALTH_INTERVAL).await;
            }
        });
        Ok(store)
    }

    /// Connects when needed and pings; updates the health flag.
    async fn check(&self) {
        if self.conn.load().is_none() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.connect_timeout))
                .set_response_timeout(Some(self.command_timeout))
                .set_number_of_retries(1);
            let attempt = tokio::time::timeout(
                self.connect_timeout * 2,
                ConnectionManager::new_with_config(self.client.clone(), config),
            )
            .await;
            match attempt {
                Ok(Ok(conn)) => self.conn.store(Some(Arc::new(conn))),
                Ok(Err(e)) => return self.mark(Err(e.to_string())),
                Err(_) => return self.mark(Err("connect timed out".into())),
            }
        }
        let pong: Result<String, String> = self
            .run(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
            .await;
        self.mark(pong.map(|_| ()));
    }

    fn mark(&self, outcome: Result<(), String>) {
        let was = self.healthy.swap(outcome.is_ok(), Ordering::SeqCst);
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => {
                if !was {
                    tracing::info!("redis connected");
                }
                *last = None;
            }
            Err(e) => {
                if was {
                    tracing::warn!(error = %e, "redis unreachable");
                }
                *last = Some(e);
            }
        }
    }

    /// Whether the last command or health check succeeded.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// The last error, for `/ready`.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs one command with the command timeout. Errors mark the store unhealthy.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let Some(conn) = self.conn.load_full() else {
            metrics::counter!(crate::observability::metrics::REDIS_ERRORS).increment(1);
            return Err(self.last_error().unwrap_or_else(|| "not connected".into()));
        };
        match tokio::time::timeout(self.command_timeout, f((*conn).clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let msg = e.to_string();
                self.healthy.store(false, Ordering::SeqCst);
                metrics::counter!(crate::observability::metrics::REDIS_ERRORS).increment(1);
                Err(msg)
            }
            Err(_) => {
                self.healthy.store(false, Ordering::SeqCst);
                metrics::counter!(crate::observability::metrics::REDIS_ERRORS).increment(1);
                Err("redis command timed out".into())
            }
        }
    }
}
