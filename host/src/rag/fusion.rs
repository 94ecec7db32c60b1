//! The merge of the vector and BM25 rankings into one (`index.fusion`): by normalised
//! score or by reciprocal rank, with superseded documents demoted.

use super::params::SearchParams;
use crate::config::FusionMethod;
use std::collections::HashMap;

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
    fn superseded_documents_rank_lower() {
        let lexical = [(0, 10.0), (1, 9.0)];
        let hits = fuse(&[], &lexical, &params(FusionMethod::Score, 0.0, 1.0), |c| {
            c == 0
        });
        assert_eq!(hits[0].chunk, 1);
    }
}
