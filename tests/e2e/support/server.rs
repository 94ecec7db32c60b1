//! Runs the real `autbot` binary with a test configuration on a free loopback port.

use super::repo;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `autbot` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_autbot"))
}

/// One `[[plugins.chain]]` entry (`caps` a TOML list; `extra` more lines of it).
pub fn chain_entry(name: &str, hook: &str, path: &Path, caps: &str, extra: &str) -> String {
    format!(
        "[[plugins.chain]]\nname = \"{name}\"\nhook = \"{hook}\"\npath = \"{}\"\ncapabilities = {caps}\n{extra}\n",
        path.display()
    )
}

/// A shipped default plugin's entry, with its hook and the grant `autbot.toml` gives it.
pub fn shipped(name: &str) -> String {
    let (hook, caps) = match name {
        "query-guard" => ("preprocessor", r#"["config", "log", "conversation"]"#),
        "source-weighter" => ("ranker", r#"["config"]"#),
        "prompt-builder" => ("prompt-builder", r#"["config", "conversation"]"#),
        other => panic!("`{other}` is not a shipped plugin"),
    };
    let path = repo().join(format!("plugins/dist/{name}.wasm"));
    chain_entry(name, hook, &path, caps, "")
}

/// The default plugin chain, with absolute paths to the shipped plugins.
pub fn default_chain() -> String {
    shipped("query-guard") + &shipped("source-weighter") + &shipped("prompt-builder")
}

/// How to start a server.
pub struct ServerBuilder {
    dir: tempfile::TempDir,
    config: String,
    env: Vec<(String, String)>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBuilder {
    /// Embedded defaults, the default corpus, the default plugins, a private index dir.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            config: default_chain(),
            env: Vec::new(),
        }
    }

    /// Replaces the configuration file body (plugin chain included).
    pub fn config(mut self, toml: &str) -> Self {
        self.config = toml.to_string();
        self
    }

    /// Answers with the OpenAI provider against `fake` (key `sk-test`).
    pub fn llm(self, fake: &super::fake_openai::FakeOpenAi) -> Self {
        self.env("OPENAI_API_KEY", "sk-test")
            .env("AUTBOT_LLM__PROVIDER", "openai")
            .env("AUTBOT_LLM__BASE_URL", fake.base_url())
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let config_path = self.dir.path().join("autbot.toml");
        std::fs::write(&config_path, &self.config).expect("write config");
        let mut cmd = Command::new(binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("AUTBOT_SERVER__PORT", "0")
            .env(
                "AUTBOT_INDEX__DATA_DIR",
                repo().join("data").display().to_string(),
            )
            .env(
                "AUTBOT_INDEX__DIR",
                self.dir.path().join("index").display().to_string(),
            )
            .env(
                "AUTBOT_INDEX__CACHE_DIR",
                self.dir.path().join("embed-cache").display().to_string(),
            )
            .env(
                "AUTBOT_PLUGINS__DIR",
                repo().join("plugins/dist").display().to_string(),
            )
            .env(
                "AUTBOT_PLUGINS__CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join("plugin-cache")
                    .display()
                    .to_string(),
            )
            .env("AUTBOT_OBSERVABILITY__LOG_LEVEL", "info")
            // Rate limiting is tested on its own; other tests send many requests.
            .env("AUTBOT_RATE_LIMIT__ENABLED", "false")
            // The hashed embedder, whatever the default: the tests' expectations were
            // written for it (tests/e2e/neural.rs runs the neural one).
            .env("AUTBOT_EMBEDDINGS__PROVIDER", "local")
            .current_dir(self.dir.path())
            .arg("--config")
            .arg(&config_path)
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a one-shot subcommand to completion.
    pub fn run(&self, args: &[&str]) -> (ExitStatus, String, String) {
        let out = self.command(args).output().expect("run autbot");
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts `autbot serve` and waits until it listens.
    pub fn start(self) -> Server {
        let mut child = self
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn autbot");
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let stdout = child.stdout.take().expect("stdout");
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"message\":\"listening\"") {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                        if let Some(addr) = v["addr"].as_str().and_then(|a| a.parse().ok()) {
                            let _ = tx.send(addr);
                        }
                    }
                }
                let mut g = l.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let l = logs.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                l.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; logs:\n{}", logs.lock().unwrap());
            }
        };
        Server {
            child,
            addr,
            logs,
            _dir: self.dir,
        }
    }
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server printed so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Everything the server printed, after waiting out its log writer's batching
    /// interval (20 ms) several times over, so lines of events already done are in.
    pub async fn logs_flushed(&self) -> String {
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.logs()
    }

    /// Polls `/ready` until 200.
    pub async fn ready(self) -> Self {
        let client = super::client();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(90) {
            if let Ok(r) = client.get(self.url("/ready")).send().await {
                if r.status() == 200 {
                    return self;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server never became ready; logs:\n{}", self.logs());
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                started.elapsed() < timeout,
                "server did not exit; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Calls an admin route with the key `adm` (which tests configure) and returns the JSON body.
    pub async fn admin(&self, method: reqwest::Method, path: &str) -> serde_json::Value {
        super::client()
            .request(method, self.url(path))
            .header("x-api-key", "adm")
            .send()
            .await
            .expect("admin request")
            .json()
            .await
            .expect("admin JSON")
    }

    /// POSTs a question; returns status and JSON body.
    pub async fn ask(&self, question: &str) -> (u16, serde_json::Value) {
        let r = super::client()
            .post(self.url("/api/query"))
            .json(&serde_json::json!({ "query": question }))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
