//! The built-in chat page (`GET /`): its headers, its configurable and escaped title,
//! `server.chat_page = false`, and the page itself in headless Chromium
//! (tests/browser/chat.mjs, driven by playwright-core) against the real server and the
//! fake streaming model. Screenshots go to target/artifacts/screenshots/.
//!
//! The browser test needs Debian's `chromium` package and `npm ci --prefix
//! tests/browser`; scripts/setup-test-deps.sh installs both, and without them the test
//! fails naming that command.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::server::{default_chain, Server, ServerBuilder};
use crate::support::{client, repo};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const SETUP: &str = "scripts/setup-test-deps.sh";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// The fake model's answer: long enough to stop half-way, with some markdown.
const REPLY: &str = "The server listens on port **8080** unless `server.port` or the \
    AUTBOT_SERVER__PORT variable says otherwise; set it to 0 to let the system pick a free \
    port, which the server then writes to its log when it starts listening.";
const CLIENT_KEY: &str = "sk-browser-test";
/// `server.max_query_chars` of the browser test (its long question is refused).
const MAX_QUERY_CHARS: usize = 50;

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn assert_security_headers(r: &reqwest::Response) {
    assert_eq!(header(r, "content-security-policy"), CSP);
    assert_eq!(header(r, "x-frame-options"), "DENY");
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
    assert_eq!(header(r, "referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_page_is_served_with_strict_headers_and_an_escaped_title() {
    let s = ServerBuilder::new()
        .env(
            "AUTBOT_SERVER__CHAT_TITLE",
            "<script>alert(1)</script> & Co",
        )
        .env("AUTBOT_SERVER__CHAT_INTRO", "Ask about \"things\" <here>")
        .start()
        .ready()
        .await;
    let r = client().get(s.url("/")).send().await.expect("GET /");
    assert_eq!(r.status(), 200);
    assert_security_headers(&r);
    assert!(header(&r, "content-type").starts_with("text/html"));
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let html = r.text().await.expect("body");
    assert!(
        html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</title>"),
        "{html}"
    );
    assert!(html.contains("Ask about &quot;things&quot; &lt;here&gt;"));
    assert!(!html.contains("<script>alert"));

    // The assets, under versioned URLs: immutable, with an ETag that revalidates.
    for (name, content_type) in [("chat.js", "text/javascript"), ("chat.css", "text/css")] {
        let at = html.find(&format!("/chat/{name}?v=")).expect("asset URL");
        let url = &html[at..at + html[at..].find('"').expect("URL end")];
        let r = client().get(s.url(url)).send().await.expect("asset");
        assert_eq!(r.status(), 200, "{url}");
        assert_security_headers(&r);
        assert!(
            header(&r, "content-type").starts_with(content_type),
            "{url}"
        );
        assert!(header(&r, "cache-control").contains("immutable"), "{url}");
        let etag = header(&r, "etag").to_string();
        assert!(!r.text().await.expect("asset body").is_empty());
        let r = client()
            .get(s.url(url))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("revalidation");
        assert_eq!(r.status(), 304, "{url}");
        // Without the version, the file is served but revalidated on each use.
        let r = client()
            .get(s.url(&format!("/chat/{name}")))
            .send()
            .await
            .expect("unversioned asset");
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "cache-control"), "no-cache");
    }
    let r = client().get(s.url("/chat/other.js")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_page_can_be_turned_off() {
    let s = ServerBuilder::new()
        .env("AUTBOT_SERVER__CHAT_PAGE", "false")
        .start()
        .ready()
        .await;
    for path in ["/", "/chat/chat.js", "/chat/chat.css"] {
        let r = client().get(s.url(path)).send().await.expect("request");
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.expect("JSON 404");
        assert_eq!(body["code"], "not_found", "{path}: {body}");
    }
    // The API is still there.
    let r = client().get(s.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Something the browser test needs, or a panic naming the command that installs it.
fn required(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing ({}): run {SETUP} (it runs `apt-get install -y chromium` and \
         `npm ci --prefix tests/browser`; scripts/test.sh runs it)",
        path.display()
    );
    path
}

async fn browser_server(fake: &FakeOpenAi) -> Server {
    fake.reply(REPLY);
    // Slow enough to see the answer half-written, and to stop it.
    fake.chunk_delay(Duration::from_millis(90));
    // A known client key (not required), which the page's settings can send.
    let config = format!(
        r#"{chain}
[[security.client_keys]]
name = "browser"
key = "{CLIENT_KEY}"
requests = 1000
window_secs = 60
"#,
        chain = default_chain()
    );
    ServerBuilder::new()
        .config(&config)
        .llm(fake)
        .env("AUTBOT_LLM__MAX_RETRIES", "0")
        .env(
            "AUTBOT_SERVER__MAX_QUERY_CHARS",
            MAX_QUERY_CHARS.to_string(),
        )
        .env("AUTBOT_SERVER__CHAT_TITLE", "Docs <Help> & Co")
        // Every answer streams from the model (a cached one would come at once).
        .env("AUTBOT_CACHE__BACKEND", "off")
        .start()
        .ready()
        .await
}

#[tokio::test]
async fn the_page_works_in_a_browser() {
    let script = required(repo().join("tests/browser/chat.mjs"), "the browser test");
    required(
        repo().join("tests/browser/node_modules/playwright-core/package.json"),
        "playwright-core",
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    required(PathBuf::from(&chromium), "Chromium");
    let fake = FakeOpenAi::start().await;
    let s = browser_server(&fake).await;
    let shots = repo().join("target/artifacts/screenshots");
    let base = format!("http://{}", s.addr);

    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&base)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .env("CHAT_EXPECT_TITLE", "Docs <Help> & Co")
        .env("CHAT_EXPECT_REPLY", REPLY)
        .env(
            "CHAT_LONG_QUESTION_CHARS",
            (MAX_QUERY_CHARS + 10).to_string(),
        )
        .env("NO_PROXY", "127.0.0.1,localhost")
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node: {e}; run {SETUP}"));
    let out = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
        .await
        .expect("the browser test did not finish in 240 s")
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs = s.logs();
    let tail: Vec<&str> = logs.lines().rev().take(30).collect();
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "tests/browser/chat.mjs exited with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n\
         --- the server's last log lines\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    println!("{stdout}");

    // The page's questions went through the pipeline to the model, streamed.
    let calls = fake.requests("chat");
    assert!(calls.len() >= 4, "{} calls to the model", calls.len());
    assert!(calls.iter().all(|c| c.body["stream"] == true));
    // The follow-up reached the model with the conversation before it.
    let follow_up = calls
        .iter()
        .find(|c| {
            c.body["messages"]
                .to_string()
                .contains("And how do I change it?")
        })
        .expect("the follow-up question reached the model");
    let prompt = follow_up.body["messages"].to_string();
    assert!(
        prompt.contains("Which port does the server listen on?"),
        "the earlier question is not in the model's prompt: {prompt}"
    );
    // The refused question never reached the model.
    let long = "Why? ".repeat(MAX_QUERY_CHARS.div_ceil(5) + 2);
    assert!(!calls
        .iter()
        .any(|c| c.body["messages"].to_string().contains(long.trim())));
}
