//! HTTP metrics: requests by route template, method and status class; latency; in-flight.

use crate::observability::metrics::{
    route_label, status_class, HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS,
};
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Middleware.
pub async fn layer(req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
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
    metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => class)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route).record(started.elapsed().as_secs_f64());
    response
}
