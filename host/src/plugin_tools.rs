//! `autbot plugin build` and `autbot plugin new`: the plugin author's tools.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Installs the WebAssembly target with rustup when it is missing.
pub fn ensure_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map_err(|e| format!("cannot run rustup to install {TARGET}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {TARGET}` failed; see README.md > Troubleshooting"
        ))
    }
}

/// Builds every cdylib of the crate or workspace in `dir` for `wasm32-wasip2` and copies
/// the components to `out` as `<crate-name>.wasm`.
pub fn build(dir: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    ensure_target()?;
    let manifest = dir.join("Cargo.toml");
    if !manifest.exists() {
        return Err(format!("{} has no Cargo.toml", dir.display()));
    }
    let output = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building {} failed", dir.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut built = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let name = msg["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .replace('_', "-");
        for file in msg["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
        {
            if file.ends_with(".wasm") {
                let dest = out.join(format!("{name}.wasm"));
                std::fs::copy(file, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
                built.push(dest);
            }
        }
    }
    if built.is_empty() {
        return Err(format!(
            "{} produced no .wasm (is it a cdylib?)",
            dir.display()
        ));
    }
    Ok(built)
}

/// Creates a plugin crate for `hook` named `name` under `parent`.
pub fn scaffold(hook: &str, name: &str, parent: &Path) -> Result<PathBuf, String> {
    let (module, export, body) = match hook {
        "preprocessor" => ("preprocessor", "export_preprocessor", PREPROCESSOR),
        "ranker" => ("ranker", "export_ranker", RANKER),
        "prompt-builder" => ("prompt_builder", "export_prompt_builder", PROMPT_BUILDER),
        other => {
            return Err(format!(
                "unknown hook `{other}`: use preprocessor, ranker or prompt-builder"
            ))
        }
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!("`{name}` is not a valid crate name"));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let cargo = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nautbot-sdk = {{ path = \"{}\" }}\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\ncodegen-units = 1\npanic = \"abort\"\n\n[workspace]\n",
        sdk.display()
    );
    let lib = body.replace("{module}", module).replace("{export}", export);
    std::fs::write(dir.join("Cargo.toml"), cargo).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/lib.rs"), lib).map_err(|e| e.to_string())?;
    Ok(dir)
}

const PREPROCESSOR: &str = r#"//! A preprocessor plugin: rewrite the question, or refuse it.
use autbot_sdk::{module}::{Guest, Query, Rejection};

struct Plugin;

impl Guest for Plugin {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        Ok(Query { text: q.text.trim().to_string(), ..q })
    }
}

autbot_sdk::{export}!(Plugin);
"#;

const RANKER: &str = r#"//! A ranker plugin: re-order, re-score or drop passages.
use autbot_sdk::{module}::{Guest, Passage, Query, Ranked};

struct Plugin;

impl Guest for Plugin {
    fn rank(_q: Query, candidates: Vec<Passage>) -> Vec<Ranked> {
        candidates.into_iter().map(|p| Ranked { id: p.id, score: p.score }).collect()
    }
}

autbot_sdk::{export}!(Plugin);
"#;

const PROMPT_BUILDER: &str = r#"//! A prompt-builder plugin: the messages sent to the language model.
use autbot_sdk::{module}::{Guest, Message, Passage, Query, Role};

struct Plugin;

impl Guest for Plugin {
    fn build_prompt(q: Query, passages: Vec<Passage>) -> Vec<Message> {
        let context: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
        vec![
            Message { role: Role::System, content: "Answer from the context only.".into() },
            Message { role: Role::User, content: format!("Context:\n{}\n\nQuestion: {}", context.join("\n---\n"), q.text) },
        ]
    }
}

autbot_sdk::{export}!(Plugin);
"#;

/// Writes a new secret key to `out` (owner-only) and returns the public key's text.
pub fn keygen(out: &Path) -> Result<String, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (secret, public) = crate::plugins::signature::generate();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    file.write_all(secret.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(public)
}

/// Signs `file` with the secret key in `key`; returns the signature file's path.
pub fn sign(key: &Path, file: &Path) -> Result<PathBuf, String> {
    use crate::plugins::signature;
    let key = signature::read_secret_key(key)?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let path = signature::signature_path(file);
    std::fs::write(&path, signature::sign(&key, &bytes))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Verifies `file`'s signature against `trusted` keys; returns the signer's key id.
pub fn verify(trusted: &[String], file: &Path) -> Result<String, String> {
    use crate::plugins::signature::SignaturePolicy;
    if trusted.is_empty() {
        return Err("no trusted key: pass --key or set plugins.trusted_keys".into());
    }
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let policy = SignaturePolicy::new(trusted, true)?;
    let name = file.display().to_string();
    policy
        .check(&name, file, &bytes)?
        .ok_or_else(|| format!("{name}: not verified"))
}
