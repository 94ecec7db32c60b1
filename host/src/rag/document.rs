//! Document loaders: plain text, Markdown (headings kept), HTML (boilerplate removed)
//! and PDF (text per page). Each produces sections of plain text.

use std::path::Path;

/// A loaded document.
#[derive(Debug, Clone)]
pub struct Document {
    /// Path relative to the data folder, with `/` separators.
    pub source: String,
    pub sections: Vec<Section>,
}

/// A stretch of a document under one heading (or one PDF page).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Heading path such as `Guide > Install`, or empty.
    pub heading: String,
    /// PDF page number (1-based), when the document has pages.
    pub page: Option<u32>,
    pub text: String,
}

/// File types the loaders understand.
pub const SUPPORTED_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm", "pdf"];

/// Loads one file; the error says why it cannot be used.
pub fn load(path: &Path, source: String) -> Result<Document, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    let sections = match ext.as_str() {
        "txt" => vec![Section {
            heading: String::new(),
            page: None,
            text: utf8(bytes)?,
        }],
        "md" | "markdown" => markdown(&utf8(bytes)?),
        "html" | "htm" => html(&utf8(bytes)?),
        "pdf" => pdf(&bytes)?,
        other => return Err(format!("unsupported file type `.{other}`")),
    };
    let sections: Vec<Section> = sections
        .into_iter()
        .map(|s| Section {
            text: normalize(&s.text),
            ..s
        })
        .filter(|s| !s.text.is_empty())
        .collect();
    if sections.is_empty() {
        return Err("no text found".into());
    }
    Ok(Document { source, sections })
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| "not valid UTF-8 text".to_string())
}

/// Collapses runs of spaces and blank lines; keeps paragraph breaks.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&line);
    }
    out
}

/// Markdown: one section per heading, with the heading path as metadata.
fn markdown(src: &str) -> Vec<Section> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut sections = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut text = String::new();
    let mut heading: Option<(usize, String)> = None;
    let flush = |stack: &[(usize, String)], text: &mut String, sections: &mut Vec<Section>| {
        if !text.trim().is_empty() {
            sections.push(Section {
                heading: stack
                    .iter()
                    .map(|(_, h)| h.as_str())
                    .collect::<Vec<_>>()
                    .join(" > "),
                page: None,
                text: std::mem::take(text),
            });
        }
        text.clear();
    };
    for event in Parser::new(src) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&stack, &mut text, &mut sections);
                heading = Some((level as usize, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, title)) = heading.take() {
                    stack.retain(|(l, _)| *l < level);
                    stack.push((level, title.trim().to_string()));
                }
            }
            Event::Text(t) | Event::Code(t) => match &mut heading {
                Some((_, title)) => title.push_str(&t),
                None => text.push_str(&t),
            },
            Event::SoftBreak => text.push(' '),
            Event::HardBreak => text.push('\n'),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow) => {
                text.push_str("\n\n")
            }
            Event::End(TagEnd::TableCell) => text.push_str(" | "),
            _ => {}
        }
    }
    flush(&stack, &mut text, &mut sections);
    sections
}

/// Elements whose text is page furniture, not content.
const HTML_SKIP: &[&str] = &[
    "script", "style", "nav", "header", "footer", "aside", "noscript", "form", "svg", "template",
    "iframe", "button", "select",
];
const HTML_BLOCK: &[&str] = &[
    "p",
    "div",
    "li",
    "br",
    "tr",
    "section",
    "article",
    "main",
    "pre",
    "blockquote",
    "table",
    "ul",
    "ol",
    "dd",
    "dt",
];

/// HTML: the text of `<main>` or `<article>` (else `<body>`), boilerplate removed,
/// one section per `h1`–`h3`.
fn html(src: &str) -> Vec<Section> {
    use scraper::{Html, Selector};
    let doc = Html::parse_document(src);
    let root = ["main", "article", "body"]
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .find_map(|sel| doc.select(&sel).next());
    let mut walker = HtmlWalker::default();
    match root {
        Some(el) => walker.walk(*el),
        None => walker.walk(doc.tree.root()),
    }
    walker.finish()
}

#[derive(Default)]
struct HtmlWalker {
    sections: Vec<Section>,
    stack: Vec<(usize, String)>,
    text: String,
}

impl HtmlWalker {
    fn walk(&mut self, node: ego_tree::NodeRef<'_, scraper::Node>) {
        for child in node.children() {
            match child.value() {
                scraper::Node::Text(t) => self.text.push_str(t),
                scraper::Node::Element(el) => {
                    let name = el.name();
                    if HTML_SKIP.contains(&name) {
                        continue;
                    }
                    if let Some(level) = heading_level(name) {
                        self.flush();
                        let title = collect_text(child);
                        self.stack.retain(|(l, _)| *l < level);
                        self.stack.push((
                            level,
                            title.split_whitespace().collect::<Vec<_>>().join(" "),
                        ));
                        continue;
                    }
                    self.walk(child);
                    if HTML_BLOCK.contains(&name) {
                        self.text.push_str("\n\n");
                    }
                }
                _ => {}
            }
        }
    }

    fn flush(&mut self) {
        if !self.text.trim().is_empty() {
            self.sections.push(Section {
                heading: self
                    .stack
                    .iter()
                    .map(|(_, h)| h.as_str())
                    .collect::<Vec<_>>()
                    .join(" > "),
                page: None,
                text: std::mem::take(&mut self.text),
            });
        }
        self.text.clear();
    }

    fn finish(mut self) -> Vec<Section> {
        self.flush();
        self.sections
    }
}

fn heading_level(name: &str) -> Option<usize> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        _ => None,
    }
}

fn collect_text(node: ego_tree::NodeRef<'_, scraper::Node>) -> String {
    node.descendants()
        .filter_map(|n| match n.value() {
            scraper::Node::Text(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

/// PDF: one section per page. The PDF parser can panic on hostile files; that is
/// contained here and reported as a corrupt file.
fn pdf(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| "corrupt PDF (the parser gave up)".to_string())?
        .map_err(|e| format!("corrupt PDF: {e}"))?;
    Ok(pages
        .into_iter()
        .enumerate()
        .map(|(n, text)| Section {
            heading: String::new(),
            page: Some(n as u32 + 1),
            text,
        })
        .collect())
}
