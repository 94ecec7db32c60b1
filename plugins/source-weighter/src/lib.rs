//! `source-weighter` — AutBot's default ranker.
//!
//! Multiplies each candidate's score by a weight chosen from its `source`
//! path, drops what falls below a minimum, and returns the rest best first.
//!
//! Capabilities: `config`.
//!
//! Config (`[plugins.chain.config]` in `autbot.toml`):
//! - `weights`: table "substring of the source path" -> weight, e.g.
//!   `{ resume = 1.5, kudos = 1.2, fun = 0.8 }`. Matching ignores case; when
//!   several keys match, the longest (most specific) wins.
//! - `default_weight`: weight of sources no key matches (default `1.0`).
//! - `min_score`: drop passages whose *weighted* score is below this
//!   (default: keep all).
//!
//! Weights must be finite and not negative. An invalid config value makes
//! every call fail (the plugin panics with a message naming the key), so a
//! typo is noticed instead of silently ignored.

use autbot_sdk::config;
use autbot_sdk::ranker::{Guest, Passage, Query, Ranked};

/// The ranker's settings, read from the plugin config.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `(lower-cased substring, weight)` pairs.
    pub weights: Vec<(String, f64)>,
    pub default_weight: f64,
    pub min_score: Option<f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            weights: Vec::new(),
            default_weight: 1.0,
            min_score: None,
        }
    }
}

fn check_weight(key: &str, w: f64) -> Result<f64, String> {
    if w.is_finite() && w >= 0.0 {
        Ok(w)
    } else {
        Err(format!(
            "source-weighter: config key `{key}`: weight {w} must be a finite number >= 0"
        ))
    }
}

impl Settings {
    /// Read the settings from the host config.
    pub fn from_config() -> Result<Self, String> {
        let err = |e: config::ConfigError| format!("source-weighter: {e}");
        let mut weights = config::get_number_table("weights")
            .map_err(err)?
            .unwrap_or_default();
        for (k, w) in &mut weights {
            *w = check_weight(&format!("weights.{k}"), *w)?;
            *k = k.to_lowercase();
        }
        let default_weight = check_weight(
            "default_weight",
            config::get_parsed_or("default_weight", 1.0).map_err(err)?,
        )?;
        let min_score = config::get_parsed::<f64>("min_score").map_err(err)?;
        Ok(Settings {
            weights,
            default_weight,
            min_score,
        })
    }

    /// The weight for a passage from `source`: the longest matching key's,
    /// else the default.
    pub fn weight_for(&self, source: &str) -> f64 {
        let source = source.to_lowercase();
        self.weights
            .iter()
            .filter(|(k, _)| source.contains(k.as_str()))
            // max_by_key keeps the last maximum; reverse so the first listed key wins ties.
            .rev()
            .max_by_key(|(k, _)| k.len())
            .map_or(self.default_weight, |(_, w)| *w)
    }

    /// Re-score, filter and sort `candidates` (best first; stable on ties).
    pub fn rank(&self, candidates: &[Passage]) -> Vec<Ranked> {
        let mut ranked: Vec<Ranked> = candidates
            .iter()
            .map(|p| Ranked::new(p.id.clone(), p.score * self.weight_for(&p.source)))
            .filter(|r| !r.score.is_nan())
            .filter(|r| self.min_score.is_none_or(|min| r.score >= min))
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        ranked
    }
}

struct SourceWeighter;

impl Guest for SourceWeighter {
    fn rank(_q: Query, candidates: Vec<Passage>) -> Vec<Ranked> {
        let settings = Settings::from_config().unwrap_or_else(|e| panic!("{e}"));
        settings.rank(&candidates)
    }
}

autbot_sdk::export_ranker!(SourceWeighter);

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(id: &str, source: &str, score: f64) -> Passage {
        Passage {
            id: id.into(),
            text: String::new(),
            source: source.into(),
            heading: String::new(),
            score,
        }
    }

    #[test]
    fn weights_filters_and_sorts() {
        let s = Settings {
            weights: vec![
                ("resume".into(), 1.5),
                ("kudos".into(), 1.2),
                ("fun".into(), 0.5),
            ],
            default_weight: 1.0,
            min_score: Some(0.3),
        };
        let out = s.rank(&[
            passage("a", "notes/fun-facts.md", 0.5), // 0.25 -> dropped
            passage("b", "docs/Resume.pdf", 0.4),    // 0.6
            passage("c", "misc/other.md", 0.7),      // 0.7
            passage("d", "kudos/2024.md", 0.5),      // 0.6
        ]);
        let ids: Vec<_> = out.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "d"]);
        assert!((out[1].score - 0.6).abs() < 1e-12);
    }

    #[test]
    fn longest_key_wins() {
        let s = Settings {
            weights: vec![("docs".into(), 2.0), ("docs/old".into(), 0.1)],
            ..Settings::default()
        };
        assert_eq!(s.weight_for("docs/old/a.md"), 0.1);
        assert_eq!(s.weight_for("docs/new/a.md"), 2.0);
        assert_eq!(s.weight_for("blog/a.md"), 1.0);
    }

    #[test]
    fn keeps_everything_by_default() {
        let out = Settings::default().rank(&[passage("a", "x", -1.0), passage("b", "y", 0.0)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id, "b");
    }
}
