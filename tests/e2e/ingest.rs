//! Ingestion: every file type from real files, bad files skipped, incremental
//! re-indexing against the fake OpenAI embeddings endpoint, persistence.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::repo;
use crate::support::server::ServerBuilder;
use autbot::rag::document;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures/docs").join(name)
}

#[test]
fn each_file_type_is_parsed() {
    let md = document::load(&fixture("guide.md"), "guide.md".into()).unwrap();
    let headings: Vec<&str> = md.sections.iter().map(|s| s.heading.as_str()).collect();
    assert!(
        headings.contains(&"Lighthouse Keeping Guide > Fog Signals"),
        "{headings:?}"
    );
    let fog = md
        .sections
        .iter()
        .find(|s| s.heading.ends_with("Fog Signals"))
        .unwrap();
    assert!(fog
        .text
        .contains("The foghorn sounds two blasts every thirty seconds in dense fog."));

    let html = document::load(&fixture("page.html"), "page.html".into()).unwrap();
    let text: String = html
        .sections
        .iter()
        .map(|s| s.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("The midnight train to Glasgow departs from platform nine."));
    assert!(text.contains("Tea & biscuits are served in the dining car until eleven."));
    for junk in [
        "NAVIGATION_BOILERPLATE",
        "SCRIPT_BOILERPLATE",
        "STYLE_BOILERPLATE",
        "FOOTER_BOILERPLATE",
    ] {
        assert!(!text.contains(junk), "{junk} leaked into the text");
    }

    let pdf = document::load(&fixture("report.pdf"), "report.pdf".into()).unwrap();
    assert_eq!(pdf.sections.len(), 2);
    assert_eq!(pdf.sections[0].page, Some(1));
    assert!(
        pdf.sections[0]
            .text
            .contains("zebra migration report shows 42 sightings"),
        "{:?}",
        pdf.sections[0].text
    );
    assert!(pdf.sections[1].text.contains("aurora observatory"));

    let txt = document::load(&fixture("notes.txt"), "notes.txt".into()).unwrap();
    assert!(txt.sections[0]
        .text
        .contains("The copper kettle whistles at exactly seven o'clock every morning."));

    let err = document::load(&fixture("broken.pdf"), "broken.pdf".into()).unwrap_err();
    assert!(err.contains("corrupt PDF"), "{err}");
    let err = document::load(&fixture("image.png"), "image.png".into()).unwrap_err();
    assert!(err.contains("unsupported"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

// Multi-threaded: the fake server must keep answering while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_skips_bad_files_and_reembeds_only_what_changed() {
    let fake = FakeOpenAi::start().await;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("docs");
    copy_dir(&repo().join("tests/fixtures/docs"), &data);
    std::fs::write(data.join("latin1.txt"), [0x63, 0x61, 0x66, 0xe9, 0x0a]).unwrap();
    std::os::unix::fs::symlink(data.join("missing-target.md"), data.join("dangling.md")).unwrap();
    let b = ServerBuilder::new()
        .env("OPENAI_API_KEY", "sk-embed")
        .env("AUTBOT_EMBEDDINGS__PROVIDER", "openai")
        .env("AUTBOT_EMBEDDINGS__BASE_URL", fake.base_url())
        .env("AUTBOT_EMBEDDINGS__MODEL", "embed-test")
        .env("AUTBOT_EMBEDDINGS__DIMENSIONS", "32")
        .env("AUTBOT_EMBEDDINGS__BATCH_SIZE", "3");
    let data_arg = data.display().to_string();
    let (status, out, err) = b.run(&["index", "--data", &data_arg]);
    assert!(status.success(), "{out}\n{err}");
    for skipped in ["broken.pdf", "image.png", "latin1.txt", "dangling.md"] {
        assert!(
            err.contains(&format!("skipped {skipped}")) || err.contains(skipped),
            "{skipped} not reported:\n{err}"
        );
    }
    assert!(out.contains("indexed 5 documents"), "{out}");
    let calls = fake.requests("embeddings");
    assert!(!calls.is_empty());
    let embedded: usize = calls
        .iter()
        .map(|c| c.body["input"].as_array().unwrap().len())
        .sum();
    assert!(
        calls
            .iter()
            .all(|c| c.body["input"].as_array().unwrap().len() <= 3),
        "batches of at most 3"
    );
    assert_eq!(calls.len(), embedded.div_ceil(3));
    assert!(calls
        .iter()
        .all(|c| c.authorization.as_deref() == Some("Bearer sk-embed")));
    assert_eq!(calls[0].body["model"], "embed-test");
    assert_eq!(calls[0].body["dimensions"], 32);

    // Unchanged data: no embedding call at all.
    let (status, out, _) = b.run(&["index", "--data", &data_arg]);
    assert!(status.success());
    assert_eq!(fake.requests("embeddings").len(), calls.len(), "{out}");
    assert!(out.contains("0 embedded"), "{out}");

    // One edited file: only its new chunk is embedded; a deleted file drops out.
    std::fs::write(
        data.join("notes.txt"),
        "A completely new note about violet tulips.",
    )
    .unwrap();
    std::fs::remove_file(data.join("nested/deeper/more.md")).unwrap();
    fake.script(&[429]);
    let (status, out, _) = b.run(&["index", "--data", &data_arg]);
    assert!(status.success(), "{out}");
    let after = fake.requests("embeddings");
    let new_inputs: Vec<String> = after[calls.len()..]
        .iter()
        .flat_map(|c| {
            c.body["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
        })
        .collect();
    // The 429 is retried: the same single input is sent twice.
    assert_eq!(after.len(), calls.len() + 2, "{out}");
    assert!(
        new_inputs.iter().all(|t| t.contains("violet tulips")),
        "{new_inputs:?}"
    );
    assert!(
        out.contains("indexed 4 documents") && out.contains("1 embedded"),
        "{out}"
    );
}

#[tokio::test]
async fn the_index_persists_across_restarts() {
    let work = tempfile::tempdir().unwrap();
    let index_dir = work.path().join("index").display().to_string();
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DIR", &index_dir)
        .start()
        .ready()
        .await;
    let (_, first) = s.ask("How do I rotate admin keys?").await;
    assert!(s.logs_flushed().await.contains("index built"));
    drop(s);
    assert!(Path::new(&index_dir).join("manifest.json").exists());
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DIR", &index_dir)
        .start()
        .ready()
        .await;
    let logs = s.logs_flushed().await;
    assert!(
        logs.contains("index loaded") && !logs.contains("index built"),
        "{logs}"
    );
    let (status, second) = s.ask("How do I rotate admin keys?").await;
    assert_eq!(status, 200);
    assert_eq!(first["context"], second["context"]);
    drop(s);
    // This small index was built without HNSW links (it is scanned in full). Asked to
    // walk a graph instead, the server says why it cannot and keeps scanning.
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DIR", &index_dir)
        .env("AUTBOT_INDEX__EXHAUSTIVE_MAX_MIB", "0")
        .start()
        .ready()
        .await;
    let logs = s.logs_flushed().await;
    assert!(logs.contains("built without HNSW links"), "{logs}");
    let (status, third) = s.ask("How do I rotate admin keys?").await;
    assert_eq!(status, 200);
    assert_eq!(first["context"], third["context"]);
}

#[tokio::test]
async fn admin_reindex_swaps_in_a_new_index() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("a.md"),
        "# Kettles\nThe copper kettle whistles at seven.",
    )
    .unwrap();
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DATA_DIR", data.display().to_string())
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
        .start()
        .ready()
        .await;
    let (_, before) = s.ask("Which animal guards the lighthouse?").await;
    assert!(!before["response"].as_str().unwrap().contains("albatross"));
    std::fs::write(
        data.join("b.md"),
        "# Birds\nAn albatross named Kevin guards the lighthouse.",
    )
    .unwrap();
    let r = crate::support::client()
        .post(s.url("/admin/reindex"))
        .header("x-api-key", "adm")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut found = false;
    for _ in 0..100 {
        let (status, body) = s.ask("Which animal guards the lighthouse?").await;
        assert_eq!(status, 200, "queries keep working during the rebuild");
        if body["response"].as_str().unwrap().contains("albatross") {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found, "the new index was never swapped in");
}

#[tokio::test]
async fn an_index_from_another_embedding_model_is_refused_or_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    let index_dir = work.path().join("index").display().to_string();
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DIR", &index_dir)
        .start()
        .ready()
        .await;
    drop(s);
    let (status, _, err) = ServerBuilder::new()
        .env("AUTBOT_INDEX__DIR", &index_dir)
        .env("AUTBOT_EMBEDDINGS__DIMENSIONS", "256")
        .env("AUTBOT_INDEX__REBUILD_ON_MISMATCH", "false")
        .run(&["serve"]);
    assert!(!status.success());
    assert!(
        err.contains("index.dir")
            && err.contains("384 dimensions")
            && err.contains("256 dimensions"),
        "{err}"
    );
    let s = ServerBuilder::new()
        .env("AUTBOT_INDEX__DIR", &index_dir)
        .env("AUTBOT_EMBEDDINGS__DIMENSIONS", "256")
        .start()
        .ready()
        .await;
    let logs = s.logs_flushed().await;
    assert!(logs.contains("rebuilding") && logs.contains("index built"));
    assert_eq!(s.ask("What is AutBot?").await.0, 200);
}
