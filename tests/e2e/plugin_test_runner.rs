//! `autbot plugin test`: hooks run in the server's sandbox against stand-in
//! capabilities, one input or a folder of golden cases (the default plugins' own).

use crate::support::server::ServerBuilder;
use crate::support::{plugin, repo};

fn autbot(args: &[&str]) -> (bool, String) {
    let (status, out, err) = ServerBuilder::new().run(args);
    (status.success(), format!("{out}{err}"))
}

#[test]
fn the_default_plugins_pass_their_golden_cases() {
    for (name, hook) in [
        ("query-guard", "preprocessor"),
        ("source-weighter", "ranker"),
        ("prompt-builder", "prompt-builder"),
    ] {
        let wasm = plugin(&format!("plugins/dist/{name}.wasm"));
        let cases = repo().join(format!("plugins/{name}/cases"));
        let (ok, out) = autbot(&[
            "plugin",
            "test",
            wasm.to_str().unwrap(),
            "--hook",
            hook,
            "--cases",
            cases.to_str().unwrap(),
        ]);
        assert!(ok, "{name}: {out}");
        assert!(
            out.contains("cases passed") && !out.contains("FAIL"),
            "{out}"
        );
    }
}

#[test]
fn a_case_that_no_longer_holds_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("changed.json"),
        r#"{"input": {"query": "  What is AutBot? "}, "expect": {"query": "What is AutBot"}}"#,
    )
    .unwrap();
    let wasm = plugin("plugins/dist/query-guard.wasm");
    let (ok, out) = autbot(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        "--hook",
        "preprocessor",
        "--cases",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL  changed.json"), "{out}");
    assert!(out.contains("-  \"query\": \"What is AutBot\""), "{out}");
    assert!(out.contains("+  \"query\": \"What is AutBot?\""), "{out}");
    assert!(out.contains("0 of 1 cases passed"), "{out}");
}

#[test]
fn one_input_reports_result_time_memory_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        r#"{"query": "and the winter one?", "history": [
            {"role": "user", "content": "When does the summer market open?"},
            {"role": "assistant", "content": "At 8."}]}"#,
    )
    .unwrap();
    let condenser = repo().join("examples/plugins/dist/question-condenser.wasm");
    let args = |grant: Option<&'static str>| {
        let mut a = vec![
            "plugin".to_string(),
            "test".into(),
            condenser.display().to_string(),
            "--hook".into(),
            "preprocessor".into(),
            "--input".into(),
            input.display().to_string(),
            "--llm-reply".into(),
            "When does the winter market open?".into(),
        ];
        if let Some(g) = grant {
            a.extend(["--grant".to_string(), g.to_string()]);
        }
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        autbot(&refs)
    };
    let (ok, out) = run(args(None));
    assert!(ok, "{out}");
    assert!(
        out.contains("\"query\": \"When does the winter market open?\""),
        "{out}"
    );
    assert!(
        out.contains("time:") && out.contains("MiB of linear memory"),
        "{out}"
    );
    assert!(out.contains("autbot:plugin/llm@0.2.0"), "{out}");
    assert!(out.contains("autbot:plugin/conversation@0.2.0"), "{out}");
    // With the grant a chain entry would give, the server's refusal shows.
    let (ok, out) = run(args(Some("conversation,log,config")));
    assert!(!ok);
    assert!(out.contains("imports capability `llm`"), "{out}");
}

#[test]
fn search_answers_from_the_documents_given() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        r#"{"query": "How often is the Fresnel lens polished?"}"#,
    )
    .unwrap();
    let docs = repo().join("tests/fixtures/docs");
    let hammer = plugin("tests/plugins/dist/host-hammer.wasm");
    let run = |docs: Option<&std::path::Path>| {
        let mut a = vec![
            "plugin".to_string(),
            "test".into(),
            hammer.display().to_string(),
            "--hook".into(),
            "preprocessor".into(),
            "--input".into(),
            input.display().to_string(),
            "--set".into(),
            "mode=\"search\"".into(),
        ];
        if let Some(d) = docs {
            a.extend(["--docs".to_string(), d.display().to_string()]);
        }
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        autbot(&refs)
    };
    let (ok, out) = run(Some(&docs));
    assert!(ok, "{out}");
    assert!(out.contains("search-top=guide.md"), "{out}");
    // Without documents there is no index: `search` says so to the plugin.
    let (ok, out) = run(None);
    assert!(ok, "{out}");
    assert!(
        out.contains("search-top=error: the index is not loaded yet"),
        "{out}"
    );
}
