//! `/metrics` for Prometheus, and the middleware that counts and times every request under
//! the route template it matched. The figures themselves are `flashbulb_core::metrics`'.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use flashbulb_core::metrics::Metrics;

use crate::state::AppState;

/// The label of requests no route matched, so a scan of random URLs makes one series, not
/// thousands.
const UNMATCHED: &str = "unmatched";
/// The label of files the fallback served from the site folder (JS, WASM, CSS, icons).
const STATIC: &str = "static";

/// `GET /metrics`: reads the queue (the one figure that needs the database) and exports.
pub(crate) async fn export(State(state): State<AppState>) -> Response {
    state.metrics.read_queue().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Middleware: counts and times every request under its route template.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string());
    let response = next.run(request).await;
    // Without a route, the fallback answered: a file of the site, or a 404 page.
    let route = matched.unwrap_or_else(|| {
        if response.status().is_client_error() || response.status().is_server_error() {
            UNMATCHED.to_string()
        } else {
            STATIC.to_string()
        }
    });
    metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
