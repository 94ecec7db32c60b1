//! Each layer of the request pipeline alone, in process (`tower::ServiceExt::oneshot`):
//! a tiny router, the layer under test, and the error-body layer that renders what it
//! refuses, as `app::router` composes them. The whole order is covered end to end by
//! `tests/e2e`.

use super::admin_auth::{self, AdminAuth};
use super::auth_failures::{self, AuthFailures};
use super::body_read::{self, BodyRead};
use super::client_addr::{self, ClientAddr};
use super::client_key::{self, ClientIdentity, ClientKeys};
use super::json_body::JsonBody;
use super::rate_limit::{self as rate_limit_layer, RateLimitLayer};
use super::request_id::RequestId;
use super::{access_log, client_concurrency, cors, error_body, load_shed, request_id, timeout};
use crate::config::{
    AdminKeys, ApiKeyHeader, ClientIpHeader, ClientKey, Environment, LimitPolicy, RateLimitConfig,
    SecurityConfig,
};
use crate::error::Error;
use crate::net::slots::KeyedSlots;
use crate::rate_limit::client_ip::ClientIpResolver;
use crate::rate_limit::{Policy, RateLimiter};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// A response, its body read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `{"error", "code", "request_id"}`: the code and the message.
    fn error(&self) -> (String, String) {
        let body = self.json();
        assert!(body["request_id"].is_string(), "{body}");
        (
            body["code"].as_str().unwrap_or_default().to_string(),
            body["error"].as_str().unwrap_or_default().to_string(),
        )
    }
}

/// `app` with the outer layers every response passes: request id, then error body.
fn outer(app: Router) -> Router {
    app.layer(from_fn(error_body::layer))
        .layer(from_fn(request_id::layer))
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let response = app.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.expect("body").to_bytes(),
    }
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn with_header(mut req: Request<Body>, name: &'static str, value: &str) -> Request<Body> {
    req.headers_mut().insert(name, value.parse().unwrap());
    req
}

fn ok_routes() -> Router {
    Router::new()
        .route("/api/x", get(|| async { "ok" }))
        .route("/admin/x", get(|| async { "ok" }))
        .route("/health", get(|| async { "ok" }))
        .route("/v1/x", get(|| async { "ok" }))
}

fn header() -> ApiKeyHeader {
    ApiKeyHeader::parse("X-API-Key").unwrap()
}

fn policy(requests: u32) -> Policy {
    Policy::new(
        "ip",
        LimitPolicy {
            requests,
            window_secs: 60,
            burst: None,
        },
    )
}

// --- request_id -----------------------------------------------------------------

#[tokio::test]
async fn request_id_keeps_a_sane_id_replaces_others_and_echoes_it() {
    let app = Router::new()
        .route(
            "/",
            get(|Extension(RequestId(id)): Extension<RequestId>| async move { id }),
        )
        .layer(from_fn(request_id::layer));
    let r = send(
        &app,
        with_header(get_req("/"), "x-request-id", "abc-123.4:5"),
    )
    .await;
    assert_eq!(r.text(), "abc-123.4:5");
    assert_eq!(r.header("x-request-id"), Some("abc-123.4:5"));
    for bad in ["has space", "<script>", &"a".repeat(129)] {
        let r = send(&app, with_header(get_req("/"), "x-request-id", bad)).await;
        assert_eq!(r.text().len(), 32, "a fresh uuid for {bad:?}");
        assert_eq!(r.header("x-request-id"), Some(r.text().as_str()));
    }
    let r = send(&app, get_req("/")).await;
    assert_eq!(r.text().len(), 32);
}

// --- access_log and metrics -----------------------------------------------------

#[tokio::test]
async fn access_log_passes_the_response_through() {
    let app = outer(ok_routes().layer(from_fn(access_log::layer)));
    let r = send(&app, get_req("/api/x")).await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ok"));
    let r = send(&app, get_req("/nowhere")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[test]
fn http_metrics_label_requests_by_route_template() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let app = Router::new()
        .route("/items/{id}", get(|| async { "ok" }))
        .layer(from_fn(super::metrics::layer));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            send(&app, get_req("/items/7")).await;
            send(&app, get_req("/items/8")).await;
            send(&app, get_req("/other")).await;
        })
    });
    let text = handle.render();
    assert!(
        text.contains(
            r#"autbot_http_requests_total{route="/items/{id}",method="GET",status="2xx"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(!text.contains("/items/7"), "paths are never labels: {text}");
}

// --- error_body and panics ------------------------------------------------------

#[tokio::test]
async fn error_body_renders_our_errors_and_foreign_ones_as_json() {
    let app = outer(
        Router::new()
            .route(
                "/not-ready",
                get(|| async { Error::NotReady("the index is building".into()) }),
            )
            .route(
                "/json",
                get(|| async { (StatusCode::CONFLICT, axum::Json(json!({"own": 1}))) }),
            )
            .route("/post", post(|| async { "ok" }))
            .route("/v1/key", get(|| async { Error::InvalidApiKey }))
            .route(
                "/v1/missing",
                get(|| async { Error::UnknownModel("gpt-9".into()) }),
            )
            .route(
                "/panic",
                get(|| async {
                    panic!("a handler bug");
                    #[allow(unreachable_code)]
                    ""
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::new()),
    );
    let r = send(
        &app,
        with_header(get_req("/not-ready"), "x-request-id", "rid-1"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.json(),
        json!({"error": "the index is building", "code": "not_ready", "request_id": "rid-1"})
    );
    // A handler's own JSON error is left as it is.
    let r = send(&app, get_req("/json")).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::CONFLICT, json!({"own": 1}))
    );
    // axum's 404 and 405, as our errors.
    let r = send(&app, get_req("/nowhere")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.error(),
        ("not_found".into(), "no route for GET /nowhere".into())
    );
    let r = send(&app, get_req("/post")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.error(),
        (
            "method_not_allowed".into(),
            "GET is not allowed on /post".into()
        )
    );
    // A panic is a 500, not a dropped connection; its text is not shown.
    let r = send(&app, get_req("/panic")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.error(),
        ("internal_error".into(), "internal error".into())
    );
    // `/v1/*`: OpenAI's shape, and a wrong key is 401 there.
    let r = send(
        &app,
        with_header(get_req("/v1/key"), "x-request-id", "rid-2"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        json!({"error": {
            "message": "the API key is not valid for this route",
            "type": "authentication_error",
            "param": null,
            "code": "invalid_api_key",
            "request_id": "rid-2",
        }})
    );
    let r = send(&app, get_req("/v1/missing")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["param"], "model");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
}

// --- cors -----------------------------------------------------------------------

#[tokio::test]
async fn cors_allows_the_listed_origins_and_local_ones_in_development() {
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/x")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-api-key")
            .body(Body::empty())
            .unwrap()
    };
    let mut security = SecurityConfig {
        allowed_origins: vec!["https://app.example.com".into()],
        ..SecurityConfig::default()
    };
    let app = ok_routes().layer(cors::layer(&security, header().name()));
    let r = send(&app, preflight("https://app.example.com")).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let allowed = r.header("access-control-allow-headers").unwrap_or_default();
    assert!(allowed.contains("x-api-key"), "{allowed}");
    let r = send(&app, preflight("http://localhost:5173")).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let r = send(&app, preflight("https://evil.example")).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    // Production: only the listed origins.
    security.environment = Environment::Production;
    let app = ok_routes().layer(cors::layer(&security, header().name()));
    let r = send(&app, preflight("http://localhost:5173")).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    // `*` in development: any origin.
    security.environment = Environment::Development;
    security.allowed_origins = vec!["*".into()];
    let app = ok_routes().layer(cors::layer(&security, header().name()));
    let r = send(&app, preflight("https://anyone.example")).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

// --- client_addr ----------------------------------------------------------------

#[tokio::test]
async fn client_addr_believes_forwarding_headers_only_from_trusted_proxies() {
    let resolver = Arc::new(ClientIpResolver::new(
        vec![crate::config::parse_net("10.0.0.0/8").unwrap()],
        ClientIpHeader::XForwardedFor,
        64,
    ));
    let app = Router::new()
        .route(
            "/",
            get(|Extension(c): Extension<ClientAddr>| async move { c.key.to_string() }),
        )
        .layer(from_fn_with_state(resolver, client_addr::layer));
    let from = |peer: &str| {
        let mut req = with_header(get_req("/"), "x-forwarded-for", "198.51.100.7, 10.0.0.2");
        let peer: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    };
    assert_eq!(
        send(&app, from("10.0.0.1:4000")).await.text(),
        "198.51.100.7"
    );
    assert_eq!(
        send(&app, from("203.0.113.9:4000")).await.text(),
        "203.0.113.9"
    );
    assert_eq!(
        send(&app, from("[2001:db8::1]:4000")).await.text(),
        "2001:db8::/64"
    );
}

// --- client_concurrency ---------------------------------------------------------

#[tokio::test]
async fn a_client_gets_at_most_its_share_of_requests_in_flight() {
    let app = outer(ok_routes().layer(from_fn_with_state(
        KeyedSlots::new(1),
        client_concurrency::layer,
    )));
    // The slot is held until the response body is gone.
    let first = app.clone().oneshot(get_req("/api/x")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let r = send(&app, get_req("/api/x")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.error(),
        (
            "too_many_concurrent_requests".into(),
            "too many requests in progress from this client (at most 1); retry when one has finished".into()
        )
    );
    drop(first);
    assert_eq!(send(&app, get_req("/api/x")).await.status, StatusCode::OK);
}

// --- auth_failures --------------------------------------------------------------

#[tokio::test]
async fn wrong_keys_are_limited_per_client_even_with_a_right_key_after() {
    let limiter = RateLimiter::new(&RateLimitConfig::default(), None);
    let gate = AuthFailures::new(limiter.clone(), 1, header().name().clone(), true)
        .expect("on when per_minute > 0");
    assert!(AuthFailures::new(limiter, 0, header().name().clone(), true).is_none());
    let check = |headers: HeaderMap| async move {
        match headers.get("x-api-key").map(|v| v.as_bytes()) {
            Some(b"right") | None => Ok("ok"),
            Some(_) => Err(Error::InvalidApiKey),
        }
    };
    let app = outer(
        Router::new()
            .route("/api/x", get(check))
            .route("/health", get(check))
            .layer(from_fn_with_state(gate, auth_failures::layer)),
    );
    let key = |k: &str| with_header(get_req("/api/x"), "x-api-key", k);
    assert_eq!(send(&app, key("wrong")).await.status, StatusCode::FORBIDDEN);
    let r = send(&app, key("right")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error().0, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Without a key, or on a route without keys: not affected.
    assert_eq!(send(&app, get_req("/api/x")).await.status, StatusCode::OK);
    let r = send(&app, with_header(get_req("/health"), "x-api-key", "right")).await;
    assert_eq!(r.status, StatusCode::OK);
}

// --- body_read ------------------------------------------------------------------

#[tokio::test]
async fn a_body_must_arrive_whole_in_time_and_within_the_limit() {
    let cfg = BodyRead {
        timeout: Duration::from_millis(50),
        limit: 16,
    };
    let app = outer(
        Router::new()
            .route("/api/x", post(|body: String| async move { body }))
            .layer(from_fn_with_state(cfg, body_read::layer)),
    );
    let post_body = |body: Body| Request::post("/api/x").body(body).unwrap();
    let r = send(&app, post_body(Body::from("hello"))).await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "hello"));
    // Never completed: 408, and the connection is not reused.
    let never = futures::stream::pending::<Result<Bytes, std::io::Error>>();
    let r = send(&app, post_body(Body::from_stream(never))).await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        r.error(),
        (
            "body_timeout".into(),
            "the request body was not complete within 0.05 s".into()
        )
    );
    // Too large, declared or found while reading: 413.
    let r = send(&app, post_body(Body::from("x".repeat(17)))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error().0, "payload_too_large");
    let chunks = futures::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"12345678"))),
    );
    let r = send(&app, post_body(Body::from_stream(chunks))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.header("connection"), Some("close"));
}

// --- client_key -----------------------------------------------------------------

fn client_keys(required: bool) -> ClientKeys {
    let key = ClientKey {
        name: "partner".into(),
        key: Some(SecretString::from("s3cret")),
        sha256: None,
        requests: 5,
        window_secs: 60,
        burst: None,
    };
    ClientKeys::new(&[key], header(), required).expect("a key is configured")
}

#[tokio::test]
async fn client_keys_identify_callers_and_refuse_wrong_keys() {
    assert!(ClientKeys::new(&[], header(), false).is_none());
    let who = |id: Option<Extension<ClientIdentity>>| async move {
        id.map_or_else(
            || "anonymous".to_string(),
            |Extension(id)| id.name.to_string(),
        )
    };
    let routes = || {
        Router::new()
            .route("/api/x", get(who))
            .route("/v1/x", get(who))
            .route("/health", get(who))
    };
    let app = outer(routes().layer(from_fn_with_state(client_keys(false), client_key::layer)));
    let r = send(&app, with_header(get_req("/api/x"), "x-api-key", "s3cret")).await;
    assert_eq!(r.text(), "partner");
    let r = send(
        &app,
        with_header(get_req("/v1/x"), "authorization", "Bearer s3cret"),
    )
    .await;
    assert_eq!(r.text(), "partner");
    let r = send(&app, with_header(get_req("/api/x"), "x-api-key", "nope")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.error(),
        (
            "invalid_api_key".into(),
            "the API key is not valid for this route".into()
        )
    );
    assert_eq!(send(&app, get_req("/api/x")).await.text(), "anonymous");
    // Required: a missing key is 401, naming the header as configured.
    let app = outer(routes().layer(from_fn_with_state(client_keys(true), client_key::layer)));
    let r = send(&app, get_req("/api/x")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.error(),
        (
            "missing_api_key".into(),
            "this route needs an API key in `X-API-Key`".into()
        )
    );
    let r = send(&app, get_req("/v1/x")).await;
    assert_eq!(
        r.json()["error"]["message"],
        "this route needs an API key in `Authorization: Bearer <key>`"
    );
    // Routes without client keys.
    assert_eq!(send(&app, get_req("/health")).await.text(), "anonymous");
}

// --- rate_limit -----------------------------------------------------------------

#[tokio::test]
async fn rate_limits_count_per_client_and_say_so_in_headers() {
    let layer = RateLimitLayer {
        limiter: RateLimiter::new(&RateLimitConfig::default(), None),
        client: policy(1),
        admin: policy(2),
    };
    let app = outer(ok_routes().layer(from_fn_with_state(layer, rate_limit_layer::layer)));
    let r = send(&app, get_req("/api/x")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let r = send(&app, get_req("/api/x")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error().0, "rate_limited");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("x-ratelimit-limit"), Some("1"));
    // The admin policy is its own.
    let r = send(&app, get_req("/admin/x")).await;
    assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
    // Health is not limited.
    let r = send(&app, get_req("/health")).await;
    assert_eq!(
        (r.status, r.header("x-ratelimit-limit")),
        (StatusCode::OK, None)
    );
}

// --- load_shed ------------------------------------------------------------------

#[tokio::test]
async fn requests_beyond_the_permits_are_shed_at_once() {
    let app = outer(ok_routes().layer(from_fn_with_state(
        Arc::new(Semaphore::new(0)),
        load_shed::layer,
    )));
    let r = send(&app, get_req("/api/x")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.error(),
        (
            "overloaded".into(),
            "the server is overloaded; retry shortly".into()
        )
    );
    let app = outer(ok_routes().layer(from_fn_with_state(
        Arc::new(Semaphore::new(1)),
        load_shed::layer,
    )));
    assert_eq!(send(&app, get_req("/api/x")).await.status, StatusCode::OK);
}

// --- timeout --------------------------------------------------------------------

#[tokio::test]
async fn a_request_past_its_deadline_is_a_504_timeout() {
    let app = outer(
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(from_fn_with_state(
                Duration::from_millis(50),
                timeout::layer,
            )),
    );
    let r = send(&app, get_req("/slow")).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        r.error(),
        (
            "timeout".into(),
            "the request took longer than 0.05 s".into()
        )
    );
    assert_eq!(send(&app, get_req("/fast")).await.status, StatusCode::OK);
}

// --- admin_auth -----------------------------------------------------------------

#[tokio::test]
async fn admin_routes_need_one_of_the_admin_keys() {
    let keys = AdminKeys::load(&[SecretString::from("admin-key")], None).unwrap();
    let auth = AdminAuth {
        keys: Arc::new(keys),
        header: header(),
    };
    let app = outer(
        Router::new()
            .route("/admin/x", get(|| async { "ok" }))
            .route_layer(from_fn_with_state(auth, admin_auth::layer)),
    );
    let with_key = |k: &str| with_header(get_req("/admin/x"), "x-api-key", k);
    assert_eq!(send(&app, with_key("admin-key")).await.text(), "ok");
    let missing = (
        "missing_api_key".to_string(),
        "this route needs an API key in `X-API-Key`".to_string(),
    );
    let r = send(&app, get_req("/admin/x")).await;
    assert_eq!(
        (r.status, r.error()),
        (StatusCode::UNAUTHORIZED, missing.clone())
    );
    let r = send(&app, with_key("")).await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, missing));
    let r = send(&app, with_key("guess")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error().0, "invalid_api_key");
}

// --- json_body ------------------------------------------------------------------

#[tokio::test]
async fn json_bodies_are_refused_with_a_precise_code() {
    #[derive(serde::Deserialize)]
    struct Q {
        #[allow(dead_code)]
        query: String,
    }
    let app = outer(Router::new().route("/api/x", post(|JsonBody(_): JsonBody<Q>| async { "ok" })));
    let post_json = |body: &'static str, json: bool| {
        let mut req = Request::post("/api/x");
        if json {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        req.body(Body::from(body)).unwrap()
    };
    assert_eq!(
        send(&app, post_json(r#"{"query":"hi"}"#, true))
            .await
            .text(),
        "ok"
    );
    let cases = [
        (
            post_json(r#"{"query":"hi"}"#, false),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post_json("{not json", true),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            post_json("{}", true),
            StatusCode::BAD_REQUEST,
            "missing_field",
        ),
        (
            post_json(r#"{"query":5}"#, true),
            StatusCode::BAD_REQUEST,
            "wrong_type",
        ),
    ];
    for (req, status, code) in cases {
        let r = send(&app, req).await;
        assert_eq!(
            (r.status, r.error().0.as_str()),
            (status, code),
            "{}",
            r.text()
        );
    }
    let r = send(&app, post_json("{}", true)).await;
    assert_eq!(
        r.error().1,
        "the JSON body is not as expected: missing field `query` at line 1 column 2"
    );
}
