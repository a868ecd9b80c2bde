//! The database as the server opens it. The pool, migrations, statements and their errors
//! belong to `flashbulb_store`; this module opens the pool with the server's configuration.
//! Its [`gate`] knows whether the database answers (the web layer turns requests away while it
//! is shut).

pub use flashbulb_store::*;

use crate::config::Config;

pub mod gate;

/// Opens the pool the configuration names; a SQLite file (and its folder) is created on first
/// use.
pub async fn connect(config: &Config) -> anyhow::Result<Pool> {
    open(&config.store()).await
}
