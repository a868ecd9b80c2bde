//! The server's error type: what went wrong, sorted into the stable codes pages and clients
//! see (`ApiError`), 5xx details logged and never sent. Its HTTP answer is the web layer's
//! (`web::error`).

use flashbulb_store::StoreError;
use flashbulb_types::ApiError;

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// The thing exists but what was asked of it is no longer (or not yet) available.
    #[error("{0}")]
    Gone(String),
    /// Nobody is signed in and the route needs an account.
    #[error("sign in first")]
    Unauthorized,
    /// Clashes with what exists (a user name taken).
    #[error("{0}")]
    Conflict(String),
    /// Understood and refused (another site's request, another owner's topic).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    RateLimited,
    /// The disk (or the database's) has no room: nothing of the request was kept.
    #[error("no space left")]
    StorageFull,
    /// Sorted by the store where it happened.
    #[error(transparent)]
    Database(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CoreError {
    /// A file-system failure: a full disk says so (507); anything else is an internal error
    /// (details logged, never sent).
    pub fn from_io(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                tracing::error!(%error, "the data folder is full");
                CoreError::StorageFull
            }
            _ => CoreError::Internal(error.into()),
        }
    }

    /// True when the database is unreachable or saturated rather than wrong: retry may help.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CoreError::Database(error) if error.is_unavailable())
    }

    /// The same error in the form pages and server functions see.
    pub fn to_api(&self) -> ApiError {
        match self {
            CoreError::NotFound => ApiError::NotFound,
            CoreError::BadRequest(message) => ApiError::BadRequest(message.clone()),
            CoreError::Gone(message) => ApiError::Gone(message.clone()),
            CoreError::Unauthorized => ApiError::Unauthorized,
            CoreError::Conflict(message) => ApiError::Conflict(message.clone()),
            CoreError::Forbidden(message) => ApiError::Forbidden(message.clone()),
            CoreError::TooLarge(message) => ApiError::TooLarge(message.clone()),
            CoreError::UnsupportedMediaType(message) => {
                ApiError::UnsupportedMediaType(message.clone())
            }
            CoreError::RateLimited => ApiError::RateLimited,
            CoreError::StorageFull => ApiError::StorageFull,
            CoreError::Database(error) => error.to_api(),
            CoreError::Internal(_) => {
                tracing::error!(error = ?self, "internal error");
                ApiError::Internal
            }
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        error.to_api()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_client() {
        let error = CoreError::Internal(anyhow::anyhow!("secret path /etc/shadow"));
        let api = error.to_api();
        assert_eq!(api, ApiError::Internal);
        assert!(!api.to_string().contains("shadow"));
    }

    #[test]
    fn a_full_disk_says_so_and_other_file_errors_are_internal() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(CoreError::from_io(full).to_api(), ApiError::StorageFull);
        let other = CoreError::from_io(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(other.to_api(), ApiError::Internal);
    }
}
