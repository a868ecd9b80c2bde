//! Fail fast while the database is away: once a request found it unreachable, the others get
//! 503 at once instead of each waiting out the pool's acquire timeout, and a probe lets them
//! through again as soon as the database answers.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sqlx::{ConnectOptions, Connection};

use super::Pool;
use crate::state::AppState;

/// How often the probe tries the database while it is away.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// One probe's connection and ping get this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Open while the database answers; shut from the first 503 until a probe gets through.
/// Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    shut: AtomicBool,
    probing: AtomicBool,
    /// Times the gate shut since start.
    outages: AtomicU64,
    /// Requests answered 503 at once while shut.
    refused: AtomicU64,
}

impl Gate {
    pub fn new(pool: Pool) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                shut: AtomicBool::new(false),
                probing: AtomicBool::new(false),
                outages: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// True while requests that need the database should try it.
    pub fn is_open(&self) -> bool {
        !self.inner.shut.load(Ordering::Acquire)
    }

    pub fn outages(&self) -> u64 {
        self.inner.outages.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// A request found the database unreachable (or the pool exhausted): shut, and probe until
    /// a fresh connection answers. The probe connects beside the pool, so a pool that is only
    /// busy opens the gate again within one probe interval.
    pub fn shut(&self) {
        if !self.inner.shut.swap(true, Ordering::AcqRel) {
            self.inner.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("the database is unavailable: answering 503 until it is back");
        }
        if !self.inner.probing.swap(true, Ordering::AcqRel) {
            tokio::spawn(probe(self.inner.clone()));
        }
    }
}

async fn probe(inner: Arc<Inner>) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let options = inner.pool.connect_options();
        let answered = tokio::time::timeout(PROBE_TIMEOUT, async {
            let mut connection = options.connect().await?;
            connection.ping().await?;
            connection.close().await
        })
        .await;
        if matches!(answered, Ok(Ok(()))) {
            inner.shut.store(false, Ordering::Release);
            inner.probing.store(false, Ordering::Release);
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "the database answers again"
            );
            return;
        }
    }
}

/// Routes that answer without the database: probes, metrics and the site's files.
fn needs_no_database(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/pkg/")
}

/// The layer: refuses at once while the gate is shut; shuts it when a request came back 503.
pub async fn fail_fast(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if needs_no_database(request.uri().path()) {
        return next.run(request).await;
    }
    let gate = &state.database_gate;
    if !gate.is_open() {
        gate.inner.refused.fetch_add(1, Ordering::Relaxed);
        return unavailable(&request);
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        gate.shut();
    }
    response
}

/// 503 with `Retry-After`: a short page for browsers (it reloads itself), JSON for the rest.
fn unavailable(request: &Request) -> Response {
    let wants_page = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_page {
        return crate::error::api_response(&app::ApiError::Unavailable);
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
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
