//! The server's error type: stable codes, HTTP statuses, 5xx details logged and never sent.

use app::ApiError;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use flashbulb_store::StoreError;

pub type ServerResult<T> = Result<T, ServerError>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
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

impl ServerError {
    /// A file-system failure: a full disk says so (507); anything else is an internal error
    /// (details logged, never sent).
    pub fn from_io(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                tracing::error!(%error, "the data folder is full");
                ServerError::StorageFull
            }
            _ => ServerError::Internal(error.into()),
        }
    }

    /// True when the database is unreachable or saturated rather than wrong: retry may help.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ServerError::Database(error) if error.is_unavailable())
    }

    /// The same error in the form pages and server functions see.
    pub fn to_api(&self) -> ApiError {
        match self {
            ServerError::NotFound => ApiError::NotFound,
            ServerError::BadRequest(message) => ApiError::BadRequest(message.clone()),
            ServerError::Gone(message) => ApiError::Gone(message.clone()),
            ServerError::Unauthorized => ApiError::Unauthorized,
            ServerError::Conflict(message) => ApiError::Conflict(message.clone()),
            ServerError::Forbidden(message) => ApiError::Forbidden(message.clone()),
            ServerError::TooLarge(message) => ApiError::TooLarge(message.clone()),
            ServerError::UnsupportedMediaType(message) => {
                ApiError::UnsupportedMediaType(message.clone())
            }
            ServerError::RateLimited => ApiError::RateLimited,
            ServerError::StorageFull => ApiError::StorageFull,
            ServerError::Database(error) => error.to_api(),
            ServerError::Internal(_) => {
                tracing::error!(error = ?self, "internal error");
                ApiError::Internal
            }
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(error: ServerError) -> Self {
        error.to_api()
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        api_response(&self.to_api())
    }
}

/// The JSON envelope with the error's status; the errors that pass with time say when to
/// try again.
pub fn api_response(api: &ApiError) -> Response {
    let status = StatusCode::from_u16(api.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "error": { "code": api.code(), "message": api.to_string() } });
    let mut response = (status, Json(body)).into_response();
    let retry_after = match api {
        // Every limit refills within a minute.
        ApiError::RateLimited => Some("60"),
        // The gate probes the database four times a second.
        ApiError::Unavailable => Some("2"),
        _ => None,
    };
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static(seconds),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_client() {
        let error = ServerError::Internal(anyhow::anyhow!("secret path /etc/shadow"));
        let api = error.to_api();
        assert_eq!(api, ApiError::Internal);
        assert!(!api.to_string().contains("shadow"));
    }

    #[test]
    fn a_saturated_pool_is_a_503() {
        let timed_out = StoreError::from(sqlx::Error::PoolTimedOut);
        let response = ServerError::Database(StoreError::again(&timed_out)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = ServerError::NotFound.into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_full_disk_is_a_507_and_says_so() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let error = ServerError::from_io(full);
        assert_eq!(error.to_api(), ApiError::StorageFull);
        assert_eq!(
            error.into_response().status(),
            StatusCode::INSUFFICIENT_STORAGE
        );
        let other = ServerError::from_io(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(other.to_api(), ApiError::Internal);
    }
}
