//! Superseded documents: older versions of a document that is also indexed, or
//! documents that say they are no longer current. They rank lower (`index.fusion`
//! demotes them) and the extractive answerer prefers their successors.

use super::chunk::Chunk;
use std::collections::{HashMap, HashSet};

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
