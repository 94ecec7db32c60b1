//! `autbot plugin build` and `autbot plugin new`: the plugin author's tools.

use std::path::{Path, PathBuf};
use std::process::Command;

/// JavaScript/TypeScript and Python plugins (`plugin new --lang`, `plugin build`).
pub mod polyglot;

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
    if let Some(lang) = polyglot::detect(dir) {
        return polyglot::build(lang, dir, out);
    }
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

/// The `autbot plugin test` setup from its arguments.
#[allow(clippy::too_many_arguments)]
pub fn test_setup(
    file: PathBuf,
    hook: crate::config::Hook,
    docs: Option<PathBuf>,
    llm_reply: Option<String>,
    grant: Option<Vec<String>>,
    settings: &[String],
    deadline_ms: Option<u64>,
    memory_mb: Option<u64>,
) -> Result<crate::plugin_test::TestSetup, String> {
    use crate::config::Capability;
    let grant = grant
        .map(|names| {
            names
                .iter()
                .filter(|n| !n.is_empty())
                .map(|n| {
                    serde_json::from_value::<Capability>(serde_json::Value::String(n.clone()))
                        .map_err(|_| format!("--grant: `{n}` is not a capability"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let mut config = toml::Table::new();
    for s in settings {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--set: `{s}` is not key=value"))?;
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.to_string()));
        config.insert(k.trim().to_string(), value);
    }
    Ok(crate::plugin_test::TestSetup {
        file,
        hook,
        grant,
        docs,
        llm_reply,
        config,
        deadline_ms,
        memory_mb,
    })
}

/// `autbot plugin test`: one input (optionally checked) or a folder of cases.
pub async fn test(
    setup: &crate::plugin_test::TestSetup,
    input: Option<PathBuf>,
    expect: Option<PathBuf>,
    cases: Option<PathBuf>,
) -> Result<(), String> {
    use crate::plugin_test::{describe, run_cases, run_once, CaseInput};
    let read_json = |p: &Path| -> Result<serde_json::Value, String> {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))
    };
    if let Some(dir) = cases {
        let (report, ok) = run_cases(setup, &dir).await?;
        print!("{report}");
        return if ok {
            Ok(())
        } else {
            Err("some cases failed".into())
        };
    }
    let input = input.ok_or("give --input (one case) or --cases (a folder)")?;
    let case: CaseInput = serde_json::from_value(read_json(&input)?)
        .map_err(|e| format!("{}: not an input: {e}", input.display()))?;
    let report = run_once(setup, &case).await?;
    print!("{}", describe(setup, &report));
    if let Some(expect) = expect {
        let want = read_json(&expect)?;
        if want != report.output {
            return Err(format!(
                "the result differs from {}:\n{}",
                expect.display(),
                crate::plugin_test::diff(&want, &report.output)
            ));
        }
        println!("matches {}", expect.display());
    }
    Ok(())
}
