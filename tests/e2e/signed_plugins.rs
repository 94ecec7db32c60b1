//! Signed plugins: `autbot plugin keygen | sign | verify | inspect`, and a production
//! server that refuses unsigned or badly signed plugins at start and on reload.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::plugin;
use crate::support::server::ServerBuilder;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The shipped plugins copied into `dir`, and a chain using them.
fn chain_in(dir: &Path) -> String {
    let mut chain = String::from("[plugins]\nwatch = false\n");
    for (name, hook, caps) in [
        (
            "query-guard",
            "preprocessor",
            r#"["config", "log", "conversation"]"#,
        ),
        ("source-weighter", "ranker", r#"["config"]"#),
        (
            "prompt-builder",
            "prompt-builder",
            r#"["config", "conversation"]"#,
        ),
    ] {
        let to = dir.join(format!("{name}.wasm"));
        std::fs::copy(plugin(&format!("plugins/dist/{name}.wasm")), &to).unwrap();
        chain.push_str(&format!(
            "[[plugins.chain]]\nname = \"{name}\"\nhook = \"{hook}\"\npath = \"{}\"\ncapabilities = {caps}\n",
            to.display()
        ));
    }
    chain
}

/// Runs an `autbot plugin ...` command; its stdout, or a panic with its output.
fn cli(args: &[&str]) -> String {
    let (status, out, err) = ServerBuilder::new().run(args);
    assert!(status.success(), "autbot {args:?} failed:\n{out}{err}");
    out
}

fn keygen(dir: &Path) -> (PathBuf, String) {
    let secret = dir.join("signing.key");
    let out = cli(&["plugin", "keygen", "--out", secret.to_str().unwrap()]);
    let public = out
        .lines()
        .find_map(|l| {
            l.split_once("plugins.trusted_keys): ")
                .map(|(_, k)| k.trim())
        })
        .expect("the public key is printed")
        .to_string();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the secret key is private");
    (secret, public)
}

fn sign(secret: &Path, file: &Path) {
    cli(&[
        "plugin",
        "sign",
        "--key",
        secret.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
}

#[test]
fn keygen_sign_verify_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keygen(dir.path());
    let wasm = dir.path().join("guard.wasm");
    std::fs::copy(plugin("plugins/dist/query-guard.wasm"), &wasm).unwrap();
    let file = wasm.to_str().unwrap();
    let (status, _, err) = ServerBuilder::new().run(&["plugin", "verify", "--key", &public, file]);
    assert!(!status.success() && err.contains("not signed"), "{err}");
    sign(&secret, &wasm);
    let out = cli(&["plugin", "verify", "--key", &public, file]);
    assert!(out.contains("good signature by ed25519:"), "{out}");
    let inspected = cli(&["plugin", "inspect", file]);
    assert!(inspected.contains("signer:       ed25519:"), "{inspected}");
    assert!(
        inspected.contains("contract:     autbot:plugin@0.2.0"),
        "{inspected}"
    );
    // One byte changed after signing.
    let mut bytes = std::fs::read(&wasm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&wasm, bytes).unwrap();
    let (status, _, err) = ServerBuilder::new().run(&["plugin", "verify", "--key", &public, file]);
    assert!(!status.success() && err.contains("does not match"), "{err}");
    // Another key.
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other) = keygen(other_dir.path());
    let (status, _, err) = ServerBuilder::new().run(&["plugin", "verify", "--key", &other, file]);
    assert!(
        !status.success() && err.contains("not in plugins.trusted_keys"),
        "{err}"
    );
}

fn production(fake: &FakeOpenAi, chain: &str, public: &str) -> ServerBuilder {
    ServerBuilder::new()
        .config(chain)
        .llm(fake)
        .env("AUTBOT_SECURITY__ENVIRONMENT", "production")
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
        .env("AUTBOT_PLUGINS__TRUSTED_KEYS", format!(r#"["{public}"]"#))
}

#[tokio::test]
async fn production_serves_only_plugins_signed_by_a_trusted_key() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keygen(dir.path());
    let chain = chain_in(dir.path());
    let fake = FakeOpenAi::start().await;

    // Unsigned: refused at start, naming the file.
    let (status, _, err) = production(&fake, &chain, &public).run(&["serve"]);
    assert!(!status.success());
    assert!(err.contains("query-guard.wasm is not signed"), "{err}");
    // No trusted key at all: refused by validation, naming the key.
    let (status, _, err) = ServerBuilder::new()
        .config(&chain)
        .env("AUTBOT_SECURITY__ENVIRONMENT", "production")
        .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["adm"]"#)
        .run(&["serve"]);
    assert!(
        !status.success() && err.contains("plugins.trusted_keys"),
        "{err}"
    );

    for name in ["query-guard", "source-weighter", "prompt-builder"] {
        sign(&secret, &dir.path().join(format!("{name}.wasm")));
    }
    let s = production(&fake, &chain, &public).start().ready().await;
    let (status, _) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200);
    let plugins = s.admin(reqwest::Method::GET, "/admin/plugins").await;
    for p in plugins.as_array().unwrap() {
        assert!(p["signer"].as_str().unwrap().starts_with("ed25519:"), "{p}");
    }

    // A new file under the old signature: the reload is refused, the signed version
    // keeps serving.
    let guard = dir.path().join("query-guard.wasm");
    std::fs::copy(plugin("tests/plugins/dist/echo-upper.wasm"), &guard).unwrap();
    let reload = s
        .admin(reqwest::Method::POST, "/admin/plugins/reload")
        .await;
    let outcome = find(&reload, "query-guard");
    assert_eq!(outcome["result"], "failed");
    assert!(
        outcome["error"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{outcome}"
    );
    let (status, _) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200);
    let asked = fake.requests("chat").pop().unwrap().body;
    assert!(
        !last_prompt(&asked).contains("WHAT IS AUTBOT"),
        "the old guard serves"
    );
    // Signed: it loads.
    sign(&secret, &guard);
    let reload = s
        .admin(reqwest::Method::POST, "/admin/plugins/reload")
        .await;
    assert_eq!(find(&reload, "query-guard")["result"], "reloaded");
    let (status, _) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200);
    let asked = fake.requests("chat").pop().unwrap().body;
    assert!(
        last_prompt(&asked).contains("Question: WHAT IS AUTBOT?"),
        "{asked}"
    );
}

#[tokio::test]
async fn development_loads_unsigned_plugins_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain_in(dir.path());
    let s = ServerBuilder::new().config(&chain).start().ready().await;
    assert_eq!(s.ask("What is AutBot?").await.0, 200);
    let logs = s.logs_flushed().await;
    assert!(logs.contains("plugin signature not verified"), "{logs}");
}

fn find<'a>(outcomes: &'a Value, name: &str) -> &'a Value {
    outcomes
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap()
}

fn last_prompt(body: &Value) -> String {
    body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string()
}
