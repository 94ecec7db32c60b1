//! Hostile files in the data folder (issue 11, items 8 and 9): a link to
//! `/proc/self/environ` and one to a file outside the folder, a FIFO, an oversized
//! file, 15,000 nested `<span>`s, a PDF decompression bomb and a PDF whose Form
//! XObject draws itself. The real server and the real `autbot index` must skip each
//! (reporting it by name), index the rest, leak no secret and stay up.

use crate::support::repo;
use crate::support::server::ServerBuilder;
use std::io::Write;
use std::path::{Path, PathBuf};

const SECRET: &str = "sk-test-secret-value-7f3a9c";
const OUTSIDE_SECRET: &str = "zebra-quartz-41";

/// A PDF with one page whose content is `content` (stream dictionary entries in
/// `content_dict`) and extra objects numbered from 5.
fn pdf(content_dict: &str, content: &[u8], resources: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources {resources} >>"
        )
        .into_bytes(),
        stream(content_dict, content),
    ];
    objects.extend(extra.iter().cloned());
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
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

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

/// A page content stream that inflates to 400 MiB (from about 400 KB).
fn decompression_bomb() -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..400 {
        z.write_all(&zeros).unwrap();
    }
    let packed = z.finish().unwrap();
    assert!(packed.len() < 1 << 20, "{}", packed.len());
    pdf("/Filter /FlateDecode", &packed, "<< >>", &[])
}

/// A page drawing Form XObject 5, which draws itself: pdf-extract would recurse until
/// the stack overflows.
fn form_loop() -> Vec<u8> {
    let form = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X0 5 0 R >> >>",
        b"/X0 Do",
    );
    pdf("", b"/X0 Do", "<< /XObject << /X0 5 0 R >> >>", &[form])
}

/// The hostile data folder, with three ordinary documents, inside `work`.
fn hostile_folder(work: &Path) -> PathBuf {
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        work.join("outside.txt"),
        format!("The outside passphrase is {OUTSIDE_SECRET}."),
    )
    .unwrap();
    std::fs::write(
        data.join("kettle.md"),
        "# Kettles\nThe copper kettle whistles at seven o'clock every morning.",
    )
    .unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/docs/report.pdf"),
        data.join("report.pdf"),
    )
    .unwrap();
    std::fs::write(
        data.join("deep.html"),
        format!(
            "<html><body>{}The deepest span hides a heron called Horace.{}</body></html>",
            "<span>".repeat(15_000),
            "</span>".repeat(15_000)
        ),
    )
    .unwrap();
    // Nested as deep as real pages ever are (and more): indexed.
    std::fs::write(
        data.join("nest.html"),
        format!(
            "<html><body>{}The deepest span hides a cormorant called Nigel.{}</body></html>",
            "<span>".repeat(400),
            "</span>".repeat(400)
        ),
    )
    .unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", data.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink(work.join("outside.txt"), data.join("leak.txt")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(data.join("pipe.txt"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let mut big = String::new();
    while big.len() <= 1 << 20 {
        big.push_str("The oversized file mentions a walrus named Boris. ");
    }
    std::fs::write(data.join("big.txt"), big).unwrap();
    std::fs::write(data.join("bomb.pdf"), decompression_bomb()).unwrap();
    std::fs::write(data.join("loop.pdf"), form_loop()).unwrap();
    data
}

/// The skipped files, and the reason each must give.
const SKIPS: &[(&str, &str)] = &[
    ("notes.txt", "outside the data folder"),
    ("leak.txt", "outside the data folder"),
    ("pipe.txt", "not a regular file"),
    ("big.txt", "index.max_file_bytes"),
    ("bomb.pdf", "index.max_decoded_bytes"),
    ("loop.pdf", "draw themselves"),
    ("deep.html", "nested deeper than"),
];

fn builder(data: &Path) -> ServerBuilder {
    ServerBuilder::new()
        .env("OPENAI_API_KEY", SECRET)
        .env("AUTBOT_INDEX__DATA_DIR", data.display().to_string())
        .env("AUTBOT_INDEX__MAX_FILE_BYTES", "1048576")
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
}

/// The `skipped file` log lines, as (path, reason).
fn skip_lines(logs: &str) -> Vec<(String, String)> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "skipped file")
        .map(|v| {
            (
                v["path"].as_str().unwrap_or_default().to_string(),
                v["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The passages retrieved for an answer.
fn retrieved(body: &serde_json::Value) -> String {
    body["context"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn assert_all_skips_logged(logs: &str) {
    let lines = skip_lines(logs);
    for (path, reason) in SKIPS {
        assert!(
            lines.iter().any(|(p, r)| p == path && r.contains(reason)),
            "{path} not reported with `{reason}`: {lines:?}"
        );
    }
    for ok in ["kettle.md", "report.pdf", "nest.html"] {
        assert!(
            !lines.iter().any(|(p, _)| p == ok),
            "{ok} was skipped: {lines:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_skipped_and_the_server_serves_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let data = hostile_folder(work.path());
    let s = builder(&data).start().ready().await;
    assert_all_skips_logged(&s.logs_flushed().await);

    // Neither the environment nor the file outside the folder was indexed.
    for question in ["OPENAI_API_KEY", "What is the outside passphrase?"] {
        let (status, body) = s.ask(question).await;
        assert_eq!(status, 200);
        let text = body.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains(OUTSIDE_SECRET),
            "{question}: {text}"
        );
    }
    let (_, body) = s.ask("Which walrus does the oversized file mention?").await;
    assert!(!body.to_string().contains("Boris"), "{body}");

    // The ordinary documents are answerable, a deeply (but not absurdly) nested one included.
    for (question, expected) in [
        ("When does the copper kettle whistle?", "seven"),
        ("What does the deepest span hide?", "Nigel"),
        (
            "How many sightings does the zebra migration report show?",
            "42",
        ),
    ] {
        let (status, body) = s.ask(question).await;
        assert_eq!(status, 200);
        assert!(retrieved(&body).contains(expected), "{question}: {body}");
    }

    // A rebuild through /admin/reindex meets the same files and survives them too.
    let built = |logs: &str| logs.matches("\"message\":\"index built\"").count();
    let before = built(&s.logs());
    let r = crate::support::client()
        .post(s.url("/admin/reindex"))
        .header("x-api-key", "adm")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let started = std::time::Instant::now();
    while built(&s.logs()) == before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the rebuild never finished:\n{}",
            s.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines = skip_lines(&s.logs_flushed().await);
    for (path, _) in SKIPS {
        let reports = lines.iter().filter(|(p, _)| p == path).count();
        assert_eq!(
            reports, 2,
            "{path}: by the start-up build and the rebuild: {lines:?}"
        );
    }
    let r = crate::support::client()
        .get(s.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the server is alive and ready");
    let (status, body) = s.ask("When does the copper kettle whistle?").await;
    assert_eq!(status, 200);
    assert!(retrieved(&body).contains("seven"), "{body}");
}

#[test]
fn autbot_index_skips_hostile_documents_and_keeps_secrets_out_of_the_index() {
    let work = tempfile::tempdir().unwrap();
    let data = hostile_folder(work.path());
    let index_dir = work.path().join("index");
    let b = builder(&data).env("AUTBOT_INDEX__DIR", index_dir.display().to_string());
    let data_arg = data.display().to_string();
    let (status, out, err) = b.run(&["index", "--data", &data_arg]);
    assert!(status.success(), "{out}\n{err}");
    for (path, reason) in SKIPS {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("skipped {path}: ")) && l.contains(reason)),
            "{path} not reported with `{reason}`:\n{err}"
        );
    }
    assert!(out.contains("indexed 3 documents"), "{out}");
    assert!(out.contains(&format!("{} skipped", SKIPS.len())), "{out}");
    for entry in std::fs::read_dir(&index_dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET) && !text.contains(OUTSIDE_SECRET));
    }
    let chunks = std::fs::read_to_string(index_dir.join("chunks.jsonl")).unwrap();
    assert!(chunks.contains("cormorant called Nigel"));
}
