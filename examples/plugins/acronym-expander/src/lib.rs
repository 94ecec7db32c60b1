//! Example preprocessor: expands acronyms so that retrieval also finds
//! passages that spell them out.
//!
//! "How does RAG work?" becomes
//! "How does RAG (retrieval-augmented generation) work?".
//!
//! Capabilities: `config`.
//!
//! ```toml
//! [[plugins.chain]]
//! hook = "preprocessor"
//! path = "plugins/acronym-expander.wasm"
//! capabilities = ["config"]
//! config = { acronyms = { RAG = "retrieval-augmented generation", LLM = "large language model" } }
//! ```

use autbot_sdk::config;
use autbot_sdk::preprocessor::{Guest, Query, Rejection};

struct AcronymExpander;

impl Guest for AcronymExpander {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        // `acronyms` is a TOML table, handed to us as JSON text. A broken
        // value is a configuration error: fail loudly (panicking fails the
        // call) rather than silently doing nothing.
        let table = config::get_string_table("acronyms")
            .unwrap_or_else(|e| panic!("acronym-expander: {e}"))
            .unwrap_or_default();
        Ok(Query {
            text: expand(&q.text, &table),
            ..q
        })
    }
}

autbot_sdk::export_preprocessor!(AcronymExpander);

/// Append "(expansion)" after each whole-word, case-sensitive occurrence of
/// an acronym, unless the text already contains the expansion.
fn expand(text: &str, table: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    // Split into runs of word characters and runs of everything else.
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let is_word = |c: char| c.is_alphanumeric();
        let len = rest
            .char_indices()
            .find(|&(_, ch)| is_word(ch) != is_word(c))
            .map_or(rest.len(), |(i, _)| i);
        let (token, tail) = rest.split_at(len);
        out.push_str(token);
        if let Some((_, long)) = table.iter().find(|(short, _)| short == token) {
            if !text.to_lowercase().contains(&long.to_lowercase()) {
                out.push_str(" (");
                out.push_str(long);
                out.push(')');
            }
        }
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn expands_whole_words_only() {
        let t = vec![(
            "RAG".to_string(),
            "retrieval-augmented generation".to_string(),
        )];
        assert_eq!(
            super::expand("How does RAG work?", &t),
            "How does RAG (retrieval-augmented generation) work?"
        );
        assert_eq!(super::expand("DRAGON rag", &t), "DRAGON rag");
    }
}
