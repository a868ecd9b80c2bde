//! The server's error type: stable codes, HTTP statuses, 5xx details logged and never sent.

use app::ApiError;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

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
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ServerError {
    /// A file-system failure: an internal error (details logged, never sent).
    pub fn from_io(error: std::io::Error) -> Self {
        ServerError::Internal(error.into())
    }

    /// True when the database is unreachable or saturated rather than wrong: retry may help.
    /// PostgreSQL's classes 08 (connection) and 57 (operator intervention: a restart) count.
    fn is_unavailable(&self) -> bool {
        match self {
            ServerError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            ) => true,
            ServerError::Database(sqlx::Error::Database(error)) => error
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
            _ => false,
        }
    }

    /// True when PostgreSQL refused text it cannot store: a NUL character (SQLite keeps it).
    fn is_unstorable_text(&self) -> bool {
        match self {
            ServerError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| code == "22021")
            }
            _ => false,
        }
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
            _ if self.is_unstorable_text() => {
                ApiError::BadRequest("text may not contain NUL characters".into())
            }
            _ if self.is_unavailable() => {
                tracing::warn!(error = %self, "database unavailable");
                ApiError::Unavailable
            }
            _ => {
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
        let api = self.to_api();
        let status =
            StatusCode::from_u16(api.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body =
            serde_json::json!({ "error": { "code": api.code(), "message": api.to_string() } });
        let mut response = (status, Json(body)).into_response();
        if api == ApiError::RateLimited {
            // Every limit refills within a minute.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("60"),
            );
        }
        response
    }
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
        let response = ServerError::Database(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = ServerError::NotFound.into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
