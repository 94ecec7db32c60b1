//! A small in-memory BM25 index over chunk texts (k1 = 1.2, b = 0.75).

use super::text::terms;
use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Postings per term: (document number, term frequency).
#[derive(Debug, Default)]
pub struct Bm25 {
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_len: Vec<u32>,
    avg_len: f64,
}

impl Bm25 {
    /// Indexes the documents; document numbers are their positions.
    pub fn build<S: AsRef<str>>(docs: impl Iterator<Item = S>) -> Self {
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut doc_len = Vec::new();
        for (n, doc) in docs.enumerate() {
            let words = terms(doc.as_ref());
            doc_len.push(words.len() as u32);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for w in words {
                *tf.entry(w).or_default() += 1;
            }
            for (term, count) in tf {
                postings.entry(term).or_default().push((n as u32, count));
            }
        }
        let total: u64 = doc_len.iter().map(|&l| l as u64).sum();
        let avg_len = if doc_len.is_empty() {
            0.0
        } else {
            total as f64 / doc_len.len() as f64
        };
        // Growth by doubling leaves up to half of each list unused: give it back.
        postings.values_mut().for_each(Vec::shrink_to_fit);
        postings.shrink_to_fit();
        Self {
            postings,
            doc_len,
            avg_len,
        }
    }

    /// The best `limit` documents for `query`, best first, as (document, score).
    pub fn search(&self, query: &str, limit: usize) -> Vec<(u32, f64)> {
        let n = self.doc_len.len() as f64;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for term in terms(query) {
            if !seen.insert(term.clone()) {
                continue;
            }
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in list {
                let tf = tf as f64;
                let len = self.doc_len[doc as usize] as f64;
                let norm = K1 * (1.0 - B + B * len / self.avg_len.max(1.0));
                *scores.entry(doc).or_default() += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        let mut ranked: Vec<(u32, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarer_matching_terms_rank_higher() {
        let docs = [
            "the server listens on a port",
            "rate limiting uses redis for several replicas",
            "the port and the host of the server",
        ];
        let index = Bm25::build(docs.iter().copied());
        let hits = index.search("redis replicas", 3);
        assert_eq!(hits[0].0, 1);
        assert_eq!(hits.len(), 1);
        let hits = index.search("server port", 3);
        assert_eq!(hits.len(), 2);
        assert!(hits.iter().all(|(d, _)| *d != 1));
    }
}
