//! The durable job queue in the database: leases with a visibility timeout, retries with
//! exponential backoff, priorities, per-kind concurrency, and graceful hand-back on shutdown.
//!
//! On SQLite a lease is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`: writes are
//! serialized, so two workers never take the same job. On PostgreSQL the inner select takes
//! `FOR UPDATE SKIP LOCKED` for the same guarantee without blocking other workers.

use std::time::Duration;

use flashbulb_types::model::PhotoId;

use crate::{Pool, StoreResult};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// EXIF, orientation, thumbnail, preview and thumbhash of a new photo.
    MakeDerivatives,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MakeDerivatives => "make_derivatives",
        }
    }
}

/// Priorities: a photo someone just uploaded is waited for; an import is not; remaking the
/// derivatives of photos that already have some waits for both.
pub const PRIORITY_UPLOAD: i64 = 10;
pub const PRIORITY_IMPORT: i64 = 0;
pub const PRIORITY_REDERIVE: i64 = -10;

/// A job a worker holds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Leased {
    pub id: i64,
    pub photo_id: Option<PhotoId>,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Queues a job inside the caller's transaction, so the row it works on and the job exist
/// together or not at all.
pub async fn enqueue(
    tx: &mut sqlx::AnyConnection,
    kind: JobKind,
    photo: PhotoId,
    priority: i64,
) -> StoreResult<i64> {
    let now = crate::now();
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (kind, photo_id, priority, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(photo)
    .bind(priority)
    .bind(now)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?)
}

/// Queues a job of `kind` for `photo` unless one is already queued or running for it; whether
/// one was queued. For work asked again of photos that exist, outside any transaction.
pub async fn enqueue_unless_queued(
    pool: &Pool,
    kind: JobKind,
    photo: PhotoId,
    priority: i64,
) -> StoreResult<bool> {
    let now = crate::now();
    let queued = sqlx::query(
        "INSERT INTO jobs (kind, photo_id, priority, run_at, created_at)
         SELECT $1, $2, $3, $4, $5
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND photo_id = $2)",
    )
    .bind(kind.as_str())
    .bind(photo)
    .bind(priority)
    .bind(now)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(queued.rows_affected() > 0)
}

/// Takes the next due job of `kind` for `worker`, also one whose previous holder let its
/// lease run out (which counts as an attempt: taking a job always does) while attempts remain;
/// `None` when there is nothing to do. Jobs out of attempts are ended by [`fail_exhausted`].
pub async fn lease(
    pool: &Pool,
    kind: JobKind,
    worker: &str,
    lease: Duration,
) -> StoreResult<Option<Leased>> {
    let now = crate::now();
    let skip_locked = match crate::backend(pool) {
        crate::Backend::Sqlite => "",
        crate::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    Ok(sqlx::query_as(&format!(
        "UPDATE jobs
         SET state = 'running', leased_by = $1, lease_until = $2, attempts = attempts + 1
         WHERE id = (
             SELECT id FROM jobs
             WHERE kind = $3 AND state IN ('queued', 'running')
               AND ((state = 'queued' AND run_at <= $4)
                    OR (state = 'running' AND lease_until < $5 AND attempts < max_attempts))
             ORDER BY priority DESC, run_at, id
             LIMIT 1
             {skip_locked}
         )
         RETURNING id, photo_id, attempts, max_attempts"
    ))
    .bind(worker)
    .bind(now + lease.as_secs() as i64)
    .bind(kind.as_str())
    .bind(now)
    .bind(now)
    .fetch_optional(pool)
    .await?)
}

/// The heartbeat of a process's workers: extends the lease of every job `worker` is still
/// running, in one statement, so that long but healthy jobs are never handed to a second
/// worker while a dead process's leases run out within one lease. Returns the jobs renewed.
pub async fn heartbeat(pool: &Pool, worker: &str, lease: Duration) -> StoreResult<u64> {
    let renewed =
        sqlx::query("UPDATE jobs SET lease_until = $1 WHERE leased_by = $2 AND state = 'running'")
            .bind(crate::now() + lease.as_secs() as i64)
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(renewed)
}

/// Ends the jobs whose lease ran out on their last allowed attempt (their worker hung, was
/// killed, or lost its host each time): `failed` with the reason, their photos marked failed,
/// so the queue moves on. Returns the photos it failed.
pub async fn fail_exhausted(pool: &Pool) -> StoreResult<Vec<PhotoId>> {
    let exhausted: Vec<(i64, Option<PhotoId>, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, photo_id, attempts, leased_by FROM jobs
         WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts",
    )
    .bind(crate::now())
    .fetch_all(pool)
    .await?;
    let mut failed = Vec::new();
    for (job, photo, attempts, holder) in exhausted {
        let reason = format!(
            "it was not finished within its lease in any of its {attempts} attempts \
             (its worker stopped or hung)"
        );
        let ended = sqlx::query(
            "UPDATE jobs SET state = 'failed', finished_at = $1, last_error = $2,
                             leased_by = NULL, lease_until = NULL
             WHERE id = $3 AND leased_by = $4 AND state = 'running' AND lease_until < $5",
        )
        .bind(crate::now())
        .bind(&reason)
        .bind(job)
        .bind(&holder)
        .bind(crate::now())
        .execute(pool)
        .await?
        .rows_affected();
        if let (1, Some(photo)) = (ended, photo) {
            mark_photo_failed(pool, photo, &reason).await?;
            failed.push(photo);
        }
    }
    Ok(failed)
}

/// Finishes a job, if `worker` still holds it: the row goes (only failures are kept, with
/// their error). `false` means the lease was lost and another worker may be redoing the job,
/// which is harmless: the work is idempotent.
pub async fn complete(pool: &Pool, job: i64, worker: &str) -> StoreResult<bool> {
    let deleted =
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND leased_by = $2 AND state = 'running'")
            .bind(job)
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(deleted == 1)
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Queued again, not before `run_at`.
    Retry { run_at: i64 },
    /// Out of attempts (or not worth retrying): `failed`, with the error kept.
    Failed,
}

/// Records a failed attempt: a retry after exponential backoff while attempts remain and the
/// error may pass, else `failed` for good.
pub async fn fail(
    pool: &Pool,
    job: &Leased,
    worker: &str,
    error: &str,
    retryable: bool,
) -> StoreResult<AfterFailure> {
    let now = crate::now();
    let outcome = if retryable && job.attempts < job.max_attempts {
        AfterFailure::Retry {
            run_at: now + backoff(job.attempts).as_secs() as i64,
        }
    } else {
        AfterFailure::Failed
    };
    let (state, run_at, finished_at) = match outcome {
        AfterFailure::Retry { run_at } => ("queued", run_at, None),
        AfterFailure::Failed => ("failed", now, Some(now)),
    };
    sqlx::query(
        "UPDATE jobs SET state = $1, run_at = $2, finished_at = $3, last_error = $4,
                         leased_by = NULL, lease_until = NULL
         WHERE id = $5 AND leased_by = $6",
    )
    .bind(state)
    .bind(run_at)
    .bind(finished_at)
    .bind(truncate(error, 2000))
    .bind(job.id)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(outcome)
}

/// Hands every job `worker` holds back to the queue, as if never taken: for shutdown.
pub async fn release_all(pool: &Pool, worker: &str) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE jobs SET state = 'queued', leased_by = NULL, lease_until = NULL,
                         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
         WHERE leased_by = $1 AND state = 'running'",
    )
    .bind(worker)
    .execute(pool)
    .await?
    .rows_affected())
}

/// What [`reclaim_abandoned`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reclaimed {
    /// Back in the queue, to run at once.
    pub requeued: u64,
    /// Their process stopped during every allowed attempt (a photo that kills its worker,
    /// say): failed for good, their photos marked failed.
    pub failed: u64,
}

/// Takes back the jobs that processes of this host held when they stopped without handing
/// them back (killed, crashed, power lost), instead of waiting for their leases to run out.
/// The attempt they were on counts, so a job that kills its worker every time ends `failed`.
/// `is_gone` tells a holder's name of a process that stopped. Call at start, before this
/// process's workers take anything.
pub async fn reclaim_abandoned(
    pool: &Pool,
    is_gone: impl Fn(&str) -> bool,
) -> StoreResult<Reclaimed> {
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT leased_by FROM jobs WHERE state = 'running' AND leased_by IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let mut reclaimed = Reclaimed::default();
    for holder in holders.iter().filter(|holder| is_gone(holder)) {
        let held: Vec<Leased> = sqlx::query_as(
            "SELECT id, photo_id, attempts, max_attempts FROM jobs
             WHERE leased_by = $1 AND state = 'running'",
        )
        .bind(holder)
        .fetch_all(pool)
        .await?;
        for job in held {
            if job.attempts < job.max_attempts {
                sqlx::query(
                    "UPDATE jobs SET state = 'queued', run_at = $1, leased_by = NULL,
                                     lease_until = NULL
                     WHERE id = $2 AND leased_by = $3 AND state = 'running'",
                )
                .bind(crate::now())
                .bind(job.id)
                .bind(holder)
                .execute(pool)
                .await?;
                reclaimed.requeued += 1;
            } else {
                let reason = format!(
                    "the worker stopped during each of its {} attempts",
                    job.attempts
                );
                fail(pool, &job, holder, &reason, false).await?;
                if let Some(photo) = job.photo_id {
                    mark_photo_failed(pool, photo, &reason).await?;
                }
                reclaimed.failed += 1;
            }
        }
    }
    Ok(reclaimed)
}

/// Marks a job's photo failed for good, keeping the reason for its owner to read. (The
/// queue writes this outcome on the photo; the photos' statements never touch the queue's
/// rows but to queue a new photo's job, so the two modules depend one way.)
pub async fn mark_photo_failed(pool: &Pool, photo: PhotoId, reason: &str) -> StoreResult<()> {
    sqlx::query("UPDATE photos SET status = 'failed', failure = $1 WHERE id = $2")
        .bind(reason)
        .bind(photo)
        .execute(pool)
        .await?;
    Ok(())
}

/// 2, 4, 8 … seconds after attempts 1, 2, 3 …, at most ten minutes.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32;
    Duration::from_secs(2u64.pow(exponent).min(600))
}

fn truncate(text: &str, limit: usize) -> &str {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// How long the oldest due job has been waiting to be taken, if any is.
pub async fn oldest_waiting_age(pool: &Pool) -> StoreResult<Option<Duration>> {
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT min(run_at) FROM jobs WHERE state = 'queued'")
            .fetch_one(pool)
            .await?;
    let now = crate::now();
    Ok(oldest
        .filter(|run_at| *run_at <= now)
        .map(|run_at| Duration::from_secs((now - run_at) as u64)))
}

/// Jobs waiting or running, and failed ones: the queue's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
}

pub async fn depth(pool: &Pool) -> StoreResult<QueueDepth> {
    let (queued, running, failed): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(CASE WHEN state = 'queued' THEN 1 END),
                count(CASE WHEN state = 'running' THEN 1 END),
                count(CASE WHEN state = 'failed' THEN 1 END)
         FROM jobs",
    )
    .fetch_one(pool)
    .await?;
    Ok(QueueDepth {
        queued,
        running,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(30), Duration::from_secs(600));
        assert_eq!(backoff(0), Duration::from_secs(2));
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("short", 100), "short");
    }
}
