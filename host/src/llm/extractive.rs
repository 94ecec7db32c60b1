//! The embedded default "model": answers with the sentences of the retrieved passages
//! that best answer the question, each with its source, and says that it is extractive.
//!
//! How sentences are chosen:
//! * The passages are cut into sentences (and into lines where a paragraph is a list of
//!   short lines, such as a calendar or a letter's header).
//! * Each question word (English analyser: stop words out, stems) weighs its IDF over
//!   those sentences, so a word found in few sentences counts more than a common one. A
//!   word found in **every** passage says nothing about which passage answers (it is the
//!   topic: a person's name on their résumé) and counts a quarter.
//! * A sentence scores the weight of the question words it contains (half for words
//!   only in its heading), plus a little when it holds what the question asks for (a
//!   number for "how many", a place for "where", a name for "who"), minus a penalty
//!   when it adds almost nothing beyond the question's own words (a header line such
//!   as "To: Autumn Fjeld") or is very long.
//! * Up to three sentences are picked, each next one favouring question words the
//!   previous picks did not cover (multi-part questions), none much weaker than the
//!   first.
//! * When no sentence covers enough of the question's weight (its words are missing
//!   from the passages), the answer says that nothing was found instead of quoting
//!   noise.

use super::{Answer, AnswerRequest, ChatMessage, Llm, TokenUsage};
use crate::rag::bm25::Bm25;
use crate::rag::retrieve::Passage;
use crate::rag::superseded::superseded_sources;
use crate::text::{analyze, tokens};
use crate::upstream::UpstreamError;
use std::collections::{HashMap, HashSet};
use unicode_segmentation::UnicodeSegmentation;

/// Sentences quoted in an answer.
const MAX_SENTENCES: usize = 3;

/// Least share of the question's weight (its words known to the corpus) that one
/// passage must contain for the passages to count as answering.
const MIN_COVERAGE: f64 = 0.25;

/// Least IDF (summed) of the question words a passage must hold for them to be evidence:
/// one word found in fewer than about a third of the chunks.
const MIN_EVIDENCE: f64 = 1.0;

/// Weight factor of a question word found in every passage.
const TOPIC_DAMPING: f64 = 0.25;

/// Score penalty of sentences from an older version of another passage's document.
const SUPERSEDED_PENALTY: f64 = 0.3;

/// Score bonus of a sentence that points back at a quoted one ("It …", "This …").
const CONTINUATION_BONUS: f64 = 0.25;

/// Later picks must score at least this share of the first one's score.
const FOLLOW_UP_SHARE: f64 = 0.6;

/// Longest quoted sentence, in characters (longer ones are cut at a word).
const MAX_QUOTE_CHARS: usize = 400;

/// Stems of words that ask rather than say what is asked about ("what does the policy
/// *say*", "do I *need*"): not looked for in the passages.
const FILLER: &[&str] = &[
    "say", "tell", "know", "explain", "describ", "mean", "pleas", "want", "need", "get", "happen",
    "anyon", "someth", "anyth",
];

/// Label that starts every extractive answer.
pub const LABEL: &str = "Extractive answer (no language model is configured; these are the indexed passages that best match your question):";

/// What the answer says when the passages do not answer the question.
pub const NOT_FOUND: &str = "I could not find an answer to that in the indexed documents.";

/// The extractive answerer.
pub struct Extractive;

/// A candidate sentence.
struct Unit<'a> {
    text: String,
    source: &'a str,
    /// The last part of its passage's heading path.
    section: &'a str,
    /// Its document is an older version of another passage's.
    superseded: bool,
    /// Rank of its passage (0 = best).
    rank: usize,
    /// Its passage's retrieval score relative to the best passage's (0..=1).
    passage_score: f64,
    terms: HashSet<String>,
    heading_terms: HashSet<String>,
    has_number: bool,
    has_place: bool,
    has_name: bool,
    /// The unit before it in the same passage, when this one starts by pointing back
    /// at it ("It navigates with RTK-GPS").
    continues: Option<usize>,
}

/// A quoted sentence.
struct Picked<'a> {
    text: String,
    source: &'a str,
    superseded: bool,
}

/// What kind of answer the question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wants {
    Number,
    Place,
    Person,
    Anything,
}

impl Extractive {
    /// The answer text for `question` from `passages` (best first).
    pub fn compose(question: &str, passages: &[Passage], corpus: Option<&Bm25>) -> String {
        let picked = pick(question, passages, corpus);
        if picked.is_empty() {
            let mut sources: Vec<&str> = Vec::new();
            for p in passages {
                if !sources.contains(&p.source.as_str()) {
                    sources.push(&p.source);
                }
            }
            let closest = if sources.is_empty() {
                String::new()
            } else {
                format!(" The closest passages came from {}.", sources.join(", "))
            };
            return format!("{LABEL}\n\n{NOT_FOUND}{closest}");
        }
        let mut out = format!("{LABEL}\n");
        for p in &picked {
            out.push_str(&format!("\n- {} [{}]", p.text, p.source));
            if p.superseded {
                out.push_str(" (superseded: a newer version of this document was found too)");
            }
        }
        out
    }
}

/// The chosen sentences with their sources, best first; empty when the passages do not
/// answer the question.
fn pick<'a>(question: &str, passages: &'a [Passage], corpus: Option<&Bm25>) -> Vec<Picked<'a>> {
    let asking = asking_words(question);
    let mut wanted: Vec<String> = Vec::new();
    for t in analyze(question) {
        if !wanted.contains(&t) && !FILLER.contains(&t.as_str()) && !asking.contains(&t) {
            wanted.push(t);
        }
    }
    if wanted.is_empty() || passages.is_empty() {
        return Vec::new();
    }
    if !passages_cover(&wanted, passages, corpus) {
        return Vec::new();
    }
    let units = units(passages);
    // IDF of each question word over the sentences; words in no sentence are left out.
    let n = units.len() as f64;
    let idf: HashMap<&str, f64> = wanted
        .iter()
        .filter_map(|t| {
            let df = units.iter().filter(|u| u.terms.contains(t)).count() as f64;
            (df > 0.0).then(|| (t.as_str(), (1.0 + (n - df + 0.5) / (df + 0.5)).ln()))
        })
        .collect();
    if idf.is_empty() {
        return Vec::new();
    }
    // Words found in every passage are the topic, not the answer.
    let passage_terms: Vec<HashSet<String>> = passages.iter().map(passage_terms).collect();
    let mut weight: HashMap<&str, f64> = idf
        .iter()
        .map(|(t, idf)| {
            let everywhere =
                passage_terms.len() >= 2 && passage_terms.iter().all(|p| p.contains(*t));
            let damping = if everywhere { TOPIC_DAMPING } else { 1.0 };
            (*t, idf * damping)
        })
        .collect();
    let wants = wants(question);
    let question_terms: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut picked: Vec<Picked<'a>> = Vec::new();
    let mut taken = vec![false; units.len()];
    let mut first_score = None;
    for _ in 0..MAX_SENTENCES {
        let total: f64 = weight.values().sum::<f64>().max(f64::MIN_POSITIVE);
        let best = units
            .iter()
            .enumerate()
            .filter(|(i, _)| !taken[*i])
            .map(|(i, u)| {
                let follows = u.continues.is_some_and(|j| taken[j]);
                let bonus = if follows { CONTINUATION_BONUS } else { 0.0 };
                (i, score(u, &weight, total, wants, &question_terms) + bonus)
            })
            .filter(|(_, s)| s.is_finite())
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((i, s)) = best else { break };
        let first = *first_score.get_or_insert(s);
        if s <= 0.0 || s < first * FOLLOW_UP_SHARE {
            break;
        }
        taken[i] = true;
        let u = &units[i];
        let text = quote(u);
        if picked.iter().any(|p| same_sentence(&p.text, &text)) {
            continue;
        }
        // Later picks favour what is not covered yet.
        for t in u.terms.iter().chain(u.heading_terms.iter()) {
            if let Some(w) = weight.get_mut(t.as_str()) {
                *w *= 0.5;
            }
        }
        picked.push(Picked {
            text,
            source: u.source,
            superseded: u.superseded,
        });
    }
    picked
}

/// Whether the passages hold enough of the question to answer it. Without corpus
/// statistics: some passage holds [`MIN_COVERAGE`] of the question's words. With them
/// (words weighted by their IDF in the corpus):
/// * at least a third of the question's words occur in the corpus ("How do I bake
///   sourdough bread?" asked of an IT handbook);
/// * some passage holds [`MIN_COVERAGE`] of the known words' weight;
/// * and what it holds is specific: at least [`MIN_EVIDENCE`] of IDF, not only words
///   that most passages contain ("What is the company policy on pets?" asked of
///   documents that all say "company policy" and never "pets").
fn passages_cover(wanted: &[String], passages: &[Passage], corpus: Option<&Bm25>) -> bool {
    let terms: Vec<HashSet<String>> = passages.iter().map(passage_terms).collect();
    let held = |p: &HashSet<String>, weigh: &dyn Fn(&String) -> f64| -> f64 {
        wanted.iter().filter(|t| p.contains(*t)).map(weigh).sum()
    };
    let Some(corpus) = corpus else {
        let best = terms.iter().map(|p| held(p, &|_| 1.0)).fold(0.0, f64::max);
        return best / wanted.len().max(1) as f64 >= MIN_COVERAGE;
    };
    let known: Vec<&String> = wanted.iter().filter(|t| corpus.contains(t)).collect();
    if known.is_empty() || known.len() * 3 < wanted.len() {
        return false;
    }
    let idf = |t: &String| {
        if corpus.contains(t) {
            corpus.idf(t)
        } else {
            0.0
        }
    };
    let total: f64 = known.iter().map(|t| idf(t)).sum();
    let best = terms.iter().map(|p| held(p, &idf)).fold(0.0, f64::max);
    total > 0.0 && best / total >= MIN_COVERAGE && best >= MIN_EVIDENCE
}

/// The analysed words of a passage, its heading and its source path.
fn passage_terms(p: &Passage) -> HashSet<String> {
    let mut t: HashSet<String> = analyze(&p.text).into_iter().collect();
    t.extend(analyze(&p.heading));
    t.extend(analyze(&p.source));
    t
}

/// Stems of the words that make a question word ask for an amount or a kind ("how
/// *many*", "how *long*", "what *kind*"): the question's form, not its subject.
fn asking_words(question: &str) -> HashSet<String> {
    let words = tokens(question);
    words
        .windows(2)
        .filter(|p| {
            (p[0] == "how" && HOW_WORDS.contains(&p[1].as_str()))
                || (p[0] == "what" && matches!(p[1].as_str(), "kind" | "type" | "sort"))
        })
        .flat_map(|p| analyze(&p[1]))
        .collect()
}

/// Words that follow "how" in questions about amounts.
const HOW_WORDS: &[&str] = &[
    "many", "much", "long", "often", "far", "old", "soon", "quickly", "fast", "big", "large",
];

/// How well `u` answers, given the current word weights.
fn score(
    u: &Unit<'_>,
    weight: &HashMap<&str, f64>,
    total: f64,
    wants: Wants,
    question: &HashSet<&str>,
) -> f64 {
    let mut matched = 0.0;
    let mut any = false;
    for (t, w) in weight {
        if u.terms.contains(*t) {
            matched += w;
            any = true;
        } else if u.heading_terms.contains(*t) {
            matched += 0.5 * w;
        }
    }
    if !any {
        // A sentence must contain a question word itself, not only under its heading.
        return f64::NEG_INFINITY;
    }
    let mut s = matched / total;
    s += match wants {
        Wants::Number if u.has_number => 0.15,
        Wants::Place if u.has_place => 0.15,
        Wants::Person if u.has_name => 0.1,
        _ => 0.0,
    };
    // It must add something to the question's own words.
    let novel = u
        .terms
        .iter()
        .filter(|t| !question.contains(t.as_str()))
        .count();
    if novel < 2 {
        s -= 0.3;
    }
    s += 0.1 * u.passage_score - 0.02 * u.rank as f64;
    if u.superseded {
        s -= SUPERSEDED_PENALTY;
    }
    s -= u.text.chars().count() as f64 / 2000.0;
    s
}

/// Cuts every passage into candidate sentences.
fn units(passages: &[Passage]) -> Vec<Unit<'_>> {
    let best = passages
        .iter()
        .map(|p| p.score)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let old = superseded_sources(
        passages
            .iter()
            .map(|p| (p.source.as_str(), p.text.as_str())),
    );
    let mut out: Vec<Unit<'_>> = Vec::new();
    let mut seen = HashSet::new();
    let mut previous_rank = None;
    for (rank, p) in passages.iter().enumerate() {
        let heading_terms: HashSet<String> = analyze(&p.heading).into_iter().collect();
        for text in sentences(&p.text) {
            if text.chars().count() < 12 || !is_prose(&text) || !seen.insert(text.clone()) {
                continue;
            }
            let terms: HashSet<String> = analyze(&text).into_iter().collect();
            if terms.len() < 2 {
                continue;
            }
            let continues = (points_back(&text) && previous_rank == Some(rank))
                .then(|| out.len().checked_sub(1))
                .flatten();
            previous_rank = Some(rank);
            out.push(Unit {
                continues,
                has_number: text.chars().any(|c| c.is_ascii_digit()) || has_number_word(&text),
                has_place: has_place(&text),
                has_name: has_name(&text),
                text,
                source: &p.source,
                section: p.heading.rsplit(" > ").next().unwrap_or_default().trim(),
                superseded: old.contains(p.source.as_str()),
                rank,
                passage_score: (p.score / best).clamp(0.0, 1.0),
                terms,
                heading_terms: heading_terms.clone(),
            });
        }
    }
    out
}

/// The sentences of a passage. Paragraphs are separated by blank lines. Within one, a
/// line continues the previous one when that one is long and does not end a sentence
/// (PDF text wraps mid-sentence); otherwise lines stand alone (lists, calendars, letter
/// headers, FAQs).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut pieces: Vec<String> = Vec::new();
        let mut previous_line = "";
        for line in para.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match pieces.last_mut() {
                Some(piece) if wraps(previous_line) => {
                    piece.push(' ');
                    piece.push_str(line);
                }
                _ => pieces.push(line.to_string()),
            }
            previous_line = line;
        }
        for piece in pieces {
            for s in piece.unicode_sentences() {
                let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
                if !s.is_empty() {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Whether the text of a line goes on on the next one: the line is long (wrapped)
/// and does not end a sentence.
fn wraps(line: &str) -> bool {
    line.chars().count() >= WRAPPED_LINE_CHARS && !line.ends_with(['.', '?', '!', ':', ';'])
}

/// Lines at least this long that do not end a sentence were wrapped.
const WRAPPED_LINE_CHARS: usize = 50;

/// Whether a sentence starts by pointing back at the one before it.
fn points_back(text: &str) -> bool {
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    matches!(
        first.as_str(),
        "it" | "its"
            | "this"
            | "these"
            | "that"
            | "those"
            | "they"
            | "their"
            | "he"
            | "she"
            | "his"
            | "her"
            | "such"
            | "there"
    )
}

/// Mostly words and numbers: leaves out code, JSON and markup, which make poor quotes.
fn is_prose(sentence: &str) -> bool {
    if sentence.contains(['{', '}']) || sentence.contains("\":") {
        return false;
    }
    let total = sentence
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
        .max(1);
    let alnum = sentence.chars().filter(|c| c.is_alphanumeric()).count();
    let letters = sentence.chars().filter(|c| c.is_alphabetic()).count();
    alnum * 100 / total >= 75 && letters * 100 / total >= 40
}

/// The sentence to quote: cut at a word boundary when it is too long, and led by its
/// section's heading when the sentence does not name it ("Fernhill-Guest: The network
/// for visitors …"): out of its section a sentence often loses its subject.
fn quote(u: &Unit<'_>) -> String {
    let mut text = if u.text.chars().count() <= MAX_QUOTE_CHARS {
        u.text.clone()
    } else {
        let mut out = String::new();
        for word in u.text.split_whitespace() {
            if out.chars().count() + word.chars().count() + 1 > MAX_QUOTE_CHARS {
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out.push_str(" …");
        out
    };
    let section = u.section;
    let named = text.to_lowercase().contains(&section.to_lowercase());
    if !section.is_empty() && section.chars().count() <= 60 && !named {
        text = format!("{section}: {text}");
    }
    text
}

fn same_sentence(a: &str, b: &str) -> bool {
    let (a, b) = (tokens(a), tokens(b));
    a == b || (a.len() >= 4 && b.windows(a.len()).any(|w| w == a.as_slice()))
}

/// The kind of answer `question` asks for, from its first words.
fn wants(question: &str) -> Wants {
    let words: Vec<String> = tokens(question);
    let has = |w: &str| words.iter().any(|x| x == w);
    let pair = |a: &str, b: &[&str]| {
        words
            .windows(2)
            .any(|p| p[0] == a && b.contains(&p[1].as_str()))
    };
    if pair(
        "how",
        &[
            "many", "much", "long", "often", "far", "old", "soon", "quickly", "fast",
        ],
    ) || pair(
        "what",
        &[
            "percentage",
            "percent",
            "rate",
            "amount",
            "number",
            "time",
            "date",
            "year",
            "price",
            "cost",
        ],
    ) || pair("which", &["date", "dates", "day", "days", "year", "month"])
        || has("when")
    {
        Wants::Number
    } else if has("where") {
        Wants::Place
    } else if has("who") || has("whom") {
        Wants::Person
    } else {
        Wants::Anything
    }
}

const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "thirty", "hundred", "thousand", "once", "twice", "half", "daily",
    "weekly", "monthly", "yearly", "annually",
];

fn has_number_word(text: &str) -> bool {
    tokens(text)
        .iter()
        .any(|w| NUMBER_WORDS.contains(&w.as_str()))
}

/// Words that point at a place.
const PLACE_WORDS: &[&str] = &[
    "address", "based", "born", "city", "country", "floor", "grew", "hometown", "lives", "located",
    "location", "native", "office", "raised", "room", "street", "town",
];

/// A place word, or "in"/"at"/"from"/"near" followed by a capitalised word.
fn has_place(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let lowered: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    lowered
        .iter()
        .any(|w| PLACE_WORDS.contains(&w.trim_matches(|c: char| !c.is_alphanumeric())))
        || words.windows(2).any(|p| {
            matches!(p[0].to_lowercase().as_str(), "in" | "at" | "from" | "near")
                && p[1].chars().next().is_some_and(char::is_uppercase)
        })
}

/// Two capitalised words in a row after the first word: a name.
fn has_name(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().skip(1).collect();
    words.windows(2).any(|p| {
        p.iter().all(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(char::is_uppercase) && chars.all(char::is_alphabetic)
        })
    })
}

#[async_trait::async_trait]
impl Llm for Extractive {
    fn model(&self) -> String {
        "extractive".into()
    }

    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError> {
        let mut text = Self::compose(request.question, request.passages, request.corpus);
        let mut finish = "stop";
        // `max_tokens` counts words here, as `usage` does.
        if let Some(max) = request.options.max_tokens {
            let cut = (text.split_whitespace().nth(max as usize))
                .map(|w| w.as_ptr() as usize - text.as_ptr() as usize);
            if let Some(cut) = cut {
                text.truncate(cut);
                text.truncate(text.trim_end().len());
                finish = "length";
            }
        }
        Ok(Answer {
            usage: Some(TokenUsage::words(request.messages, &text)),
            text,
            model: self.model(),
            finish_reason: Some(finish.into()),
        })
    }

    async fn complete(&self, messages: &[ChatMessage]) -> Result<String, UpstreamError> {
        // There is no model to complete with; plugins are told plainly.
        let _ = messages;
        Err(UpstreamError::Status {
            status: 501,
            message: "no language model is configured (llm.provider = \"extractive\")".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(source: &str, heading: &str, text: &str, score: f64) -> Passage {
        Passage {
            id: source.into(),
            text: text.into(),
            source: source.into(),
            heading: heading.into(),
            score,
        }
    }

    #[test]
    fn a_name_found_everywhere_does_not_pick_the_sentence() {
        // The prototype answered "To: Autumn Fjeld": the only question word is the
        // name, which every passage of a résumé contains.
        let passages = [
            passage(
                "cover-letter.txt",
                "",
                "To: Autumn Fjeld\nRe: your application\nDate: 3 May 2024\n\nDear Autumn, thank you for applying to the data platform team.",
                0.9,
            ),
            passage(
                "resume.md",
                "Autumn Fjeld > About",
                "Autumn Fjeld is a senior data engineer. Autumn grew up in Tromsø, Norway, and moved to Oslo in 2015 to study computer science.",
                0.8,
            ),
            passage(
                "kudos.md",
                "Kudos",
                "Autumn fixed the nightly pipeline in record time. Thanks, Autumn, from the whole team!",
                0.7,
            ),
        ];
        let answer = Extractive::compose("Where is Autumn from?", &passages, None);
        assert!(answer.starts_with(LABEL), "{answer}");
        let first = answer.lines().nth(2).unwrap_or_default();
        assert!(first.contains("Tromsø"), "{answer}");
        assert!(first.ends_with("[resume.md]"), "{answer}");
        assert!(!answer.contains("To: Autumn Fjeld"), "{answer}");
    }

    #[test]
    fn the_rare_question_word_decides_not_the_topic() {
        let passages = [
            passage(
                "policy.md",
                "Travel policy",
                "The travel policy applies to every trip and the travel policy is reviewed every year by the travel team.",
                1.0,
            ),
            passage(
                "policy.md",
                "Travel policy > Pets",
                "Travel with pets: a guide dog may travel with you, other pets are not allowed on business trips.",
                0.6,
            ),
        ];
        let answer = Extractive::compose(
            "What does the travel policy say about pets?",
            &passages,
            None,
        );
        let first = answer.lines().nth(2).unwrap_or_default();
        assert!(first.contains("guide dog"), "{answer}");
    }

    #[test]
    fn weak_evidence_says_not_found() {
        let passages = [passage(
            "menu.md",
            "Canteen",
            "The canteen serves soup on Mondays and fish on Fridays.",
            0.3,
        )];
        let answer = Extractive::compose(
            "Who is the chief executive of the company?",
            &passages,
            None,
        );
        assert!(answer.contains(NOT_FOUND), "{answer}");
        assert!(answer.contains("menu.md"), "{answer}");
        assert!(!answer.contains("soup"), "{answer}");
        // No passages at all.
        let answer = Extractive::compose("Anything?", &[], None);
        assert!(answer.contains(NOT_FOUND), "{answer}");
    }

    #[test]
    fn a_rare_question_word_missing_from_the_passages_means_not_found() {
        let texts = [
            "The company travel policy covers flights and hotels.",
            "The company expense policy covers meals with clients.",
            "The company leave policy covers holidays and sick days.",
            "The company security policy covers passwords and laptops.",
        ];
        let corpus = Bm25::build(texts.iter().copied());
        let passages: Vec<Passage> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| passage(&format!("p{i}.md"), "Policies", t, 1.0 - i as f64 * 0.1))
            .collect();
        // "pets" occurs nowhere: the common words "company" and "policy" are no answer.
        let answer = Extractive::compose(
            "What is the company policy on pets?",
            &passages,
            Some(&corpus),
        );
        assert!(answer.contains(NOT_FOUND), "{answer}");
        // Without corpus statistics, two of three words look like enough.
        let answer = Extractive::compose("What is the company policy on pets?", &passages, None);
        assert!(!answer.contains(NOT_FOUND), "{answer}");
        // A rare word that is there answers.
        let answer = Extractive::compose(
            "Which company policy covers passwords?",
            &passages,
            Some(&corpus),
        );
        assert!(answer.contains("[p3.md]"), "{answer}");
    }

    #[test]
    fn numbers_answer_how_many_and_each_sentence_cites_its_source() {
        let passages = [
            passage(
                "leave.md",
                "Annual leave",
                "Annual leave is booked in Peoplebase. Every employee receives 27 days of annual leave per year.",
                1.0,
            ),
            passage(
                "carry.md",
                "Carry-over",
                "Up to 5 days of unused leave can be carried over into the next year.",
                0.8,
            ),
        ];
        let answer = Extractive::compose(
            "How many days of annual leave do I get, and how many can I carry over?",
            &passages,
            None,
        );
        let lines: Vec<&str> = answer.lines().skip(2).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("27 days") && l.ends_with("[leave.md]")),
            "{answer}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("5 days") && l.ends_with("[carry.md]")),
            "{answer}"
        );
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("- ") && l.ends_with(']')),
            "{answer}"
        );
    }

    #[test]
    fn wrapped_pdf_lines_are_joined_and_lists_are_read_by_line() {
        let pdf = "Salaries are paid monthly on the 25th of each month. When the 25th falls on a\nweekend, salary is paid on the previous working day.";
        assert_eq!(
            sentences(pdf),
            [
                "Salaries are paid monthly on the 25th of each month.",
                "When the 25th falls on a weekend, salary is paid on the previous working day."
            ]
        );
        let calendar =
            "1 January 2025 New Year's Day\n18 April 2025 Good Friday\n21 April 2025 Easter Monday";
        assert_eq!(sentences(calendar).len(), 3);
    }
}
