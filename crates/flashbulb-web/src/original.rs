//! `GET /api/photos/{id}/original`: the owner downloads a photo's original file as stored,
//! tagged with its SHA-256.

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use flashbulb_core::{storage, CoreError};
use flashbulb_types::ApiError;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::conditional;
use crate::WebResult;
use crate::{access::SignedIn, state::AppState};

/// The owner's browser may keep a downloaded original for an hour.
const PRIVATE_HOUR: HeaderValue = HeaderValue::from_static("private, max-age=3600");

pub(crate) async fn download_original(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
    request: Request,
) -> WebResult<Response> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let owner = viewer.id;
    let row = flashbulb_store::photos::original_of(&state.db, owner, id).await?;
    let (file_name, mime_type, sha) = row.ok_or(ApiError::NotFound)?;
    // The file is named by its content: its SHA-256 is a strong tag.
    let etag = conditional::tag(&storage::hex(&sha), false);
    if let Some(unchanged) = conditional::not_modified(request.headers(), &etag, PRIVATE_HOUR) {
        return Ok(unchanged);
    }
    let path = storage::original_path(&state.settings.data_dir, &sha);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(CoreError::Refused(ApiError::Gone(
            "the original file of this photo is not stored on this server".into(),
        ))
        .into());
    }
    // ServeFile streams the file and answers range and conditional requests.
    let mut response = ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|error| CoreError::Internal(error.into()))?
        .map(Body::new);
    let served = response.status().is_success();
    let headers = response.headers_mut();
    if let Some(mime) = mime_type.and_then(|mime| HeaderValue::from_str(&mime).ok()) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    if let Ok(disposition) = HeaderValue::from_str(&crate::attachment(&file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    if served {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, PRIVATE_HOUR);
    Ok(response.into_response())
}
