//! Query validation (`api::query::clean_query`): what every question goes through
//! before the cache, the plugins and the index see it.
//!
//! For any input: no panic; a refusal is a 422 with one of the documented codes; an
//! accepted query is non-empty, trimmed, within the limit, free of control characters
//! (but newline, tab and carriage return) and of invisible characters, in NFKC, and
//! cleaning it again changes nothing.

use super::{fuzz, mutants, Outcome};
use autbot::api::query::{clean_query, is_invisible};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Characters that take the validation's edges: whitespace of every kind, controls,
/// format and tag characters, fullwidth and compatibility forms (NFKC expands some of
/// them up to 18 characters), combining marks, surrogate-adjacent and private-use
/// code points.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
            '\u{2028}', '\u{2029}', '\u{202f}', '\u{3000}', '\u{0}', '\u{7}', '\u{1b}', '\u{7f}',
            '\u{9f}', '\u{ad}', '\u{34f}', '\u{61c}', '\u{115f}', '\u{180e}', '\u{200b}', '\u{200d}',
            '\u{200e}', '\u{202e}', '\u{2060}', '\u{2066}', '\u{3164}', '\u{fe0f}', '\u{feff}',
            '\u{ffa0}', '\u{fff9}', '\u{e0001}', '\u{e0069}', '\u{e007f}', '\u{e0100}', '\u{1d173}',
            '\u{ff49}', '\u{ff47}', '\u{fb01}', '\u{2460}', '\u{1d422}', '\u{fdfa}', '\u{3300}',
            '\u{33ff}', '\u{2474}', '\u{301}', '\u{327}', '\u{1100}', '\u{1161}', '\u{11a8}',
            '\u{e000}', '\u{f8ff}', '\u{fffd}', '\u{ffff}', '\u{10ffff}', '\u{2f800}', '\u{0344}',
            '\u{0f73}', '\u{1e9b}', '\u{212b}', '\u{2126}', '\u{1f600}',
        ]),
        1 => any::<char>(),
    ]
}

const TOKENS: &[&[u8]] = &[
    "\u{200b}".as_bytes(),
    "\u{e0069}".as_bytes(),
    "\u{ff49}".as_bytes(),
    "\u{fdfa}".as_bytes(),
    "\u{301}".as_bytes(),
    b"\x07",
    b"\r\n",
    b" ",
];

fn query_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(tricky_char(), 0..64)
            .prop_map(|c| c.into_iter().collect::<String>().into_bytes()),
        1 => (tricky_char(), 1usize..2200)
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect::<String>().into_bytes()),
        1 => "\\PC{0,64}".prop_map(String::into_bytes),
        2 => mutants("query", TOKENS),
    ]
}

const CODES: &[&str] = &["empty_query", "invalid_characters", "query_too_long"];

fn check(raw: &str, max: usize) -> Outcome {
    match clean_query(raw, max) {
        Err(e) => {
            if e.status() != axum::http::StatusCode::UNPROCESSABLE_ENTITY {
                return Err(format!("refused with {} ({})", e.status(), e.code()));
            }
            if !CODES.contains(&e.code().as_str()) {
                return Err(format!("undocumented code {}", e.code()));
            }
            Ok(())
        }
        Ok(q) => {
            if q.is_empty() || q.trim() != q {
                return Err(format!("accepted an empty or untrimmed query {q:?}"));
            }
            // The limit is on what the client sent (the schema's maxLength); NFKC may
            // then lengthen it, at most 18 characters per character (U+FDFA).
            let sent = raw.chars().count();
            if sent > max {
                return Err(format!("accepted {sent} characters with a limit of {max}"));
            }
            let n = q.chars().count();
            if n > 18 * sent {
                return Err(format!("{sent} characters became {n}"));
            }
            if let Some(c) = q
                .chars()
                .find(|c| (c.is_control() && !matches!(c, '\n' | '\t' | '\r')) || is_invisible(*c))
            {
                return Err(format!("accepted U+{:04X} in {q:?}", c as u32));
            }
            if q.nfkc().collect::<String>() != q {
                return Err(format!("accepted a query not in NFKC: {q:?}"));
            }
            // Cleaning twice changes nothing (given room for what NFKC added).
            match clean_query(&q, max.max(n)) {
                Ok(again) if again == q => Ok(()),
                other => Err(format!(
                    "cleaning is not idempotent: {q:?} cleans to {:?}",
                    other.map_err(|e| e.code())
                )),
            }
        }
    }
}

#[test]
fn query() {
    fuzz("query", query_input(), |input| {
        let raw = String::from_utf8_lossy(input);
        for max in [1, 7, 64, 2000] {
            check(&raw, max).map_err(|e| format!("(max_query_chars = {max}) {e}"))?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------
// The OpenAPI schema's promise (`api::openapi::QUERY_PATTERN`, minLength 1, maxLength
// `server.max_query_chars`): a query it allows is accepted. schemathesis checks the
// same over HTTP (scripts/schemathesis.sh); this is the fast, exhaustive version.

use autbot::api::openapi::QUERY_PATTERN;

/// Strings the schema allows, of 1 to `max` characters.
fn schema_valid(max: usize) -> impl Strategy<Value = String> {
    let unanchored = &QUERY_PATTERN[1..QUERY_PATTERN.len() - 1];
    proptest::string::string_regex(unanchored)
        .expect("the schema's pattern")
        .prop_filter("maxLength", move |s| s.chars().count() <= max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn schema_valid_queries_are_accepted(q in schema_valid(40)) {
        prop_assert!(regex_free_check(&q));
        let r = clean_query(&q, 40);
        prop_assert!(r.is_ok(), "{:?} refused: {:?}", q, r.map_err(|e| e.to_string()));
    }

    #[test]
    fn schema_valid_queries_at_the_length_limit_are_accepted(
        head in schema_valid(10), fill in prop::sample::select(vec!['a', 'é', '東', 'ﬁ', '①', '\u{fdfa}', '\u{3300}', '\u{1d400}']),
    ) {
        let n = head.chars().count();
        let q: String = head.chars().chain(std::iter::repeat_n(fill, 2000 - n)).collect();
        let r = clean_query(&q, 2000);
        prop_assert!(r.is_ok(), "a schema-valid query of 2000 characters ending in U+{:04X} refused: {:?}",
            fill as u32, r.map_err(|e| e.to_string()));
    }
}

/// The pattern's structure, checked without a regex engine: no control character but
/// tab, newline, carriage return.
fn regex_free_check(q: &str) -> bool {
    q.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}
