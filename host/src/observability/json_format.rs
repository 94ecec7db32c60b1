//! JSON lines for `tracing-subscriber`: one object per event with `timestamp`, `level`,
//! `target`, the event's fields at the top level and the current span as
//! `"span": {"name": …, <span fields>}`: the shape of tracing-subscriber's own `json()`
//! with `flatten_event` and `with_current_span`. The difference is cost: span fields are
//! rendered once, when the span is created or recorded, and pasted into each line,
//! instead of being re-parsed from JSON for every event.

use std::fmt::{self, Write};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Renders fields as comma-separated `"name":value` pairs (the inside of an object).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields;

/// Formats each event as one JSON object per line (pair with [`JsonFields`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = PairWriter::new(writer, true);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut visitor = PairWriter::new(current.as_writer(), first);
        fields.record(&mut visitor);
        visitor.result
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Events forwarded from the `log` crate carry a generic `log` target; use theirs.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\",\"target\":", meta.level())?;
        write_json_str(&mut writer, meta.target())?;
        let mut visitor = PairWriter::new(writer.by_ref(), false);
        visitor.skip_log_fields = normalized.is_some();
        event.record(&mut visitor);
        visitor.result?;
        if let Some(span) = ctx.lookup_current() {
            writer.write_str(",\"span\":{\"name\":")?;
            write_json_str(&mut writer, span.name())?;
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonFields>>() {
                if !fields.fields.is_empty() {
                    writer.write_char(',')?;
                    writer.write_str(&fields.fields)?;
                }
            }
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// A field visitor writing `"name":value` pairs, comma-separated.
struct PairWriter<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
    /// Leave out the `log.*` fields of an event forwarded from the `log` crate (its
    /// target is already used; file and line are noise in production logs).
    skip_log_fields: bool,
}

impl<'w> PairWriter<'w> {
    fn new(writer: Writer<'w>, first: bool) -> Self {
        Self {
            writer,
            first,
            result: Ok(()),
            skip_log_fields: false,
        }
    }

    fn pair(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        if self.result.is_err() || (self.skip_log_fields && field.name().starts_with("log.")) {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.writer.write_char(',')?;
            }
            write_json_str(&mut self.writer, field.name())?;
            self.writer.write_char(':')?;
            value(&mut self.writer)
        })();
    }
}

impl Visit for PairWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, |w| write_json_str(w, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.pair(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// Writes `s` as a JSON string literal.
fn write_json_str(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(&mut *w).write_str(s)?;
    w.write_char('"')
}

/// A writer that escapes what passes through for the inside of a JSON string.
struct Escaped<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn events_are_json_objects_with_span_fields() {
        let lines = capture(|| {
            let span = tracing::info_span!(
                "request",
                request_id = "r-1",
                client = tracing::field::Empty
            );
            span.record("client", "ip:\"x\"");
            span.in_scope(|| {
                tracing::info!(
                    status = 200u64,
                    latency_ms = 1.5,
                    ok = true,
                    delta = -3i64,
                    "done \"now\"\n"
                );
                tracing::warn!(error = %"tab\there", ratio = f64::NAN, "bad");
            });
            tracing::info!("outside");
        });
        assert_eq!(lines.len(), 3);
        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "done \"now\"\n");
        assert_eq!(first["status"], 200);
        assert_eq!(first["latency_ms"], 1.5);
        assert_eq!(first["ok"], true);
        assert_eq!(first["delta"], -3);
        assert_eq!(first["span"]["name"], "request");
        assert_eq!(first["span"]["request_id"], "r-1");
        assert_eq!(first["span"]["client"], "ip:\"x\"");
        assert!(first["timestamp"].as_str().unwrap().starts_with("20"));
        assert_eq!(lines[1]["error"], "tab\there");
        assert!(lines[1]["ratio"].is_null());
        assert!(lines[2].get("span").is_none());
    }

    #[test]
    fn events_from_the_log_crate_keep_their_target() {
        let lines = capture(|| {
            let _ = tracing_log::LogTracer::init();
            log::warn!(target: "hnsw_rs::hnsw", "from log");
        });
        let line = lines
            .iter()
            .find(|l| l["message"] == "from log")
            .expect("the log event");
        assert_eq!(line["target"], "hnsw_rs::hnsw");
        assert!(line.get("log.target").is_none() && line.get("log.line").is_none());
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = String::new();
        write_json_str(&mut out, "a\u{1}b\\c").unwrap();
        assert_eq!(out, "\"a\\u0001b\\\\c\"");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\u{1}b\\c");
    }
}
