//! Sentence-aware chunking. Sizes are in **characters**: a chunk holds whole sentences
//! up to `chunk_size` characters (a longer sentence is cut at word boundaries), and
//! consecutive chunks of a section share whole trailing sentences of up to
//! `chunk_overlap` characters.

use super::document::{Document, Section};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

/// One retrievable passage with its provenance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chunk {
    /// Stable id: derived from the source, position and content.
    pub id: String,
    pub text: String,
    /// Source path relative to the data folder.
    pub source: String,
    /// Heading path, e.g. `Configuration > Server`.
    pub heading: String,
    /// PDF page, when known.
    pub page: Option<u32>,
    /// Byte offsets of the chunk in its section's text.
    pub start: usize,
    pub end: usize,
    /// SHA-256 (hex) of the text that is embedded (heading + text).
    pub hash: String,
}

impl Chunk {
    /// The text given to the embedder and the lexical index: heading, then body.
    pub fn embedding_text(&self) -> String {
        embedding_text(&self.heading, &self.text)
    }
}

fn embedding_text(heading: &str, text: &str) -> String {
    if heading.is_empty() {
        text.to_string()
    } else {
        format!("{heading}\n{text}")
    }
}

/// Chunking parameters.
#[derive(Debug, Clone, Copy)]
pub struct ChunkParams {
    pub size: usize,
    pub overlap: usize,
}

/// Chunks every section of a document.
pub fn chunk_document(doc: &Document, params: ChunkParams) -> Vec<Chunk> {
    let mut out = Vec::new();
    for (n, section) in doc.sections.iter().enumerate() {
        for (start, end) in chunk_spans(&section.text, params) {
            out.push(make_chunk(doc, n, section, start, end));
        }
    }
    out
}

fn make_chunk(doc: &Document, section_no: usize, s: &Section, start: usize, end: usize) -> Chunk {
    let text = s.text[start..end].trim().to_string();
    let hash = hex::encode(Sha256::digest(embedding_text(&s.heading, &text).as_bytes()));
    let id_src = format!("{}\u{0}{section_no}\u{0}{start}\u{0}{hash}", doc.source);
    let id = hex::encode(&Sha256::digest(id_src.as_bytes())[..8]);
    Chunk {
        id,
        text,
        source: doc.source.clone(),
        heading: s.heading.clone(),
        page: s.page,
        start,
        end,
        hash,
    }
}

/// Splits `chunk` into chunks of at most `size` characters (whole sentences where
/// possible, no overlap): for a chunk longer than the embedding model reads.
pub fn split(chunk: &Chunk, size: usize) -> Vec<Chunk> {
    chunk_spans(&chunk.text, ChunkParams { size, overlap: 0 })
        .into_iter()
        .map(|(start, end)| {
            let text = chunk.text[start..end].trim().to_string();
            let hash = hex::encode(Sha256::digest(
                embedding_text(&chunk.heading, &text).as_bytes(),
            ));
            let id_src = format!("{}\u{0}{start}\u{0}{hash}", chunk.id);
            Chunk {
                id: hex::encode(&Sha256::digest(id_src.as_bytes())[..8]),
                text,
                source: chunk.source.clone(),
                heading: chunk.heading.clone(),
                page: chunk.page,
                start: chunk.start + start,
                end: chunk.start + end,
                hash,
            }
        })
        .filter(|c| !c.text.is_empty())
        .collect()
}

/// Byte spans `(start, end)` of the chunks of `text`.
pub fn chunk_spans(text: &str, params: ChunkParams) -> Vec<(usize, usize)> {
    let pieces = pieces(text, params.size);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        // Fill the chunk with whole pieces up to the size.
        let start = pieces[i].0;
        let mut j = i;
        let mut end = pieces[i].1;
        while j + 1 < pieces.len() && chars(text, start, pieces[j + 1].1) <= params.size {
            j += 1;
            end = pieces[j].1;
        }
        spans.push((start, end));
        if j + 1 >= pieces.len() {
            break;
        }
        // Start the next chunk with trailing pieces that fit in the overlap, but
        // always move forward by at least one piece.
        let mut next = j + 1;
        let new_end = pieces[j + 1].1;
        while next > i + 1
            && chars(text, pieces[next - 1].0, end) <= params.overlap
            && chars(text, pieces[next - 1].0, new_end) <= params.size
        {
            next -= 1;
        }
        i = next;
    }
    spans
}

fn chars(text: &str, start: usize, end: usize) -> usize {
    text[start..end].chars().count()
}

/// Sentence spans, with sentences longer than `max` cut at word boundaries.
fn pieces(text: &str, max: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (offset, sentence) in text.split_sentence_bound_indices() {
        if sentence.trim().is_empty() {
            continue;
        }
        if sentence.chars().count() <= max {
            out.push((offset, offset + sentence.len()));
            continue;
        }
        let mut start = offset;
        let mut len = 0;
        for (w_off, word) in sentence.split_word_bound_indices() {
            let w_len = word.chars().count();
            if len + w_len > max && len > 0 {
                out.push((start, offset + w_off));
                start = offset + w_off;
                len = 0;
            }
            len += w_len;
            // A single "word" longer than max (e.g. a base64 blob) is cut by characters.
            while len > max {
                let cut = text[start..]
                    .char_indices()
                    .nth(max)
                    .map(|(b, _)| start + b)
                    .unwrap_or(text.len());
                out.push((start, cut));
                start = cut;
                len -= max;
            }
        }
        if start < offset + sentence.len() {
            out.push((start, offset + sentence.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(size: usize, overlap: usize) -> ChunkParams {
        ChunkParams { size, overlap }
    }

    #[test]
    fn chunks_respect_size_and_keep_sentences_whole() {
        let text = "One fish swims. Two fish swim fast. Red fish are red. Blue fish are blue. Old fish sleep.";
        let spans = chunk_spans(text, params(40, 0));
        assert!(spans.len() >= 3);
        for (s, e) in &spans {
            let chunk = &text[*s..*e];
            assert!(chunk.chars().count() <= 40, "{chunk:?}");
            assert!(
                chunk.trim_end().ends_with('.'),
                "{chunk:?} cut inside a sentence"
            );
        }
        // Without overlap the chunks tile the text.
        for w in spans.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
    }

    #[test]
    fn overlap_repeats_trailing_sentences() {
        let text =
            "Alpha beta gamma. Delta epsilon zeta. Eta theta iota. Kappa lambda mu. Nu xi omicron.";
        let spans = chunk_spans(text, params(40, 20));
        assert!(spans.len() >= 3);
        for w in spans.windows(2) {
            assert!(w[1].0 < w[0].1, "chunks {w:?} do not overlap");
            let shared = &text[w[1].0..w[0].1];
            assert!(shared.chars().count() <= 20);
        }
    }

    #[test]
    fn long_sentences_and_words_are_cut() {
        let word = "x".repeat(130);
        let text = format!("{word} end. Short one.");
        let spans = chunk_spans(&text, params(50, 10));
        for (s, e) in &spans {
            assert!(text[*s..*e].chars().count() <= 50);
        }
        let covered: usize = spans.iter().map(|(s, e)| e - s).sum();
        assert!(covered >= text.trim().len() - 2);
    }

    #[test]
    fn multibyte_text_is_safe() {
        let text = "Ünïcödé sentence here. 日本語の文です。 Another one ends.".repeat(20);
        let spans = chunk_spans(&text, params(60, 15));
        assert!(!spans.is_empty());
        for (s, e) in spans {
            assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        }
    }
}
