//! Query-time retrieval: embed the question, search the index, return passages. Also
//! the fusion of the vector and BM25 rankings, and the detection of superseded
//! documents (older versions of a document that is also indexed), which rank lower.

use super::chunk::Chunk;
use super::index::{Index, SearchParams};
use crate::config::FusionMethod;
use crate::embeddings::Embedder;
use crate::upstream::UpstreamError;
use std::collections::{HashMap, HashSet};

/// A retrieved passage, as plugins and answerers see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Passage {
    /// Chunk id.
    pub id: String,
    pub text: String,
    pub source: String,
    pub heading: String,
    /// Retrieval (or ranker) score; higher is better.
    pub score: f64,
}

/// The best passages for `question`.
pub async fn retrieve(
    index: &Index,
    embedder: &dyn Embedder,
    question: &str,
    params: &SearchParams,
) -> Result<Vec<Passage>, UpstreamError> {
    // Without vector search (vector_weight 0) the question need not be embedded.
    let vector = if params.vector_weight > 0.0 {
        embedder
            .embed(&[question.to_string()])
            .await?
            .pop()
            .ok_or_else(|| UpstreamError::Malformed("no query embedding".into()))?
    } else {
        Vec::new()
    };
    Ok(index
        .search(&vector, question, params)
        .into_iter()
        .filter_map(|hit| {
            let c = index.chunks.get(hit.chunk)?;
            Some(Passage {
                id: c.id.clone(),
                text: c.text.clone(),
                source: c.source.clone(),
                heading: c.heading.clone(),
                score: hit.score,
            })
        })
        .collect())
}

/// How many candidates each retriever contributes to the fusion for `top_k` results.
pub fn pool_size(top_k: usize) -> usize {
    (top_k * 10).max(50)
}

/// One fused result: chunk position, score in 0..=1, cosine similarity when the
/// vector search found the chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub chunk: usize,
    pub score: f64,
    pub similarity: Option<f32>,
}

/// Merges the vector ranking (chunk, cosine) and the BM25 ranking (chunk, score), both
/// best first, into the best `p.top_k` chunks. Chunks for which `demoted` is true
/// (superseded documents) have their score multiplied by `p.superseded_weight`.
///
/// * [`FusionMethod::Score`]: a weighted mean of the scores normalised per list,
///   cosine by min–max over its candidates, BM25 by its best score (BM25's floor is 0);
///   a chunk missing from a list gets 0 there. Unlike rank fusion it keeps how much
///   better the first candidate is than the next, so a weak retriever's near-ties cannot
///   outvote a strong retriever's clear winner.
/// * [`FusionMethod::Rrf`]: weighted reciprocal-rank fusion, `weight / (rrf_k + rank)`.
pub fn fuse(
    vector: &[(usize, f32)],
    lexical: &[(u32, f64)],
    p: &SearchParams,
    demoted: impl Fn(usize) -> bool,
) -> Vec<Fused> {
    let wv = p.vector_weight.max(0.0);
    let wb = p.bm25_weight.max(0.0);
    let mut fused: HashMap<usize, (f64, Option<f32>)> = HashMap::new();
    match p.fusion {
        FusionMethod::Score => {
            let (lo, hi) = vector
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, s)| {
                    (lo.min(*s), hi.max(*s))
                });
            for (id, sim) in vector {
                let norm = if hi > lo {
                    ((sim - lo) / (hi - lo)) as f64
                } else {
                    1.0
                };
                let e = fused.entry(*id).or_default();
                e.0 += wv * norm;
                e.1 = Some(*sim);
            }
            let best = lexical.iter().map(|(_, s)| *s).fold(0.0, f64::max);
            if best > 0.0 {
                for (id, s) in lexical {
                    fused.entry(*id as usize).or_default().0 += wb * (s / best).max(0.0);
                }
            }
            let total = wv + wb;
            if total > 0.0 {
                fused.values_mut().for_each(|e| e.0 /= total);
            }
        }
        FusionMethod::Rrf => {
            for (rank, (id, sim)) in vector.iter().enumerate() {
                let e = fused.entry(*id).or_default();
                e.0 += wv / (p.rrf_k + rank as f64 + 1.0);
                e.1 = Some(*sim);
            }
            for (rank, (id, _)) in lexical.iter().enumerate() {
                fused.entry(*id as usize).or_default().0 += wb / (p.rrf_k + rank as f64 + 1.0);
            }
            let best_possible = (wv + wb) / (p.rrf_k + 1.0);
            if best_possible > 0.0 {
                fused.values_mut().for_each(|e| e.0 /= best_possible);
            }
        }
    }
    let weight = p.superseded_weight.clamp(0.0, 1.0);
    let mut hits: Vec<Fused> = fused
        .into_iter()
        .map(|(chunk, (score, similarity))| Fused {
            chunk,
            score: if demoted(chunk) {
                score * weight
            } else {
                score
            },
            similarity,
        })
        .filter(|h| h.score.is_finite() && h.score > 0.0)
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
    hits.truncate(p.top_k);
    hits
}

/// For each chunk, whether its document is superseded: an older version of a
/// document that is also indexed, or a document that says so at its start.
pub fn superseded_chunks(chunks: &[Chunk]) -> Vec<bool> {
    let mut first_text: HashMap<&str, &str> = HashMap::new();
    for c in chunks {
        first_text
            .entry(c.source.as_str())
            .or_insert(c.text.as_str());
    }
    let old = superseded_sources(first_text.iter().map(|(s, t)| (*s, *t)));
    chunks
        .iter()
        .map(|c| old.contains(c.source.as_str()))
        .collect()
}

/// The superseded documents among `(source, start of its text)` pairs.
///
/// Documents form a family when their file names are equal once version words are
/// left out (`travel-policy-2023.md`, `travel-policy-2025.md` and `travel-policy.txt`
/// all belong to `travel-policy`; `mowbot-m2-manual` and `mowbot-m3-manual` do not
/// share one). Within a family, a document is superseded when it is in an archive-like
/// folder or named `old`/`archived`/…, when another member has a higher `v2`-style
/// version, or else when another member is dated later: the year in its name, or
/// failing that the latest year its first lines mention ("Effective 1 September
/// 2024"). Independently, a document whose first lines say "superseded",
/// "replaced by" or "no longer in effect" is superseded.
pub fn superseded_sources<'a>(docs: impl Iterator<Item = (&'a str, &'a str)>) -> HashSet<&'a str> {
    let mut out = HashSet::new();
    let mut families: HashMap<String, Vec<DocVersion<'a>>> = HashMap::new();
    for (source, text) in docs {
        let head: String = text.chars().take(400).collect::<String>().to_lowercase();
        if SUPERSEDED_MARKERS.iter().any(|m| head.contains(m)) {
            out.insert(source);
        }
        let v = DocVersion::of(source, &head);
        families.entry(v.family.clone()).or_default().push(v);
    }
    for members in families.values().filter(|m| m.len() > 1) {
        let max_version = members.iter().filter_map(|m| m.version).max();
        let versioned = members.iter().filter(|m| m.version.is_some()).count();
        let max_year = members.iter().filter_map(|m| m.year).max();
        for m in members {
            let older = if m.archived {
                true
            } else if versioned >= 2 {
                m.version.is_some_and(|v| Some(v) < max_version)
            } else {
                m.year.is_some_and(|y| Some(y) < max_year)
            };
            if older {
                out.insert(m.source);
            }
        }
    }
    out
}

/// Phrases near the start of a document that say it is no longer current.
const SUPERSEDED_MARKERS: &[&str] = &[
    "superseded",
    "replaced by",
    "no longer in effect",
    "no longer valid",
    "no longer applies",
    "status: archived",
    "status: obsolete",
];

/// Folder and file-name words that mark an old copy.
const ARCHIVE_WORDS: &[&str] = &[
    "archive",
    "archived",
    "old",
    "superseded",
    "obsolete",
    "deprecated",
    "previous",
    "legacy",
    "outdated",
];

/// What a file name says about its version.
struct DocVersion<'a> {
    source: &'a str,
    /// The file name without version words.
    family: String,
    /// `v2`, `version-3`, `rev4`.
    version: Option<u32>,
    /// The year in the name, else the latest year in the first lines.
    year: Option<u32>,
    archived: bool,
}

impl<'a> DocVersion<'a> {
    fn of(source: &'a str, head: &str) -> Self {
        let (dirs, file) = source.rsplit_once('/').unwrap_or(("", source));
        let stem = file
            .rsplit_once('.')
            .map_or(file, |(s, _)| s)
            .to_lowercase();
        let mut archived = dirs
            .to_lowercase()
            .split('/')
            .any(|d| ARCHIVE_WORDS.contains(&d));
        let mut family = Vec::new();
        let (mut version, mut year) = (None, None);
        let words: Vec<&str> = stem
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            if let Some(y) = as_year(w) {
                year = Some(y);
            } else if let Some(v) = w
                .strip_prefix('v')
                .or_else(|| w.strip_prefix("rev"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                version = Some(v);
            } else if matches!(w, "v" | "version" | "rev" | "revision")
                && words
                    .get(i + 1)
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some()
            {
                version = words[i + 1].parse().ok();
                i += 1;
            } else if ARCHIVE_WORDS.contains(&w) {
                archived = true;
            } else if w.len() == 8 && w.bytes().all(|b| b.is_ascii_digit()) {
                // A date such as 20240115.
                year = as_year(&w[..4]);
            } else {
                family.push(w);
            }
            i += 1;
        }
        if year.is_none() {
            year = head
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(as_year)
                .max();
        }
        Self {
            source,
            family: family.join("-"),
            version,
            year,
            archived,
        }
    }
}

/// A plausible year of a document's date.
fn as_year(word: &str) -> Option<u32> {
    if word.len() != 4 {
        return None;
    }
    word.parse::<u32>()
        .ok()
        .filter(|y| (1990..=2099).contains(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(fusion: FusionMethod, vector_weight: f64, bm25_weight: f64) -> SearchParams {
        SearchParams {
            top_k: 3,
            vector_weight,
            bm25_weight,
            rrf_k: 60.0,
            ef_search: 64,
            exhaustive_max_bytes: 1 << 20,
            fusion,
            superseded_weight: 0.5,
        }
    }

    #[test]
    fn score_fusion_keeps_a_clear_lexical_winner_over_vector_near_ties() {
        // BM25 is sure about chunk 7; the vector ranking barely prefers 1 and 2.
        let vector = [(1, 0.52), (2, 0.515), (7, 0.51), (3, 0.30)];
        let lexical = [(7, 12.0), (1, 2.0)];
        let hits = fuse(
            &vector,
            &lexical,
            &params(FusionMethod::Score, 0.5, 1.0),
            |_| false,
        );
        assert_eq!(hits[0].chunk, 7, "{hits:?}");
        assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
        assert_eq!(hits[0].similarity, Some(0.51));
        // Rank fusion with equal weights ranks chunk 1 first (it is in both lists).
        let rrf = fuse(
            &vector,
            &lexical,
            &params(FusionMethod::Rrf, 1.0, 1.0),
            |_| false,
        );
        assert_eq!(rrf[0].chunk, 1);
    }

    #[test]
    fn a_disabled_retriever_does_not_count() {
        let lexical = [(4, 3.0), (5, 1.0)];
        for fusion in [FusionMethod::Score, FusionMethod::Rrf] {
            let hits = fuse(&[], &lexical, &params(fusion, 0.0, 1.0), |_| false);
            assert_eq!(hits.iter().map(|h| h.chunk).collect::<Vec<_>>(), [4, 5]);
            assert!((hits[0].score - 1.0).abs() < 1e-9, "{fusion:?}: {hits:?}");
        }
    }

    #[test]
    fn the_vector_weight_follows_the_embedder_in_use() {
        use crate::config::{
            EmbeddingsConfig, EmbeddingsProvider, IndexConfig, LOCAL_VECTOR_WEIGHT,
            MODEL_VECTOR_WEIGHT,
        };
        let index = IndexConfig::default();
        let mut e = EmbeddingsConfig {
            provider: EmbeddingsProvider::Local,
            ..Default::default()
        };
        assert_eq!(index.vector_weight_for(&e), LOCAL_VECTOR_WEIGHT);
        e.provider = EmbeddingsProvider::Openai;
        assert_eq!(index.vector_weight_for(&e), MODEL_VECTOR_WEIGHT);
        // `neural` without its model runs the hashed embedder: its weight too.
        e.provider = EmbeddingsProvider::Neural;
        e.model_dir = std::env::temp_dir().join("autbot-no-model-here");
        assert_eq!(index.vector_weight_for(&e), LOCAL_VECTOR_WEIGHT);
        // A configured weight wins.
        let index = IndexConfig {
            vector_weight: Some(0.0),
            ..IndexConfig::default()
        };
        assert_eq!(index.vector_weight_for(&e), 0.0);
    }

    #[test]
    fn superseded_documents_rank_lower() {
        let lexical = [(0, 10.0), (1, 9.0)];
        let hits = fuse(&[], &lexical, &params(FusionMethod::Score, 0.0, 1.0), |c| {
            c == 0
        });
        assert_eq!(hits[0].chunk, 1);
    }

    #[test]
    fn older_versions_are_found_by_name_content_and_folder() {
        let docs = [
            (
                "policies/travel-policy-2023.md",
                "Travel Policy. Effective 2023.",
            ),
            (
                "policies/travel-policy-2025.md",
                "Replaces the 2023 policy. Effective 2025.",
            ),
            ("it/password-policy-v1.pdf", "Password Policy"),
            ("it/password-policy-v2.pdf", "Password Policy"),
            (
                "remote-work-policy.md",
                "Version 3, effective 1 September 2024.",
            ),
            (
                "remote-work-policy-2021.txt",
                "Interim arrangement, March 2021.",
            ),
            ("archive/onboarding.md", "Welcome!"),
            ("onboarding.md", "Welcome!"),
            ("products/mowbot-m2-manual.pdf", "Manual 2023"),
            ("products/mowbot-m3-manual.pdf", "Manual 2025"),
            (
                "security.md",
                "Status: superseded by the 2024 security policy.",
            ),
            ("faq.txt", "Questions and answers, 2019."),
        ];
        let old = superseded_sources(docs.iter().copied());
        let mut old: Vec<&str> = old.into_iter().collect();
        old.sort();
        assert_eq!(
            old,
            [
                "archive/onboarding.md",
                "it/password-policy-v1.pdf",
                "policies/travel-policy-2023.md",
                "remote-work-policy-2021.txt",
                "security.md",
            ]
        );
    }
}
