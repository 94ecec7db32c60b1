//! HTTP metrics: requests by route template, method and status class; latency; in-flight.

use crate::observability::metrics::{status_class, HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS};
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Middleware. It runs after routing (a `Router::layer`), so the route template axum
/// matched is known; anything unmatched is one label, `unmatched`, whatever the path.
pub async fn layer(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let in_flight = metrics::gauge!(HTTP_IN_FLIGHT);
    in_flight.increment(1.0);
    let started = Instant::now();
    let response = next.run(req).await;
    in_flight.decrement(1.0);
    let class = status_class(response.status().as_u16());
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => class)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route).record(started.elapsed().as_secs_f64());
    response
}
