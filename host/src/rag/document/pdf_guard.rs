//! Bounds on what a PDF can make the parser (lopdf, then pdf-extract) do: decoded
//! stream bytes, allocation sizes taken from the file, recursion depth. See the
//! parent module's documentation for the approach.
//!
//! Two passes:
//!
//! 1. [`scan_raw`], before lopdf sees the file: every stream of the raw bytes is
//!    decoded with bounded decoders, trying each filter lopdf implements whose name
//!    occurs anywhere in the file (names are compared after `#xx` escapes are
//!    decoded, as lopdf does), and again on every output, so filter chains are
//!    covered. Input runs to the end of the file: Flate, LZW and ASCII85 stop at their
//!    own end marker, so a decoder fed more bytes than lopdf would use produces at
//!    least what lopdf would, whatever `/Length` says. Dictionaries are not trusted.
//! 2. [`check_loaded`], on the loaded document: streams of encrypted files (only
//!    readable after decryption) are measured with their declared filters, and the
//!    page tree and Form XObjects are walked the way pdf-extract will walk them (with
//!    an explicit stack) to refuse loops, excessive nesting and content drawn too
//!    many times.

use super::{Limits, MAX_FORM_DEPTH};
use pdf_extract::{Dictionary, Document, Object, Stream};
use std::collections::{HashMap, HashSet};
use std::io::Read;

/// Filters nested deeper than this in one stream are refused.
const MAX_FILTER_CHAIN: usize = 8;

/// Longest `Parent` chain from a page to the page-tree root.
const MAX_PAGE_TREE_DEPTH: usize = 256;

/// Extracts the text of each page, once the file has passed both checks.
pub(super) fn extract_pages(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, String> {
    let facts = scan_raw(bytes, limits.max_decoded_bytes)?;
    let doc = Document::load_mem(bytes).map_err(|e| format!("corrupt PDF: {e}"))?;
    if doc.is_encrypted() {
        return Err("encrypted PDF (it needs a password)".into());
    }
    check_loaded(&doc, facts.encrypted, limits.max_decoded_bytes)?;
    let mut pages = Vec::new();
    let mut page_num = 1;
    loop {
        let mut text = String::new();
        let done = {
            let mut out = pdf_extract::PlainTextOutput::new(&mut text);
            pdf_extract::output_doc_page(&doc, &mut out, page_num)
        };
        if done.is_err() {
            break;
        }
        pages.push(text);
        page_num += 1;
    }
    Ok(pages)
}

/// What the raw scan learnt.
#[derive(Debug)]
pub(super) struct RawFacts {
    /// The file names an `/Encrypt` dictionary: its streams are unreadable until lopdf
    /// decrypts them.
    pub encrypted: bool,
}

fn too_much(max: u64) -> String {
    format!("PDF streams decode to more than index.max_decoded_bytes ({max} bytes)")
}

/// Pass 1: the raw bytes. See the module documentation.
pub(super) fn scan_raw(bytes: &[u8], max_decoded: u64) -> Result<RawFacts, String> {
    let names = unescape_names(bytes);
    let has = |needle: &[u8]| find(&names, needle, 0).is_some();
    let encrypted = has(b"/Encrypt");
    if encrypted && has(b"ObjStm") {
        return Err(
            "encrypted PDF with object streams (lopdf decrypts and inflates them while loading, before they can be measured)"
                .into(),
        );
    }
    check_predictor_rows(&names, max_decoded)?;
    check_xref_widths(&names)?;
    let chain = longest_filter_chain(&names);
    if chain > MAX_FILTER_CHAIN {
        return Err(format!(
            "a PDF stream declares {chain} filters (at most {MAX_FILTER_CHAIN})"
        ));
    }
    let mut scan = Scan {
        left: max_decoded,
        max: max_decoded,
        chain,
        flate: has(b"FlateDecode"),
        lzw: has(b"LZWDecode"),
        a85: has(b"ASCII85Decode"),
    };
    if scan.flate || scan.lzw || scan.a85 {
        let mut from = 0;
        while let Some(at) = find(bytes, b"stream", from) {
            from = at + 6;
            if at >= 3 && &bytes[at - 3..at] == b"end" {
                continue;
            }
            let mut start = from;
            while matches!(bytes.get(start), Some(b' ' | b'\t')) {
                start += 1;
            }
            if bytes.get(start) == Some(&b'\r') {
                start += 1;
            }
            if bytes.get(start) == Some(&b'\n') {
                start += 1;
            }
            scan.stream(&bytes[start.min(bytes.len())..])?;
        }
    }
    Ok(RawFacts { encrypted })
}

/// The most filters any `/Filter [...]` array of the file names (1 without arrays):
/// lopdf applies only direct arrays, so no stream is decoded more times than this.
fn longest_filter_chain(names: &[u8]) -> usize {
    let mut longest = 1;
    let mut from = 0;
    while let Some(at) = find_name(names, b"/Filter", from) {
        from = at + 7;
        let mut i = skip_space(names, from);
        if names.get(i) != Some(&b'[') {
            continue;
        }
        i += 1;
        let mut count = 0;
        loop {
            i = skip_space(names, i);
            match names.get(i) {
                None | Some(b']') => break,
                Some(_) => {
                    count += 1;
                    i += 1;
                    while names.get(i).is_some_and(|&c| !is_delimiter(c)) {
                        i += 1;
                    }
                }
            }
        }
        longest = longest.max(count);
    }
    longest
}

struct Scan {
    /// Decoded bytes still allowed.
    left: u64,
    max: u64,
    /// Filters applied to one stream at most.
    chain: usize,
    flate: bool,
    lzw: bool,
    a85: bool,
}

impl Scan {
    /// Decodes one stream (from its first byte to the end of the file) with every
    /// enabled filter, then each output again up to the longest chain the file
    /// declares, depth first with an explicit stack. The stream is charged the most
    /// bytes decoded along one chain: that is what lopdf can hold for it, whichever
    /// filters it really has. ASCII85 output is not charged: it is smaller than its
    /// input, which is the file or a charged output.
    fn stream(&mut self, input: &[u8]) -> Result<(), String> {
        let mut charge = 0;
        let mut todo: Vec<(Vec<u8>, usize, u64)> = Vec::new();
        for (out, counted) in self.decode_all(input, 0, self.chain > 1)? {
            charge = charge.max(counted);
            if self.chain > 1 {
                todo.push((out, 1, counted));
            }
        }
        while let Some((data, depth, path)) = todo.pop() {
            let deeper = depth + 1 < self.chain;
            for (out, counted) in self.decode_all(&data, path, deeper)? {
                let path = path + counted;
                charge = charge.max(path);
                if deeper {
                    todo.push((out, depth + 1, path));
                }
            }
        }
        self.left = self
            .left
            .checked_sub(charge)
            .ok_or_else(|| too_much(self.max))?;
        Ok(())
    }

    /// The non-empty outputs of each enabled filter on `input`, each with the bytes it
    /// counts for, decoding at most what the budget has room for after `spent`.
    /// Outputs are only counted, not kept, unless `keep` (they are decoded further).
    fn decode_all(
        &self,
        input: &[u8],
        spent: u64,
        keep: bool,
    ) -> Result<Vec<(Vec<u8>, u64)>, String> {
        let room = self
            .left
            .checked_sub(spent)
            .ok_or_else(|| too_much(self.max))?;
        let mut outputs = Vec::new();
        if self.flate {
            outputs.push(inflate(input, room, keep).ok_or_else(|| too_much(self.max))?);
        }
        if self.lzw {
            // lopdf honours /EarlyChange, which is not trusted here: try both.
            outputs.push(lzw(input, true, room, keep).ok_or_else(|| too_much(self.max))?);
            outputs.push(lzw(input, false, room, keep).ok_or_else(|| too_much(self.max))?);
        }
        let mut outputs: Vec<(Vec<u8>, u64)> =
            outputs.into_iter().map(|o| (o.bytes, o.len)).collect();
        // ASCII85 matters only as the input of a further filter.
        if self.a85 && keep {
            let out = ascii85(input);
            outputs.push((out, 0));
        }
        outputs.retain(|(o, counted)| *counted > 0 || !o.is_empty());
        Ok(outputs)
    }
}

/// Where a bounded decoder puts its output: kept, or only counted.
struct Sink {
    bytes: Vec<u8>,
    len: u64,
    keep: bool,
    limit: u64,
}

impl Sink {
    fn new(limit: u64, keep: bool) -> Self {
        Self {
            bytes: Vec::new(),
            len: 0,
            keep,
            limit,
        }
    }

    /// Adds `data`; false once past the limit.
    fn push(&mut self, data: &[u8]) -> bool {
        self.len += data.len() as u64;
        if self.len > self.limit {
            return false;
        }
        if self.keep {
            self.bytes.extend_from_slice(data);
        }
        true
    }
}

/// `input` inflated as lopdf does (zlib, else raw deflate after the 2-byte header),
/// or `None` past `limit` bytes. A decoding error ends the output, as in lopdf.
fn inflate(input: &[u8], limit: u64, keep: bool) -> Option<Sink> {
    let out = read_capped(flate2::read::ZlibDecoder::new(input), limit, keep)?;
    if out.len == 0 && input.len() > 2 {
        return read_capped(flate2::read::DeflateDecoder::new(&input[2..]), limit, keep);
    }
    Some(out)
}

fn read_capped(mut reader: impl Read, limit: u64, keep: bool) -> Option<Sink> {
    let mut out = Sink::new(limit, keep);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if !out.push(&buf[..n]) {
                    return None;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    Some(out)
}

/// `input` LZW-decoded as lopdf does (MSB first, 8-bit symbols), or `None` past
/// `limit` bytes.
fn lzw(input: &[u8], early_change: bool, limit: u64, keep: bool) -> Option<Sink> {
    use weezl::{decode::Decoder, BitOrder, LzwStatus};
    let mut decoder = if early_change {
        Decoder::with_tiff_size_switch(BitOrder::Msb, 8)
    } else {
        Decoder::new(BitOrder::Msb, 8)
    };
    let mut out = Sink::new(limit, keep);
    let mut buf = vec![0u8; 64 * 1024];
    let mut rest = input;
    loop {
        let r = decoder.decode_bytes(rest, &mut buf);
        rest = &rest[r.consumed_in..];
        if !out.push(&buf[..r.consumed_out]) {
            return None;
        }
        match r.status {
            Ok(LzwStatus::Ok) if r.consumed_in > 0 || r.consumed_out > 0 => {}
            _ => break,
        }
    }
    Some(out)
}

/// `input` ASCII85-decoded as lopdf does (it stops at the first byte outside the
/// alphabet; `z` outside a group boundary and overflowing groups end it too).
fn ascii85(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut group: u32 = 0;
    let mut count = 0;
    for &ch in input {
        if ch == b'z' {
            if count != 0 {
                return out;
            }
            out.extend_from_slice(&[0, 0, 0, 0]);
            continue;
        }
        if ch.is_ascii_whitespace() {
            continue;
        }
        if !(b'!'..=b'u').contains(&ch) {
            break;
        }
        group = match group
            .checked_mul(85)
            .and_then(|g| g.checked_add(u32::from(ch - b'!')))
        {
            Some(g) => g,
            None => return out,
        };
        count += 1;
        if count == 5 {
            out.extend_from_slice(&group.to_be_bytes());
            group = 0;
            count = 0;
        }
    }
    if count > 1 {
        for _ in count..5 {
            group = group.wrapping_mul(85).wrapping_add(84);
        }
        out.extend_from_slice(&group.to_be_bytes()[..count - 1]);
    }
    out
}

/// PNG predictors make lopdf allocate two rows of `Columns × Colors × max(8,
/// BitsPerComponent) / 8` bytes, numbers taken from the file. The largest of each
/// anywhere in the file bounds every stream's row.
fn check_predictor_rows(names: &[u8], max_decoded: u64) -> Result<(), String> {
    let columns = max_int_after(names, b"/Columns").max(1);
    let colors = max_int_after(names, b"/Colors").max(1);
    let bits = max_int_after(names, b"/BitsPerComponent").max(8);
    let row = u128::from(columns) * (u128::from(colors) * u128::from(bits) / 8);
    if row.saturating_mul(2) > u128::from(max_decoded) {
        return Err(format!(
            "PDF predictor parameters (/Columns, /Colors, /BitsPerComponent) ask for rows of {row} bytes, more than index.max_decoded_bytes allows"
        ));
    }
    Ok(())
}

/// Cross-reference streams: lopdf allocates a buffer per `/W` field width and reads
/// one entry per `/Index` count without consuming input when all widths are 0. The
/// same key holds CID font widths, whose top-level numbers are glyph ids and widths,
/// far below the bound used here.
fn check_xref_widths(names: &[u8]) -> Result<(), String> {
    const MAX_TOP_LEVEL: u64 = 1 << 24;
    let mut from = 0;
    while let Some(at) = find_name(names, b"/W", from) {
        from = at + 2;
        let mut i = skip_space(names, from);
        if names.get(i) != Some(&b'[') {
            continue;
        }
        i += 1;
        let mut depth = 0usize;
        let mut top: Vec<Option<u64>> = Vec::new();
        while let Some(&c) = names.get(i) {
            match c {
                b'[' => depth += 1,
                b']' if depth == 0 => break,
                b']' => depth -= 1,
                b'0'..=b'9' | b'+' | b'-' | b'.' if depth == 0 => {
                    let (value, end) = parse_int(names, i);
                    top.push(value);
                    i = end;
                    continue;
                }
                c if depth == 0 && !is_space(c) => top.push(None),
                _ => {}
            }
            i += 1;
        }
        if top.iter().flatten().any(|&v| v > MAX_TOP_LEVEL) {
            return Err("PDF cross-reference stream field widths (/W) are too large".into());
        }
        if top.len() == 3 && top.iter().all(|v| *v == Some(0)) {
            return Err("PDF cross-reference stream field widths (/W) are all 0".into());
        }
    }
    Ok(())
}

/// The largest integer following the name `key` anywhere in `names` (0 if none).
fn max_int_after(names: &[u8], key: &[u8]) -> u64 {
    let mut max = 0;
    let mut from = 0;
    while let Some(at) = find_name(names, key, from) {
        from = at + key.len();
        let i = skip_space(names, from);
        if let (Some(v), _) = parse_int(names, i) {
            max = max.max(v);
        }
    }
    max
}

/// An optionally signed integer at `i` (saturating; negative counts as 0), and where
/// it ends. `None` when there are no digits.
fn parse_int(bytes: &[u8], mut i: usize) -> (Option<u64>, usize) {
    let negative = bytes.get(i) == Some(&b'-');
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut value: Option<u64> = None;
    while let Some(d @ b'0'..=b'9') = bytes.get(i) {
        value = Some(
            value
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(u64::from(d - b'0')),
        );
        i += 1;
    }
    // A real such as 12.5: the integer part bounds it.
    while let Some(b'0'..=b'9' | b'.') = bytes.get(i) {
        i += 1;
    }
    (value.map(|v| if negative { 0 } else { v }), i)
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delimiter(c: u8) -> bool {
    is_space(c) || b"()<>[]{}/%".contains(&c)
}

/// Skips white space and comments.
fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    loop {
        match bytes.get(i) {
            Some(&c) if is_space(c) => i += 1,
            Some(b'%') => {
                while !matches!(bytes.get(i), None | Some(b'\r' | b'\n')) {
                    i += 1;
                }
            }
            _ => return i,
        }
    }
}

/// The next occurrence of the name `key` (`/Name`) as a whole token.
fn find_name(bytes: &[u8], key: &[u8], mut from: usize) -> Option<usize> {
    while let Some(at) = find(bytes, key, from) {
        let end = at + key.len();
        if bytes.get(end).is_none_or(|&c| is_delimiter(c)) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = haystack.get(from..)?;
    if needle.is_empty() || rest.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= rest.len() {
        match rest[i..=rest.len() - needle.len()]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                i += p;
                if &rest[i..i + needle.len()] == needle {
                    return Some(from + i);
                }
                i += 1;
            }
        }
    }
    None
}

/// `bytes` with every `#xx` escape decoded, so names compare as lopdf reads them
/// (`/Flate#44ecode` is `/FlateDecode`).
fn unescape_names(bytes: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'#' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Pass 2: the loaded document. Encrypted files' streams are measured now that they
/// are decrypted; then the page tree and Form XObjects are walked.
pub(super) fn check_loaded(
    doc: &Document,
    encrypted: bool,
    max_decoded: u64,
) -> Result<(), String> {
    if encrypted {
        measure_streams(doc, max_decoded)?;
    }
    check_page_tree(doc)?;
    check_forms(doc, max_decoded)
}

/// Decodes every stream with its declared filters, within the budget.
fn measure_streams(doc: &Document, max_decoded: u64) -> Result<(), String> {
    let mut left = max_decoded;
    for object in doc.objects.values() {
        let Ok(stream) = object.as_stream() else {
            continue;
        };
        let Ok(filters) = stream.filters() else {
            continue;
        };
        let early_change = stream
            .dict
            .get(b"DecodeParms")
            .and_then(Object::as_dict)
            .and_then(|p| p.get(b"EarlyChange"))
            .and_then(Object::as_i64)
            .map_or(true, |v| v != 0);
        let mut data = stream.content.clone();
        for filter in filters {
            data = match filter {
                b"FlateDecode" => {
                    inflate(&data, left, true)
                        .ok_or_else(|| too_much(max_decoded))?
                        .bytes
                }
                b"LZWDecode" => {
                    lzw(&data, early_change, left, true)
                        .ok_or_else(|| too_much(max_decoded))?
                        .bytes
                }
                b"ASCII85Decode" => ascii85(&data),
                _ => break,
            };
            left = left
                .checked_sub(data.len() as u64)
                .ok_or_else(|| too_much(max_decoded))?;
        }
    }
    Ok(())
}

/// pdf-extract looks up inherited page attributes by recursing up `Parent` links: a
/// loop there never ends.
fn check_page_tree(doc: &Document) -> Result<(), String> {
    let mut fine: HashSet<pdf_extract::ObjectId> = HashSet::new();
    for (_, page) in doc.get_pages() {
        let mut path = Vec::new();
        let mut current = Some(page);
        while let Some(id) = current {
            if fine.contains(&id) {
                break;
            }
            if path.contains(&id) {
                return Err("corrupt PDF: the page tree loops (a Parent link points back)".into());
            }
            if path.len() >= MAX_PAGE_TREE_DEPTH {
                return Err(format!(
                    "PDF page tree deeper than {MAX_PAGE_TREE_DEPTH} levels"
                ));
            }
            path.push(id);
            current = doc
                .get_dictionary(id)
                .ok()
                .and_then(|d| d.get(b"Parent").ok())
                .and_then(|p| p.as_reference().ok());
        }
        fine.extend(path);
    }
    Ok(())
}

/// A Form XObject drawn with a given resource dictionary (identities, not contents).
type FormKey = (usize, usize);

struct Frame<'a> {
    key: FormKey,
    names: Vec<Vec<u8>>,
    next: usize,
    resources: &'a Dictionary,
    /// Nesting below this form so far.
    height: usize,
    /// Content bytes pdf-extract will interpret for this form, repeats included.
    work: u64,
}

/// Walks what pdf-extract will draw: each page's content, and for every `Do` the
/// named XObject's content with its own resources (else the caller's), as
/// pdf-extract resolves them. Refuses forms that draw themselves, nesting deeper than
/// [`MAX_FORM_DEPTH`] (pdf-extract recurses per level), and more content interpreted
/// in total, counting every time a form is drawn, than `max_decoded` bytes.
fn check_forms(doc: &Document, max_decoded: u64) -> Result<(), String> {
    let empty = Dictionary::new();
    let mut done: HashMap<FormKey, (usize, u64)> = HashMap::new();
    let mut total: u64 = 0;
    for (_, page_id) in doc.get_pages() {
        let Ok(page) = doc.get_dictionary(page_id) else {
            continue;
        };
        let resources = inherited_resources(doc, page).unwrap_or(&empty);
        let content = doc.get_page_content(page_id).unwrap_or_default();
        let root = Frame {
            key: (page as *const Dictionary as usize, 0),
            names: drawn_names(&content),
            next: 0,
            resources,
            height: 0,
            work: content.len() as u64,
        };
        let mut stack = vec![root];
        let mut on_path: HashSet<FormKey> = HashSet::new();
        let page_work = loop {
            let depth = stack.len();
            let Some(top) = stack.last_mut() else {
                break 0;
            };
            if top.next == top.names.len() {
                let Some(frame) = stack.pop() else {
                    break 0;
                };
                on_path.remove(&frame.key);
                match stack.last_mut() {
                    Some(parent) => {
                        parent.height = parent.height.max(frame.height + 1);
                        parent.work = parent.work.saturating_add(frame.work);
                        done.insert(frame.key, (frame.height, frame.work));
                    }
                    None => break frame.work,
                }
                continue;
            }
            let name = std::mem::take(&mut top.names[top.next]);
            top.next += 1;
            let Some((form, form_resources)) = resolve_form(doc, top.resources, &name) else {
                continue;
            };
            let key = (
                form as *const Stream as usize,
                form_resources as *const Dictionary as usize,
            );
            if on_path.contains(&key) {
                return Err("PDF Form XObjects draw themselves in a loop".into());
            }
            if let Some(&(height, work)) = done.get(&key) {
                if depth + height + 1 > MAX_FORM_DEPTH {
                    return Err(form_depth_error());
                }
                top.height = top.height.max(height + 1);
                top.work = top.work.saturating_add(work);
                if top.work > max_decoded {
                    return Err(too_much_drawn(max_decoded));
                }
                continue;
            }
            if depth >= MAX_FORM_DEPTH {
                return Err(form_depth_error());
            }
            let content = form_content(form);
            on_path.insert(key);
            stack.push(Frame {
                key,
                names: drawn_names(&content),
                next: 0,
                resources: form_resources,
                height: 0,
                work: content.len() as u64,
            });
        };
        total = total.saturating_add(page_work);
        if total > max_decoded {
            return Err(too_much_drawn(max_decoded));
        }
    }
    Ok(())
}

fn form_depth_error() -> String {
    format!("PDF Form XObjects nested more than {MAX_FORM_DEPTH} deep")
}

fn too_much_drawn(max: u64) -> String {
    format!(
        "PDF pages draw more than index.max_decoded_bytes ({max} bytes) of content, counting each use of a form"
    )
}

/// `Resources` of a page or of the nearest ancestor that has them.
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut dict = page;
    for _ in 0..MAX_PAGE_TREE_DEPTH {
        if let Ok(res) = dict.get(b"Resources") {
            return deref(doc, res).and_then(|o| o.as_dict().ok());
        }
        let parent = dict.get(b"Parent").ok()?.as_reference().ok()?;
        dict = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn deref<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

/// The XObject `name` in `resources`, and the resources its content is drawn with.
fn resolve_form<'a>(
    doc: &'a Document,
    resources: &'a Dictionary,
    name: &[u8],
) -> Option<(&'a Stream, &'a Dictionary)> {
    let xobjects = deref(doc, resources.get(b"XObject").ok()?)?
        .as_dict()
        .ok()?;
    let form = deref(doc, xobjects.get(name).ok()?)?.as_stream().ok()?;
    let own = form
        .dict
        .get(b"Resources")
        .ok()
        .and_then(|r| deref(doc, r))
        .and_then(|r| r.as_dict().ok());
    Some((form, own.unwrap_or(resources)))
}

/// A form's content as pdf-extract reads it. Decoding is bounded: pass 1 (or
/// [`measure_streams`]) has measured every stream.
fn form_content(form: &Stream) -> Vec<u8> {
    if form.filters().is_ok() {
        form.decompressed_content()
            .unwrap_or_else(|_| form.content.clone())
    } else {
        form.content.clone()
    }
}

/// The XObject names a content stream draws with `Do`, in order.
fn drawn_names(content: &[u8]) -> Vec<Vec<u8>> {
    let Ok(content) = pdf_extract::content::Content::decode(content) else {
        return Vec::new();
    };
    content
        .operations
        .into_iter()
        .filter(|op| op.operator == "Do")
        .filter_map(|op| op.operands.first()?.as_name().ok().map(<[u8]>::to_vec))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn pdf_with_stream(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut pdf = format!(
            "%PDF-1.4\n1 0 obj\n<< {dict} /Length {} >>\nstream\n",
            data.len()
        )
        .into_bytes();
        pdf.extend_from_slice(data);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf
    }

    #[test]
    fn a_flate_bomb_is_refused_whatever_the_dictionary_says() {
        let bomb = zlib(&vec![b'a'; 8 << 20]);
        for dict in [
            "/Filter /FlateDecode",
            "/Filter /Flate#44ecode",
            "/Filter [/FlateDecode] /Junk (stream\n)",
        ] {
            let pdf = pdf_with_stream(dict, &bomb);
            let err = scan_raw(&pdf, 1 << 20).unwrap_err();
            assert!(err.contains("index.max_decoded_bytes"), "{dict}: {err}");
            assert!(scan_raw(&pdf, 16 << 20).is_ok(), "{dict}");
        }
        // A /Length that stops early does not hide the rest of the stream.
        let pdf = pdf_with_stream("/Filter /FlateDecode /Length 10", &bomb);
        assert!(scan_raw(&pdf, 1 << 20).is_err());
    }

    #[test]
    fn chained_filters_are_decoded_layer_by_layer() {
        let inner = zlib(&vec![b'a'; 8 << 20]);
        let double = zlib(&inner);
        assert!(double.len() < 64 << 10);
        for dict in [
            "/Filter [/FlateDecode /FlateDecode]",
            "/Filter [/FlateDecode % a comment\n/Flate#44ecode]",
        ] {
            let pdf = pdf_with_stream(dict, &double);
            assert!(scan_raw(&pdf, 1 << 20).is_err(), "{dict}");
            assert!(scan_raw(&pdf, 16 << 20).is_ok(), "{dict}");
        }
        let nine = format!("/Filter [{}]", "/FlateDecode ".repeat(9));
        let err = scan_raw(&pdf_with_stream(&nine, b""), 1 << 20).unwrap_err();
        assert!(err.contains("9 filters"), "{err}");

        let mut a85 = Vec::new();
        for chunk in inner.chunks(4) {
            let mut group = [0u8; 4];
            group[..chunk.len()].copy_from_slice(chunk);
            let mut v = u32::from_be_bytes(group);
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = (v % 85) as u8 + b'!';
                v /= 85;
            }
            a85.extend_from_slice(&digits[..chunk.len() + 1]);
        }
        a85.extend_from_slice(b"~>");
        let pdf = pdf_with_stream("/Filter [/ASCII85Decode /FlateDecode]", &a85);
        assert!(scan_raw(&pdf, 1 << 20).is_err());
    }

    #[test]
    fn an_lzw_bomb_is_refused() {
        let data = vec![0u8; 8 << 20];
        let mut enc = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
        let packed = enc.encode(&data).unwrap();
        let pdf = pdf_with_stream("/Filter /LZWDecode", &packed);
        assert!(scan_raw(&pdf, 1 << 20).is_err());
        assert!(scan_raw(&pdf, 16 << 20).is_ok());
    }

    #[test]
    fn allocation_sizes_from_the_file_are_bounded() {
        let pdf = pdf_with_stream(
            "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4000000000 /Colors 3 >>",
            &zlib(b"x"),
        );
        assert!(scan_raw(&pdf, 256 << 20).unwrap_err().contains("predictor"));
        let pdf = pdf_with_stream("/Type /XRef /W [1 1000000000000000000 1]", b"");
        assert!(scan_raw(&pdf, 256 << 20).unwrap_err().contains("/W"));
        let pdf = pdf_with_stream("/Type /XRef /W [0 0 0] /Index [0 4000000000]", b"");
        assert!(scan_raw(&pdf, 256 << 20).unwrap_err().contains("/W"));
        // CID font widths share the key and pass.
        let pdf = pdf_with_stream("/W [1 [500 600] 3 10 1000]", b"");
        assert!(scan_raw(&pdf, 256 << 20).is_ok());
    }

    /// A PDF of `objects` (numbered from 1: catalog, pages, page, ...).
    fn build(objects: &[String]) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for off in offsets {
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

    fn text_stream(dict: &str, text: &str) -> String {
        format!(
            "<< {dict} /Length {} >>\nstream\n{text}\nendstream",
            text.len()
        )
    }

    /// One page drawing form 5; form `5 + k` draws form `6 + k` `fan_out` times, down
    /// to form `4 + forms`.
    fn nested_forms(forms: usize, fan_out: usize) -> Vec<u8> {
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R /Resources << /XObject << /X 5 0 R >> >> >>".to_string(),
            text_stream("", "/X Do"),
        ];
        for k in 0..forms {
            let last = k + 1 == forms;
            let resources = if last {
                "<< >>".to_string()
            } else {
                format!("<< /XObject << /X {} 0 R >> >>", 6 + k)
            };
            let content = if last { "" } else { "/X Do " }.repeat(fan_out.max(1));
            objects.push(text_stream(
                &format!("/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources {resources}"),
                &content,
            ));
        }
        build(&objects)
    }

    fn check(pdf: &[u8]) -> Result<(), String> {
        let facts = scan_raw(pdf, 256 << 20)?;
        let doc = Document::load_mem(pdf).map_err(|e| e.to_string())?;
        check_loaded(&doc, facts.encrypted, 256 << 20)
    }

    #[test]
    fn form_xobjects_that_loop_or_nest_too_deep_are_refused() {
        assert!(check(&nested_forms(10, 2)).is_ok());
        let err = check(&nested_forms(MAX_FORM_DEPTH + 5, 1)).unwrap_err();
        assert!(err.contains("nested more than"), "{err}");
        // 10^20 form uses from a few kilobytes: refused by counting, quickly.
        let started = std::time::Instant::now();
        let err = check(&nested_forms(20, 10)).unwrap_err();
        assert!(err.contains("counting each use"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let looped = build(&[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R /Resources << /XObject << /A 5 0 R >> >> >>".into(),
            text_stream("", "/A Do"),
            text_stream("/Type /XObject /Subtype /Form /Resources << /XObject << /B 6 0 R >> >>", "/B Do"),
            text_stream("/Type /XObject /Subtype /Form /Resources << /XObject << /A 5 0 R >> >>", "/A Do"),
        ]);
        assert!(check(&looped).unwrap_err().contains("loop"));
    }

    #[test]
    fn a_page_tree_whose_parents_loop_is_refused() {
        let pdf = build(&[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 5 0 R /Contents 4 0 R >>".into(),
            text_stream("", "BT ET"),
            "<< /Type /Pages /Parent 5 0 R /Kids [3 0 R] /Count 1 >>".into(),
        ]);
        let err = check(&pdf).unwrap_err();
        assert!(err.contains("page tree loops"), "{err}");
    }

    #[test]
    fn encrypted_files_with_object_streams_are_refused() {
        let pdf = pdf_with_stream("/Type /ObjStm /N 1 /First 4", b"1 0 <<>>");
        let mut encrypted = pdf.clone();
        encrypted.extend_from_slice(b"trailer\n<< /Encrypt 9 0 R >>\n");
        assert!(scan_raw(&pdf, 1 << 20).is_ok());
        assert!(scan_raw(&encrypted, 1 << 20)
            .unwrap_err()
            .contains("encrypted"));
    }

    #[test]
    fn the_shipped_pdfs_pass() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for path in [
            "data/architecture-overview.pdf",
            "tests/fixtures/docs/report.pdf",
        ] {
            let bytes = std::fs::read(repo.join(path)).unwrap();
            let pages = extract_pages(&bytes, &Limits::default()).unwrap();
            assert!(!pages.is_empty(), "{path}");
        }
    }
}
