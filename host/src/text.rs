//! Text helpers shared by the lexical index, the local embedder and the extractive answerer.
//!
//! Two analysers:
//! * [`analyze`]: English words for BM25 and the extractive answerer: accents folded,
//!   lower-cased, English stop words removed, Snowball (Porter 2) stemmed; numbers kept
//!   whole (`0.35`, `1,200` → `1200`).
//! * [`terms`]: the older light analyser the `local` embedder hashes. It is kept as it is
//!   on purpose: the embedder's vectors (and so the embedding caches and stored indexes
//!   keyed by its model id) must not change under it.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::decompose_canonical;
use unicode_normalization::char::is_combining_mark;

/// Words too common to carry meaning in English questions (the `local` embedder's list).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that",
    "the", "their", "then", "there", "these", "this", "to", "was", "what", "when", "where",
    "which", "who", "why", "will", "with", "you", "your", "we", "our", "should", "would", "could",
    "about", "i'm", "im", "does", "did", "has", "have", "had", "been",
];

/// English stop words for [`analyze`]: articles, pronouns, auxiliaries, question words and
/// the most common prepositions and conjunctions (after apostrophes are dropped, so
/// "don't" is `dont`). Words that can carry the point of a question ("not", "no",
/// "before", "after", "over", "under", "own", "more", "most", "only") are kept.
const ENGLISH_STOPWORDS: &[&str] = &[
    "a",
    "about",
    "am",
    "an",
    "and",
    "any",
    "are",
    "arent",
    "as",
    "at",
    "be",
    "been",
    "being",
    "both",
    "but",
    "by",
    "can",
    "cant",
    "could",
    "couldnt",
    "did",
    "didnt",
    "do",
    "does",
    "doesnt",
    "doing",
    "dont",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "id",
    "if",
    "ill",
    "im",
    "in",
    "into",
    "is",
    "isnt",
    "it",
    "its",
    "itself",
    "ive",
    "just",
    "let",
    "lets",
    "me",
    "my",
    "myself",
    "of",
    "on",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "she",
    "should",
    "shouldnt",
    "so",
    "some",
    "such",
    "than",
    "that",
    "thats",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "theres",
    "these",
    "they",
    "theyre",
    "this",
    "those",
    "to",
    "too",
    "us",
    "very",
    "was",
    "wasnt",
    "we",
    "were",
    "werent",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whos",
    "why",
    "will",
    "with",
    "wont",
    "would",
    "wouldnt",
    "you",
    "youd",
    "youll",
    "your",
    "youre",
    "yours",
    "yourself",
    "yourselves",
    "ive",
    "weve",
    "theyve",
    "s",
    "t",
    "d",
    "ll",
    "m",
    "re",
    "ve",
];

/// Lower-cased alphanumeric words, stop words removed, lightly stemmed (the `local`
/// embedder's analyser; see the module comment before changing it).
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// A tiny suffix stripper: enough to match "chunks"/"chunking"/"chunked".
pub fn stem(word: &str) -> String {
    let n = word.chars().count();
    for suffix in ["ing", "ed", "es", "s"] {
        if n > suffix.len() + 3 && word.ends_with(suffix) {
            return word[..word.len() - suffix.len()].to_string();
        }
    }
    word.to_string()
}

/// The English analyser: tokens of `text`, stop words removed, Snowball-stemmed.
pub fn analyze(text: &str) -> Vec<String> {
    STEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > STEM_CACHE_WORDS {
            cache.clear();
        }
        tokens(text)
            .into_iter()
            .filter(|w| !is_stopword(w))
            .map(|w| match cache.get(&w) {
                Some(stem) => stem.clone(),
                None => {
                    let stem = stem_token(&STEMMER, w.clone());
                    cache.insert(w, stem.clone());
                    stem
                }
            })
            .collect()
    })
}

/// Stems already computed on this thread: a corpus has far fewer distinct words than
/// words, and the Snowball stemmer costs more than a lookup.
const STEM_CACHE_WORDS: usize = 100_000;

thread_local! {
    static STEMS: std::cell::RefCell<std::collections::HashMap<String, String>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

static STEMMER: std::sync::LazyLock<Stemmer> =
    std::sync::LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Whether `word` (lower-case, apostrophes removed) is an English stop word.
pub fn is_stopword(word: &str) -> bool {
    ENGLISH_STOPWORDS.contains(&word)
}

fn stem_token(stemmer: &Stemmer, word: String) -> String {
    // Numbers and codes (`e7`, `v2`, `0.35`) are kept as they are.
    if word.chars().any(|c| c.is_ascii_digit()) {
        return word;
    }
    stemmer.stem(&word).into_owned()
}

/// Lower-cased word tokens with accents folded (`Näsi` → `nasi`). A token is a run of
/// letters and digits, split before a capital that follows a small letter or a digit
/// (`GlobalProtect` → `global`, `protect`); apostrophes inside words are dropped (`employee's` →
/// `employees`, `don't` → `dont`); `.` and `,` between digits are kept (`0.35`) or
/// dropped (`1,200` → `1200`) so numbers stay whole.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let before = prev.replace(c);
        let prev = before;
        if c.is_alphanumeric() {
            // A capital after a small letter or a digit starts a new word: camelCase,
            // and table cells that extraction glued together ("E7Blade motor").
            let joined = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
            if c.is_uppercase() && joined && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            push_folded(&mut current, c);
            continue;
        }
        let next = chars.peek().copied();
        let digits_around =
            prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit());
        let letters_around = prev.is_some_and(char::is_alphabetic)
            && next.is_some_and(char::is_alphabetic)
            && !current.is_empty();
        match c {
            '.' if digits_around => current.push('.'),
            ',' if digits_around => {}
            '\'' | '\u{2019}' if letters_around => {}
            _ => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Appends `c` lower-cased, without diacritics.
fn push_folded(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    let mut base = String::new();
    decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            base.push(d);
        }
    });
    if base.is_empty() {
        base.push(c);
    }
    out.extend(base.chars().flat_map(char::to_lowercase));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyze_stems_and_drops_stop_words() {
        assert_eq!(
            analyze("How are the chunks indexed when a policy changes?"),
            ["chunk", "index", "polici", "chang"]
        );
        // Inflections meet at one stem.
        assert_eq!(analyze("reimbursed"), analyze("reimbursement"));
        assert_eq!(analyze("travelling"), analyze("travel"));
    }

    #[test]
    fn numbers_codes_and_accents_stay_whole() {
        assert_eq!(
            tokens("0.35 EUR per km, 1,200 m, error E7 at Näsi; it's done."),
            ["0.35", "eur", "per", "km", "1200", "m", "error", "e7", "at", "nasi", "its", "done"]
        );
        assert_eq!(analyze("Version v2 (2025)"), ["version", "v2", "2025"]);
        assert_eq!(
            tokens("E7Blade motor overloadGrass, GlobalProtect, HTTP"),
            ["e7", "blade", "motor", "overload", "grass", "global", "protect", "http"]
        );
        // A full stop after a number ends the token.
        assert_eq!(
            tokens("paid on the 25th. Then"),
            ["paid", "on", "the", "25th", "then"]
        );
    }

    #[test]
    fn the_local_embedders_analyser_is_unchanged() {
        assert_eq!(terms("How are the chunks indexed?"), ["chunk", "index"]);
    }
}
