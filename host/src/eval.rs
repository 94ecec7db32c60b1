//! `autbot eval`: asks a labelled question set through the real pipeline (preprocessor
//! plugins, retrieval, ranker plugins, prompt builder, answerer: the engine the server
//! uses, in process) and measures where the expected documents rank and whether the
//! answers contain the expected words.
//!
//! Question file: JSON Lines, one object per line (a JSON array of the same objects is
//! read too):
//!
//! ```json
//! {"question": "...", "answer_keywords": ["..."], "source": "dir/file.md", "kind": "lookup"}
//! ```
//!
//! `source` is the expected document relative to the data folder, or a list of
//! acceptable ones; `answer_keywords` may be empty; `kind` is free text (`lookup`,
//! `numeric`, `multi-hop`, `paraphrase`, `stale` by convention) and defaults to
//! `unlabelled`.

use crate::config::{CacheBackend, Checked, SharedBackend};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The cut-offs reported as hit@k.
pub const HIT_AT: [usize; 3] = [1, 3, 5];

/// Which retrievers answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Retriever {
    /// Vector search and BM25, fused as configured.
    Hybrid,
    /// BM25 only (`index.vector_weight = 0`).
    Bm25,
    /// Vector search only (`index.bm25_weight = 0`).
    Vector,
}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct Options {
    pub questions: PathBuf,
    /// Index this folder into a temporary index instead of using the configured one.
    pub data: Option<PathBuf>,
    /// Passages per question (default: `index.top_k`, at least 5).
    pub top_k: Option<usize>,
    pub retriever: Retriever,
}

/// One labelled question.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Question {
    pub question: String,
    #[serde(default)]
    pub answer_keywords: Vec<String>,
    pub source: Sources,
    #[serde(default = "unlabelled")]
    pub kind: String,
}

fn unlabelled() -> String {
    "unlabelled".into()
}

/// The expected document, or several acceptable ones.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Sources {
    One(String),
    Any(Vec<String>),
}

impl Sources {
    /// The acceptable sources, with `/` separators and no leading `./`.
    pub fn paths(&self) -> Vec<String> {
        let list = match self {
            Sources::One(s) => std::slice::from_ref(s),
            Sources::Any(v) => v.as_slice(),
        };
        list.iter().map(|s| normalise_source(s)).collect()
    }
}

fn normalise_source(s: &str) -> String {
    let s = s.trim().replace('\\', "/");
    s.trim_start_matches("./").to_string()
}

/// Reads a question file: JSON Lines, or one JSON array.
pub fn load_questions(path: &Path) -> Result<Vec<Question>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let questions: Vec<Question> = if text.trim_start().starts_with('[') {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(line)
                    .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?,
            );
        }
        out
    };
    if questions.is_empty() {
        return Err(format!("{}: no questions", path.display()));
    }
    for (n, q) in questions.iter().enumerate() {
        if q.question.trim().is_empty() || q.source.paths().iter().all(String::is_empty) {
            return Err(format!(
                "{}: question {}: `question` and `source` must not be empty",
                path.display(),
                n + 1
            ));
        }
    }
    Ok(questions)
}

/// The measures of a group of questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub questions: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
    pub hit_at_5: f64,
    /// Mean reciprocal rank of the first passage from an expected source (0 when none
    /// was retrieved).
    pub mrr: f64,
    /// Share of answers containing every expected keyword.
    pub answered: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

/// What happened to one question.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub question: String,
    pub kind: String,
    pub expected: Vec<String>,
    /// 1-based rank of the first passage from an expected source.
    pub rank: Option<usize>,
    pub answered: bool,
    /// Expected keywords the answer lacks.
    pub missing_keywords: Vec<String>,
    pub latency_ms: f64,
    /// Sources of the passages, best first.
    pub retrieved: Vec<String>,
    pub response: String,
    /// The pipeline's error, when the question was refused or failed.
    pub error: Option<String>,
}

/// How the run was set up.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub questions_file: String,
    pub data_dir: String,
    pub documents: usize,
    pub chunks: usize,
    pub embedder: String,
    pub answerer: String,
    pub retriever: Retriever,
    pub fusion: crate::config::FusionMethod,
    pub vector_weight: f64,
    pub bm25_weight: f64,
    pub superseded_weight: f64,
    pub top_k: usize,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub overall: Metrics,
    pub by_kind: BTreeMap<String, Metrics>,
    pub questions: Vec<QuestionResult>,
}

/// Builds the engine the server would build from `config` (with the answer cache, Redis
/// and metrics off), indexes `options.data` or loads the configured index, and asks
/// every question.
pub async fn run(mut checked: Checked, options: &Options) -> Result<Report, String> {
    // What follows changes only values that checking did not parse.
    let config = &mut checked.config;
    let questions = load_questions(&options.questions)?;
    let top_k = options.top_k.unwrap_or(config.index.top_k.max(5));
    if !(1..=50).contains(&top_k) {
        return Err(format!("--top-k: {top_k} is out of range (1-50)"));
    }
    config.index.top_k = top_k;
    match options.retriever {
        Retriever::Hybrid => {}
        Retriever::Bm25 => {
            config.index.vector_weight = Some(0.0);
            if config.index.bm25_weight <= 0.0 {
                config.index.bm25_weight = 1.0;
            }
        }
        Retriever::Vector => {
            let w = crate::embeddings::vector_weight(&config.index, &config.embeddings);
            config.index.vector_weight = Some(if w > 0.0 { w } else { 1.0 });
            config.index.bm25_weight = 0.0;
        }
    }
    // Every question is computed: no answer cache, no shared store, no metrics.
    config.cache.backend = CacheBackend::Off;
    config.rate_limit.backend = SharedBackend::Memory;
    config.observability.metrics_enabled = false;
    let temp_index = match &options.data {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(format!("--data: {} is not a folder", dir.display()));
            }
            let tmp = std::env::temp_dir().join(format!(
                "autbot-eval-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            config.index.data_dir = dir.clone();
            config.index.dir = tmp.clone();
            Some(TempDir(tmp))
        }
        None => None,
    };
    let data_dir = config.index.data_dir.display().to_string();
    let state = crate::serve::build_state(checked)
        .await
        .map_err(|problems| format!("cannot build the pipeline:\n{}", problems.join("\n")))?;
    let engine = state.engine.clone();
    let indexer = &state.indexer;
    if temp_index.is_some() {
        eprintln!("indexing {data_dir} ...");
        let report = indexer.reindex().await.map_err(|e| e.to_string())?;
        for s in &report.skipped {
            eprintln!("skipped {}: {}", s.path, s.reason);
        }
    } else {
        let stored = indexer.check_stored().map_err(|e| e.to_string())?;
        indexer
            .load_or_build(stored)
            .await
            .map_err(|e| e.to_string())?;
    }
    let index = engine
        .index
        .get()
        .ok_or("the index could not be loaded or built")?;
    let p = engine.params;
    let settings = Settings {
        questions_file: options.questions.display().to_string(),
        data_dir,
        documents: index.documents(),
        chunks: index.chunks.len(),
        embedder: engine.embedder.model_id(),
        answerer: engine.llm.model(),
        retriever: options.retriever,
        fusion: p.fusion,
        vector_weight: p.vector_weight,
        bm25_weight: p.bm25_weight,
        superseded_weight: p.superseded_weight,
        top_k: p.top_k,
    };
    drop(index);
    eprintln!("asking {} questions ...", questions.len());
    let mut results = Vec::with_capacity(questions.len());
    for (n, q) in questions.iter().enumerate() {
        let request_id = format!("eval-{}", n + 1);
        let started = Instant::now();
        let ask = crate::answer::Ask::new(&q.question, &request_id);
        let outcome = engine.answer(&ask, true).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let expected = q.source.paths();
        let (retrieved, response, error) = match outcome {
            Ok((o, _)) => (
                o.passages.iter().map(|p| p.source.clone()).collect(),
                o.response.clone(),
                None,
            ),
            Err(e) => (Vec::new(), String::new(), Some(e.to_string())),
        };
        let rank = first_rank(&retrieved, &expected);
        let missing_keywords = missing_keywords(&response, &q.answer_keywords);
        results.push(QuestionResult {
            question: q.question.clone(),
            kind: q.kind.clone(),
            expected,
            rank,
            answered: error.is_none() && missing_keywords.is_empty(),
            missing_keywords,
            latency_ms,
            retrieved,
            response,
            error,
        });
    }
    drop(temp_index);
    Ok(report(settings, results))
}

/// Removes a temporary index folder when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The 1-based rank of the first retrieved source that is expected.
pub fn first_rank(retrieved: &[String], expected: &[String]) -> Option<usize> {
    retrieved
        .iter()
        .position(|s| expected.iter().any(|e| e == &normalise_source(s)))
        .map(|i| i + 1)
}

/// The keywords that `response` lacks (case-insensitive, whitespace runs as one space).
pub fn missing_keywords(response: &str, keywords: &[String]) -> Vec<String> {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let text = squash(response);
    keywords
        .iter()
        .filter(|k| !text.contains(&squash(k)))
        .cloned()
        .collect()
}

/// Aggregates per question results into a report.
pub fn report(settings: Settings, questions: Vec<QuestionResult>) -> Report {
    let overall = metrics(questions.iter());
    let mut kinds: Vec<&str> = questions.iter().map(|q| q.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    let by_kind = kinds
        .into_iter()
        .map(|k| {
            (
                k.to_string(),
                metrics(questions.iter().filter(|q| q.kind == k)),
            )
        })
        .collect();
    Report {
        settings,
        overall,
        by_kind,
        questions,
    }
}

fn metrics<'a>(results: impl Iterator<Item = &'a QuestionResult>) -> Metrics {
    let results: Vec<&QuestionResult> = results.collect();
    let n = results.len().max(1) as f64;
    let hit = |k: usize| {
        results
            .iter()
            .filter(|r| r.rank.is_some_and(|x| x <= k))
            .count() as f64
            / n
    };
    let mut latencies: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    Metrics {
        questions: results.len(),
        hit_at_1: hit(HIT_AT[0]),
        hit_at_3: hit(HIT_AT[1]),
        hit_at_5: hit(HIT_AT[2]),
        mrr: results
            .iter()
            .map(|r| r.rank.map_or(0.0, |x| 1.0 / x as f64))
            .sum::<f64>()
            / n,
        answered: results.iter().filter(|r| r.answered).count() as f64 / n,
        latency_p50_ms: percentile(&latencies, 50.0),
        latency_p99_ms: percentile(&latencies, 99.0),
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (pct / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    /// The report as text tables: settings, overall and per kind; with `details`, one
    /// line per question too.
    pub fn table(&self, details: bool) -> String {
        let s = &self.settings;
        let mut out = format!(
            "questions: {}\ndata: {} ({} documents, {} chunks)\nembedder: {} · answerer: {} · retriever: {} · fusion: {:?} (vector {}, bm25 {}) · superseded weight {} · top_k {}\n\n",
            s.questions_file,
            s.data_dir,
            s.documents,
            s.chunks,
            s.embedder,
            s.answerer,
            serde_json::to_value(s.retriever)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            s.fusion,
            s.vector_weight,
            s.bm25_weight,
            s.superseded_weight,
            s.top_k,
        );
        out.push_str(&format!(
            "{:<12} {:>4} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}\n",
            "kind", "n", "hit@1", "hit@3", "hit@5", "MRR", "answered", "p50 ms", "p99 ms"
        ));
        let row = |name: &str, m: &Metrics| {
            format!(
                "{:<12} {:>4} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>9.2} {:>9.1} {:>9.1}\n",
                name,
                m.questions,
                m.hit_at_1,
                m.hit_at_3,
                m.hit_at_5,
                m.mrr,
                m.answered,
                m.latency_p50_ms,
                m.latency_p99_ms
            )
        };
        for (kind, m) in &self.by_kind {
            out.push_str(&row(kind, m));
        }
        out.push_str(&row("overall", &self.overall));
        if details {
            out.push('\n');
            for (n, q) in self.questions.iter().enumerate() {
                let rank = q.rank.map_or("-".to_string(), |r| r.to_string());
                out.push_str(&format!(
                    "{:>3} {:<10} rank {:>2} {:<8} {}\n",
                    n + 1,
                    q.kind,
                    rank,
                    if q.answered { "answered" } else { "" },
                    q.question
                ));
                if q.rank != Some(1) {
                    out.push_str(&format!(
                        "      expected {:?}, got {:?}\n",
                        q.expected, q.retrieved
                    ));
                }
                if let Some(e) = &q.error {
                    out.push_str(&format!("      error: {e}\n"));
                } else if !q.missing_keywords.is_empty() {
                    out.push_str(&format!("      missing {:?}\n", q.missing_keywords));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: &str, rank: Option<usize>, answered: bool, latency_ms: f64) -> QuestionResult {
        QuestionResult {
            question: "q".into(),
            kind: kind.into(),
            expected: vec!["a.md".into()],
            rank,
            answered,
            missing_keywords: Vec::new(),
            latency_ms,
            retrieved: Vec::new(),
            response: String::new(),
            error: None,
        }
    }

    #[test]
    fn ranks_keywords_and_percentiles() {
        let got = ["x.md".to_string(), "./dir/a.md".to_string()];
        assert_eq!(first_rank(&got, &["dir/a.md".into()]), Some(2));
        assert_eq!(first_rank(&got, &["b.md".into()]), None);
        assert_eq!(
            missing_keywords(
                "Paid on the\n25th, at 6%.",
                &["25TH".into(), "6%".into(), "7%".into()]
            ),
            ["7%"]
        );
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 99.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn metrics_per_kind_and_overall() {
        let results = vec![
            result("lookup", Some(1), true, 10.0),
            result("lookup", Some(4), false, 20.0),
            result("stale", None, false, 30.0),
            result("stale", Some(2), true, 40.0),
        ];
        let settings = Settings {
            questions_file: "q.jsonl".into(),
            data_dir: "data".into(),
            documents: 1,
            chunks: 1,
            embedder: "e".into(),
            answerer: "extractive".into(),
            retriever: Retriever::Hybrid,
            fusion: crate::config::FusionMethod::Score,
            vector_weight: 0.3,
            bm25_weight: 1.0,
            superseded_weight: 0.7,
            top_k: 5,
        };
        let r = report(settings, results);
        assert_eq!(r.overall.questions, 4);
        assert_eq!(r.overall.hit_at_1, 0.25);
        assert_eq!(r.overall.hit_at_3, 0.5);
        assert_eq!(r.overall.hit_at_5, 0.75);
        assert!((r.overall.mrr - (1.0 + 0.25 + 0.5) / 4.0).abs() < 1e-12);
        assert_eq!(r.overall.answered, 0.5);
        assert_eq!(r.by_kind["lookup"].hit_at_3, 0.5);
        assert_eq!(r.by_kind["stale"].latency_p50_ms, 30.0);
        let table = r.table(true);
        assert!(table.contains("overall"), "{table}");
        assert!(table.contains("stale"));
    }

    #[test]
    fn question_files_in_both_formats() {
        let dir = std::env::temp_dir().join(format!("autbot-eval-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lines = dir.join("q.jsonl");
        std::fs::write(
            &lines,
            "{\"question\": \"Q1?\", \"answer_keywords\": [\"x\"], \"source\": \"a.md\", \"kind\": \"lookup\"}\n\n{\"question\": \"Q2?\", \"source\": [\"b.md\", \"./c.md\"]}\n",
        )
        .unwrap();
        let qs = load_questions(&lines).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[1].kind, "unlabelled");
        assert_eq!(qs[1].source.paths(), ["b.md", "c.md"]);
        let array = dir.join("q.json");
        std::fs::write(&array, "[{\"question\": \"Q?\", \"source\": \"a.md\"}]").unwrap();
        assert_eq!(load_questions(&array).unwrap().len(), 1);
        std::fs::write(&array, "{\"question\": \"\", \"source\": \"a.md\"}").unwrap();
        assert!(load_questions(&array).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
