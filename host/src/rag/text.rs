//! Text helpers shared by the lexical index, the local embedder and the extractive answerer.

/// Words too common to carry meaning in English questions.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that",
    "the", "their", "then", "there", "these", "this", "to", "was", "what", "when", "where",
    "which", "who", "why", "will", "with", "you", "your", "we", "our", "should", "would", "could",
    "about", "i'm", "im", "does", "did", "has", "have", "had", "been",
];

/// Lower-cased alphanumeric words, stop words removed, lightly stemmed.
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
