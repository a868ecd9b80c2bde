//! The database: the SQLite pool (WAL) and its embedded migrations.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    ConnectOptions, SqlitePool,
};

use crate::config::Config;

pub type Pool = SqlitePool;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite's page cache per connection: negative means KiB, so about 16 MB.
pub const CACHE_SIZE: &str = "-16000";

/// Opens the pool, creating the database file (and its folder) on first use.
pub async fn connect(config: &Config) -> anyhow::Result<Pool> {
    let url = config.effective_database_url();
    let options = SqliteConnectOptions::from_str(&url)
        .with_context(|| format!("parsing database URL {url}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL makes NORMAL durable across application crashes; only power loss can
        // drop the last transactions, never corrupt the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Reads go through the OS page cache without a copy per page; a large library's
        // hot index pages then cost no system call.
        .pragma("mmap_size", "268435456")
        .pragma("cache_size", CACHE_SIZE)
        .busy_timeout(Duration::from_secs(5))
        // Only slow statements are logged (as warnings); the diagnostics page lists them.
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(
            log::LevelFilter::Warn,
            Duration::from_millis(config.slow_query_ms),
        );
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating database folder {}", parent.display()))?;
        }
    }
    SqlitePoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(config.database_acquire_timeout_secs))
        .connect_with(options)
        .await
        .with_context(|| format!("opening database {url}"))
}

/// Applies pending migrations; returns the newest applied version.
pub async fn migrate(pool: &Pool) -> anyhow::Result<i64> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    Ok(version.unwrap_or(0))
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}
