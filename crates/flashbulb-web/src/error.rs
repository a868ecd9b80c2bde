//! The HTTP answer of every error: the JSON envelope with the stable code and message, the
//! status that goes with it, and `Retry-After` for the errors that pass with time.

use app::ApiError;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use flashbulb_core::CoreError;
use flashbulb_store::StoreError;

pub type WebResult<T> = Result<T, WebError>;

/// An error on its way to the client: the core's error (or one a handler found itself),
/// answered as the JSON envelope. The core does not know HTTP, so the answer is made here.
#[derive(Debug)]
pub struct WebError(pub CoreError);

impl From<CoreError> for WebError {
    fn from(error: CoreError) -> Self {
        Self(error)
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        Self(error.into())
    }
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        Self(error.into())
    }
}

impl From<anyhow::Error> for WebError {
    fn from(error: anyhow::Error) -> Self {
        Self(error.into())
    }
}

/// Marks a 503 that is not the database's (object storage did not answer): the database gate
/// stays open, so pages that need no file keep answering.
#[derive(Debug, Clone, Copy)]
pub struct NotTheDatabase;

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut response = api_response(&self.0.to_api());
        if matches!(self.0, CoreError::StorageAway(_)) {
            response.extensions_mut().insert(NotTheDatabase);
        }
        response
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
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_database_is_a_503_that_says_when_to_retry() {
        // The store sorts a saturated pool as unavailable (its own tests); this is its answer.
        let response = api_response(&ApiError::Unavailable);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let response = WebError::from(ApiError::NotFound).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_full_disk_is_a_507() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(
            WebError(CoreError::from_io(full)).into_response().status(),
            StatusCode::INSUFFICIENT_STORAGE
        );
    }
}
