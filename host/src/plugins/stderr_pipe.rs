//! Plugin stderr: kept up to a small cap, the rest counted and dropped.
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps the guest once its capacity is reached,
//! so a chatty plugin would fail its call; an unbounded pipe would let it grow host
//! memory and the log. This pipe always accepts a write (the guest never waits and
//! never traps), keeps the first `capacity` bytes for one log line after the call,
//! and counts what it drops.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Largest write the guest is told it may make at once.
const WRITE_PERMIT: usize = 64 * 1024;

#[derive(Default)]
struct Inner {
    kept: Vec<u8>,
    dropped: u64,
}

/// A bounded, never-blocking output pipe.
#[derive(Clone)]
pub struct BoundedPipe {
    capacity: usize,
    inner: Arc<Mutex<Inner>>,
}

impl BoundedPipe {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Arc::default(),
        }
    }

    /// What was kept, and how many bytes were dropped.
    pub fn take(&self) -> (Vec<u8>, u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (
            std::mem::take(&mut inner.kept),
            std::mem::take(&mut inner.dropped),
        )
    }

    fn push(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(inner.kept.len());
        let keep = room.min(bytes.len());
        inner.kept.extend_from_slice(&bytes[..keep]);
        inner.dropped += (bytes.len() - keep) as u64;
    }
}

impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for BoundedPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for BoundedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_cap_and_counts_the_rest() {
        let mut pipe = BoundedPipe::new(10);
        for _ in 0..5 {
            pipe.write(Bytes::from_static(b"abcdef")).unwrap();
        }
        assert_eq!(pipe.check_write().unwrap(), WRITE_PERMIT);
        let (kept, dropped) = pipe.take();
        assert_eq!(kept, b"abcdefabcd");
        assert_eq!(dropped, 20);
    }
}
