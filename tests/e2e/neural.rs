//! The local neural embedder end to end: the real binary with all-MiniLM-L6-v2
//! (fetched by scripts/fetch-model.sh), the fallback to the hashed embedder without
//! it, and `autbot model pull` without access to the hub.

use crate::support::repo;
use crate::support::server::ServerBuilder;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

/// The fetched model, or `None` (skipped with a notice) unless `AUTBOT_REQUIRE_MODEL`
/// is set, as scripts/test.sh does: then a missing model fails the test.
fn model_dir() -> Option<PathBuf> {
    let dir = repo().join("models/all-MiniLM-L6-v2");
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("AUTBOT_REQUIRE_MODEL").is_none(),
        "no model in {}: run scripts/fetch-model.sh",
        dir.display()
    );
    eprintln!(
        "SKIPPED: no model in {} (run scripts/fetch-model.sh)",
        dir.display()
    );
    None
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap()
        / 1024.0
}

/// Vector search alone (BM25 off), so what is found is what the model found: the
/// labelled questions of the default corpus, through the HTTP API.
#[tokio::test]
async fn the_server_retrieves_with_the_neural_embedder() {
    let Some(dir) = model_dir() else {
        return;
    };
    let server = ServerBuilder::new()
        .env("AUTBOT_EMBEDDINGS__PROVIDER", "neural")
        .env("AUTBOT_EMBEDDINGS__MODEL_DIR", dir.display().to_string())
        .env("AUTBOT_INDEX__BM25_WEIGHT", "0")
        .env("AUTBOT_INDEX__VECTOR_WEIGHT", "1")
        .env("AUTBOT_CACHE__BACKEND", "off")
        .start()
        .ready()
        .await;
    let logs = server.logs_flushed().await;
    assert!(
        logs.contains("loaded the neural embedding model"),
        "logs:\n{logs}"
    );
    assert!(
        logs.contains("neural-all-MiniLM-L6-v2-"),
        "the embedder is logged:\n{logs}"
    );
    assert!(!logs.contains("holds no model"), "no fallback:\n{logs}");

    let qa: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/qa.json")).unwrap(),
    )
    .unwrap();
    let mut hits = 0;
    let mut misses = Vec::new();
    for item in &qa {
        let q = item["question"].as_str().unwrap();
        let want = item["source"].as_str().unwrap();
        let (status, body) = server.ask(q).await;
        assert_eq!(status, 200, "{q}: {body}");
        let sources: Vec<&str> = body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .take(3)
            .filter_map(|s| s["source"].as_str())
            .collect();
        if sources.contains(&want) {
            hits += 1;
        } else {
            misses.push(format!("{q} -> {sources:?} (want {want})"));
        }
    }
    let hit3 = hits as f64 / qa.len() as f64;
    eprintln!(
        "neural, vector only: hit@3 {hit3:.2} over {} questions",
        qa.len()
    );
    // Measured 1.00 (29/29) on this corpus, without BM25's help.
    assert!(
        hit3 >= 0.85,
        "hit@3 {hit3:.2}; misses:\n{}",
        misses.join("\n")
    );

    // Memory with the model loaded and the corpus indexed (target: < 250 MB).
    let rss = rss_mib(server.pid());
    eprintln!("server RSS with the model loaded: {rss:.0} MiB");
    assert!(rss < 250.0, "server RSS {rss:.0} MiB");
}

#[tokio::test]
async fn without_a_model_the_server_falls_back_to_the_hashed_embedder_and_says_how_to_get_one() {
    let missing = tempfile::tempdir().unwrap();
    let server = ServerBuilder::new()
        .env("AUTBOT_EMBEDDINGS__PROVIDER", "neural")
        .env(
            "AUTBOT_EMBEDDINGS__MODEL_DIR",
            missing
                .path()
                .join("all-MiniLM-L6-v2")
                .display()
                .to_string(),
        )
        .start()
        .ready()
        .await;
    let logs = server.logs_flushed().await;
    let warning = logs
        .lines()
        .find(|l| l.contains("holds no model"))
        .unwrap_or_else(|| panic!("no fallback warning:\n{logs}"));
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    assert!(warning.contains("scripts/fetch-model.sh"), "{warning}");
    assert!(warning.contains("autbot model pull"), "{warning}");
    assert!(
        logs.contains("local-ngram-v1/"),
        "the embedder in use is logged:\n{logs}"
    );
    let (status, _) = server
        .ask("How do I change the port the server listens on?")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_broken_model_folder_refuses_the_start() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(dir.path().join(f), "{}").unwrap();
    }
    let (status, _, stderr) = ServerBuilder::new()
        .env("AUTBOT_EMBEDDINGS__PROVIDER", "neural")
        .env(
            "AUTBOT_EMBEDDINGS__MODEL_DIR",
            dir.path().display().to_string(),
        )
        .run(&["index"]);
    assert!(!status.success());
    assert!(stderr.contains("embeddings.model_dir"), "{stderr}");
    assert!(
        stderr.contains("config.json"),
        "names the file at fault: {stderr}"
    );
}

#[test]
fn model_pull_without_the_hub_fails_clearly_and_leaves_nothing() {
    // A closed loopback port stands for a machine without internet access.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("all-MiniLM-L6-v2");
    let builder = ServerBuilder::new().env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"));
    let (status, stdout, stderr) = builder.run(&[
        "model",
        "pull",
        "all-MiniLM-L6-v2",
        "--dir",
        &dest.display().to_string(),
    ]);
    assert!(!status.success(), "{stdout}");
    assert!(
        stdout.contains("sentence-transformers/all-MiniLM-L6-v2@"),
        "{stdout}"
    );
    assert!(stderr.contains("cannot download"), "{stderr}");
    assert!(stderr.contains("scripts/fetch-model.sh"), "{stderr}");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "no staging left"
    );

    let (status, _, stderr) = builder.run(&["model", "pull", "not a model"]);
    assert!(!status.success());
    assert!(stderr.contains("unknown model"), "{stderr}");
}

/// A stand-in for the Hugging Face hub on loopback, serving the files of `dir` the way
/// the hub does: `/api/models/{repo}/revision/{rev}` (file list) and
/// `/{repo}/resolve/{rev}/{file}` with ranges, `x-repo-commit` and the etags (the
/// SHA-256 for large files, as `x-linked-etag`). `tamper` flips a byte of the weights
/// served while announcing the right digest.
fn fake_hub(dir: PathBuf, tamper: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(stream) = stream else { continue };
            let dir = dir.clone();
            std::thread::spawn(move || hub_reply(stream, &dir, tamper));
        }
    });
    port
}

fn hub_reply(mut stream: TcpStream, dir: &Path, tamper: bool) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let path = head
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let range = head.iter().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("range: bytes=")
            .map(str::to_string)
    });
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let reply = |stream: &mut TcpStream, status: &str, headers: &[String], body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for h in headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        let _ = stream.write_all(out.as_bytes());
        let _ = stream.write_all(body);
    };
    if path.starts_with("/api/models/") {
        let mut files = Vec::new();
        for f in [
            "config.json",
            "tokenizer.json",
            "model.safetensors",
            "1_Pooling/config.json",
            "modules.json",
            "sentence_bert_config.json",
            "README.md",
        ] {
            if dir.join(f).is_file() || f == "README.md" {
                files.push(serde_json::json!({ "rfilename": f }));
            }
        }
        let body = serde_json::json!({ "siblings": files, "sha": commit }).to_string();
        reply(
            &mut stream,
            "200 OK",
            &["Content-Type: application/json".into()],
            body.as_bytes(),
        );
        return;
    }
    let Some((_, rest)) = path.split_once("/resolve/") else {
        return reply(&mut stream, "404 Not Found", &[], b"");
    };
    let file = rest.split_once('/').map(|(_, f)| f).unwrap_or("");
    let Ok(mut bytes) = std::fs::read(dir.join(file)) else {
        return reply(&mut stream, "404 Not Found", &[], b"");
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let etag = if file == "model.safetensors" {
        format!("x-linked-etag: \"{digest}\"")
    } else {
        format!("etag: \"{}\"", &digest[..40])
    };
    if tamper && file == "model.safetensors" {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
    }
    let len = bytes.len();
    let (start, end) = match range.as_deref().and_then(|r| r.split_once('-')) {
        Some((a, b)) => (
            a.parse::<usize>().unwrap_or(0).min(len),
            b.parse::<usize>().map_or(len, |e| (e + 1).min(len)),
        ),
        None => (0, len),
    };
    let headers = [
        format!("x-repo-commit: {commit}"),
        etag,
        format!("Content-Range: bytes {start}-{}/{len}", end.max(1) - 1),
    ];
    reply(
        &mut stream,
        "206 Partial Content",
        &headers,
        &bytes[start..end],
    );
}

#[test]
fn model_pull_downloads_verifies_and_installs_from_a_hub() {
    let Some(model) = model_dir() else {
        return;
    };
    let port = fake_hub(model.clone(), false);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("models").join("minilm");
    // An old folder is replaced only once the new one is verified.
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("old.txt"), "old").unwrap();
    let builder = ServerBuilder::new().env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"));
    let dest_arg = dest.display().to_string();
    let (status, stdout, stderr) =
        builder.run(&["model", "pull", "all-MiniLM-L6-v2", "--dir", &dest_arg]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("installed"), "{stdout}");
    assert!(
        stdout.contains("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        "{stdout}"
    );
    for f in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "1_Pooling/config.json",
    ] {
        let a = std::fs::read(dest.join(f)).unwrap();
        let b = std::fs::read(model.join(f)).unwrap();
        assert!(a == b, "{f} differs");
    }
    assert!(!dest.join("old.txt").exists());
    assert!(!dest.join(".hf-cache").exists());
    let left: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "no staging or old folder left: {left:?}");

    // Corrupted weights (the hub announces the right digest): refused, old folder kept.
    let bad = fake_hub(model, true);
    let (status, _, stderr) = ServerBuilder::new()
        .env("HF_ENDPOINT", format!("http://127.0.0.1:{bad}"))
        .run(&["model", "pull", "all-MiniLM-L6-v2", "--dir", &dest_arg]);
    assert!(!status.success());
    assert!(stderr.contains("SHA-256"), "{stderr}");
    assert!(
        dest.join("model.safetensors").is_file(),
        "the installed model is kept"
    );
    assert_eq!(
        std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
        1
    );
}
