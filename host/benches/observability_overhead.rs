//! `cargo bench --bench observability_overhead`: what metrics and JSON logging add per
//! request. The full router (every pipeline layer) answers `GET /health` in process
//! (`tower::ServiceExt::oneshot`, no sockets), 50,000 times per configuration:
//! neither, metrics only, metrics and JSON access logs (the server's subscriber and
//! background writer, writing to a sink).

use autbot::config::Config;
use axum::body::Body;
use axum::http::Request;
use std::time::Instant;
use tower::ServiceExt;

const N: u32 = 50_000;

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn per_request(metrics: bool, work: &std::path::Path) -> f64 {
    let text = std::fs::read_to_string(repo().join("autbot.toml")).unwrap();
    let mut c: Config = toml::from_str(&text).unwrap();
    c.plugins.dir = repo().join("plugins/dist");
    c.plugins.cache_dir = Some(work.join("plugin-cache"));
    c.index.dir = work.join("index");
    c.observability.metrics_enabled = metrics;
    let checked = autbot::config::check(c).expect("valid configuration");
    let state = autbot::serve::build_state(checked).await.unwrap();
    let app = autbot::app::router(state);
    for _ in 0..1000 {
        let _ = app
            .clone()
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await;
    }
    let t = Instant::now();
    for _ in 0..N {
        let r = app
            .clone()
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    t.elapsed().as_secs_f64() * 1e6 / N as f64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let work = tempfile::tempdir().unwrap();
    let base = per_request(false, work.path()).await;
    let with_metrics = per_request(true, work.path()).await;
    // The server's own subscriber (filter, JSON format) and its background writer,
    // which writes to a sink here instead of stdout.
    let text = std::fs::read_to_string(repo().join("autbot.toml")).unwrap();
    let c: Config = toml::from_str(&text).unwrap();
    let (writer, _guard) = autbot::observability::log_writer::batched(std::io::sink()).unwrap();
    autbot::observability::logs::try_init_with(&c.observability, writer).unwrap();
    let with_logs = per_request(true, work.path()).await;
    println!(
        "GET /health through the whole pipeline: {base:.2} µs/request without metrics or logs"
    );
    println!(
        "  + metrics:            {with_metrics:.2} µs  (overhead {:.2} µs)",
        with_metrics - base
    );
    println!(
        "  + metrics + JSON logs: {with_logs:.2} µs  (overhead {:.2} µs)",
        with_logs - base
    );
}
