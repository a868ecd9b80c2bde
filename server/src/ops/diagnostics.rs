//! The diagnostics page's figures: which build, with which settings (secrets hidden), at which
//! migration, with what pool, and the slowest statements lately.

use flashbulb_types::ops::{Diagnostics, Resources};

use crate::{metrics::ProcessStats, services::Core, ServerResult};

/// Configuration keys whose values may carry credentials or tokens.
const SECRET_KEYS: [&str; 2] = ["database_url", "alert_webhook"];

pub async fn collect(state: &Core) -> ServerResult<Diagnostics> {
    let applied = flashbulb_store::ops::applied_migrations(&state.db).await?;
    let migration_version = applied
        .iter()
        .filter(|(_, success)| *success)
        .map(|(version, _)| *version)
        .max()
        .unwrap_or(0);
    let backend = crate::db::backend(&state.db);
    let known = backend.migrator().iter().count() as u64;
    let pending = known.saturating_sub(applied.iter().filter(|(_, ok)| *ok).count() as u64);
    Ok(Diagnostics {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        config: settings(&state.config),
        migration_version,
        migrations_pending: pending,
        database: match backend {
            crate::db::Backend::Sqlite => "SQLite (WAL)".into(),
            crate::db::Backend::Postgres => "PostgreSQL".into(),
        },
        resources: Resources {
            rss_bytes: ProcessStats::of_self().map_or(0, |stats| stats.rss_bytes),
            cpu_percent: 0.0,
            pool_connections: state.db.size(),
            pool_idle: state.db.num_idle() as u32,
            pool_max: state.config.database_max_connections,
        },
        slow_queries: super::slow_queries::slowest(),
        slow_query_ms: state.config.slow_query_ms,
    })
}

/// Every configuration key with its value as JSON text; a credential inside a URL
/// (`user:password@`) and whole webhook addresses are hidden.
pub fn settings(config: &crate::Config) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(values)) = serde_json::to_value(config) else {
        return Vec::new();
    };
    values
        .into_iter()
        .map(|(key, value)| {
            let shown = match (&value, SECRET_KEYS.contains(&key.as_str())) {
                (serde_json::Value::Null, _) => "(not set)".to_string(),
                (serde_json::Value::String(url), true) if key == "database_url" => {
                    crate::db::hide_credentials(url)
                }
                (_, true) => "(hidden)".to_string(),
                (serde_json::Value::Array(items), false) => format!("{} entries", items.len()),
                _ => value.to_string(),
            };
            (key, shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let config = crate::Config {
            database_url: Some("sqlite://data/flashbulb.db".into()),
            alert_webhook: Some("http://hooks.local/T0K3N".into()),
            ..crate::Config::default()
        };
        let shown = settings(&config);
        let text = format!("{shown:?}");
        assert!(!text.contains("T0K3N"), "{text}");
        assert!(text.contains("sqlite://data/flashbulb.db"));
        assert!(shown.iter().any(|(key, _)| key == "listen"));
    }
}
