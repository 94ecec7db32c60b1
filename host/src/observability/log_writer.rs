//! The log sink: lines are appended to a shared buffer (a lock and a copy, no system
//! call) and a background thread writes the buffer out every [`FLUSH_INTERVAL`], or as
//! soon as it holds [`FLUSH_BYTES`]. A request therefore never waits on the terminal or
//! the log pipe, and a burst costs one `write` per batch instead of one per line.
//!
//! `tracing-appender`'s non-blocking writer does the same job with a channel message per
//! line, which wakes its worker for every line: measured at about 7 µs per request with
//! `cargo bench --bench observability_overhead`, more than the whole JSON formatting.
//!
//! Nothing is dropped: when the output cannot keep up and [`MAX_BUFFERED_BYTES`] are
//! waiting, writers wait for the flush. Dropping the [`FlushGuard`] writes what is left.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// Buffered bytes that trigger a flush before the interval ends.
pub const FLUSH_BYTES: usize = 64 * 1024;
/// Buffered bytes at which writers wait for the flush (back-pressure, not loss).
pub const MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    /// The guard asked the flusher to write what is left and stop.
    closing: bool,
    /// The flusher has written everything and stopped: writers write through.
    done: bool,
}

#[derive(Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// Signals the flusher: enough bytes, or closing.
    full: Condvar,
    /// Signals writers waiting for room.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A panic while holding the lock leaves plain bytes behind: still usable.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `MakeWriter` handed to the subscriber; cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Stops the flusher thread and writes what is still buffered when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the flusher thread writing to `out`.
pub fn batched(out: impl Write + Send + 'static) -> std::io::Result<(BatchedWriter, FlushGuard)> {
    let shared = Arc::new(Shared::default());
    let flusher = shared.clone();
    let thread = std::thread::Builder::new()
        .name("autbot-log-writer".into())
        .spawn(move || flush_loop(&flusher, out))?;
    Ok((
        BatchedWriter {
            shared: shared.clone(),
        },
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn flush_loop(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let closing = {
            let mut buffer = shared.lock();
            if !buffer.closing && buffer.bytes.len() < FLUSH_BYTES {
                buffer = shared
                    .full
                    .wait_timeout(buffer, FLUSH_INTERVAL)
                    .map(|(b, _)| b)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            if buffer.closing && buffer.bytes.is_empty() {
                // Everything before this point is written; later lines go straight out.
                buffer.done = true;
                shared.drained.notify_all();
                return;
            }
            std::mem::swap(&mut buffer.bytes, &mut spare);
            buffer.closing
        };
        shared.drained.notify_all();
        // Nowhere to report a failing log output; keep serving.
        let _ = out.write_all(&spare).and_then(|()| out.flush());
        spare.clear();
        if closing {
            shared.full.notify_one();
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.full.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for &BatchedWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.shared.lock();
        while buffer.bytes.len() >= MAX_BUFFERED_BYTES && !buffer.done {
            self.shared.full.notify_one();
            buffer = self
                .shared
                .drained
                .wait(buffer)
                .unwrap_or_else(|e| e.into_inner());
        }
        if buffer.done {
            // After the flusher stopped: write through so the line is not lost.
            drop(buffer);
            return std::io::stdout().write(line);
        }
        buffer.bytes.extend_from_slice(line);
        if buffer.bytes.len() >= FLUSH_BYTES {
            self.shared.full.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = &'a BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_from_many_threads() {
        let out = Capture::default();
        let (writer, guard) = batched(out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        (&w).write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t} out of order");
            next[t] += 1;
        }
        assert_eq!(next, [20_000; 4]);
    }

    #[test]
    fn a_line_is_written_within_the_interval_without_more_traffic() {
        let out = Capture::default();
        let (writer, _guard) = batched(out.clone()).unwrap();
        (&writer).write_all(b"lonely line\n").unwrap();
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 50;
        while out.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never flushed");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(&*out.0.lock().unwrap(), b"lonely line\n");
    }
}
