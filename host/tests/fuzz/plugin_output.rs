//! The plugin boundary: what the host makes of whatever a plugin returns.
//!
//! A plugin's result is a canonical-ABI return area in its own memory: pointers and
//! lengths the guest chooses. Each target here loads a hand-written component (WAT
//! below) that returns *the fuzz input itself* as its return area: the input travels
//! to the guest hex-encoded in the query text (letters `a`–`p`), the guest decodes it
//! to address 0x1000 and returns 0x1000. So every pointer, length, discriminant,
//! enum value, score and string byte the host lifts is fuzzed, through the real
//! `PluginHost` (fresh store, budgets, bounded lifting in `plugins/lift.rs`, then the
//! registry's checks of the lifted values).
//!
//! For any input: no panic; the request either gets a valid result or fails as
//! `plugin_failed` (500), never `internal_error`; an accepted result is within the
//! plugin's `max_output_bytes` / `max_output_entries`; a ranker's result only names
//! passages it was given, with finite scores, each once; a refusal's code is
//! snake_case; and no failure echoes more than a bounded amount of guest data.

use super::{fuzz, mutants, note, Outcome};
use autbot::config::{Config, PluginEntry, PluginsConfig};
use autbot::embeddings::LocalEmbedder;
use autbot::error::Error;
use autbot::llm::Extractive;
use autbot::plugins::{HostServices, PluginHost, RequestContext};
use autbot::rag::live::LiveIndex;
use autbot::rag::params::SearchParams;
use autbot::rag::retrieve::Passage;
use proptest::prelude::*;
use std::sync::Arc;

/// Where the guest puts the decoded input; the return area is its first bytes.
const BASE: u32 = 0x1000;
/// Largest decoded input (the guest stops there).
const MAX_INPUT: usize = 0x1F000;
const MAX_OUTPUT_BYTES: usize = 4096;
const MAX_OUTPUT_ENTRIES: usize = 64;

/// The core module every hook's component wraps: a bump allocator for the host's
/// arguments (from 0x20000) and the decoder.
const CORE: &str = r#"
  (core module $m
    (memory (export "memory") 16)
    (global $bump (mut i32) (i32.const 0x20000))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    ;; Decodes the hex text at ($p, $n) (digits a..p) to 0x1000; returns 0x1000.
    (func $decode (param $p i32) (param $n i32) (result i32)
      (local $i i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
          (br_if $done (i32.ge_u (local.get $i) (i32.const 0x3E000)))
          (i32.store8
            (i32.add (i32.const 0x1000) (i32.shr_u (local.get $i) (i32.const 1)))
            (i32.or
              (i32.shl
                (i32.and (i32.sub (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 97)) (i32.const 15))
                (i32.const 4))
              (i32.and
                (i32.sub (i32.load8_u (i32.add (local.get $p) (i32.add (local.get $i) (i32.const 1)))) (i32.const 97))
                (i32.const 15))))
          (local.set $i (i32.add (local.get $i) (i32.const 2)))
          (br $next)))
      (i32.const 0x1000))
    (func (export "one") (param i32 i32 i32 i32) (result i32)
      (call $decode (local.get 0) (local.get 1)))
    (func (export "two") (param i32 i32 i32 i32 i32 i32) (result i32)
      (call $decode (local.get 0) (local.get 1)))
  )
  (core instance $i (instantiate $m))
"#;

const TYPES: &str = r#"
  (type $query' (record (field "text" string) (field "request-id" string)))
  (export $query "query" (type $query'))
  (type $passage' (record (field "id" string) (field "text" string) (field "source" string)
                          (field "heading" string) (field "score" f64)))
  (export $passage "passage" (type $passage'))
"#;

/// The component of one hook.
fn component(hook: &str) -> String {
    let (types, func) = match hook {
        "preprocessor" => (
            r#"
  (type $rejection' (record (field "reason" string) (field "code" string)))
  (export $rejection "rejection" (type $rejection'))"#,
            r#"
  (func $f (param "q" $query) (result (result $query (error $rejection)))
    (canon lift (core func $i "one") (memory $i "memory") (realloc (func $i "realloc"))))
  (export "preprocess" (func $f))"#,
        ),
        "ranker" => (
            r#"
  (type $ranked' (record (field "id" string) (field "score" f64)))
  (export $ranked "ranked" (type $ranked'))"#,
            r#"
  (func $f (param "q" $query) (param "candidates" (list $passage)) (result (list $ranked))
    (canon lift (core func $i "two") (memory $i "memory") (realloc (func $i "realloc"))))
  (export "rank" (func $f))"#,
        ),
        _ => (
            r#"
  (type $role' (enum "system" "user" "assistant"))
  (export $role "role" (type $role'))
  (type $message' (record (field "role" $role) (field "content" string)))
  (export $message "message" (type $message'))"#,
            r#"
  (func $f (param "q" $query) (param "passages" (list $passage)) (result (list $message))
    (canon lift (core func $i "two") (memory $i "memory") (realloc (func $i "realloc"))))
  (export "build-prompt" (func $f))"#,
        ),
    };
    format!("(component {TYPES}{types}{CORE}{func})")
}

/// A plugin host serving one data-driven component, and a runtime to drive it.
struct Harness {
    host: PluginHost,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn harness(hook: &str) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = wat::parse_str(component(hook)).expect("component text");
    std::fs::write(dir.path().join("echo.wasm"), wasm).expect("write component");
    let entry: PluginEntry = toml::from_str(&format!(
        r#"
        name = "echo-memory"
        hook = "{hook}"
        path = "echo.wasm"
        deadline_ms = 2000
        memory_mb = 4
        max_output_bytes = {MAX_OUTPUT_BYTES}
        max_output_entries = {MAX_OUTPUT_ENTRIES}
        self_test = false
        "#
    ))
    .expect("plugin entry");
    let config = PluginsConfig {
        dir: dir.path().to_path_buf(),
        watch: false,
        cache_dir: None,
        chain: vec![entry],
        ..PluginsConfig::default()
    };
    let services = Arc::new(HostServices {
        index: Arc::new(LiveIndex::default()),
        embedder: Arc::new(LocalEmbedder::new(32)),
        llm: Arc::new(Extractive),
        search_params: SearchParams::from_config(&Config::default()),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let host = rt
        .block_on(PluginHost::new(&config, services))
        .unwrap_or_else(|e| panic!("loading the {hook} component: {e:?}"));
    Harness {
        host,
        rt,
        _dir: dir,
    }
}

/// The fuzz input as the guest receives it.
fn encode(input: &[u8]) -> String {
    let input = &input[..input.len().min(MAX_INPUT)];
    let mut s = String::with_capacity(input.len() * 2 + 2);
    for b in input {
        s.push((b'a' + (b >> 4)) as char);
        s.push((b'a' + (b & 15)) as char);
    }
    if s.is_empty() {
        // The host never sends an empty query; a zero byte decodes to a zero area.
        s.push_str("aa");
    }
    s
}

fn candidates() -> Vec<Passage> {
    (0..4)
        .map(|i| Passage {
            id: format!("p{i}"),
            text: format!("passage {i}"),
            source: "fuzz.md".into(),
            heading: String::new(),
            score: 1.0 - i as f64 / 10.0,
        })
        .collect()
}

/// A failure must be `plugin_failed`, with a bounded message.
fn check_failure(e: &Error) -> Outcome {
    let code = e.code();
    if code != "plugin_failed" {
        return Err(format!("failed as {code} ({}): {e}", e.status()));
    }
    let shown = e.to_string();
    let detail = shown
        .split_once("failed: ")
        .map(|(_, d)| d)
        .unwrap_or(&shown);
    note(if detail.starts_with("could not be started") {
        detail
    } else {
        detail.split(['`', ':', '(']).next().unwrap_or(detail)
    });
    if shown.len() > 2 * 1024 {
        return Err(format!(
            "the error message carries {} bytes of guest data: {:.200}",
            shown.len(),
            shown
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Return-area images: well-formed enough to reach the lifting of every field.

/// A memory image built at `BASE`.
struct Image(Vec<u8>);

impl Image {
    fn new(header: usize) -> Self {
        Image(vec![0; header])
    }
    fn addr(&self) -> u32 {
        BASE + self.0.len() as u32
    }
    fn align(&mut self, to: usize) {
        while !self.0.len().is_multiple_of(to) {
            self.0.push(0);
        }
    }
    fn put(&mut self, bytes: &[u8]) -> u32 {
        let a = self.addr();
        self.0.extend_from_slice(bytes);
        a
    }
    fn set_u32(&mut self, at: usize, v: u32) {
        self.0[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// A string as the guest might return it: its bytes somewhere, and the (ptr, len)
/// pair, sometimes lying.
#[derive(Debug, Clone)]
enum Str {
    Valid(Vec<u8>),
    /// Pointer and length chosen outright (out of bounds, huge, overlapping).
    Raw(u32, u32),
}

fn str_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec!["p0", "p1", "p2", "p3"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => "[a-z_]{0,12}".prop_map(String::into_bytes),
        1 => "\\PC{0,12}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..16),
        1 => (1usize..6000).prop_map(|n| vec![b'a'; n]),
    ]
}

fn a_str() -> impl Strategy<Value = Str> {
    prop_oneof![
        8 => str_bytes().prop_map(Str::Valid),
        1 => (any::<u32>(), prop_oneof![0u32..64, any::<u32>(), Just(u32::MAX), Just(0x8000_0010)])
            .prop_map(|(p, l)| Str::Raw(p, l)),
        1 => (prop_oneof![Just(BASE), Just(0x1_0000u32), Just(0x20000u32), Just(0x10_0000u32 - 4)], 0u32..0x20000)
            .prop_map(|(p, l)| Str::Raw(p, l)),
    ]
}

fn put_str(img: &mut Image, s: &Str) -> (u32, u32) {
    match s {
        Str::Valid(b) => (img.put(b), b.len() as u32),
        Str::Raw(p, l) => (*p, *l),
    }
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -10.0f64..10.0,
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, f64::MIN_POSITIVE / 2.0, f64::MAX]),
        1 => any::<u64>().prop_map(f64::from_bits),
    ]
}

/// How the list header lies about its entries.
fn list_len(real: usize) -> impl Strategy<Value = u32> {
    prop_oneof![
        8 => Just(real as u32),
        1 => any::<u32>(),
        1 => prop::sample::select(vec![0u32, 1, MAX_OUTPUT_ENTRIES as u32, MAX_OUTPUT_ENTRIES as u32 + 1, 16384, u32::MAX]),
    ]
}

fn list_ptr_shift() -> impl Strategy<Value = i64> {
    prop_oneof![8 => Just(0i64), 1 => -16i64..16, 1 => any::<u32>().prop_map(|v| v as i64)]
}

fn ranked_image() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((a_str(), score()), 0..24)
        .prop_flat_map(|entries| {
            let n = entries.len();
            (Just(entries), list_len(n), list_ptr_shift())
        })
        .prop_map(|(entries, len, shift)| {
            let mut img = Image::new(8);
            // Strings first, then the 8-aligned entry array.
            let strs: Vec<(u32, u32)> = entries.iter().map(|(s, _)| put_str(&mut img, s)).collect();
            img.align(8);
            let list = img.addr();
            for ((p, l), (_, score)) in strs.iter().zip(&entries) {
                img.put(&p.to_le_bytes());
                img.put(&l.to_le_bytes());
                img.put(&score.to_le_bytes());
            }
            img.set_u32(0, (list as i64 + shift) as u32);
            img.set_u32(4, len);
            img.0
        })
}

fn message_image() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((prop_oneof![6 => 0u8..3, 1 => any::<u8>()], a_str()), 0..24)
        .prop_flat_map(|entries| {
            let n = entries.len();
            (Just(entries), list_len(n), list_ptr_shift())
        })
        .prop_map(|(entries, len, shift)| {
            let mut img = Image::new(8);
            let strs: Vec<(u32, u32)> = entries.iter().map(|(_, s)| put_str(&mut img, s)).collect();
            img.align(4);
            let list = img.addr();
            for ((p, l), (role, _)) in strs.iter().zip(&entries) {
                img.put(&[*role, 0, 0, 0]);
                img.put(&p.to_le_bytes());
                img.put(&l.to_le_bytes());
            }
            img.set_u32(0, (list as i64 + shift) as u32);
            img.set_u32(4, len);
            img.0
        })
}

fn result_image() -> impl Strategy<Value = Vec<u8>> {
    (prop_oneof![6 => 0u8..2, 1 => any::<u8>()], a_str(), a_str()).prop_map(|(disc, a, b)| {
        // Discriminant at 0, payload (two strings) at 4.
        let mut img = Image::new(20);
        img.0[0] = disc;
        let (ap, al) = put_str(&mut img, &a);
        let (bp, bl) = put_str(&mut img, &b);
        img.set_u32(4, ap);
        img.set_u32(8, al);
        img.set_u32(12, bp);
        img.set_u32(16, bl);
        img.0
    })
}

const TOKENS: &[&[u8]] = &[
    b"\x00\x10\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x80",
    b"\x00\x40\x00\x00",
    b"p0",
    b"\x00\x00\x00\x00\x00\x00\xf8\x7f",
    b"\xc0\x80",
    b"\xed\xa0\x80",
];

#[test]
fn plugin_rank() {
    let h = harness("ranker");
    let given: Vec<String> = candidates().into_iter().map(|p| p.id).collect();
    fuzz(
        "plugin_rank",
        prop_oneof![3 => ranked_image(), 1 => mutants("plugin_rank", TOKENS)],
        |input| match h.rt.block_on(h.host.rank(
            &encode(input),
            &RequestContext::new("fuzz"),
            candidates(),
        )) {
            Err(e) => check_failure(&e),
            Ok(passages) => {
                let mut seen = std::collections::HashSet::new();
                for p in &passages {
                    if !given.contains(&p.id) || !seen.insert(p.id.clone()) {
                        return Err(format!("passage id {:?} unknown or repeated", p.id));
                    }
                    if !p.score.is_finite() {
                        return Err(format!("score {} accepted", p.score));
                    }
                }
                note(if passages.is_empty() {
                    "ok, no passages"
                } else {
                    "ok"
                });
                Ok(())
            }
        },
    );
}

#[test]
fn plugin_preprocess() {
    let h = harness("preprocessor");
    fuzz(
        "plugin_preprocess",
        prop_oneof![3 => result_image(), 1 => mutants("plugin_preprocess", TOKENS)],
        |input| match h.rt.block_on(
            h.host
                .preprocess(encode(input), &RequestContext::new("fuzz")),
        ) {
            Err(e) if e.status() == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                // A refusal: its code is the plugin's when valid, else a fixed one.
                let code = e.code();
                let valid = !code.is_empty()
                    && code.len() <= 64
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(format!("refusal code {code:?} passed through"));
                }
                if e.to_string().len() > MAX_OUTPUT_BYTES {
                    return Err(format!("a refusal of {} bytes", e.to_string().len()));
                }
                note("refused");
                Ok(())
            }
            Err(e) => check_failure(&e),
            Ok(text) => {
                if text.trim().is_empty() || text.len() > MAX_OUTPUT_BYTES {
                    return Err(format!("query of {} bytes accepted", text.len()));
                }
                note("ok");
                Ok(())
            }
        },
    );
}

#[test]
fn plugin_prompt() {
    let h = harness("prompt-builder");
    fuzz(
        "plugin_prompt",
        prop_oneof![3 => message_image(), 1 => mutants("plugin_prompt", TOKENS)],
        |input| match h.rt.block_on(h.host.build_prompt(
            &encode(input),
            &RequestContext::new("fuzz"),
            &candidates(),
        )) {
            Err(e) => check_failure(&e),
            Ok(messages) => {
                let bytes: usize = messages.iter().map(|m| m.content.len()).sum();
                if messages.is_empty()
                    || messages.len() > MAX_OUTPUT_ENTRIES
                    || bytes > MAX_OUTPUT_BYTES
                {
                    return Err(format!(
                        "{} messages of {bytes} bytes accepted",
                        messages.len()
                    ));
                }
                note("ok");
                Ok(())
            }
        },
    );
}
