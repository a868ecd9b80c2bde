//! The operations console's statements: the alert rules' history, the queue's failures, and
//! the migrations the database has applied.

use flashbulb_types::ops::JobFailure;

use crate::{Flag, Pool, StoreResult};

/// Stores one move of an alert rule (to pending, firing, resolved …) at `at` (Unix seconds).
pub async fn record_alert_event(
    pool: &Pool,
    rule: &str,
    state: &str,
    value: Option<f64>,
    at: i64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO alert_events (rule, state, value, at) VALUES ($1, $2, $3, $4)")
        .bind(rule)
        .bind(state)
        .bind(value)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

/// One stored move of an alert rule: `(rule, state, value, at)`.
pub type AlertEventRow = (String, String, Option<f64>, i64);

/// The newest `limit` moves of the alert rules, newest first.
pub async fn alert_events(pool: &Pool, limit: i64) -> StoreResult<Vec<AlertEventRow>> {
    Ok(
        sqlx::query_as("SELECT rule, state, value, at FROM alert_events ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?,
    )
}

/// Drops the moves of alert rules before `before` (Unix seconds).
pub async fn prune_alert_events(pool: &Pool, before: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM alert_events WHERE at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct FailedJob {
    photo_id: Option<i64>,
    kind: String,
    last_error: Option<String>,
    finished_at: Option<i64>,
}

/// The `limit` jobs that failed last, newest first.
pub async fn job_failures(pool: &Pool, limit: i64) -> StoreResult<Vec<JobFailure>> {
    let failed: Vec<FailedJob> = sqlx::query_as(
        "SELECT photo_id, kind, last_error, finished_at FROM jobs WHERE state = 'failed'
         ORDER BY finished_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(failed
        .into_iter()
        .map(|job| JobFailure {
            photo: job.photo_id.unwrap_or_default(),
            kind: job.kind,
            error: job.last_error.unwrap_or_default(),
            at: job.finished_at.unwrap_or_default(),
        })
        .collect())
}

/// Every migration the database has a record of, oldest first, and whether it succeeded.
pub async fn applied_migrations(pool: &Pool) -> StoreResult<Vec<(i64, bool)>> {
    // sqlx's Any driver reads no SQLite booleans: the flag comes as an integer.
    let applied: Vec<(i64, Flag)> = sqlx::query_as(
        "SELECT version, CAST(success AS INTEGER) FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await?;
    Ok(applied
        .into_iter()
        .map(|(version, success)| (version, success.0))
        .collect())
}

/// Whether the database answers a statement at all.
pub async fn ping(pool: &Pool) -> StoreResult<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
