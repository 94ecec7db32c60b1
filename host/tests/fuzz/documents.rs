//! Document loaders (`rag::document`): plain text, Markdown, HTML and PDF, as a file in
//! the data folder would reach them.
//!
//! What must hold for any input: no panic escapes (PDF parser panics are contained by
//! the loader and reported as a corrupt file), nothing recurses deep enough to
//! overflow the stack (the text formats run on the test thread's small stack, stricter
//! than the loader's 64 MiB parser threads), no input is slow, and the output is
//! normalised text no larger than a small multiple of the input (a document must not
//! amplify into memory).

use super::{fuzz, mutants, note, resident_bytes, Outcome};
use autbot::rag::document::{parse, parse_guarded, Document, Limits};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Slowest acceptable parse of one generated document (they are at most a few
/// hundred KiB).
const SLOW: Duration = Duration::from_secs(5);

/// The fuzzing limits: the defaults, with a smaller decode budget so that bombs are
/// refused quickly.
fn limits() -> Limits {
    Limits {
        max_decoded_bytes: 8 << 20,
        max_parse: Duration::from_secs(10),
        ..Limits::default()
    }
}

/// Output bytes allowed per input byte (section texts and heading paths together).
const AMPLIFICATION: usize = 8;

/// What every successful parse must look like.
fn check_document(doc: &Document, input_len: usize) -> Outcome {
    if doc.sections.is_empty() {
        return Err("Ok with no sections".into());
    }
    let mut out_bytes = 0usize;
    for (i, s) in doc.sections.iter().enumerate() {
        if s.text.is_empty() {
            return Err(format!("section {i} has empty text"));
        }
        for paragraph in s.text.split("\n\n") {
            if paragraph.is_empty() {
                return Err(format!("section {i}: more than one blank line in a row"));
            }
            for line in paragraph.split('\n') {
                let normal = line.split_whitespace().collect::<Vec<_>>().join(" ");
                if line != normal || line.is_empty() {
                    return Err(format!("section {i}: line not normalised: {line:?}"));
                }
            }
        }
        out_bytes += s.text.len() + s.heading.len();
    }
    if out_bytes > AMPLIFICATION * input_len + 4096 {
        return Err(format!(
            "amplification: {input_len} input bytes gave {out_bytes} bytes of sections \
             ({} sections; a document must not multiply into memory)",
            doc.sections.len()
        ));
    }
    Ok(())
}

/// The kind of a refusal: its message up to the first detail.
fn reason(e: &str) -> &str {
    e.split([':', '(']).next().unwrap_or(e).trim()
}

/// Parses on this thread, within the slow-input and memory bounds.
fn check_format(ext: &str, input: &[u8]) -> Outcome {
    let started = Instant::now();
    let result = parse(input.to_vec(), ext, format!("fuzz.{ext}"), &limits());
    let took = started.elapsed();
    if took > SLOW {
        return Err(format!("slow input: {:.1} s", took.as_secs_f64()));
    }
    if resident_bytes() > 4 << 30 {
        return Err(format!("resident memory {} MiB", resident_bytes() >> 20));
    }
    match result {
        Ok(doc) => {
            note("ok");
            check_document(&doc, input.len())
        }
        Err(e) if e.is_empty() => Err("an empty error message".into()),
        Err(e) => {
            note(reason(&e));
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------
// Plain text: the words are kept exactly, only whitespace changes.

fn text_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => "(\\PC|[ \t\r\n\u{0b}\u{0c}\u{85}\u{a0}\u{2028}\u{2029}\u{3000}\u{feff}\u{200b}]){0,400}"
            .prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..400),
        1 => ("[a-z ]{1,8}", "[\r\n \t]{1,4}", 1usize..2000)
            .prop_map(|(w, sep, n)| format!("{w}{sep}").repeat(n).into_bytes()),
        2 => mutants("doc_text", &[b"\r\n", b"\n\n\n", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\xc0", b" \t "]),
    ]
}

#[test]
fn doc_text() {
    fuzz("doc_text", text_input(), |input| {
        check_format("txt", input)?;
        if let Ok(text) = std::str::from_utf8(input) {
            let words_in: Vec<&str> = text.split_whitespace().collect();
            match parse(input.to_vec(), "txt", "t.txt".into(), &limits()) {
                Ok(doc) => {
                    let joined = doc
                        .sections
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let words_out: Vec<&str> = joined.split_whitespace().collect();
                    if words_in != words_out {
                        return Err("plain text changed words".into());
                    }
                }
                Err(e) if words_in.is_empty() && e.contains("no text") => {}
                Err(e) => return Err(format!("valid UTF-8 text with words refused: {e}")),
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------
// Markdown.

fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9 ]{0,24}",
        1 => "\\PC{0,16}",
        1 => ("[a-z]{1,8} ", 1usize..600).prop_map(|(w, n)| w.repeat(n)),
        1 => "[*_`~\\[\\]()<>!#&;\\\\|-]{1,16}",
        1 => prop::sample::select(vec![
            "&amp;", "&#0;", "&#x10FFFF;", "&#xD800;", "&NotNestedGreaterGreater;", "&nbsp;",
            "<span>", "</div>", "<!--", "-->", "<![CDATA[", "]]>", "<?", "?>", "\\",
        ]).prop_map(str::to_string),
    ]
}

fn md_block() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1usize..=7, words()).prop_map(|(l, t)| format!("{} {t}\n", "#".repeat(l))),
        1 => (words(), prop::sample::select(vec!["=", "-"])).prop_map(|(t, u)| format!("{t}\n{}\n", u.repeat(3))),
        4 => words().prop_map(|t| format!("{t}\n\n")),
        2 => (0usize..300, words()).prop_map(|(d, t)| format!("{}{t}\n", ">".repeat(d))),
        2 => (0usize..200, words()).prop_map(|(d, t)| format!("{}- {t}\n", "  ".repeat(d))),
        1 => (0usize..100, words()).prop_map(|(d, t)| format!("{}1. {t}\n", "   ".repeat(d))),
        1 => (words(), prop::sample::select(vec!["```", "~~~", "````"])).prop_map(|(t, f)| format!("{f}rust\n{t}\n{f}\n")),
        1 => words().prop_map(|t| format!("    {t}\n")),
        1 => (1usize..12, words()).prop_map(|(n, t)| {
            let row = format!("|{}\n", format!(" {t} |").repeat(n));
            format!("{row}|{}\n{row}{row}", "---|".repeat(n))
        }),
        1 => (words(), words()).prop_map(|(a, b)| format!("[{a}]: <{b}> \"{b}\"\n[{a}][{a}] ![{b}]({a})\n")),
        1 => (0usize..2000, words(), prop::sample::select(vec!["*", "_", "[", "`", "**", "~~", "<"]))
            .prop_map(|(n, t, d)| format!("{}{t}{}\n", d.repeat(n), d.repeat(n / 2))),
        1 => words().prop_map(|t| format!("<div>\n{t}\n</div>\n")),
        1 => Just("\n---\n".to_string()),
        1 => (words(), words()).prop_map(|(a, b)| format!("{a}[^{b}]\n\n[^{b}]: {a}\n")),
    ]
}

/// A long heading followed by many small sections: each section carries the whole
/// heading path.
fn md_heading_fanout() -> impl Strategy<Value = String> {
    (1usize..4096, 1usize..400, 2usize..=6).prop_map(|(title, sections, level)| {
        let mut s = format!("# {}\n", "t".repeat(title));
        for i in 0..sections {
            s.push_str(&format!("{} s{i}\nx\n", "#".repeat(level)));
        }
        s
    })
}

#[test]
fn doc_markdown() {
    let generated =
        proptest::collection::vec(md_block(), 0..40).prop_map(|b| b.concat().into_bytes());
    fuzz(
        "doc_markdown",
        prop_oneof![
            4 => generated,
            1 => md_heading_fanout().prop_map(String::into_bytes),
            3 => mutants("doc_markdown", &[b"\n# ", b"\n## ", b"> ", b"- ", b"```", b"|---|", b"[", b"]", b"*", b"<div>", b"\n\n", b"&#x0;"]),
        ],
        |input| check_format("md", input),
    );
}

// ---------------------------------------------------------------------------------
// HTML.

const TAGS: &[&str] = &[
    "p",
    "div",
    "span",
    "b",
    "a",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "td",
    "th",
    "tbody",
    "h1",
    "h2",
    "h3",
    "h4",
    "main",
    "article",
    "body",
    "html",
    "head",
    "title",
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "form",
    "svg",
    "math",
    "template",
    "iframe",
    "button",
    "select",
    "option",
    "textarea",
    "pre",
    "blockquote",
    "br",
    "img",
    "frameset",
    "plaintext",
    "xmp",
    "object",
    "font",
    "nobr",
    "caption",
    "colgroup",
    "dd",
    "dt",
    "section",
    "foreignObject",
    "desc",
    "mglyph",
    "annotation-xml",
    "input",
    "isindex",
];

fn html_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9 .,]{0,24}",
        1 => "\\PC{0,12}",
        1 => prop::sample::select(vec![
            "&amp;", "&#0;", "&#x110000;", "&#xD800;", "&notit;", "&lt", "&NotNestedGreaterGreater;",
            "<!-- c -->", "<!--", "<![CDATA[x]]>", "<!DOCTYPE html>", "<?xml?>", "</", "<", "\u{0}",
            "</p>", "</br>", "<br/>", "</body>", "</html>", "<h1>", "</h3>",
        ]).prop_map(str::to_string),
    ]
}

fn html_node() -> impl Strategy<Value = String> {
    let leaf = html_text();
    leaf.prop_recursive(8, 200, 8, |inner| {
        (
            prop::sample::select(TAGS),
            "( [a-z]{1,6}(=\"[^\"]{0,8}\")?){0,2}",
            proptest::collection::vec(inner, 0..8),
            any::<bool>(),
        )
            .prop_map(|(tag, attrs, children, close)| {
                let mut s = format!("<{tag}{attrs}>");
                for c in children {
                    s.push_str(&c);
                }
                if close {
                    s.push_str(&format!("</{tag}>"));
                }
                s
            })
    })
}

/// Deep nesting (the issue's 15,000 `<span>`s, and variants the tree builder treats
/// specially: tables, formatting elements for the adoption agency, foreign content).
fn html_deep() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(prop::sample::select(TAGS), 1..4),
        1usize..20_000,
        html_text(),
        0usize..3,
    )
        .prop_map(|(tags, depth, inner, closing)| {
            let open: String = tags.iter().map(|t| format!("<{t}>")).collect();
            let close: String = tags.iter().rev().map(|t| format!("</{t}>")).collect();
            let depth = depth / tags.len();
            let close = match closing {
                0 => close.repeat(depth),
                1 => String::new(),
                _ => close.repeat(depth / 2),
            };
            format!(
                "<html><body>{}{inner}{close}</body></html>",
                open.repeat(depth)
            )
        })
}

/// A long `h1` followed by many `h2` sections.
fn html_heading_fanout() -> impl Strategy<Value = String> {
    (1usize..4096, 1usize..400).prop_map(|(title, sections)| {
        let mut s = format!("<h1>{}</h1>", "t".repeat(title));
        for i in 0..sections {
            s.push_str(&format!("<h2>s{i}</h2><p>x</p>"));
        }
        s
    })
}

#[test]
fn doc_html() {
    let generated =
        proptest::collection::vec(html_node(), 0..12).prop_map(|n| n.concat().into_bytes());
    fuzz(
        "doc_html",
        prop_oneof![
            4 => generated,
            2 => html_deep().prop_map(String::into_bytes),
            1 => html_heading_fanout().prop_map(String::into_bytes),
            3 => mutants("doc_html", &[b"<span>", b"</span>", b"<table>", b"<td>", b"<h1>", b"</h1>", b"<h2>", b"<main>", b"<svg>", b"<math>", b"<template>", b"<script>", b"<!--", b"&amp;", b"<p>", b"<b><i>", b"</b>"]),
        ],
        |input| check_format("html", input),
    );
}

// ---------------------------------------------------------------------------------
// PDF: structured documents (streams with real filters, fonts with ToUnicode maps,
// nested forms, page trees) and mutants of the committed PDFs.

/// One PDF file from its objects (numbered from 1; object 1 is the catalog), with a
/// correct cross-reference table unless `bad_xref`.
pub fn pdf_file(objects: &[Vec<u8>], bad_xref: bool) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        let off = if bad_xref { off / 2 } else { off };
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// ASCII85 (`/ASCII85Decode`) encoding, with its `~>` end marker.
fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(4) {
        let mut group = [0u8; 4];
        group[..chunk.len()].copy_from_slice(chunk);
        let mut v = u32::from_be_bytes(group);
        if chunk.len() == 4 && v == 0 {
            out.push(b'z');
            continue;
        }
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = (v % 85) as u8 + b'!';
            v /= 85;
        }
        out.extend_from_slice(&digits[..chunk.len() + 1]);
    }
    out.extend_from_slice(b"~>");
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// Number of encodings [`pdf_stream`] knows; the first [`PDF_READABLE_FILTERS`] of
/// them are ones the loader decodes as declared.
pub const PDF_FILTERS: u8 = 7;
pub const PDF_READABLE_FILTERS: u8 = 5;

/// A stream object; `filter` picks how `data` is encoded (it is encoded here):
/// none, Flate, ASCII85, ASCII85 then Flate, LZW, Flate with a PNG predictor the data
/// was not made with, ASCIIHex.
pub fn pdf_stream(dict: &str, data: &[u8], filter: u8, length_error: i64) -> Vec<u8> {
    let (name, encoded) = match filter % PDF_FILTERS {
        1 => ("/Filter /FlateDecode", zlib(data)),
        2 => ("/Filter /ASCII85Decode", ascii85(data)),
        3 => (
            "/Filter [/ASCII85Decode /FlateDecode]",
            ascii85(&zlib(data)),
        ),
        4 => (
            "/Filter /LZWDecode",
            weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
                .encode(data)
                .unwrap(),
        ),
        5 => (
            "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>",
            zlib(data),
        ),
        6 => ("/Filter /ASCIIHexDecode", {
            let mut h = hex::encode(data).into_bytes();
            h.push(b'>');
            h
        }),
        _ => ("", data.to_vec()),
    };
    let length = (encoded.len() as i64 + length_error).max(0);
    let mut s = format!("<< {dict} {name} /Length {length} >>\nstream\n").into_bytes();
    s.extend_from_slice(&encoded);
    s.extend_from_slice(b"\nendstream");
    s
}

/// A stream encoding for [`pdf_stream`], mostly ones the loader reads.
fn filter() -> impl Strategy<Value = u8> {
    prop_oneof![3 => 0u8..2, 1 => 0..PDF_FILTERS]
}

fn pdf_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9 .,]{0,40}".prop_map(|s| format!("({s})")),
        1 => "[()\\\\a-z]{0,20}".prop_map(|s| format!("({s})")),
        1 => "[0-9A-Fa-f ]{0,40}".prop_map(|s| format!("<{s}>")),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| format!("<{}>", hex::encode(b))),
    ]
}

fn content_op() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pdf_string().prop_map(|s| format!("{s} Tj\n")),
        2 => proptest::collection::vec((pdf_string(), -2000i32..2000), 0..6).prop_map(|v| {
            let inner: String = v.iter().map(|(s, k)| format!("{s} {k} ")).collect();
            format!("[{inner}] TJ\n")
        }),
        1 => (-1000i32..1000, -1000i32..1000).prop_map(|(x, y)| format!("{x} {y} Td\n")),
        1 => (-1e4f32..1e4, -1e4f32..1e4).prop_map(|(x, y)| format!("1 0 0 1 {x} {y} Tm\n")),
        1 => (0u8..3, -5i32..200).prop_map(|(f, s)| format!("/F{f} {s} Tf\n")),
        1 => Just("T*\n".to_string()),
        1 => pdf_string().prop_map(|s| format!("{s} '\n")),
        1 => (0u8..2).prop_map(|x| format!("/X{x} Do\n")),
        1 => Just("q 2 0 0 2 0 0 cm Q\n".to_string()),
        1 => Just("q Q\n".to_string()),
    ]
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(content_op(), 0..24)
        .prop_map(|ops| format!("BT\n/F0 12 Tf 72 700 Td\n{}ET\n", ops.concat()).into_bytes())
}

fn to_unicode() -> impl Strategy<Value = Vec<u8>> {
    let entry = prop_oneof![
        ("[0-9A-F]{2,4}", "[0-9A-F]{0,8}")
            .prop_map(|(a, b)| format!("1 beginbfchar\n<{a}> <{b}>\nendbfchar\n")),
        ("[0-9A-F]{2,4}", "[0-9A-F]{2,4}", "[0-9A-F]{0,8}")
            .prop_map(|(a, b, c)| format!("1 beginbfrange\n<{a}> <{b}> <{c}>\nendbfrange\n")),
        ("[0-9A-F]{2,4}", "[0-9A-F]{2,4}", "[0-9A-F]{0,4}").prop_map(|(a, b, c)| format!(
            "1 beginbfrange\n<{a}> <{b}> [<{c}> <{c}>]\nendbfrange\n"
        )),
        ("[0-9A-F]{1,4}", "[0-9A-F]{1,4}")
            .prop_map(|(a, b)| format!("1 begincodespacerange\n<{a}> <{b}>\nendcodespacerange\n")),
        "[a-z <>0-9]{0,30}",
    ];
    proptest::collection::vec(entry, 0..6).prop_map(|e| {
        format!(
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n{}endcmap CMapName currentdict /CMap defineresource pop end end\n",
            e.concat()
        )
        .into_bytes()
    })
}

/// Font objects and their resources: a standard font, a font with `/Differences`,
/// a font with a `ToUnicode` map, a Type0 font.
fn fonts() -> impl Strategy<Value = (String, Vec<u8>, u8)> {
    (
        prop::sample::select(vec!["Helvetica", "Helvetica", "Helvetica", "Times-Roman", "Symbol", "ZapfDingbats", "Unknown"]),
        prop::sample::select(vec!["/WinAnsiEncoding", "/WinAnsiEncoding", "/WinAnsiEncoding", "/MacRomanEncoding", "/StandardEncoding", "<< /Differences [0 /a /b 65 /space /bullet /Euro] >>", "/Identity-H", "/Bogus"]),
        to_unicode(),
        filter(),
        prop_oneof![4 => Just(0u8), 1 => 1u8..3],
        prop_oneof![2 => Just(""), 1 => Just("/ToUnicode 7 0 R")],
    )
        .prop_map(|(base, enc, cmap, filter, kind, to_unicode)| {
            let dict = match kind {
                0 => format!("<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding {enc} {to_unicode} >>"),
                1 => format!("<< /Type /Font /Subtype /TrueType /BaseFont /{base} /FirstChar 32 /LastChar 40 /Widths [1 2 3 4 5 6 7 8 9] /Encoding {enc} {to_unicode} >>"),
                _ => format!("<< /Type /Font /Subtype /Type0 /BaseFont /{base} /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{base} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /W [0 [500 600]] >>] {to_unicode} >>"),
            };
            (dict, cmap, filter)
        })
}

/// A structured PDF: catalog 1, pages 2, page 3 (content 4), font 5 (resources), form
/// XObjects 6 and 8.. drawing each other, ToUnicode 7.
fn pdf_document() -> impl Strategy<Value = Vec<u8>> {
    (
        content(),
        filter(),
        prop_oneof![7 => Just(0i64), 1 => -8i64..8],
        fonts(),
        proptest::collection::vec((content(), filter(), 0u8..6), 0..4),
        prop_oneof![6 => Just(false), 1 => Just(true)],
        prop_oneof![6 => Just(0u8), 1 => 1u8..4],
        prop_oneof![3 => Just(1usize), 1 => 2usize..4],
    )
        .prop_map(
            |(page, filter, length_error, (font, cmap, cmap_filter), forms, bad_xref, tree, n_pages)| {
                                let xobjects: String = (0..forms.len())
                    .map(|i| format!("/X{i} {} 0 R ", if i == 0 { 6 } else { 7 + i }))
                    .collect();
                let resources = format!("<< /Font << /F0 5 0 R /F1 5 0 R /F2 5 0 R >> /XObject << {xobjects}>> >>");
                let parent = match tree {
                    0 => "2 0 R",
                    1 => "3 0 R", // a page that is its own parent
                    2 => "1 0 R",
                    _ => "99 0 R",
                };
                let kids: String = std::iter::repeat_n("3 0 R ", n_pages).collect();
                let mut objects = vec![
                    b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                    format!("<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>").into_bytes(),
                    format!("<< /Type /Page /Parent {parent} /MediaBox [0 0 612 792] /Contents 4 0 R /Resources {resources} >>")
                        .into_bytes(),
                    pdf_stream("", &page, filter, length_error),
                    font.into_bytes(),
                ];
                let form = |content: &[u8], filter: u8, draws: u8| {
                    let target = match draws {
                        0 => 6,
                        1 => 8,
                        2 => 9,
                        _ => 6 + draws as usize,
                    };
                    pdf_stream(
                        &format!("/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /Font << /F0 5 0 R >> /XObject << /X0 {target} 0 R /X1 {target} 0 R >> >>"),
                        content,
                        filter,
                        0,
                    )
                };
                let mut extra = Vec::new();
                for (i, (c, f, d)) in forms.iter().enumerate() {
                    extra.push((i, form(c, *f, *d)));
                }
                // Object 6: first form (or a placeholder), 7: ToUnicode, 8..: more forms.
                objects.push(extra.first().map(|(_, f)| f.clone()).unwrap_or_else(|| b"null".to_vec()));
                objects.push(pdf_stream("", &cmap, cmap_filter, 0));
                for (_, f) in extra.iter().skip(1) {
                    objects.push(f.clone());
                }
                pdf_file(&objects, bad_xref)
            },
        )
}

/// Checks a PDF on the loader's own guarded path (worker thread, time budget).
fn check_pdf(input: &[u8]) -> Outcome {
    let started = Instant::now();
    let result = parse_guarded(input.to_vec(), "pdf", "fuzz.pdf".into(), &limits());
    let took = started.elapsed();
    if resident_bytes() > 4 << 30 {
        return Err(format!("resident memory {} MiB", resident_bytes() >> 20));
    }
    match result {
        Err(e) if e.contains("max_parse_secs") || e.contains("still being parsed") => {
            Err(format!("slow input ({:.1} s): {e}", took.as_secs_f64()))
        }
        Err(e) => {
            note(reason(&e));
            Ok(())
        }
        Ok(doc) => {
            note("ok");
            check_document(&doc, input.len())
        }
    }
}

const PDF_TOKENS: &[&[u8]] = &[
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"<<",
    b">>",
    b"[",
    b"]",
    b"/FlateDecode",
    b"/LZWDecode",
    b"/ASCII85Decode",
    b"/Filter",
    b"/Length 999999",
    b"/Length -1",
    b"/Type /ObjStm",
    b"/Type /XRef",
    b"/W [1 9 9]",
    b"/Predictor 15",
    b"/Columns 99999",
    b"/Encrypt",
    b"/Kids",
    b"/Parent 3 0 R",
    b"3 0 R",
    b"/XObject",
    b"/Do",
    b"/Form",
    b"Tj",
    b"TJ",
    b"BT",
    b"ET",
    b"/ToUnicode",
    b"beginbfrange",
    b"xref",
    b"trailer",
    b"startxref",
    b"%%EOF",
    b"#2F",
    b"999999999",
    b"-2147483649",
    b"(\\",
    b"<FE FF>",
];

#[test]
fn doc_pdf() {
    fuzz(
        "doc_pdf",
        prop_oneof![
            2 => pdf_document(),
            3 => mutants("doc_pdf", PDF_TOKENS),
        ],
        check_pdf,
    );
}

#[test]
fn pdf_builder_makes_documents_the_loader_reads() {
    // The generator must produce real PDFs, or the fuzzing would stop at the header.
    let content = b"BT /F0 12 Tf (Hello kettle) Tj ET";
    for filter in 0..PDF_READABLE_FILTERS {
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F0 5 0 R >> >> >>".to_vec(),
            pdf_stream("", content, filter, 0),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        ];
        let doc = parse(pdf_file(&objects, false), "pdf", "t.pdf".into(), &limits())
            .unwrap_or_else(|e| panic!("filter {filter}: {e}"));
        assert!(
            doc.sections[0].text.contains("Hello kettle"),
            "filter {filter}"
        );
    }
}
