//! The diagnostics page's figures: which build, with which settings (secrets hidden), at which
//! migration, with what pool, and the slowest statements lately.

use flashbulb_types::ops::{Diagnostics, Resources};

use super::Ops;
use crate::{metrics::ProcessStats, CoreResult};

pub async fn collect(state: &Ops) -> CoreResult<Diagnostics> {
    let applied = flashbulb_store::ops::applied_migrations(&state.db).await?;
    let migration_version = applied
        .iter()
        .filter(|(_, success)| *success)
        .map(|(version, _)| *version)
        .max()
        .unwrap_or(0);
    let backend = flashbulb_store::backend(&state.db);
    let known = backend.migrator().iter().count() as u64;
    let pending = known.saturating_sub(applied.iter().filter(|(_, ok)| *ok).count() as u64);
    Ok(Diagnostics {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        config: state.settings.shown.clone(),
        migration_version,
        migrations_pending: pending,
        database: match backend {
            flashbulb_store::Backend::Sqlite => "SQLite (WAL)".into(),
            flashbulb_store::Backend::Postgres => "PostgreSQL".into(),
        },
        resources: Resources {
            rss_bytes: ProcessStats::of_self().map_or(0, |stats| stats.rss_bytes),
            cpu_percent: 0.0,
            pool_connections: state.db.size(),
            pool_idle: state.db.num_idle() as u32,
            pool_max: state.settings.database_max_connections,
        },
        slow_queries: super::slow_queries::slowest(),
        slow_query_ms: state.settings.slow_query_ms,
    })
}
