//! The module graph of `host/src` has no cycles: a file never depends, directly or
//! through others, on a file that depends on it (ARCHITECTURE.md, "Dependencies").
//!
//! A node is a source file; an edge is a name it uses from another file of the crate:
//! `use crate::…`/`super::…`/`self::…` (and `autbot::…` in main.rs), inline paths such
//! as `crate::rag::index::Index`, and `module::Name` after a `use` of that module.
//! Names re-exported by `pub use` are followed to the file that defines them. Not
//! edges: `mod` declarations, a module re-exporting its own children (a façade), test
//! code (`#[cfg(test)]` items and test-only files), comments and string literals.
//!
//! `AUTBOT_MODULE_GRAPH_SRC=<dir> cargo test -p autbot --test module_graph -- --nocapture`
//! checks another tree and prints its numbers (`AUTBOT_MODULE_GRAPH_EDGES=1`: and every
//! edge).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// One source file.
struct File {
    /// Relative to the source directory, `/`-separated (`rag/index.rs`).
    name: String,
    /// Its module path (`["rag", "index"]`); empty for the crate roots.
    module: Vec<String>,
    /// The binary's root (`main.rs`): `autbot::` is the library.
    is_bin: bool,
    /// Its code without comments, literals and test items.
    code: String,
    /// Its `#[cfg(test)] mod name;` declarations.
    test_modules: Vec<String>,
}

/// The graph: file → the files it uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// File edges left out of the top-level check, each with why. An entry that no
/// longer exists fails the test, so the list only shrinks.
///
/// `config` validates `[plugins]` with two names that live in `plugins`: the host's
/// memory cap and the parser of `plugins.trusted_keys`. Both are free of other
/// dependencies; moving them into `contract.rs` (beside `Capability` and `Hook`)
/// removes these entries.
const ALLOWED: &[(&str, &str)] = &[];

#[test]
fn host_modules_have_no_cycles() {
    let src = std::env::var_os("AUTBOT_MODULE_GRAPH_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = module_graph(&src);
    let components = cycles(&graph);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    let in_cycles: usize = components.iter().map(Vec::len).sum();
    let pairs = mutual_pairs(&graph);
    println!(
        "module graph of {}: {} files, {} edges; {} cyclic groups with {} files; {} mutually dependent pairs",
        src.display(),
        graph.len(),
        edges,
        components.len(),
        in_cycles,
        pairs.len()
    );
    if std::env::var_os("AUTBOT_MODULE_GRAPH_EDGES").is_some() {
        for (file, targets) in &graph {
            for t in targets {
                println!("  edge: {file} -> {t}");
            }
        }
    }
    let mut report = String::new();
    for (a, b) in &pairs {
        report.push_str(&format!("  pair: {a} <-> {b}\n"));
    }
    for group in &components {
        report.push_str(&format!(
            "  cyclic group of {} files: {}\n    e.g. {}\n",
            group.len(),
            group.join(", "),
            one_cycle(&graph, group).join(" -> ")
        ));
    }
    // The same graph with each top-level module (`rag`, `api`, `engine`…) as one node:
    // `config` must not use `plugins` even if no single file pair closes a loop.
    let mut allowed_graph = graph.clone();
    let mut stale = Vec::new();
    for (from, to) in ALLOWED {
        let removed = allowed_graph
            .get_mut(*from)
            .is_some_and(|targets| targets.remove(*to));
        if !removed {
            stale.push(format!("{from} -> {to}"));
        }
    }
    let top = top_level(&allowed_graph);
    let top_components = cycles(&top);
    let top_pairs = mutual_pairs(&top);
    println!(
        "top-level modules: {} modules, {} edges; {} cyclic groups with {} modules; {} mutually dependent pairs",
        top.len(),
        top.values().map(BTreeSet::len).sum::<usize>(),
        top_components.len(),
        top_components.iter().map(Vec::len).sum::<usize>(),
        top_pairs.len()
    );
    for (a, b) in &top_pairs {
        report.push_str(&format!(
            "  module pair: {a} <-> {b} ({} / {})\n",
            witnesses(&graph, a, b).join(", "),
            witnesses(&graph, b, a).join(", ")
        ));
    }
    for group in &top_components {
        report.push_str(&format!(
            "  cyclic group of {} modules: {}\n    e.g. {}\n",
            group.len(),
            group.join(", "),
            one_cycle(&top, group).join(" -> ")
        ));
    }
    if top_components.is_empty() {
        println!("layers, lowest first (a module uses only modules of lower layers):");
        for (n, layer) in layers(&top).iter().enumerate() {
            println!("  {n}: {}", layer.join(", "));
        }
    }
    print!("{report}");
    assert!(
        stale.is_empty() || std::env::var_os("AUTBOT_MODULE_GRAPH_SRC").is_some(),
        "ALLOWED names edges that no longer exist; remove them: {}",
        stale.join(", ")
    );
    assert!(
        components.is_empty() && top_components.is_empty(),
        "module cycles in {} (break them: move the shared type to a lower module; see ARCHITECTURE.md):\n{report}",
        src.display()
    );
}

/// Reads every `.rs` file under `src` and links the names they use.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect(src, src, &mut files);
    let test_only = test_only_files(&files);
    files.retain(|f| !test_only.contains(&f.name));
    let by_module: BTreeMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.is_bin)
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let exports: Vec<Vec<UseItem>> = files
        .iter()
        .map(|f| uses(&f.code).into_iter().filter(|u| u.public).collect())
        .collect();
    let ctx = Ctx {
        files: &files,
        by_module: &by_module,
        exports: &exports,
    };
    let mut graph = Graph::new();
    for (i, file) in files.iter().enumerate() {
        let mut targets = BTreeSet::new();
        let mut module_aliases = Vec::new();
        for item in uses(&file.code) {
            let Some(target) = ctx.resolve(i, &item.path, 0) else {
                continue;
            };
            if let Some(alias) = &item.alias {
                if ctx.files[target.0].module == target.1 && target.2.is_empty() {
                    module_aliases.push((alias.clone(), item.path.clone()));
                }
            }
            // A module re-exporting its own descendants is a façade, not a dependency.
            let facade = item.public
                && !file.is_bin
                && files[target.0].module.starts_with(&file.module)
                && files[target.0].module.len() > file.module.len();
            if !facade {
                targets.insert(target.0);
            }
        }
        let code = without_use_statements(&file.code);
        let mut prefixes: Vec<String> = vec!["crate".into(), "super".into(), "self".into()];
        if file.is_bin {
            prefixes.push("autbot".into());
        }
        for path in inline_paths(&code, &prefixes) {
            if let Some(t) = ctx.resolve(i, &path, 0) {
                targets.insert(t.0);
            }
        }
        let names: Vec<String> = module_aliases.iter().map(|(a, _)| a.clone()).collect();
        for path in inline_paths(&code, &names) {
            let Some((_, base)) = module_aliases.iter().find(|(a, _)| *a == path[0]) else {
                continue;
            };
            let mut full = base.clone();
            full.extend(path[1..].iter().cloned());
            if let Some(t) = ctx.resolve(i, &full, 0) {
                targets.insert(t.0);
            }
        }
        targets.remove(&i);
        graph.insert(
            file.name.clone(),
            targets.into_iter().map(|t| files[t].name.clone()).collect(),
        );
    }
    graph
}

struct Ctx<'a> {
    files: &'a [File],
    by_module: &'a BTreeMap<Vec<String>, usize>,
    exports: &'a [Vec<UseItem>],
}

impl Ctx<'_> {
    /// The file that defines `path` as written in file `from`: (file, its module path,
    /// the segments left after the module). `None` for other crates.
    fn resolve(
        &self,
        from: usize,
        path: &[String],
        depth: usize,
    ) -> Option<(usize, Vec<String>, Vec<String>)> {
        let file = &self.files[from];
        let mut absolute: Vec<String>;
        let mut rest = path;
        match path.first().map(String::as_str) {
            Some("crate") if !file.is_bin => {
                absolute = Vec::new();
                rest = &path[1..];
            }
            Some("autbot") if file.is_bin => {
                absolute = Vec::new();
                rest = &path[1..];
            }
            Some("self") => {
                absolute = file.module.clone();
                rest = &path[1..];
            }
            Some("super") => {
                absolute = file.module.clone();
                while rest.first().map(String::as_str) == Some("super") {
                    absolute.pop()?;
                    rest = &rest[1..];
                }
            }
            Some(first) if !file.is_bin => {
                // A child module, named without `self::` (2018 paths).
                let mut child = file.module.clone();
                child.push(first.to_string());
                if !self.by_module.contains_key(&child) {
                    return None;
                }
                absolute = file.module.clone();
            }
            _ => return None,
        }
        absolute.extend(rest.iter().cloned());
        // The longest prefix that is a module of this crate.
        let mut n = absolute.len();
        while !self.by_module.contains_key(&absolute[..n]) {
            n -= 1;
        }
        let target = self.by_module[&absolute[..n]];
        let remaining = absolute[n..].to_vec();
        if depth < 8 {
            if let Some(name) = remaining.first() {
                // Follow a re-export of that name to where it is defined.
                for export in &self.exports[target] {
                    let exported = export.alias.as_deref() == Some(name.as_str());
                    if exported || (export.glob && defines(&self.files[target].code, name)) {
                        let mut via = export.path.clone();
                        if export.glob {
                            via.push(name.clone());
                        }
                        via.extend(remaining[1..].iter().cloned());
                        if let Some(found) = self.resolve(target, &via, depth + 1) {
                            return Some(found);
                        }
                    }
                }
            }
        }
        Some((target, absolute[..n].to_vec(), remaining))
    }
}

/// Whether `code` has an item named `name` (for glob re-exports).
fn defines(code: &str, name: &str) -> bool {
    [
        "fn", "struct", "enum", "trait", "type", "const", "static", "mod",
    ]
    .iter()
    .any(|kw| code.contains(&format!("{kw} {name}")))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<File>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = path.strip_prefix(root).expect("under root");
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let mut module: Vec<String> = name
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_string)
            .collect();
        let last = module.last().cloned().unwrap_or_default();
        if last == "mod" || (module.len() == 1 && (last == "lib" || last == "main")) {
            module.pop();
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        let (code, test_modules) = without_tests(&strip(&text));
        out.push(File {
            is_bin: name == "main.rs",
            name,
            module,
            code,
            test_modules,
        });
    }
}

/// Files declared as `#[cfg(test)] mod name;`.
fn test_only_files(files: &[File]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for parent in files.iter().filter(|f| !f.is_bin) {
        for child in &parent.test_modules {
            let mut module = parent.module.clone();
            module.push(child.clone());
            for f in files.iter().filter(|f| f.module == module && !f.is_bin) {
                out.insert(f.name.clone());
            }
        }
    }
    out
}

/// `code` without comments, string and character literals (replaced by spaces, so
/// nothing in them reads as a path).
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
            continue;
        }
        let ident_before = i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_');
        // Raw strings: r"…", r#"…"#, br#"…"#.
        if (c == 'r' || (c == 'b' && next == Some('r'))) && !ident_before {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&'"') {
                j += 1;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A character literal ('x', '\n', '\u{..}', '"'), not a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
                continue;
            }
            if b.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `code` without the items under `#[cfg(test)]` (a `mod tests { … }`, a `use`, a
/// `mod tests;` whose file is then left out).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut test_modules = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        // The item runs to the first `;` at depth 0 or the end of its first `{…}` block.
        let chars: Vec<(usize, char)> = after.char_indices().collect();
        let mut depth = 0i32;
        let mut end = after.len();
        for &(pos, ch) in &chars {
            match ch {
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' => {
                    depth -= 1;
                    if depth == 0 && ch == '}' {
                        end = pos + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = pos + 1;
                    let item = after[..pos].trim();
                    if let Some(name) = item
                        .strip_prefix("mod ")
                        .or_else(|| item.strip_prefix("pub mod "))
                    {
                        test_modules.push(name.trim().to_string());
                    }
                    break;
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    (out, test_modules)
}

/// One leaf of a `use` tree.
#[derive(Clone, Debug)]
struct UseItem {
    /// The full path, e.g. `["crate", "rag", "index", "Index"]`.
    path: Vec<String>,
    /// The name it is known by here (`None` for a glob).
    alias: Option<String>,
    glob: bool,
    /// `pub use` / `pub(crate) use`: a re-export.
    public: bool,
}

/// The `use` statements of `code`, flattened.
fn uses(code: &str) -> Vec<UseItem> {
    let mut out = Vec::new();
    for (start, end) in use_statements(code) {
        let before = code[..start].trim_end();
        let public = before.ends_with("pub")
            || before.ends_with(')') && {
                let open = before.rfind('(').unwrap_or(0);
                before[..open].trim_end().ends_with("pub")
            };
        let body = &code[start + 3..end];
        let tokens = tokenize(body);
        let mut pos = 0;
        parse_tree(&tokens, &mut pos, &[], public, &mut out);
    }
    out
}

/// Byte ranges `use … ;` (from `use` to the `;`).
fn use_statements(code: &str) -> Vec<(usize, usize)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = code[i..].find("use") {
        let at = i + found;
        let before_ok = at == 0 || !is_ident(bytes[at - 1] as char);
        let after_ok = bytes
            .get(at + 3)
            .is_some_and(|c| (*c as char).is_whitespace());
        if before_ok && after_ok {
            if let Some(semi) = code[at..].find(';') {
                out.push((at, at + semi));
                i = at + semi;
                continue;
            }
        }
        i = at + 3;
    }
    out
}

fn without_use_statements(code: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end) in use_statements(code) {
        out.push_str(&code[last..start]);
        last = end;
    }
    out.push_str(&code[last..]);
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// Parses one use tree at `pos` under `prefix`.
fn parse_tree(
    tokens: &[String],
    pos: &mut usize,
    prefix: &[String],
    public: bool,
    out: &mut Vec<UseItem>,
) {
    let mut path = prefix.to_vec();
    if tokens.get(*pos).map(String::as_str) == Some("::") {
        *pos += 1;
    }
    loop {
        match tokens.get(*pos).map(String::as_str) {
            Some("{") => {
                *pos += 1;
                loop {
                    match tokens.get(*pos).map(String::as_str) {
                        Some("}") => {
                            *pos += 1;
                            break;
                        }
                        Some(",") => *pos += 1,
                        None => return,
                        _ => parse_tree(tokens, pos, &path, public, out),
                    }
                }
                return;
            }
            Some("*") => {
                *pos += 1;
                out.push(UseItem {
                    path,
                    alias: None,
                    glob: true,
                    public,
                });
                return;
            }
            Some(word) if is_ident(word.chars().next().unwrap_or(' ')) => {
                path.push(word.to_string());
                *pos += 1;
                if tokens.get(*pos).map(String::as_str) == Some("::") {
                    *pos += 1;
                    continue;
                }
                let mut alias = word.to_string();
                if tokens.get(*pos).map(String::as_str) == Some("as") {
                    alias = tokens.get(*pos + 1).cloned().unwrap_or_default();
                    *pos += 2;
                }
                if alias == "self" {
                    path.pop();
                    alias = path.last().cloned().unwrap_or_default();
                }
                out.push(UseItem {
                    path,
                    alias: Some(alias),
                    glob: false,
                    public,
                });
                return;
            }
            _ => return,
        }
    }
}

/// Paths in `code` that start with one of `firsts` (`crate::a::b`), not preceded by
/// `::` (then they are the tail of another path).
fn inline_paths(code: &str, firsts: &[String]) -> Vec<Vec<String>> {
    let tokens = tokenize(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts = firsts.contains(&tokens[i])
            && tokens.get(i + 1).map(String::as_str) == Some("::")
            && (i == 0 || tokens[i - 1] != "::");
        if !starts {
            i += 1;
            continue;
        }
        let mut path = vec![tokens[i].clone()];
        let mut j = i + 1;
        while tokens.get(j).map(String::as_str) == Some("::")
            && tokens
                .get(j + 1)
                .is_some_and(|t| t.chars().next().is_some_and(is_ident))
        {
            path.push(tokens[j + 1].clone());
            j += 2;
        }
        out.push(path);
        i = j;
    }
    out
}

/// The strongly connected components with more than one file (Tarjan), sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        on_stack: BTreeSet<&'g str>,
        stack: Vec<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.out.push(group);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// A shortest cycle through the first file of `group`.
fn one_cycle(graph: &Graph, group: &[String]) -> Vec<String> {
    let start = &group[0];
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start.as_str()]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flatten() {
            if w == start {
                let mut path = vec![start.clone()];
                let mut at = v;
                while at != start {
                    path.push(at.to_string());
                    at = previous[at];
                }
                path.push(start.clone());
                path.reverse();
                return path;
            }
            if group.contains(w) && !previous.contains_key(w.as_str()) {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start.clone()]
}

/// Pairs of files that use each other.
fn mutual_pairs(graph: &Graph) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (a, targets) in graph {
        for b in targets {
            if a < b && graph.get(b).is_some_and(|t| t.contains(a)) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

/// The top-level module of a file (`rag/index.rs` → `rag`, `engine.rs` → `engine`).
fn top_name(file: &str) -> String {
    let first = file.split('/').next().unwrap_or(file);
    first.trim_end_matches(".rs").to_string()
}

/// `graph` with the files of each top-level module merged.
fn top_level(graph: &Graph) -> Graph {
    let mut out = Graph::new();
    for (file, targets) in graph {
        let from = top_name(file);
        let entry = out.entry(from.clone()).or_default();
        for t in targets {
            let to = top_name(t);
            if to != from {
                entry.insert(to);
            }
        }
    }
    out
}

/// The file edges behind the module edge `from` → `to`.
fn witnesses(graph: &Graph, from: &str, to: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (file, targets) in graph {
        if top_name(file) != from {
            continue;
        }
        for t in targets {
            if top_name(t) == to {
                out.push(format!("{file} -> {t}"));
            }
        }
    }
    out
}

/// The modules of an acyclic graph by layer: layer 0 uses nothing, layer n uses
/// something of layer n-1 and nothing above it.
fn layers(graph: &Graph) -> Vec<Vec<String>> {
    fn depth(graph: &Graph, v: &str, memo: &mut BTreeMap<String, usize>) -> usize {
        if let Some(d) = memo.get(v) {
            return *d;
        }
        let d = graph
            .get(v)
            .into_iter()
            .flatten()
            .map(|w| depth(graph, w, memo) + 1)
            .max()
            .unwrap_or(0);
        memo.insert(v.to_string(), d);
        d
    }
    let mut memo = BTreeMap::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for v in graph.keys() {
        let d = depth(graph, v, &mut memo);
        if out.len() <= d {
            out.resize(d + 1, Vec::new());
        }
        out[d].push(v.clone());
    }
    out
}
