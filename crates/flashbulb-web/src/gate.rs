//! Fail fast while the database is away: once a request found it unreachable, the others get
//! 503 at once instead of each waiting out the pool's acquire timeout, until the gate
//! (`flashbulb_core::gate`) sees the database answer again.

use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flashbulb_core::gate::Gate;

use crate::state::AppState;

/// A request still running after this makes the gate check the database beside it: when the
/// database has just gone, requests wait out the pool's acquire timeout, and the check shuts
/// the gate for everyone after them long before.
const SLOW_REQUEST: Duration = Duration::from_millis(500);

/// Routes that answer without the database: probes, metrics and the site's files.
fn needs_no_database(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/pkg/")
}

/// The layer: refuses at once while the gate is shut; shuts it when a request came back 503.
/// A read still waiting on the database when the gate shuts is answered 503 then, instead
/// of after the pool's acquire timeout: reads are safe to drop and the page retries them.
pub async fn fail_fast(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if needs_no_database(request.uri().path()) {
        return next.run(request).await;
    }
    let gate = &state.database_gate;
    let wants_page = wants_page(&request);
    if !gate.is_open() {
        return refuse(gate, wants_page);
    }
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let running = next.run(request);
    tokio::pin!(running);
    let response = tokio::select! {
        response = &mut running => response,
        () = tokio::time::sleep(SLOW_REQUEST) => {
            let shutting = gate.shutting();
            tokio::pin!(shutting);
            shutting.as_mut().enable();
            gate.suspect();
            if !is_read {
                running.await
            } else if !gate.is_open() {
                return refuse(gate, wants_page);
            } else {
                tokio::select! {
                    response = &mut running => response,
                    () = shutting => {
                        return refuse(gate, wants_page);
                    }
                }
            }
        }
    };
    let database_away = response.status() == StatusCode::SERVICE_UNAVAILABLE
        && response
            .extensions()
            .get::<crate::error::NotTheDatabase>()
            .is_none();
    if database_away {
        gate.shut();
    }
    response
}

/// The answer while shut, counted.
fn refuse(gate: &Gate, wants_page: bool) -> Response {
    gate.count_refusal();
    unavailable(wants_page)
}

fn wants_page(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// 503 with `Retry-After`: a short page for browsers (it reloads itself), JSON for the rest.
fn unavailable(wants_page: bool) -> Response {
    if !wants_page {
        return super::error::api_response(&app::ApiError::Unavailable);
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::RETRY_AFTER, HeaderValue::from_static("2")),
        ],
        UNAVAILABLE_PAGE,
    )
        .into_response()
}

const UNAVAILABLE_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"3\"><title>Flashbulb is reconnecting</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
<h1>Flashbulb cannot reach its database</h1><p>Your photos are safe. This page tries again \
every few seconds and shows your library as soon as the database answers.</p></body></html>";
