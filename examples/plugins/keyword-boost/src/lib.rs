//! Example ranker: boosts passages that literally contain words of the
//! question, on top of the host's hybrid retrieval score.
//!
//! score' = score * (1 + boost * matched_words / question_words)
//!
//! Capabilities: `config`, `log`.
//!
//! ```toml
//! [[plugins.chain]]
//! hook = "ranker"
//! path = "plugins/keyword-boost.wasm"
//! capabilities = ["config", "log"]
//! config = { boost = 0.5 }
//! ```

use autbot_sdk::ranker::{Guest, Passage, Query, Ranked};
use autbot_sdk::{config, log};

/// Words too common to count as a match.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "how", "i", "in",
    "is", "it", "me", "my", "of", "on", "or", "the", "to", "was", "what", "when", "where", "which",
    "who", "why", "with", "you",
];

struct KeywordBoost;

impl Guest for KeywordBoost {
    fn rank(q: Query, candidates: Vec<Passage>) -> Vec<Ranked> {
        let boost: f64 = config::get_parsed_or("boost", 0.5).unwrap_or_else(|e| {
            log::warn(&format!("keyword-boost: {e}; using 0.5"));
            0.5
        });
        let query_words = keywords(&q.text);

        let mut ranked: Vec<Ranked> = candidates
            .iter()
            .map(|p| {
                let text = p.text.to_lowercase();
                let hits = query_words
                    .iter()
                    .filter(|w| text.contains(w.as_str()))
                    .count();
                let factor = 1.0 + boost * hits as f64 / query_words.len().max(1) as f64;
                Ranked::new(p.id.clone(), p.score * factor)
            })
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));

        // The host tags log lines with the plugin name and request id.
        log::debug(&format!(
            "keyword-boost: {} keywords, {} passages, best {:?}",
            query_words.len(),
            ranked.len(),
            ranked.first().map(|r| r.id.as_str())
        ));
        ranked
    }
}

autbot_sdk::export_ranker!(KeywordBoost);

/// Lower-case words of the question, minus stop words and duplicates.
fn keywords(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !STOP_WORDS.contains(w))
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}
