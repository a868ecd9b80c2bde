//! The store's one error: database failures sorted once, where they are born, into the kinds
//! the layers above answer differently.

use flashbulb_types::ApiError;

/// A database failure, by what it means for the caller. The HTTP layer turns each kind into
/// its status; nothing above the store looks at driver error codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is unreachable or saturated rather than wrong (the pool timed out or is
    /// closed, the connection broke, PostgreSQL's classes 08 and 57): retrying later can
    /// succeed.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database has no room to write: SQLite's `SQLITE_FULL` (13), PostgreSQL's
    /// `disk_full` (53100), or a full disk under either.
    #[error("the database has no room: {0}")]
    StorageFull(#[source] sqlx::Error),
    /// Text the database cannot store: PostgreSQL refuses NUL characters (22021), which
    /// SQLite keeps.
    #[error("text the database cannot store: {0}")]
    UnstorableText(#[source] sqlx::Error),
    /// A row with the same unique key exists (two uploads of the same bytes at once).
    #[error("conflicts with a stored row: {0}")]
    Conflict(#[source] sqlx::Error),
    /// A statement that must return a row returned none.
    #[error("no such row")]
    NotFound,
    #[error("migrations: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Anything else: a bug or a schema out of step, logged and never shown.
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => StoreError::Unavailable(error),
            sqlx::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                    StoreError::StorageFull(error)
                }
                _ => StoreError::Unavailable(error),
            },
            sqlx::Error::Database(database) => {
                let code = database.code().unwrap_or_default();
                if code == "13" || code == "53100" {
                    StoreError::StorageFull(error)
                } else if code == "22021" {
                    StoreError::UnstorableText(error)
                } else if code.starts_with("08") || code.starts_with("57") {
                    StoreError::Unavailable(error)
                } else if database.is_unique_violation() {
                    StoreError::Conflict(error)
                } else {
                    StoreError::Other(error)
                }
            }
            _ => StoreError::Other(error),
        }
    }
}

impl StoreError {
    /// True when retrying later can succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// The same kind of failure, for each of several callers that waited on one shared lookup
    /// (which saw `shared`): an unreachable database stays unavailable for each of them.
    pub fn again(shared: &StoreError) -> StoreError {
        match shared {
            StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
            StoreError::NotFound => StoreError::NotFound,
            other => StoreError::Other(sqlx::Error::Protocol(other.to_string())),
        }
    }

    /// The error as pages, server functions and the HTTP API see it: the kinds a person can
    /// act on say so, everything else is logged here and shown as an internal error.
    pub fn to_api(&self) -> ApiError {
        match self {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::StorageFull(_) => {
                tracing::error!(error = %self, "no space left for a write");
                ApiError::StorageFull
            }
            StoreError::UnstorableText(_) => {
                ApiError::BadRequest("text may not contain NUL characters".into())
            }
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %self, "database unavailable");
                ApiError::Unavailable
            }
            StoreError::Conflict(_) => ApiError::Conflict("it exists already".into()),
            StoreError::Migration(_) | StoreError::Other(_) => {
                tracing::error!(error = ?self, "internal error");
                ApiError::Internal
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        error.to_api()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_sorted_by_what_they_mean() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(matches!(
            StoreError::from(sqlx::Error::Io(full)),
            StoreError::StorageFull(_)
        ));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(StoreError::from(sqlx::Error::Io(reset)).is_unavailable());
        assert!(matches!(
            StoreError::from(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Other(_)
        ));
    }
}
