//! The pool: one over SQLite (WAL, the embedded default) or PostgreSQL (scale-out), picked by
//! the URL's scheme, each connection configured alike, with each backend's embedded migrations.

use std::{fmt, time::Duration};

use anyhow::Context;
use sqlx::{any::AnyPoolOptions, migrate::Migrator, Any, AnyConnection, ConnectOptions, Executor};

use crate::StoreError;

/// What opening the pool needs, taken from the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a free connection before the database counts as
    /// unavailable.
    pub acquire_timeout: Duration,
    /// Statements slower than this are logged as warnings (and listed on the diagnostics page).
    pub slow_statement: Duration,
}

pub type Pool = sqlx::AnyPool;

pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// SQLite's page cache per connection: negative means KiB, so about 16 MB.
const CACHE_SIZE: &str = "-16000";

/// Which server a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names, from its scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }

    /// The migrations written for this backend.
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// The backend `pool` was opened on.
pub fn backend(pool: &Pool) -> Backend {
    let options = pool.connect_options();
    Backend::of_url(options.database_url.as_str()).unwrap_or(Backend::Sqlite)
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads before it writes cannot wait for the
/// lock once another writer has committed past its snapshot, and fails at once with "database
/// is locked" whatever the busy timeout. Taken first, the lock is waited for like a single
/// statement's, so concurrent writers take turns.
///
/// The SQLite begin runs in a task of its own. sqlx checks a custom `BEGIN` after it ran, at an
/// await point: a caller dropped there (a browser that went away mid-request) would leave the
/// transaction open on a pooled connection with no `Transaction` to end it, holding the write
/// lock for good while later writes on that connection are never committed. A task runs to
/// its end, and a transaction nobody takes is rolled back when it is dropped.
pub async fn begin_write(pool: &Pool) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
    match backend(pool) {
        Backend::Sqlite => {
            let pool = pool.clone();
            tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await })
                .await
                .map_err(|error| sqlx::Error::Io(std::io::Error::other(error)))?
        }
        Backend::Postgres => pool.begin().await,
    }
}

/// Opens the pool; a SQLite file (and its folder) is created on first use.
pub async fn open(store: &StoreOptions) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    let url = store.url.clone();
    let backend = Backend::of_url(&url).with_context(|| {
        format!(
            "database URL {} is neither sqlite: nor postgres:",
            hide_credentials(&url)
        )
    })?;
    let url = match backend {
        Backend::Sqlite => sqlite_url(&url)?,
        Backend::Postgres => url,
    };
    let options = url
        .parse::<sqlx::any::AnyConnectOptions>()
        .with_context(|| format!("parsing database URL {}", hide_credentials(&url)))?
        // Only slow statements are logged (as warnings); the diagnostics page lists them.
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Warn, store.slow_statement);
    let mut pool = AnyPoolOptions::new()
        .max_connections(store.max_connections)
        .acquire_timeout(store.acquire_timeout);
    if backend == Backend::Sqlite {
        // A SQLite connection is a file handle on a thread of its own, with no peer to lose:
        // a ping before every use finds nothing and costs each query a round trip to that
        // thread (two wake-ups), which under a burst of writes is a good part of their cost.
        pool = pool
            .test_before_acquire(false)
            .after_connect(|connection, _| Box::pin(configure_sqlite(connection)));
    }
    pool.connect_with(options)
        .await
        .with_context(|| format!("opening database {}", hide_credentials(&url)))
}

/// Settings of every SQLite connection.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    // WAL makes NORMAL durable across application crashes; only power loss can drop the
    // last transactions, never corrupt the file.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    // No memory map: a connection that begins a read after another connection's commit
    // drops its whole map and faults the pages back in, and each unmap stops every core
    // running the server to flush its TLB. Under a stream of writes (a thousand favourites a
    // second) that was a quarter of the SQLite threads' time; reads come from each
    // connection's page cache and, past it, the OS's, one system call per page.
    "PRAGMA mmap_size = 0",
];

async fn configure_sqlite(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in SQLITE_PRAGMAS {
        connection.execute(*pragma).await?;
    }
    connection
        .execute(format!("PRAGMA cache_size = {CACHE_SIZE}").as_str())
        .await?;
    Ok(())
}

/// A connection of its own, outside the pool, for bulk writes: configured like the pool's,
/// but its statements are never logged as slow. A multi-row insert is slow by design, and
/// its text runs to hundreds of kilobytes.
pub async fn bulk_connection(pool: &Pool) -> anyhow::Result<AnyConnection> {
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .log_slow_statements(log::LevelFilter::Off, Duration::MAX);
    let mut connection = options
        .connect()
        .await
        .context("a connection for bulk writes")?;
    if backend(pool) == Backend::Sqlite {
        configure_sqlite(&mut connection).await?;
    }
    Ok(connection)
}

/// A SQLite URL that creates its file when missing, with the file's folder made first.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating database folder {}", parent.display()))?;
        }
    }
    let mode = if query.split('&').any(|pair| pair.starts_with("mode=")) {
        String::new()
    } else {
        format!("{}mode=rwc", if query.is_empty() { "" } else { "&" })
    };
    Ok(format!("sqlite://{path}?{query}{mode}"))
}

/// Applies pending migrations; returns the newest applied version.
pub async fn migrate(pool: &Pool) -> Result<i64, StoreError> {
    backend(pool).migrator().run(pool).await?;
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    Ok(version.unwrap_or(0))
}

/// `postgres://me:secret@db/x` → `postgres://me:(hidden)@db/x`: a database URL fit for logs
/// and the diagnostics page.
pub fn hide_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    let user = credentials.split(':').next().unwrap_or("");
    format!("{scheme}://{user}:(hidden)@{host}")
}

/// True when a fresh connection (beside the pool) opens and answers a ping within `timeout`:
/// a pool that is only saturated is not taken for a database that is down.
pub async fn answers(pool: &Pool, timeout: Duration) -> bool {
    let options = pool.connect_options();
    let answered = tokio::time::timeout(timeout, async {
        let mut connection = options.connect().await?;
        sqlx::Connection::ping(&mut connection).await?;
        sqlx::Connection::close(connection).await
    })
    .await;
    matches!(answered, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(Backend::of_url("sqlite://a.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://h/db"), None);
        assert_eq!(Backend::of_url("no scheme"), None);
    }

    #[test]
    fn sqlite_urls_create_their_file() {
        let dir = tempfile::tempdir().expect("folder");
        let path = dir.path().join("nested/lib.db");
        let url = sqlite_url(&format!("sqlite://{}", path.display())).expect("url");
        assert_eq!(url, format!("sqlite://{}?mode=rwc", path.display()));
        assert!(path.parent().is_some_and(|parent| parent.is_dir()));
        let kept = sqlite_url(&format!("sqlite://{}?mode=ro", path.display())).expect("url");
        assert!(kept.ends_with("?mode=ro"), "{kept}");
    }

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            hide_credentials("postgres://me:secret@db:5432/x"),
            "postgres://me:(hidden)@db:5432/x"
        );
        assert_eq!(hide_credentials("sqlite://x.db"), "sqlite://x.db");
    }
}
