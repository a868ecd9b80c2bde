//! `GET /api/photos/{id}/original`: the owner downloads a photo's original file as stored,
//! tagged with its SHA-256.

use axum::{
    extract::{Path, Request, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use flashbulb_core::{files::Stored, storage, CoreError};
use flashbulb_types::ApiError;

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
    // Streamed, with ranges (and, from the data folder, conditional requests).
    let Some(mut response) =
        crate::stored::answer(&state.settings.files, Stored::Original(&sha), request).await?
    else {
        return Err(CoreError::Refused(ApiError::Gone(
            "the original file of this photo is not stored on this server".into(),
        ))
        .into());
    };
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
