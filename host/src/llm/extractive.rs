//! The embedded default "model": answers with the sentences of the retrieved passages
//! that best match the question, with their sources, and says that it is extractive.

use super::{Answer, AnswerRequest, ChatMessage, Llm};
use crate::rag::text::terms;
use crate::upstream::UpstreamError;
use std::collections::HashSet;
use unicode_segmentation::UnicodeSegmentation;

/// Sentences quoted in an answer.
const MAX_SENTENCES: usize = 3;

/// Label that starts every extractive answer.
pub const LABEL: &str = "Extractive answer (no language model is configured; these are the indexed passages that best match your question):";

/// The extractive answerer.
pub struct Extractive;

impl Extractive {
    fn compose(question: &str, passages: &[crate::rag::retrieve::Passage]) -> String {
        let wanted: HashSet<String> = terms(question).into_iter().collect();
        let mut scored: Vec<(f64, usize, String, &str)> = Vec::new();
        for (rank, p) in passages.iter().enumerate() {
            let sentences = p
                .text
                .split("\n\n")
                .flat_map(|para| para.unicode_sentences());
            for sentence in sentences {
                let sentence = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
                if sentence.chars().count() < 12 || !is_prose(&sentence) {
                    continue;
                }
                let have: HashSet<String> = terms(&sentence).into_iter().collect();
                let overlap = wanted.intersection(&have).count() as f64;
                if overlap == 0.0 {
                    continue;
                }
                // Coverage of the question, a little for the passage's rank, and a
                // penalty for very long sentences.
                let score = overlap / wanted.len().max(1) as f64 + p.score * 0.2
                    - (sentence.len() as f64 / 2000.0)
                    - rank as f64 * 0.01;
                scored.push((score, rank, sentence, p.source.as_str()));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut seen = HashSet::new();
        let picked: Vec<_> = scored
            .into_iter()
            .filter(|(_, _, s, _)| seen.insert(s.clone()))
            .take(MAX_SENTENCES)
            .collect();
        if picked.is_empty() {
            return format!(
                "{LABEL}\n\nI could not find anything about that in the indexed documents."
            );
        }
        let mut out = format!("{LABEL}\n");
        for (_, _, sentence, source) in &picked {
            out.push_str(&format!("\n- {sentence} [{source}]"));
        }
        out
    }
}

/// Mostly words: leaves out code, JSON and table rows, which make poor quotes.
fn is_prose(sentence: &str) -> bool {
    if sentence.contains(['{', '}']) || sentence.contains("\":") {
        return false;
    }
    let total = sentence
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
        .max(1);
    let letters = sentence.chars().filter(|c| c.is_alphabetic()).count();
    letters * 100 / total >= 75
}

#[async_trait::async_trait]
impl Llm for Extractive {
    fn model(&self) -> String {
        "extractive".into()
    }

    async fn answer(&self, request: &AnswerRequest<'_>) -> Result<Answer, UpstreamError> {
        Ok(Answer {
            text: Self::compose(request.question, request.passages),
            model: self.model(),
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
