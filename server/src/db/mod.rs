//! The database as the server opens and guards it. The pool, migrations, statements and their
//! errors belong to `flashbulb_store`; this module opens the pool with the server's
//! configuration, and its [`gate`] turns requests away while the database is down.

pub use flashbulb_store::*;

use crate::config::Config;

pub mod gate;

/// Opens the pool the configuration names; a SQLite file (and its folder) is created on first
/// use.
pub async fn connect(config: &Config) -> anyhow::Result<Pool> {
    open(&config.store()).await
}
