//! Health: `/healthz` (the process answers) and `/readyz` (it can do its work: the database
//! answers, the data folder has room, the job queue is not stuck, Redis answers when
//! configured).

use std::time::{Duration, Instant};

use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use flashbulb_store::jobs;
use serde::Serialize;

use crate::state::AppState;

/// Below this much free space in the data folder, uploads would fail: not ready.
pub const MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;
/// A job waiting longer than this means the workers are stuck or swamped: degraded.
pub const STALE_QUEUE: Duration = Duration::from_secs(15 * 60);
/// The database gets this long to answer before it counts as down.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is alive and serving HTTP.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Everything works.
    Ready,
    /// Serving, but something needs attention (a stuck queue).
    Degraded,
    /// Cannot serve its purpose (no database, no disk space): take it out of rotation.
    Unready,
}

#[derive(Debug, Serialize)]
struct Check {
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Report {
    status: Readiness,
    database: Check,
    disk: Check,
    queue: Check,
    /// Only when Redis is configured. Without it the instance serves from its own cache and
    /// hub: degraded, not unready.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<Check>,
    /// Only when the files are in object storage. Without it uploads are refused and new
    /// photos wait, but pages and cached media are served: degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<Check>,
}

/// `GET /readyz`: 200 when ready or degraded, 503 when not ready; the body says why.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let started = Instant::now();
    let ping = tokio::time::timeout(DATABASE_TIMEOUT, flashbulb_store::ops::ping(&state.db)).await;
    let database = match ping {
        Ok(Ok(_)) => Check {
            ok: true,
            detail: format!("answered in {} ms", started.elapsed().as_millis()),
        },
        Ok(Err(error)) => Check {
            ok: false,
            detail: format!("unreachable: {error}"),
        },
        Err(_) => Check {
            ok: false,
            detail: format!("no answer within {} s", DATABASE_TIMEOUT.as_secs()),
        },
    };
    let disk = match free_bytes(&state.settings.data_dir) {
        Ok(free) => Check {
            ok: free >= MIN_FREE_BYTES,
            detail: format!("{} MB free in the data folder", free / 1_000_000),
        },
        Err(error) => Check {
            ok: false,
            detail: format!("cannot read the data folder: {error}"),
        },
    };
    let queue = if database.ok {
        match jobs::oldest_waiting_age(&state.db).await {
            Ok(Some(age)) if age > STALE_QUEUE => Check {
                ok: false,
                detail: format!("the oldest job has waited {} min", age.as_secs() / 60),
            },
            Ok(age) => Check {
                ok: true,
                detail: age.map_or("empty".into(), |age| {
                    format!("oldest job waiting {} s", age.as_secs())
                }),
            },
            Err(error) => Check {
                ok: false,
                detail: format!("unreadable: {error}"),
            },
        }
    } else {
        Check {
            ok: false,
            detail: "unknown without the database".into(),
        }
    };
    let redis = state
        .redis
        .as_ref()
        .map(|redis| match (redis.is_up(), redis.is_subscribed()) {
            (true, true) => Check {
                ok: true,
                detail: "answering, subscribed".into(),
            },
            (up, subscribed) => Check {
                ok: false,
                detail: format!(
                    "{}; serving from this instance's cache and hub, reconnecting",
                    match (up, subscribed) {
                        (false, false) => "unreachable",
                        (true, _) => "not subscribed",
                        (false, true) => "not answering commands",
                    }
                ),
            },
        });
    let storage_started = Instant::now();
    let storage = tokio::time::timeout(DATABASE_TIMEOUT, state.settings.files.probe())
        .await
        .unwrap_or_else(|_| Some(Err(std::io::Error::other("no answer in time"))))
        .map(|probed| match probed {
            Ok(()) => Check {
                ok: true,
                detail: format!(
                    "{} answered in {} ms",
                    state.settings.files.describe(),
                    storage_started.elapsed().as_millis()
                ),
            },
            Err(error) => Check {
                ok: false,
                detail: format!("{error}; uploads are refused until it answers"),
            },
        });
    let status = if !database.ok || !disk.ok {
        Readiness::Unready
    } else if !queue.ok
        || redis.as_ref().is_some_and(|check| !check.ok)
        || storage.as_ref().is_some_and(|check| !check.ok)
    {
        Readiness::Degraded
    } else {
        Readiness::Ready
    };
    let code = if status == Readiness::Unready {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(Report {
            status,
            database,
            disk,
            queue,
            redis,
            storage,
        }),
    )
}

/// Bytes available to this process in the file system holding `folder`.
fn free_bytes(folder: &std::path::Path) -> std::io::Result<u64> {
    let stats = rustix::fs::statvfs(folder)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}
