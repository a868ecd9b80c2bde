//! Flashbulb's storage of records: the pool over SQLite or PostgreSQL, the migrations, the
//! statements, and [`StoreError`], which sorts database failures once where they are born.
//!
//! Queries go through sqlx's `Any` driver, so one text serves both backends: placeholders are
//! written `$1, $2, …` (SQLite reads them by number too; statements built from pieces use
//! [`Statement`]), integers are 64-bit on both sides, and the few statements whose dialects
//! differ ask [`backend`] which one to send. This crate names sqlx and nothing of the web:
//! no axum, no Leptos.

pub mod albums;
pub mod bulk;
pub mod cells;
mod error;
pub mod export;
pub mod jobs;
pub mod ops;
pub mod photos;
mod pool;
pub mod search;
pub mod secrets;
pub mod sessions;
mod statement;
pub mod timeline;
pub mod users;
pub mod vitals;

pub use error::StoreError;

pub type StoreResult<T> = Result<T, StoreError>;
pub use pool::{
    answers, backend, begin_write, bulk_connection, hide_credentials, migrate, open, Backend, Pool,
    StoreOptions, POSTGRES_MIGRATOR, SQLITE_MIGRATOR,
};
pub use statement::{Flag, Statement};

/// `Ok` when a write changed a row, else [`StoreError::NotFound`]: what it was to change is
/// not there, or not the caller's.
fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}
