//! Fuzzing of everything that parses untrusted input (issue 11, "Gates that keep it
//! fixed"), on the stable toolchain: a time-bounded, seeded [`proptest`] loop per target
//! with a committed corpus.
//!
//! | target | untrusted input | entry point |
//! |---|---|---|
//! | `doc_text`, `doc_markdown`, `doc_html`, `doc_pdf` | a file in the data folder | `rag::document::parse` / `parse_guarded` |
//! | `query` | the question of `/api/query` | `api::query::clean_query` |
//! | `forwarded` | `X-Forwarded-For` / `Forwarded` / `X-Real-IP` | `rate_limit::client_ip` |
//! | `plugin_preprocess`, `plugin_rank`, `plugin_prompt` | what a plugin returns | `plugins::PluginHost` (lifting, then the registry) |
//!
//! Each target first replays every file of `tests/fuzz-corpus/<target>/` (seeds and past
//! crashers, every run), then generates inputs, from grammars and by mutating the
//! corpus, until its time budget is spent. A failing input (a panic where none is
//! allowed, a broken property, a slow input) is shrunk, written to
//! `target/tmp/fuzz-crashers/<target>/`, and fails the test; commit it to the corpus
//! folder as a regression seed once fixed. An input that aborts the process (a stack
//! overflow) is left in `target/tmp/fuzz-crashers/<target>/in-flight` and picked up as
//! a crasher by the next run.
//!
//! Environment:
//! - `AUTBOT_FUZZ_SECS`: time budget per target, seconds (default 3; the replay is not
//!   counted). `AUTBOT_FUZZ_SECS=600 cargo test --release -p autbot --test fuzz -- doc_pdf`
//!   fuzzes one target for ten minutes.
//! - `AUTBOT_FUZZ_SEED`: the run's seed (printed by every run), to reproduce it.
//!
//! There is no coverage feedback (that needs a nightly toolchain for cargo-fuzz): the
//! grammars aim at the parsers' edges instead, and the corpus holds the known-hostile
//! inputs of issue 11.

mod documents;
mod forwarded;
mod plugin_output;
mod query;
mod seeds;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// What one case may do besides passing.
pub type Outcome = Result<(), String>;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The committed corpus of a target.
pub fn corpus_dir(target: &str) -> PathBuf {
    repo().join("tests/fuzz-corpus").join(target)
}

fn crashers_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-crashers")
        .join(target)
}

/// The committed seeds of a target, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).expect("read seed");
            (name, bytes)
        })
        .filter(|(name, _)| !name.starts_with('.') && name != "README.md")
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

/// Per-target time budget.
fn budget() -> Duration {
    let secs = std::env::var("AUTBOT_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs.max(0.0))
}

fn seed_of_run() -> [u8; 32] {
    let seed: u64 = std::env::var("AUTBOT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&seed.to_le_bytes());
    out[8..16].copy_from_slice(&seed.to_le_bytes());
    out
}

thread_local! {
    /// Set while a case runs on this thread: its panics are findings, printed by the
    /// harness (with this location) rather than by the default hook.
    static QUIET: RefCell<bool> = const { RefCell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// What the cases of the target running on this thread led to (see [`note`]).
    static NOTES: RefCell<std::collections::BTreeMap<String, usize>> =
        const { RefCell::new(std::collections::BTreeMap::new()) };
}

/// Counts an outcome of the current case (`ok`, or the kind of refusal), so that each
/// run shows how deep its inputs got.
pub fn note(label: &str) {
    let label: String = label.chars().take(90).collect();
    NOTES.with(|n| *n.borrow_mut().entry(label).or_default() += 1);
}

fn take_notes() -> String {
    let notes = NOTES.with(|n| std::mem::take(&mut *n.borrow_mut()));
    let total: usize = notes.values().sum();
    if total == 0 {
        return String::new();
    }
    let mut v: Vec<(String, usize)> = notes.into_iter().collect();
    v.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let shown: Vec<String> = v
        .iter()
        .take(6)
        .map(|(k, c)| format!("{:.0}% {k}", *c as f64 * 100.0 / total as f64))
        .collect();
    format!("\n  outcomes: {}", shown.join("; "))
}

/// Silences panics of cases under test (and of the document parser's worker threads,
/// whose panics the loader catches by design), remembering where they happened.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = QUIET.with(|q| *q.borrow())
                || std::thread::current().name() == Some("autbot-parse");
            if quiet {
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC
                    .with(|p| *p.borrow_mut() = Some(format!("{}{at}", payload(info.payload()))));
            } else {
                default(info);
            }
        }));
    });
}

fn payload(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".into()
    }
}

/// Runs one case; a panic is a failure.
fn run_case(check: &dyn Fn(&[u8]) -> Outcome, input: &[u8]) -> Outcome {
    QUIET.with(|q| *q.borrow_mut() = true);
    let result = catch_unwind(AssertUnwindSafe(|| check(input)));
    QUIET.with(|q| *q.borrow_mut() = false);
    match result {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "panicked: {}",
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "(unknown)".into())
        )),
    }
}

/// The input being run, kept in a file so that an abort (which no hook sees) leaves
/// it behind.
struct InFlight {
    file: std::fs::File,
    path: PathBuf,
}

impl InFlight {
    fn open(target: &str) -> Self {
        let dir = crashers_dir(target);
        std::fs::create_dir_all(&dir).expect("crashers folder");
        let path = dir.join("in-flight");
        if let Ok(bytes) = std::fs::read(&path) {
            // A previous run died inside this input.
            let kept = save_crasher(target, &bytes);
            eprintln!(
                "fuzz {target}: a previous run aborted while running the input now saved as {}; \
                 replaying it first",
                kept.display()
            );
        }
        let file = std::fs::File::create(&path).expect("in-flight file");
        Self { file, path }
    }

    fn set(&mut self, input: &[u8]) {
        use std::os::unix::fs::FileExt;
        let _ = self.file.set_len(0);
        let _ = self.file.write_all_at(input, 0);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn save_crasher(target: &str, input: &[u8]) -> PathBuf {
    use sha2::Digest;
    let dir = crashers_dir(target);
    std::fs::create_dir_all(&dir).expect("crashers folder");
    let name = format!("crash-{}", &hex::encode(sha2::Sha256::digest(input))[..16]);
    let path = dir.join(name);
    std::fs::write(&path, input).expect("write crasher");
    path
}

/// Statistics a target prints at the end.
#[derive(Default)]
pub struct Stats {
    pub replayed: usize,
    pub generated: usize,
    pub slowest: Duration,
}

/// Replays the corpus of `target`, then runs generated inputs for the time budget;
/// panics (failing the test) on the first failing input, after shrinking it.
pub fn fuzz<S>(target: &str, strategy: S, check: impl Fn(&[u8]) -> Outcome)
where
    S: Strategy<Value = Vec<u8>>,
{
    install_panic_hook();
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut in_flight = InFlight::open(target);
    let check: &dyn Fn(&[u8]) -> Outcome = &check;

    let mut seeds = corpus(target);
    if let Ok(entries) = std::fs::read_dir(crashers_dir(target)) {
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("crash-") {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    seeds.push((format!("(uncommitted) {name}"), bytes));
                }
            }
        }
    }
    for (name, input) in &seeds {
        in_flight.set(input);
        let t = Instant::now();
        if let Err(why) = run_case(check, input) {
            panic!(
                "fuzz {target}: corpus file `{name}` fails: {why}\n(in {})",
                corpus_dir(target).display()
            );
        }
        stats.slowest = stats.slowest.max(t.elapsed());
        stats.replayed += 1;
    }
    let replay_time = started.elapsed();

    let seed = seed_of_run();
    let seed_num = u64::from_le_bytes(seed[..8].try_into().unwrap());
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let deadline = Instant::now() + budget();
    while Instant::now() < deadline {
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(_) => continue,
        };
        let input = tree.current();
        in_flight.set(&input);
        let t = Instant::now();
        let outcome = run_case(check, &input);
        stats.slowest = stats.slowest.max(t.elapsed());
        stats.generated += 1;
        if let Err(why) = outcome {
            let (input, why) = shrink(&mut tree, input, why, check, &mut in_flight);
            let path = save_crasher(target, &input);
            drop(in_flight);
            panic!(
                "fuzz {target}: input {} fails: {why}\n\
                 (AUTBOT_FUZZ_SEED={seed_num}; {} bytes; first bytes: {:?})\n\
                 Once fixed, commit it as a regression seed: cp {} {}/",
                path.display(),
                input.len(),
                String::from_utf8_lossy(&input[..input.len().min(200)]),
                path.display(),
                corpus_dir(target).display()
            );
        }
    }
    eprintln!(
        "fuzz {target}: {} corpus files in {:.2} s, {} generated inputs in {:.2} s, slowest case {:.1} ms \
         (AUTBOT_FUZZ_SEED={seed_num}){}",
        stats.replayed,
        replay_time.as_secs_f64(),
        stats.generated,
        started.elapsed().as_secs_f64() - replay_time.as_secs_f64(),
        stats.slowest.as_secs_f64() * 1e3,
        take_notes(),
    );
}

/// proptest's shrinking loop, bounded in time.
fn shrink<T: ValueTree<Value = Vec<u8>>>(
    tree: &mut T,
    mut input: Vec<u8>,
    mut why: String,
    check: &dyn Fn(&[u8]) -> Outcome,
    in_flight: &mut InFlight,
) -> (Vec<u8>, String) {
    let until = Instant::now() + Duration::from_secs(30);
    if !tree.simplify() {
        return (input, why);
    }
    while Instant::now() < until {
        let candidate = tree.current();
        in_flight.set(&candidate);
        match run_case(check, &candidate) {
            Err(w) => {
                input = candidate;
                why = w;
                if !tree.simplify() {
                    break;
                }
            }
            Ok(()) => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    (input, why)
}

// ---------------------------------------------------------------------------------
// Mutation of corpus seeds: a strategy over edit scripts, so proptest shrinks a
// failing mutant towards fewer, smaller edits.

use proptest::prelude::*;
use proptest::sample::Index;

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    InsertToken(Index, Index),
    Delete(Index, usize),
    /// Copies a stretch somewhere else, `times` times (nesting, repetition).
    Repeat(Index, usize, Index, usize),
    /// Splices in a stretch of another seed.
    Splice(Index, Index, Index, usize),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::SetByte(i, b)),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Edit::Insert(i, v)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Edit::InsertToken(i, t)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        2 => (any::<Index>(), 1usize..64, any::<Index>(), 1usize..64).prop_map(|(a, n, at, k)| Edit::Repeat(a, n, at, k)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..256).prop_map(|(s, from, at, n)| Edit::Splice(s, from, at, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit], tokens: &[&[u8]], seeds: &[Vec<u8>]) -> Vec<u8> {
    const MAX: usize = 1 << 20;
    for e in edits {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match e {
            Edit::FlipBit(i, b) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] ^= 1 << b;
            }
            Edit::SetByte(i, v) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] = *v;
            }
            Edit::Insert(i, v) => {
                let p = at(i, data.len());
                data.splice(p..p, v.iter().copied());
            }
            Edit::InsertToken(i, t) if !tokens.is_empty() => {
                let p = at(i, data.len());
                let tok = tokens[t.index(tokens.len())];
                data.splice(p..p, tok.iter().copied());
            }
            Edit::Delete(i, n) if !data.is_empty() => {
                let p = i.index(data.len());
                let end = (p + n).min(data.len());
                data.drain(p..end);
            }
            Edit::Repeat(a, n, to, times) if !data.is_empty() => {
                let p = a.index(data.len());
                let end = (p + n).min(data.len());
                let piece = data[p..end].to_vec();
                let q = at(to, data.len());
                let rep: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                data.splice(q..q, rep);
            }
            Edit::Splice(s, from, to, n) if !seeds.is_empty() => {
                let other = &seeds[s.index(seeds.len())];
                if !other.is_empty() {
                    let p = from.index(other.len());
                    let end = (p + n).min(other.len());
                    let q = at(to, data.len());
                    data.splice(q..q, other[p..end].iter().copied());
                }
            }
            Edit::Truncate(i) if !data.is_empty() => {
                data.truncate(i.index(data.len()));
            }
            _ => {}
        }
        data.truncate(MAX);
    }
    data
}

/// Mutants of the target's corpus seeds: 1 to 8 edits, with `tokens` (the format's
/// keywords) among the insertions.
pub fn mutants(target: &str, tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
    let all = seeds.clone();
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(edit(), 1..8),
    )
        .prop_map(move |(seed, edits)| apply(seed, &edits, tokens, &all))
}

/// Reads a process's resident memory (bytes), to catch inputs that blow it up.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

#[test]
fn mutation_edits_stay_bounded() {
    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(edit(), 1..8);
    for _ in 0..200 {
        let edits = strategy.new_tree(&mut runner).unwrap().current();
        let out = apply(
            b"<html>seed</html>".to_vec(),
            &edits,
            &[b"<b>"],
            &[b"x".to_vec()],
        );
        assert!(out.len() <= 1 << 20);
    }
}
