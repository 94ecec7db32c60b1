//! `autbot plugin new --lang js|python` and `autbot plugin build` for JavaScript /
//! TypeScript and Python plugins. The work is done by the SDKs' own tools, which install
//! their pinned build tools on first use (sdk/js: `npm ci` with its package-lock.json,
//! componentize-js + jco + rolldown; sdk/python: componentize-py from requirements.txt
//! in a venv):
//!
//! - `node sdk/js/tools/autbot-plugin.mjs build <dir> --out <out>`
//! - `python3 sdk/python/tools/autbot_plugin.py build <dir> --out <out>`
//!
//! Each prints, as its last stdout line, `{"built": [paths], ...}`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The language of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate (autbot-sdk, cargo, wasm32-wasip2).
    Rust,
    /// JavaScript or TypeScript (sdk/js, componentize-js).
    Js,
    /// Python (sdk/python, componentize-py).
    Python,
}

/// The SDKs' folder: `AUTBOT_SDK_DIR`, else `sdk/` of the source tree this binary was
/// built from (as for the Rust SDK's path in `plugin new`).
pub fn sdk_dir() -> PathBuf {
    let dir = std::env::var_os("AUTBOT_SDK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"));
    dir.canonicalize().unwrap_or(dir)
}

/// The language of the plugin in `dir`, when it is not a Rust crate: a `package.json`
/// is JavaScript/TypeScript, a `pyproject.toml` Python.
pub fn detect(dir: &Path) -> Option<Lang> {
    if dir.join("Cargo.toml").exists() {
        None
    } else if dir.join("package.json").exists() {
        Some(Lang::Js)
    } else if dir.join("pyproject.toml").exists() {
        Some(Lang::Python)
    } else {
        None
    }
}

/// Builds the JavaScript or Python plugin in `dir` into `<out>/<name>.wasm`.
pub fn build(lang: Lang, dir: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let sdk = sdk_dir();
    let (program, script, install) = match lang {
        Lang::Js => (
            "node",
            sdk.join("js/tools/autbot-plugin.mjs"),
            "Node.js 20.6 or later with npm",
        ),
        Lang::Python => (
            "python3",
            sdk.join("python/tools/autbot_plugin.py"),
            "Python 3.11 or later with venv and pip",
        ),
        Lang::Rust => return Err("a Rust plugin is built with cargo".into()),
    };
    if !script.exists() {
        return Err(format!(
            "{} is missing: set AUTBOT_SDK_DIR to the sdk/ folder of the AutBot sources",
            script.display()
        ));
    }
    let output = Command::new(program)
        .arg(&script)
        .arg("build")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {program} ({install} is needed): {e}"))?;
    if !output.status.success() {
        return Err(format!("building {} failed", dir.display()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("{} reported no build result", script.display()))?;
    let built: Vec<PathBuf> = report["built"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(PathBuf::from))
        .collect();
    if built.is_empty() {
        return Err(format!("{} produced no .wasm", dir.display()));
    }
    Ok(built)
}

/// Creates a plugin for `hook` named `name` under `parent`, in `lang`.
pub fn scaffold(lang: Lang, hook: &str, name: &str, parent: &Path) -> Result<PathBuf, String> {
    if lang == Lang::Rust {
        return super::scaffold(hook, name, parent);
    }
    let Some(index) = ["preprocessor", "ranker", "prompt-builder"]
        .iter()
        .position(|h| *h == hook)
    else {
        return Err(format!(
            "unknown hook `{hook}`: use preprocessor, ranker or prompt-builder"
        ));
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{name}` is not a valid plugin name (letters, digits, - and _)"
        ));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let sdk = sdk_dir();
    let files: Vec<(&str, String)> = match lang {
        Lang::Js => {
            let tool = sdk.join("js/tools/autbot-plugin.mjs");
            let tool = tool.display().to_string().replace('\\', "/");
            vec![
                (
                    "package.json",
                    format!(
                        "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.1.0\",\n  \"private\": true,\n  \"type\": \"module\",\n  \"main\": \"src/plugin.js\",\n  \"autbot\": {{ \"hook\": \"{hook}\" }},\n  \"scripts\": {{\n    \"build\": \"node {tool} build .\",\n    \"test\": \"node {tool} test .\"\n  }}\n}}\n"
                    ),
                ),
                ("src/plugin.js", JS[index].to_string()),
                ("test/plugin.test.js", JS_TESTS[index].to_string()),
                (".gitignore", "/build/\n/dist/\n/node_modules/\n".to_string()),
            ]
        }
        Lang::Python => vec![
            (
                "pyproject.toml",
                format!(
                    "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\n[tool.autbot]\nhook = \"{hook}\"\n# The host interfaces the plugin calls (log, config, search, embed, llm,\n# conversation): the component imports exactly these, so grant the same in autbot.toml.\ncapabilities = {}\nmodule = \"app\"   # app.py defines class WitWorld\n",
                    ["[\"config\"]", "[\"log\"]", "[]"][index]
                ),
            ),
            ("app.py", PY[index].to_string()),
            ("tests/test_app.py", PY_TESTS[index].to_string()),
            (".gitignore", "/build/\n/dist/\n__pycache__/\n".to_string()),
        ],
        Lang::Rust => unreachable!(),
    };
    for (file, text) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir)
}

const JS: [&str; 3] = [
    r#"// A preprocessor plugin: rewrite the question, or refuse it.
// Capabilities: the component imports exactly the SDK helpers it calls (here `config`).
import { Rejection, config } from "autbot-sdk";

/** The preprocessor hook: returns the query, or throws a Rejection. */
export function preprocess(q) {
  const banned = config.getStringList("banned") ?? [];
  const lower = q.text.toLowerCase();
  const word = banned.find((w) => lower.includes(w.toLowerCase()));
  if (word !== undefined) {
    throw new Rejection("banned_topic", "Sorry, I can't answer questions about that topic.");
  }
  return { ...q, text: q.text.trim() };
}
"#,
    r#"// A ranker plugin: re-order, re-score or drop passages.
import { ranked } from "autbot-sdk";

/** The ranker hook: the passages to keep, best first. */
export function rank(q, candidates) {
  return candidates.map((p) => ranked(p.id, p.score)).sort((a, b) => b.score - a.score);
}
"#,
    r#"// A prompt-builder plugin: the messages sent to the language model.
import { system, user } from "autbot-sdk";

/** The prompt-builder hook (`build-prompt` in WIT). */
export function buildPrompt(q, passages) {
  const context = passages.map((p) => p.text).join("\n---\n");
  return [system("Answer from the context only."), user(`Context:\n${context}\n\nQuestion: ${q.text}`)];
}
"#,
];

const JS_TESTS: [&str; 3] = [
    r#"import { test } from "node:test";
import assert from "node:assert/strict";
import { query, reset, setConfig } from "autbot-sdk/testing";
import { preprocess } from "../src/plugin.js";

test("refuses a banned topic", () => {
  reset();
  setConfig({ banned: ["salary"] });
  assert.throws(() => preprocess(query("What is my salary?")), { name: "Rejection", code: "banned_topic" });
  assert.equal(preprocess(query("  hello ")).text, "hello");
});
"#,
    r#"import { test } from "node:test";
import assert from "node:assert/strict";
import { passage, query } from "autbot-sdk/testing";
import { rank } from "../src/plugin.js";

test("keeps every passage, best first", () => {
  const out = rank(query("q"), [passage("a", "A", { score: 0.1 }), passage("b", "B", { score: 0.9 })]);
  assert.deepEqual(out.map((r) => r.id), ["b", "a"]);
});
"#,
    r#"import { test } from "node:test";
import assert from "node:assert/strict";
import { passage, query } from "autbot-sdk/testing";
import { buildPrompt } from "../src/plugin.js";

test("a system and a user message", () => {
  const out = buildPrompt(query("Why?"), [passage("a", "Because.")]);
  assert.deepEqual(out.map((m) => m.role), ["system", "user"]);
  assert.match(out[1].content, /Because\.[\s\S]*Question: Why\?/);
});
"#,
];

const PY: [&str; 3] = [
    r#""""A preprocessor plugin: rewrite the question, or refuse it."""

from autbot_sdk import Query, config, reject


class WitWorld:
    """The preprocessor hook (componentize-py exports the class named WitWorld)."""

    def preprocess(self, q):
        banned = config.get_string_list("banned") or []
        lower = q.text.lower()
        if any(w.lower() in lower for w in banned):
            raise reject("banned_topic", "Sorry, I can't answer questions about that topic.")
        return Query(text=q.text.strip(), request_id=q.request_id)
"#,
    r#""""A ranker plugin: re-order, re-score or drop passages."""

from autbot_sdk import log, ranked


class WitWorld:
    """The ranker hook (componentize-py exports the class named WitWorld)."""

    def rank(self, q, candidates):
        out = sorted((ranked(p.id, p.score) for p in candidates), key=lambda r: r.score, reverse=True)
        log.debug(f"ranked {len(out)} passages")
        return out
"#,
    r#""""A prompt-builder plugin: the messages sent to the language model."""

from autbot_sdk import system, user


class WitWorld:
    """The prompt-builder hook (`build-prompt` in WIT is the method build_prompt)."""

    def build_prompt(self, q, passages):
        context = "\n---\n".join(p.text for p in passages)
        return [system("Answer from the context only."), user(f"Context:\n{context}\n\nQuestion: {q.text}")]
"#,
];

const PY_TESTS: [&str; 3] = [
    r#"import unittest

from autbot_sdk import Err, testing

from app import WitWorld


class PreprocessorTest(unittest.TestCase):
    def test_refuses_a_banned_topic(self):
        host = testing.install()
        host.set_config({"banned": ["salary"]})
        with self.assertRaises(Err) as e:
            WitWorld().preprocess(testing.query("What is my salary?"))
        self.assertEqual(e.exception.value.code, "banned_topic")
        self.assertEqual(WitWorld().preprocess(testing.query("  hello ")).text, "hello")


if __name__ == "__main__":
    unittest.main()
"#,
    r#"import unittest

from autbot_sdk import testing

from app import WitWorld


class RankerTest(unittest.TestCase):
    def test_keeps_every_passage_best_first(self):
        host = testing.install()
        out = WitWorld().rank(testing.query("q"), [testing.passage("a", "A", score=0.1), testing.passage("b", "B", score=0.9)])
        self.assertEqual([r.id for r in out], ["b", "a"])
        self.assertEqual(host.logs, [("debug", "ranked 2 passages")])


if __name__ == "__main__":
    unittest.main()
"#,
    r#"import unittest

from autbot_sdk import Role, testing

from app import WitWorld


class PromptBuilderTest(unittest.TestCase):
    def test_a_system_and_a_user_message(self):
        testing.install()
        out = WitWorld().build_prompt(testing.query("Why?"), [testing.passage("a", "Because.")])
        self.assertEqual([m.role for m in out], [Role.SYSTEM, Role.USER])
        self.assertIn("Question: Why?", out[1].content)


if __name__ == "__main__":
    unittest.main()
"#,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_language_by_manifest() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect(d.path()), None);
        std::fs::write(d.path().join("pyproject.toml"), "").unwrap();
        assert_eq!(detect(d.path()), Some(Lang::Python));
        std::fs::write(d.path().join("package.json"), "{}").unwrap();
        assert_eq!(detect(d.path()), Some(Lang::Js));
        std::fs::write(d.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(detect(d.path()), None);
    }

    #[test]
    fn scaffolds_js_and_python_plugins_for_every_hook() {
        let d = tempfile::tempdir().unwrap();
        for hook in ["preprocessor", "ranker", "prompt-builder"] {
            let js = scaffold(Lang::Js, hook, &format!("{hook}-js"), d.path()).unwrap();
            let pkg: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(js.join("package.json")).unwrap())
                    .unwrap();
            assert_eq!(pkg["autbot"]["hook"], hook);
            assert!(js.join("src/plugin.js").exists() && js.join("test/plugin.test.js").exists());
            let py = scaffold(Lang::Python, hook, &format!("{hook}-py"), d.path()).unwrap();
            let manifest: toml::Table =
                toml::from_str(&std::fs::read_to_string(py.join("pyproject.toml")).unwrap())
                    .unwrap();
            assert_eq!(manifest["tool"]["autbot"]["hook"].as_str(), Some(hook));
            assert!(py.join("app.py").exists() && py.join("tests/test_app.py").exists());
        }
        assert!(scaffold(Lang::Js, "ranker", "ranker-js", d.path()).is_err());
        assert!(scaffold(Lang::Python, "other", "x", d.path()).is_err());
        assert!(scaffold(Lang::Python, "ranker", "bad name", d.path()).is_err());
    }
}
