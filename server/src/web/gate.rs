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
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::db::Pool;
use crate::web::state::AppState;

/// How often the probe tries the database while it is away.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// One probe's connection and ping get this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A request still running after this makes the gate check the database beside it: when the
/// database has just gone, requests wait out the pool's acquire timeout, and the check shuts
/// the gate for everyone after them long before.
const SLOW_REQUEST: Duration = Duration::from_millis(500);

/// Open while the database answers; shut from the first 503 until a probe gets through.
/// Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    shut: AtomicBool,
    /// Wakes the reads waiting on the database when the gate shuts.
    shutting: tokio::sync::Notify,
    probing: AtomicBool,
    /// A check for a slow request is running (at most one a second).
    checking: AtomicBool,
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
                shutting: tokio::sync::Notify::new(),
                probing: AtomicBool::new(false),
                checking: AtomicBool::new(false),
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
            self.inner.shutting.notify_waiters();
            self.inner.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("the database is unavailable: answering 503 until it is back");
        }
        if !self.inner.probing.swap(true, Ordering::AcqRel) {
            tokio::spawn(probe(self.inner.clone()));
        }
    }

    /// The answer while shut, counted.
    fn refuse(&self, wants_page: bool) -> Response {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        unavailable(wants_page)
    }

    /// Requests are slow: check whether the database answers a new connection; shut if not.
    pub fn suspect(&self) {
        if !self.is_open() || self.inner.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let gate = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            if !flashbulb_store::answers(&gate.inner.pool, PROBE_TIMEOUT).await {
                gate.shut();
            }
            tokio::time::sleep_until((started + Duration::from_secs(1)).into()).await;
            gate.inner.checking.store(false, Ordering::Release);
        });
    }
}

async fn probe(inner: Arc<Inner>) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        if !flashbulb_store::answers(&inner.pool, PROBE_TIMEOUT).await {
            continue;
        }
        inner.shut.store(false, Ordering::Release);
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "the database answers again"
        );
        inner.probing.store(false, Ordering::Release);
        // A request that shut the gate between the two stores saw this probe still running
        // and started none: go on probing for it.
        if inner.shut.load(Ordering::Acquire) && !inner.probing.swap(true, Ordering::AcqRel) {
            continue;
        }
        return;
    }
}

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
        return gate.refuse(wants_page);
    }
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let running = next.run(request);
    tokio::pin!(running);
    let response = tokio::select! {
        response = &mut running => response,
        () = tokio::time::sleep(SLOW_REQUEST) => {
            let shutting = gate.inner.shutting.notified();
            tokio::pin!(shutting);
            shutting.as_mut().enable();
            gate.suspect();
            if !is_read {
                running.await
            } else if !gate.is_open() {
                return gate.refuse(wants_page);
            } else {
                tokio::select! {
                    response = &mut running => response,
                    () = shutting => {
                        return gate.refuse(wants_page);
                    }
                }
            }
        }
    };
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        gate.shut();
    }
    response
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
