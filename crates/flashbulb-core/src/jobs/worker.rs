//! Workers: take jobs of the kinds the registry names, run them, record the outcome; stop on
//! shutdown and hand back what they could not finish.

use std::{sync::Arc, time::Duration};

use flashbulb_store::jobs::{self as queue, AfterFailure};
use flashbulb_store::Pool;
use tokio::{sync::watch, task::JoinSet};

use super::{Job, Registry};
use crate::live::LiveEvents;

/// How the workers of one process run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// A job not finished within this time is taken again by another worker.
    pub lease: Duration,
    /// How often an idle worker looks for work when nobody wakes it.
    pub idle_poll: Duration,
    /// On shutdown, how long running jobs may take to finish before they are handed back.
    pub shutdown_grace: Duration,
}

/// The running workers of this process.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Renews the leases of the jobs running here until every worker has ended.
    heartbeat: tokio::task::JoinHandle<()>,
    pool: Pool,
    id: String,
    grace: Duration,
}

impl Workers {
    /// Starts, for every kind of job in `jobs`, as many workers as it runs at once, all
    /// sharing one identity (for leases) per process; `wake` is notified by whoever queues a
    /// job; outcomes are published to `events`.
    pub fn start(
        pool: Pool,
        config: WorkerConfig,
        jobs: &Registry,
        wake: Arc<tokio::sync::Notify>,
        events: LiveEvents,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let id = worker_identity();
        let mut tasks = JoinSet::new();
        for job in jobs.jobs() {
            for _ in 0..job.concurrency() {
                tasks.spawn(run(
                    pool.clone(),
                    job.clone(),
                    config.clone(),
                    id.clone(),
                    stopped.clone(),
                    wake.clone(),
                    events.clone(),
                ));
            }
        }
        tracing::info!(workers = tasks.len(), ?jobs, id, "job workers started");
        let heartbeat = tokio::spawn(keep_leases(pool.clone(), id.clone(), config.lease));
        Self {
            stop,
            tasks,
            heartbeat,
            pool,
            id,
            grace: config.shutdown_grace,
        }
    }

    /// Takes no new job from now on; running ones go on.
    pub fn stop_taking(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops taking jobs, lets running ones finish within the grace period, and returns the
    /// rest to the queue for the next start (or another instance).
    pub async fn shutdown(mut self) {
        self.stop_taking();
        let drained = tokio::time::timeout(self.grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.tasks.abort_all();
        }
        self.heartbeat.abort();
        match queue::release_all(&self.pool, &self.id).await {
            Ok(0) => {}
            Ok(returned) => tracing::info!(returned, "unfinished jobs returned to the queue"),
            Err(error) => tracing::error!(%error, "could not return unfinished jobs"),
        }
    }
}

/// The process's heartbeat: every third of a lease, one statement renews the leases of all
/// the jobs running here, so a job that runs longer than one lease (within its time limit) is
/// never handed to a second worker, and the jobs of a process that died, on any host, are
/// taken again within one lease of its last beat.
async fn keep_leases(pool: Pool, worker: String, lease: Duration) {
    let period = (lease / 3).max(Duration::from_millis(100));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.tick().await;
        if let Err(error) = queue::heartbeat(&pool, &worker, lease).await {
            tracing::warn!(%error, "could not renew the running jobs' leases");
        }
    }
}

/// `host-pid-random`: unique among every process that shares the database, and telling
/// which process of which host holds a lease ([`queue::reclaim_abandoned`]).
fn worker_identity() -> String {
    format!("{}-{:08x}", crate::instance::name(), rand::random::<u32>())
}

async fn run(
    pool: Pool,
    job: Arc<dyn Job>,
    config: WorkerConfig,
    id: String,
    mut stopped: watch::Receiver<bool>,
    wake: Arc<tokio::sync::Notify>,
    events: LiveEvents,
) {
    let mut swept_at: Option<tokio::time::Instant> = None;
    while !*stopped.borrow() {
        // Jobs whose lease ran out on their last attempt are taken by nobody: end them, at
        // most twice a lease period per worker.
        if swept_at.is_none_or(|at| at.elapsed() >= config.lease / 2) {
            swept_at = Some(tokio::time::Instant::now());
            match queue::fail_exhausted(&pool).await {
                Ok(photos) => {
                    for photo in photos {
                        tracing::warn!(photo, "job out of attempts after its leases ran out");
                        events.photo_changed(photo, false).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "could not end exhausted jobs"),
            }
        }
        match queue::lease(&pool, job.kind(), &id, config.lease).await {
            Ok(Some(leased)) => work_on(&pool, job.as_ref(), &id, leased, &events).await,
            Ok(None) => {
                tokio::select! {
                    _ = stopped.changed() => {}
                    () = wake.notified() => {}
                    () = tokio::time::sleep(config.idle_poll) => {}
                }
            }
            Err(error) => {
                // The database is away: wait, then try again; jobs are safe in their rows.
                tracing::warn!(%error, "could not take a job");
                tokio::select! {
                    _ = stopped.changed() => {}
                    () = tokio::time::sleep(config.idle_poll.max(Duration::from_secs(1))) => {}
                }
            }
        }
    }
}

async fn work_on(pool: &Pool, kind: &dyn Job, id: &str, job: queue::Leased, events: &LiveEvents) {
    let Some(photo) = job.photo_id else {
        let reason = format!("a {} job without a photo", kind.kind().as_str());
        let _ = queue::fail(pool, &job, id, &reason, false).await;
        return;
    };
    let outcome = kind.run(photo).await;
    let outcome_ready = outcome.is_ok();
    let recorded = match outcome {
        Ok(()) => queue::complete(pool, job.id, id).await.map(|held| {
            if !held {
                tracing::info!(
                    job = job.id,
                    "finished a job whose lease had passed to another worker"
                );
            }
        }),
        Err(failure) => {
            let reason = failure.reason;
            match queue::fail(pool, &job, id, &reason, failure.retryable).await {
                Ok(AfterFailure::Retry { run_at }) => {
                    tracing::warn!(job = job.id, photo, %reason, run_at, "job failed, will retry");
                    Ok(())
                }
                Ok(AfterFailure::Failed) => {
                    tracing::warn!(job = job.id, photo, %reason, "job failed for good");
                    let marked = queue::mark_photo_failed(pool, photo, &reason).await;
                    if marked.is_ok() {
                        events.photo_changed(photo, false).await;
                    }
                    marked
                }
                Err(error) => Err(error),
            }
        }
    };
    if recorded.is_ok() && outcome_ready {
        events.photo_ready(photo).await;
    }
    if let Err(error) = recorded {
        // The lease runs out and another worker redoes the job: nothing is lost.
        tracing::error!(%error, job = job.id, "could not record a job's outcome");
    }
}
