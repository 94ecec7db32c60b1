//! A fake OpenAI-compatible server on loopback: `/v1/chat/completions` and
//! `/v1/embeddings`, recording every request, with scripted failures and delays.
//! A chat request with `"stream": true` is answered with server-sent events, one
//! chunk per word, a usage chunk and `[DONE]`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: &'static str,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// Statuses to answer with before answering normally (e.g. 429, 500).
    script: VecDeque<u16>,
    /// Every call fails with this status while set.
    always_fail: Option<u16>,
    delay: Duration,
    reply: Option<String>,
    /// Streamed answers report an error after this many chunks.
    stream_fails_after: Option<usize>,
    /// Pause between streamed chunks.
    chunk_delay: Duration,
    /// Streamed answers stop after this many chunks, without an error or `[DONE]`.
    cut_stream_after: Option<usize>,
    /// Answer 400 to requests with `stream_options`, as some servers do.
    refuse_stream_options: bool,
    /// Answer `"stream": true` requests with one JSON answer, as some servers do.
    ignore_stream: bool,
    /// When each streamed answer that did not run to its end was dropped (its
    /// client, the server under test, closed the connection).
    stream_drops: Vec<std::time::Instant>,
}

/// Handle to the running fake.
#[derive(Clone)]
pub struct FakeOpenAi {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeOpenAi {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Answers with these statuses first, then normally.
    pub fn script(&self, statuses: &[u16]) {
        self.inner
            .lock()
            .unwrap()
            .script
            .extend(statuses.iter().copied());
    }

    /// Fails every call with `status` (None: stop failing).
    pub fn always_fail(&self, status: Option<u16>) {
        self.inner.lock().unwrap().always_fail = status;
    }

    /// Delays every answer.
    pub fn delay(&self, d: Duration) {
        self.inner.lock().unwrap().delay = d;
    }

    /// Streamed answers break off with an error event after `chunks` chunks.
    pub fn fail_stream_after(&self, chunks: usize) {
        self.inner.lock().unwrap().stream_fails_after = Some(chunks);
    }

    /// Streamed answers stop after `chunks` chunks, without `[DONE]`.
    pub fn cut_stream_after(&self, chunks: usize) {
        self.inner.lock().unwrap().cut_stream_after = Some(chunks);
    }

    /// Answers streamed requests with one complete JSON answer.
    pub fn ignore_stream(&self) {
        self.inner.lock().unwrap().ignore_stream = true;
    }

    /// Answers 400 to requests that carry `stream_options`.
    pub fn refuse_stream_options(&self) {
        self.inner.lock().unwrap().refuse_stream_options = true;
    }

    /// Pauses between streamed chunks.
    pub fn chunk_delay(&self, d: Duration) {
        self.inner.lock().unwrap().chunk_delay = d;
    }

    /// The chat answer text (default: `system=<first message content>`).
    pub fn reply(&self, text: &str) {
        self.inner.lock().unwrap().reply = Some(text.to_string());
    }

    /// When unfinished streamed answers were dropped by their client.
    pub fn stream_drops(&self) -> Vec<std::time::Instant> {
        self.inner.lock().unwrap().stream_drops.clone()
    }

    /// Requests received on `path` ("chat" or "embeddings").
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.inner
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

type Shared = Arc<Mutex<Inner>>;

/// Records the request; returns an error response if one is scripted, and the delay.
fn prologue(
    inner: &Shared,
    path: &'static str,
    headers: &HeaderMap,
    body: &Value,
) -> (Option<Response>, Duration) {
    let mut g = inner.lock().unwrap();
    g.requests.push(Recorded {
        path,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.clone(),
    });
    let status = g.script.pop_front().or(g.always_fail);
    let err = status.map(|s| {
        let code = StatusCode::from_u16(s).unwrap();
        let mut r = (
            code,
            Json(json!({"error": {"message": format!("scripted {s}"), "type": "test"}})),
        )
            .into_response();
        if s == 429 {
            r.headers_mut().insert("retry-after", "0".parse().unwrap());
        }
        r
    });
    (err, g.delay)
}

/// Sleeps `delay` to within tens of microseconds. Tokio's timer rounds up to the
/// next millisecond, which would blur what the benchmark measures, so the last
/// 2 ms are slept on a blocking thread (a short one, so no shutdown waits on it).
async fn precise_sleep(delay: Duration) {
    const TAIL: Duration = Duration::from_millis(2);
    if delay.is_zero() {
        return;
    }
    let deadline = std::time::Instant::now() + delay;
    tokio::time::sleep(delay.saturating_sub(TAIL)).await;
    let rest = deadline.saturating_duration_since(std::time::Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

async fn chat(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (err, delay) = prologue(&inner, "chat", &headers, &body);
    precise_sleep(delay).await;
    if let Some(r) = err {
        return r;
    }
    // By default the answer names the system prompt, so tests can see which
    // prompt-builder version produced the prompt.
    let reply = inner.lock().unwrap().reply.clone().unwrap_or_else(|| {
        let system = body["messages"][0]["content"].as_str().unwrap_or_default();
        format!("system={system}")
    });
    if body["stream"] == json!(true) && !inner.lock().unwrap().ignore_stream {
        let g = inner.lock().unwrap();
        if g.refuse_stream_options && body.get("stream_options").is_some() {
            let error = json!({"error": {"message": "unknown field stream_options", "type": "invalid_request_error"}});
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
        let ending = match (g.stream_fails_after, g.cut_stream_after) {
            (Some(n), _) => Ending::ErrorAfter(n),
            (None, Some(n)) => Ending::CutAfter(n),
            (None, None) => Ending::Done,
        };
        let pause = g.chunk_delay;
        drop(g);
        return event_stream(&reply, ending, pause, DropWatch(Some(inner.clone())));
    }
    Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
    .into_response()
}

/// How a streamed answer ends.
enum Ending {
    Done,
    /// An error event after this many words.
    ErrorAfter(usize),
    /// Silence after this many words (no `[DONE]`).
    CutAfter(usize),
}

/// Records when a streamed answer is dropped before its last event was taken.
struct DropWatch(Option<Shared>);

impl DropWatch {
    /// The stream ran to its end: its drop is not a cancellation.
    fn finished(&mut self) {
        self.0 = None;
    }
}

impl Drop for DropWatch {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            inner
                .lock()
                .unwrap()
                .stream_drops
                .push(std::time::Instant::now());
        }
    }
}

/// The answer as OpenAI streams it: a role chunk, one content chunk per word
/// (`pause` before each), a usage chunk, `[DONE]`; or cut short as `ending` says.
fn event_stream(reply: &str, ending: Ending, pause: Duration, mut watch: DropWatch) -> Response {
    let data = |chunk: Value| format!("data: {chunk}\n\n");
    let mut events = vec![(
        Duration::ZERO,
        data(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}),
        ),
    )];
    let words: Vec<&str> = reply.split_inclusive(' ').collect();
    for (i, word) in words.iter().enumerate() {
        if matches!(ending, Ending::CutAfter(n) if n == i) {
            break;
        }
        if matches!(ending, Ending::ErrorAfter(n) if n == i) {
            events.push((
                pause,
                data(json!({"error": {"message": "scripted mid-stream failure", "type": "server_error"}})),
            ));
            break;
        }
        events.push((
            pause,
            data(json!({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]})),
        ));
    }
    let complete = match ending {
        Ending::Done => true,
        Ending::ErrorAfter(n) | Ending::CutAfter(n) => n >= words.len(),
    };
    if complete {
        events.push((
            Duration::ZERO,
            data(json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})),
        ));
        events.push((Duration::ZERO, "data: [DONE]\n\n".to_string()));
    }
    let last = events.len();
    let body =
        futures::stream::iter(events.into_iter().enumerate()).then(move |(i, (pause, event))| {
            if i + 1 == last {
                watch.finished();
            }
            async move {
                tokio::time::sleep(pause).await;
                Ok::<_, std::convert::Infallible>(event)
            }
        });
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

async fn embeddings(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (err, delay) = prologue(&inner, "embeddings", &headers, &body);
    precise_sleep(delay).await;
    if let Some(r) = err {
        return r;
    }
    let dims = body["dimensions"].as_u64().unwrap_or(16) as usize;
    let inputs: Vec<String> = body["input"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": pseudo_embedding(text, dims)}))
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"]})).into_response()
}

/// A deterministic bag-of-words vector, so similar texts get similar vectors.
fn pseudo_embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0f32; dims];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = word.bytes().fold(1469598103934665603u64, |h, b| {
            (h ^ b as u64).wrapping_mul(1099511628211)
        });
        v[(h % dims as u64) as usize] += 1.0;
    }
    v[0] += 0.01;
    v
}
