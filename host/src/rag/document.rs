//! Document loaders: plain text, Markdown (headings kept), HTML (boilerplate removed)
//! and PDF (text per page). Each produces sections of plain text.
//!
//! # Hostile documents
//!
//! Anything in the data folder is parsed, so a file may be built to hurt the process.
//! What bounds each document (see [`Limits`]; the `index.max_*` settings):
//!
//! - **Input size.** Files are read through a bounded reader: at most
//!   `index.max_file_bytes` (+1 byte, to notice a larger file), whatever size the
//!   file system reports (`/proc` files report 0).
//! - **Stack.** Nothing walks the input recursively: the HTML walker keeps an explicit
//!   stack (html5ever builds its tree iteratively and `ego_tree` keeps nodes in a
//!   vector, so parsing and dropping 100,000 nested elements is fine); pulldown-cmark
//!   is iterative too. PDF extraction (pdf-extract) recurses once per Form XObject
//!   drawn inside another, so the PDF guard refuses Form XObjects that draw themselves
//!   or are nested more than [`MAX_FORM_DEPTH`] deep, and page trees whose `Parent`
//!   links loop. Parsing runs on a worker thread with a 64 MiB stack.
//! - **Decompression bombs.** lopdf inflates PDF streams without a bound, while
//!   loading (object and cross-reference streams) and later (page contents, forms,
//!   fonts). Before lopdf sees a PDF, `pdf_guard` decodes every stream of the raw
//!   file with bounded decoders and refuses the file when they add up to more than
//!   `index.max_decoded_bytes`. It does not trust the stream dictionaries (a hostile
//!   file can make a dictionary say anything): at every `stream` keyword it tries each
//!   filter lopdf implements and whose name occurs in the file (`FlateDecode` with
//!   lopdf's raw-deflate fallback, `LZWDecode`, `ASCII85Decode`), on everything up to
//!   the end of the file (these decoders stop at their own end marker, so this bounds
//!   what any `/Length` can make lopdf decode), and again on each output as many
//!   times as the longest `/Filter [...]` array of the file (filter chains). Each
//!   stream counts for the most bytes decoded along one chain; outputs are only
//!   counted, not kept, unless they are decoded further. It also refuses PNG-predictor
//!   rows and cross-reference-stream field widths that would make lopdf allocate more
//!   than the budget, and encrypted files with object streams (lopdf decrypts and
//!   inflates those while loading, where no check can run); the streams of other
//!   encrypted files are measured after decryption, before any text is extracted.
//!   Content that pages draw, counting every use of a form, is bounded by the same
//!   budget (pdf-extract decodes a form again each time it is drawn).
//! - **Time.** Each document is parsed on its own thread with a budget of
//!   `index.max_parse_secs`; past it the document is skipped and reported. A thread
//!   cannot be stopped from outside, so a parser that overran keeps running on its own
//!   until it finishes. Meanwhile the same file is not parsed again (a rebuild does
//!   not pile up parsers of one hostile file), and while [`MAX_OVERRUNNING`] parsers
//!   overrun, further documents are skipped.
//! - **Panics** in a parser are caught and reported as a corrupt file.
//!
//! A document that hits a limit is skipped with the reason, and ingestion goes on.
//!
//! pdf-extract and lopdf are not hardened against hostile files; these checks cover
//! the failure modes known to take the process down, and the time budget the rest of
//! the slow ones. Running extraction in a separate, resource-limited process would
//! cover what is not known yet.

mod pdf_guard;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// Form XObjects nested deeper than this (each one drawn by the previous) are refused:
/// pdf-extract recurses once per level.
pub const MAX_FORM_DEPTH: usize = 64;

/// Parsers past their time budget that may still be running before further documents
/// are skipped instead of parsed.
pub const MAX_OVERRUNNING: usize = 4;

/// Stack of the parser threads. Nothing recurses on the input without a bound, so this
/// is a margin, not a requirement; it is reserved address space, touched only if used.
const PARSER_STACK_BYTES: usize = 64 << 20;

/// What one document may cost (the `index.max_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Most bytes a PDF's streams may decode to, all streams together.
    pub max_decoded_bytes: u64,
    /// Time budget for parsing one document.
    pub max_parse: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 20 << 20,
            max_decoded_bytes: 256 << 20,
            max_parse: Duration::from_secs(30),
        }
    }
}

/// The lower-cased extension of `path`, or "".
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Loads one file with the default [`Limits`]; the error says why it cannot be used.
pub fn load(path: &Path, source: String) -> Result<Document, String> {
    load_with(path, source, &Limits::default())
}

/// Loads one regular file (not a FIFO, device or socket: those are refused without
/// blocking) within `limits`. It does not confine `path` to a folder: the ingestion
/// walk does that.
pub fn load_with(path: &Path, source: String, limits: &Limits) -> Result<Document, String> {
    let ext = extension(path);
    if !SUPPORTED_EXTENSIONS.contains(&ext.as_str()) {
        return Err(format!("unsupported file type `.{ext}`"));
    }
    let mut file = open_nonblocking(path).map_err(|e| format!("unreadable: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("unreadable: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let bytes = read_bounded(&mut file, meta.len(), limits.max_file_bytes)?;
    parse_guarded(bytes, &ext, source, limits)
}

/// Opens `path` for reading without blocking on a FIFO.
pub(crate) fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever. It does
    // not change reads of regular files.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Reads at most `max` bytes of `file` (one more, to tell a larger file). `expected`
/// is the size the file system reported: a file larger than `max` is refused without
/// reading, and one that yields a different number of bytes (a `/proc` pseudo-file
/// reports 0; a file being written changes) is refused too.
pub(crate) fn read_bounded(
    file: &mut std::fs::File,
    expected: u64,
    max: u64,
) -> Result<Vec<u8>, String> {
    if expected > max {
        return Err(format!(
            "too large: {expected} bytes, more than index.max_file_bytes ({max})"
        ));
    }
    let mut bytes = Vec::with_capacity(expected as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("unreadable: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "too large: more than index.max_file_bytes ({max}) bytes"
        ));
    }
    if bytes.len() as u64 != expected {
        return Err(format!(
            "the file system said {expected} bytes but {} were read (a pseudo-file such as /proc, or a file being written)",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Sources of the parsers that overran their time budget and are still running.
static OVERRUNNING: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn overrunning() -> std::sync::MutexGuard<'static, Vec<String>> {
    OVERRUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forgets one overrunning parser of `source`.
fn finished_overrunning(source: &str) {
    let mut running = overrunning();
    if let Some(i) = running.iter().position(|s| s == source) {
        running.swap_remove(i);
    }
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const ABANDONED: u8 = 2;

/// One document for a parser thread.
struct Job {
    bytes: Vec<u8>,
    ext: String,
    source: String,
    limits: Limits,
    state: Arc<AtomicU8>,
    reply: std::sync::mpsc::SyncSender<Result<Document, String>>,
}

std::thread_local! {
    /// This thread's parser thread, reused from one document to the next (starting a
    /// thread with a large stack costs about 0.1 ms); replaced when it overruns.
    static PARSER: std::cell::RefCell<Option<std::sync::mpsc::Sender<Job>>> =
        const { std::cell::RefCell::new(None) };
}

/// Starts a parser thread; it ends when its sender is dropped, or after a job it was
/// abandoned on.
fn start_parser() -> Result<std::sync::mpsc::Sender<Job>, String> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("autbot-parse".into())
        .stack_size(PARSER_STACK_BYTES)
        .spawn(move || {
            for job in rx {
                let Job {
                    bytes,
                    ext,
                    source,
                    limits,
                    state,
                    reply,
                } = job;
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    parse(bytes, &ext, source.clone(), &limits)
                }))
                .unwrap_or_else(|_| Err("corrupt file (the parser gave up)".to_string()));
                let _ = reply.send(result);
                let finished =
                    state.compare_exchange(RUNNING, FINISHED, Ordering::SeqCst, Ordering::SeqCst);
                if finished.is_err() {
                    // Abandoned by `parse_guarded`, which listed this parser as
                    // overrunning and no longer sends it anything.
                    finished_overrunning(&source);
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start a parser thread: {e}"))?;
    Ok(tx)
}

/// Hands `job` to this thread's parser thread, starting one if needed.
fn send_to_parser(job: Job) -> Result<(), String> {
    PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        let job = match parser.as_ref() {
            Some(p) => match p.send(job) {
                Ok(()) => return Ok(()),
                // It is gone: start another.
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let fresh = start_parser()?;
        fresh
            .send(job)
            .map_err(|_| "the parser thread vanished".to_string())?;
        *parser = Some(fresh);
        Ok(())
    })
}

/// Stops reusing this thread's parser thread (it overran).
fn abandon_parser() {
    PARSER.with(|parser| parser.borrow_mut().take());
}

/// [`parse`] on a parser thread with a large stack, within `limits.max_parse`. A
/// panic is reported as a corrupt file; a parser past its budget is left to finish on
/// its own and the document is refused. While it runs, the same source is not parsed
/// again (a rebuild does not pile up parsers of one hostile file), and while
/// [`MAX_OVERRUNNING`] parsers overrun, nothing is.
pub fn parse_guarded(
    bytes: Vec<u8>,
    ext: &str,
    source: String,
    limits: &Limits,
) -> Result<Document, String> {
    {
        let running = overrunning();
        if running.contains(&source) {
            return Err(
                "not parsed: an earlier parse of this file is still running past index.max_parse_secs"
                    .into(),
            );
        }
        if running.len() >= MAX_OVERRUNNING {
            return Err(format!(
                "not parsed: {} earlier documents are still being parsed past index.max_parse_secs",
                running.len()
            ));
        }
    }
    let (reply, result) = std::sync::mpsc::sync_channel(1);
    let state = Arc::new(AtomicU8::new(RUNNING));
    send_to_parser(Job {
        bytes,
        ext: ext.to_string(),
        source: source.clone(),
        limits: *limits,
        state: state.clone(),
        reply,
    })?;
    match result.recv_timeout(limits.max_parse) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            // Listed first, so the parser can only unlist it after.
            overrunning().push(source.clone());
            match state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    abandon_parser();
                    Err(format!(
                        "parsing took longer than index.max_parse_secs ({} s)",
                        limits.max_parse.as_secs_f64()
                    ))
                }
                Err(_) => {
                    // It finished just now.
                    finished_overrunning(&source);
                    result
                        .recv()
                        .unwrap_or_else(|_| Err("the parser thread vanished".to_string()))
                }
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            abandon_parser();
            Err("the parser thread vanished".to_string())
        }
    }
}

/// Parses `bytes` as a file of type `ext` on the calling thread (see [`parse_guarded`]
/// for a thread with a time budget).
pub fn parse(
    bytes: Vec<u8>,
    ext: &str,
    source: String,
    limits: &Limits,
) -> Result<Document, String> {
    let sections = match ext {
        "txt" => vec![Section {
            heading: String::new(),
            page: None,
            text: utf8(bytes)?,
        }],
        "md" | "markdown" => markdown(&utf8(bytes)?),
        "html" | "htm" => {
            let text = utf8(bytes)?;
            check_html_nesting(&text)?;
            html(&text)
        }
        "pdf" => pdf(&bytes, limits)?,
        other => return Err(format!("unsupported file type `.{other}`")),
    };
    let input_len = sections.iter().map(|s| s.text.len()).sum::<usize>();
    // Every section carries its heading path: past a budget proportional to the
    // document, later sections keep only their own heading, then none, so a file of
    // thousands of tiny sections under a long title cannot multiply into memory.
    let mut heading_budget = 4 * input_len + 4096;
    let sections: Vec<Section> = sections
        .into_iter()
        .map(|s| {
            let mut heading = s.heading;
            if heading.len() > heading_budget {
                heading = heading.rsplit(" > ").next().unwrap_or_default().to_string();
                if heading.len() > heading_budget {
                    heading.clear();
                }
            }
            heading_budget -= heading.len();
            Section {
                text: normalize(&s.text),
                heading,
                ..s
            }
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

/// Longest heading kept, in characters. Every section (and chunk) carries a copy of
/// its heading path, so a document of one huge title and thousands of short sections
/// would otherwise cost gigabytes (fuzzing found a 246 KB file taking 1 GiB).
const MAX_HEADING_CHARS: usize = 200;
/// Longest heading path kept, in characters.
const MAX_HEADING_PATH_CHARS: usize = 500;

/// `text`, cut to at most `max` characters.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

/// The "A > B > C" path of a section, bounded.
fn heading_path<'a>(titles: impl Iterator<Item = &'a str>) -> String {
    clip(
        &titles.collect::<Vec<_>>().join(" > "),
        MAX_HEADING_PATH_CHARS,
    )
}

/// Deepest element nesting an HTML file may have. html5ever checks its whole stack of
/// open elements for each tag, so parsing time grows with the square of the depth
/// (measured: 40,000 nested `<ul>` take 4.2 s in a release build); real pages nest a
/// few dozen levels.
const MAX_HTML_NESTING: usize = 512;

/// Refuses HTML nested deeper than [`MAX_HTML_NESTING`], in one linear pass over the
/// tags. An over-estimate of what html5ever builds: end tags the parser would imply are
/// not inferred, except for void elements and the elements that close a previous one of
/// their kind wherever they are (`<p>`, `<li>`, table parts). `<div/>` opens a `<div>`
/// in HTML, so a self-closing slash is not trusted. The content of raw-text elements
/// (`<script>`, `<style>`, …) is skipped, as the parser does.
fn check_html_nesting(src: &str) -> Result<(), String> {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "param", "keygen",
    ];
    const CLOSES_PREVIOUS: &[&str] = &[
        "p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot", "colgroup",
        "caption",
    ];
    const RAW_TEXT: &[&str] = &[
        "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
    ];
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(offset) = position(&bytes[i..], b'<') {
        i += offset + 1;
        if bytes[i..].starts_with(b"!--") {
            match find(&bytes[i..], b"-->", false) {
                Some(end) => i += end + 3,
                None => break,
            }
            continue;
        }
        let closing = bytes.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |n| start + n);
        if end == start {
            continue;
        }
        // Without a `>` left there is no complete tag left: stop (one pass, no rescans).
        let Some(gt) = position(&bytes[end..], b'>').map(|n| end + n) else {
            break;
        };
        let name = src[start..end].to_ascii_lowercase();
        let name = name.as_str();
        i = gt + 1;
        if VOID.contains(&name) || CLOSES_PREVIOUS.contains(&name) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        if RAW_TEXT.contains(&name) {
            match find(&bytes[i..], format!("</{name}").as_bytes(), true) {
                Some(n) => i += n,
                None => break,
            }
            continue;
        }
        depth += 1;
        if depth > MAX_HTML_NESTING {
            return Err(format!(
                "HTML nested deeper than {MAX_HTML_NESTING} elements (parsing it would take quadratic time)"
            ));
        }
    }
    Ok(())
}

fn position(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn find(haystack: &[u8], needle: &[u8], ignore_case: bool) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| {
        if ignore_case {
            w.eq_ignore_ascii_case(needle)
        } else {
            w == needle
        }
    })
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
                heading: heading_path(stack.iter().map(|(_, h)| h.as_str())),
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
                    stack.push((level, clip(title.trim(), MAX_HEADING_CHARS)));
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

/// One step of the HTML walk.
enum Step<'a> {
    Visit(ego_tree::NodeRef<'a, scraper::Node>),
    /// The end of a block element: a paragraph break.
    EndBlock,
}

impl HtmlWalker {
    /// Walks the children of `node` in document order with an explicit stack: a
    /// document of 100,000 nested elements must not overflow the thread's stack.
    fn walk(&mut self, node: ego_tree::NodeRef<'_, scraper::Node>) {
        let mut todo: Vec<Step<'_>> = node.children().rev().map(Step::Visit).collect();
        while let Some(step) = todo.pop() {
            let child = match step {
                Step::EndBlock => {
                    self.text.push_str("\n\n");
                    continue;
                }
                Step::Visit(child) => child,
            };
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
                        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                        self.stack.push((level, clip(&title, MAX_HEADING_CHARS)));
                        continue;
                    }
                    if HTML_BLOCK.contains(&name) {
                        todo.push(Step::EndBlock);
                    }
                    todo.extend(child.children().rev().map(Step::Visit));
                }
                _ => {}
            }
        }
    }

    fn flush(&mut self) {
        if !self.text.trim().is_empty() {
            self.sections.push(Section {
                heading: heading_path(self.stack.iter().map(|(_, h)| h.as_str())),
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

/// PDF: one section per page, after `pdf_guard` has bounded what the file can make
/// the parser decode and how deep it can make it recurse. The PDF parser can panic on
/// hostile files; that is contained here and reported as a corrupt file.
fn pdf(bytes: &[u8], limits: &Limits) -> Result<Vec<Section>, String> {
    let pages = std::panic::catch_unwind(|| pdf_guard::extract_pages(bytes, limits))
        .map_err(|_| "corrupt PDF (the parser gave up)".to_string())??;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread with a small stack, as a recursion detector: a walk that
    /// recursed once per nesting level would overflow it (and abort the test binary).
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
        format!(
            "<html><body>{}{inner}{}<p>After the nest.</p></body></html>",
            open.repeat(depth),
            close.repeat(depth)
        )
    }

    #[test]
    fn deeply_nested_html_is_walked_without_recursion() {
        for (open, close) in [("<span>", "</span>"), ("<div>", "</div>")] {
            let src = nested(open, close, 15_000, "Deep kettle text.");
            // The walker itself (`parse` refuses such a file before parsing it).
            let text = on_small_stack(move || {
                html(&src)
                    .iter()
                    .map(|s| s.text.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            assert!(text.contains("Deep kettle text."), "{open}: {text:.200}");
            assert!(text.contains("After the nest."), "{open}");
        }
    }

    #[test]
    fn a_hundred_thousand_nested_elements_parse_and_drop() {
        let src = nested("<span>", "</span>", 100_000, "<h2>Bottom</h2>Still here.");
        let sections = on_small_stack(move || html(&src));
        let bottom = sections.iter().find(|s| s.heading == "Bottom").unwrap();
        assert!(bottom.text.contains("Still here."));
    }

    #[test]
    fn html_nested_deeper_than_the_cap_is_refused_before_parsing() {
        let deep = nested("<ul>", "</ul>", 40_000, "Deep.");
        let started = std::time::Instant::now();
        let err = parse(
            deep.into_bytes(),
            "html",
            "deep.html".into(),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(err.contains("nested deeper than"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Real pages: many unclosed <li>/<p>, void elements, comments, inline scripts.
        let page = format!(
            "<html><body><!-- <div><div> -->{}<ul>{}</ul><img src=x><br/>\
             <script>{}</script></body></html>",
            "<div>".repeat(100) + &"</div>".repeat(100),
            "<li>item<p>para".repeat(5_000),
            "if (i<n && a<b) {}".repeat(1_000)
        );
        let limits = Limits::default();
        assert!(parse(page.into_bytes(), "html", "ok.html".into(), &limits).is_ok());
        // `<div/>` opens a div in HTML; a file of them nests.
        let slashes = format!("<html><body>{}x</body></html>", "<div/>".repeat(2_000));
        assert!(parse(slashes.into_bytes(), "html", "s.html".into(), &limits).is_err());
        // No `>` anywhere: one pass, not one scan per `<`.
        let started = std::time::Instant::now();
        let open = "<a</a".repeat(200_000);
        let _ = parse(open.into_bytes(), "html", "o.html".into(), &limits);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn huge_headings_are_clipped_so_sections_stay_small() {
        let src = format!("# {}\n{}", "T".repeat(65_536), "## s\nx\n".repeat(16_000));
        let doc = parse(src.into_bytes(), "md", "fan.md".into(), &Limits::default()).unwrap();
        let heading_bytes: usize = doc.sections.iter().map(|s| s.heading.len()).sum();
        assert!(doc.sections.len() >= 16_000);
        assert!(
            heading_bytes <= 16_000 * (MAX_HEADING_PATH_CHARS + 1),
            "{heading_bytes}"
        );
    }

    #[test]
    fn deeply_nested_markdown_parses_without_recursion() {
        for src in [
            format!("{} quoted kettle\n", ">".repeat(50_000)),
            (0..5_000)
                .map(|i| format!("{}- item kettle {i}\n", "  ".repeat(i)))
                .collect(),
            format!("{}kettle{}", "[".repeat(50_000), "]".repeat(50_000)),
            format!("{}kettle{}", "*".repeat(50_000), "*".repeat(50_000)),
        ] {
            let doc = on_small_stack(move || {
                parse(src.into_bytes(), "md", "deep.md".into(), &Limits::default())
            })
            .unwrap();
            assert!(doc.sections.iter().any(|s| s.text.contains("kettle")));
        }
    }

    #[test]
    fn a_parse_past_its_time_budget_is_refused_and_left_to_finish() {
        // Far more than a millisecond of HTML parsing (deep nesting is refused up front).
        let src = format!(
            "<html><body>{}</body></html>",
            "<p>slow <b>text</b>".repeat(200_000)
        );
        let limits = Limits {
            max_parse: Duration::from_millis(1),
            ..Limits::default()
        };
        let err = parse_guarded(src.into_bytes(), "html", "slow.html".into(), &limits).unwrap_err();
        assert!(err.contains("index.max_parse_secs"), "{err}");
        // While it runs, the same file is not parsed again.
        let again = parse_guarded(b"<p>x</p>".to_vec(), "html", "slow.html".into(), &limits);
        assert!(again.unwrap_err().contains("still running"));
        // The abandoned parser finishes on its own and stops counting.
        let started = std::time::Instant::now();
        while overrunning().contains(&"slow.html".to_string()) {
            assert!(started.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(20));
        }
        let ok = parse_guarded(
            b"<p>quick</p>".to_vec(),
            "html",
            "quick.html".into(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ok.sections[0].text, "quick");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.txt");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let err = load(&fifo, "pipe.txt".into()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
