//! An in-memory BM25F index over chunks (k1 = 1.2): three fields scored together, the
//! chunk's body, its heading path and its document's title (the file's path and name,
//! and the document's first heading or first short line), each with its own weight and
//! length normalisation. Words go through the English analyser
//! ([`crate::text::analyze`]: stop words out, Snowball stems).
//!
//! BM25F (Robertson & Zaragoza, "The Probabilistic Relevance Framework", 2009): per
//! term, the field frequencies are length-normalised, weighted and summed into one
//! pseudo-frequency `tf`, which is saturated once: `idf · tf · (k1 + 1) / (k1 + tf)`.
//! So a word in the title counts like several words of body text without a title
//! match being able to outweigh everything else.

use super::chunk::Chunk;
use crate::text::analyze;
use std::collections::{HashMap, HashSet};

const K1: f64 = 1.2;

/// Fields of a chunk: body, heading path, document title.
const FIELDS: usize = 3;

/// How much one occurrence counts in each field, relative to the body.
const WEIGHT: [f64; FIELDS] = [1.0, 3.0, 3.0];
/// Length normalisation per field (0: none, 1: full). Headings and titles are short
/// labels: their length says little.
const LENGTH_NORM: [f64; FIELDS] = [0.75, 0.3, 0.3];

/// Postings per term: (chunk number, frequency per field).
#[derive(Debug, Default)]
pub struct Bm25 {
    postings: HashMap<String, Vec<(u32, [u16; FIELDS])>>,
    len: Vec<[u32; FIELDS]>,
    avg_len: [f64; FIELDS],
}

impl Bm25 {
    /// Indexes plain texts as body-only documents; document numbers are their positions.
    pub fn build<S: AsRef<str>>(docs: impl Iterator<Item = S>) -> Self {
        Self::build_fields(docs.map(|d| [analyze(d.as_ref()), Vec::new(), Vec::new()]))
    }

    /// Indexes `chunks` with their heading and their document's title as fields;
    /// document numbers are chunk positions.
    pub fn for_chunks(chunks: &[Chunk]) -> Self {
        let titles = document_titles(chunks);
        Self::build_fields(chunks.iter().map(|c| {
            let title = titles.get(c.source.as_str()).cloned().unwrap_or_default();
            [analyze(&c.text), analyze(&c.heading), title]
        }))
    }

    /// Indexes analysed fields (body, heading, title) per document.
    pub fn build_fields(docs: impl Iterator<Item = [Vec<String>; FIELDS]>) -> Self {
        let mut postings: HashMap<String, Vec<(u32, [u16; FIELDS])>> = HashMap::new();
        let mut len = Vec::new();
        for (n, fields) in docs.enumerate() {
            let mut tf: HashMap<&str, [u16; FIELDS]> = HashMap::new();
            let mut lens = [0u32; FIELDS];
            for (f, words) in fields.iter().enumerate() {
                lens[f] = words.len().min(u32::MAX as usize) as u32;
                for w in words {
                    let e = tf.entry(w.as_str()).or_default();
                    e[f] = e[f].saturating_add(1);
                }
            }
            len.push(lens);
            for (term, counts) in tf {
                postings
                    .entry(term.to_string())
                    .or_default()
                    .push((n as u32, counts));
            }
        }
        let mut avg_len = [0.0; FIELDS];
        if !len.is_empty() {
            for (f, avg) in avg_len.iter_mut().enumerate() {
                let total: u64 = len.iter().map(|l| l[f] as u64).sum();
                *avg = total as f64 / len.len() as f64;
            }
        }
        // Growth by doubling leaves up to half of each list unused: give it back.
        postings.values_mut().for_each(Vec::shrink_to_fit);
        postings.shrink_to_fit();
        Self {
            postings,
            len,
            avg_len,
        }
    }

    /// Number of indexed documents.
    pub fn len(&self) -> usize {
        self.len.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len.is_empty()
    }

    /// Whether some document contains the analysed word.
    pub fn contains(&self, term: &str) -> bool {
        self.postings.contains_key(term)
    }

    /// The inverse document frequency of an analysed word (highest for a word no
    /// document contains).
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.len.len() as f64;
        let df = self.postings.get(term).map_or(0, Vec::len) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// The best `limit` documents for `query`, best first, as (document, score).
    pub fn search(&self, query: &str, limit: usize) -> Vec<(u32, f64)> {
        let n = self.len.len() as f64;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        let mut seen = HashSet::new();
        for term in analyze(query) {
            if !seen.insert(term.clone()) {
                continue;
            }
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, counts) in list {
                let tf = self.pseudo_frequency(doc as usize, &counts);
                *scores.entry(doc).or_default() += idf * tf * (K1 + 1.0) / (K1 + tf);
            }
        }
        let mut ranked: Vec<(u32, f64)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }

    /// The weighted, length-normalised sum of a term's field frequencies in `doc`.
    fn pseudo_frequency(&self, doc: usize, counts: &[u16; FIELDS]) -> f64 {
        let Some(lens) = self.len.get(doc) else {
            return 0.0;
        };
        let mut tf = 0.0;
        for f in 0..FIELDS {
            if counts[f] == 0 {
                continue;
            }
            let avg = self.avg_len[f].max(1.0);
            let norm = 1.0 - LENGTH_NORM[f] + LENGTH_NORM[f] * lens[f] as f64 / avg;
            tf += WEIGHT[f] * counts[f] as f64 / norm.max(0.05);
        }
        tf
    }
}

/// The analysed title field of each document (by source): the words of its path and
/// file name (without the extension) and of its title, which is its first top-level
/// heading, or else its first line when that is short (PDFs and text files usually
/// start with their title).
pub fn document_titles(chunks: &[Chunk]) -> HashMap<&str, Vec<String>> {
    let mut titles: HashMap<&str, Vec<String>> = HashMap::new();
    for c in chunks {
        if titles.contains_key(c.source.as_str()) {
            continue;
        }
        let path = c
            .source
            .rsplit_once('.')
            .map_or(c.source.as_str(), |(stem, _)| stem);
        let mut words = analyze(path);
        let title = match c.heading.split(" > ").next() {
            Some(h) if !h.trim().is_empty() => h.to_string(),
            _ => first_line(&c.text).unwrap_or_default(),
        };
        words.extend(analyze(&title));
        titles.insert(c.source.as_str(), words);
    }
    titles
}

/// The first non-empty line of `text` when it is short enough to be a title.
fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    (line.chars().count() <= 100).then(|| line.to_string())
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

    #[test]
    fn stems_match_inflections_and_stop_words_do_not_count() {
        let docs = [
            "Expenses are reimbursed with the salary.",
            "The office is open on working days.",
        ];
        let index = Bm25::build(docs.iter().copied());
        let hits = index.search("When is my expense reimbursement paid?", 3);
        assert_eq!(hits.first().map(|h| h.0), Some(0));
        // Only stop words: nothing matches.
        assert!(index.search("what is the", 3).is_empty());
    }

    fn chunk(source: &str, heading: &str, text: &str) -> Chunk {
        Chunk {
            id: format!("{source}/{heading}"),
            text: text.into(),
            source: source.into(),
            heading: heading.into(),
            page: None,
            start: 0,
            end: text.len(),
            hash: String::new(),
        }
    }

    #[test]
    fn headings_and_titles_weigh_more_than_body_words() {
        let chunks = [
            // "laptop" once in a long body.
            chunk(
                "it/helpdesk.txt",
                "",
                "Helpdesk\nCall the helpdesk when your screen, keyboard, mouse, docking station, \
                 headset, printer, laptop or phone misbehaves; a ticket is answered in a day.",
            ),
            // "laptop" in the file name, the title and the heading.
            chunk(
                "it/laptop-refresh.html",
                "Laptop Refresh > Returning",
                "Return the old device to IT within ten working days.",
            ),
        ];
        let index = Bm25::for_chunks(&chunks);
        let hits = index.search("laptop", 2);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].0, 1, "{hits:?}");
        // The title field reaches every chunk of a document, also one without the word.
        let hits = index.search("refresh", 2);
        assert_eq!(hits.first().map(|h| h.0), Some(1));
    }

    #[test]
    fn titles_come_from_the_path_the_first_heading_or_a_short_first_line() {
        let chunks = [
            chunk(
                "hr/travel-policy-2025.md",
                "Travel Policy > Hotels",
                "Cap: 170 EUR.",
            ),
            chunk(
                "hr/travel-policy-2025.md",
                "Travel Policy > Meals",
                "55 EUR a day.",
            ),
            chunk(
                "manual.pdf",
                "",
                "Mowbot M3 Owner's Manual\nRead this first.",
            ),
            chunk("notes.txt", "", &"long line ".repeat(20)),
        ];
        let titles = document_titles(&chunks);
        assert_eq!(
            titles["hr/travel-policy-2025.md"],
            ["hr", "travel", "polici", "2025", "travel", "polici"]
        );
        assert_eq!(
            titles["manual.pdf"],
            ["manual", "mowbot", "m3", "owner", "manual"]
        );
        assert_eq!(titles["notes.txt"], ["note"]);
    }
}
