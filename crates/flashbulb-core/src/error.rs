//! The services' error type: what went wrong, sorted into the stable codes pages and clients
//! see (`ApiError`), 5xx details logged and never sent. Its HTTP answer is the web layer's
//! (`flashbulb_web::WebError`).

use flashbulb_store::StoreError;
use flashbulb_types::ApiError;

pub type CoreResult<T> = Result<T, CoreError>;

/// What went wrong in the services. What a person may be told is an [`ApiError`] with its
/// stable code (`Refused`); database failures keep the store's sorting until they are shown;
/// anything else is internal, logged and never sent.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The request cannot be done, for the reason the code gives (not found, bad request,
    /// gone, unauthorized, conflict, forbidden, too large, unsupported type, rate limited,
    /// storage full).
    #[error(transparent)]
    Refused(ApiError),
    /// Sorted by the store where it happened.
    #[error(transparent)]
    Database(#[from] StoreError),
    /// Object storage did not answer (or failed): a 503 to retry, which says nothing about the
    /// database.
    #[error("the photo storage is not answering: {0}")]
    StorageAway(std::io::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ApiError> for CoreError {
    fn from(error: ApiError) -> Self {
        CoreError::Refused(error)
    }
}

impl CoreError {
    /// A file-system failure: a full disk says so (507), object storage that does not answer
    /// is a 503 to retry ([`crate::files`] reports it as `NotConnected`); anything else is an
    /// internal error (details logged, never sent).
    pub fn from_io(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                tracing::error!(%error, "the data folder is full");
                CoreError::Refused(ApiError::StorageFull)
            }
            std::io::ErrorKind::NotConnected => {
                tracing::error!(%error, "the photo storage is not answering");
                CoreError::StorageAway(error)
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
            CoreError::Refused(api) => api.clone(),
            CoreError::Database(error) => error.to_api(),
            CoreError::StorageAway(_) => ApiError::Unavailable,
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
