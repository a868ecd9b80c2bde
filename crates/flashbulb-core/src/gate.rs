//! Whether the database answers: the gate shuts from the first request that found it
//! unreachable, and a probe beside the pool opens it again as soon as a fresh connection
//! answers. The web layer's middleware (`flashbulb_web::gate`) answers 503 at once while it
//! is shut.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use flashbulb_store::Pool;

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

    /// Counts a request answered 503 at once while shut.
    pub fn count_refusal(&self) {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Resolves when the gate shuts; reads waiting on the database give up then.
    pub fn shutting(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.shutting.notified()
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
