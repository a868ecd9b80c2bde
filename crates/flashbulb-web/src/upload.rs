//! `POST /api/upload`: photos as multipart form data, each streamed to disk while it is
//! hashed, never held whole in memory; then sniffed, checked and added (or refused with a
//! reason, leaving nothing behind).

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    extract::{multipart::Field, FromRequest, Multipart, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use flashbulb_core::photos::ingest::{Candidate, Outcome, Refusal};
use flashbulb_core::{storage::ScratchFile, CoreError};
use flashbulb_types::ApiError;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::conditional::{self, REVALIDATE};
use crate::WebError;
use crate::{access::SignedIn, state::AppState};

/// Files one request may carry; more are refused (send them in several requests).
pub const MAX_FILES_PER_REQUEST: usize = 100;

/// Photos asked about per status request.
const MAX_STATUS_IDS: usize = 200;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct StatusQuery {
    ids: String,
}

/// `GET /api/photos/status?ids=1,2,3`: where each of the owner's new photos stands
/// (`pending`, `ready`, `failed` with its reason); others' photos are simply not listed.
pub(crate) async fn statuses(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    request_headers: HeaderMap,
    query: Result<Query<StatusQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, WebError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let ids: Vec<i64> = query
        .ids
        .split(',')
        .map(|id| id.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            CoreError::Refused(ApiError::BadRequest(
                "ids is a comma-separated list of photo ids".into(),
            ))
        })?;
    if ids.is_empty() || ids.len() > MAX_STATUS_IDS {
        return Err(CoreError::Refused(ApiError::BadRequest(format!(
            "ask about 1 to {MAX_STATUS_IDS} photos at a time"
        )))
        .into());
    }
    let statuses = flashbulb_store::photos::processing(&state.db, viewer.id, &ids).await?;
    // A page polls until its uploads are done: while nothing changed, 304 says so.
    let body = serde_json::to_vec(&statuses)
        .map_err(|error| CoreError::Internal(anyhow::anyhow!("statuses as JSON: {error}")))?;
    let etag = conditional::content_tag(&body);
    if let Some(unchanged) = conditional::not_modified(&request_headers, &etag, REVALIDATE) {
        return Ok(unchanged);
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        body,
    )
        .into_response())
}

/// The answer for one file.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileResult {
    Added {
        name: String,
        photo_id: i64,
    },
    Duplicate {
        name: String,
        photo_id: i64,
    },
    Rejected {
        name: String,
        code: u16,
        reason: String,
    },
}

impl FileResult {
    fn code(&self) -> u16 {
        match self {
            FileResult::Added { .. } => 201,
            FileResult::Duplicate { .. } => 200,
            FileResult::Rejected { code, .. } => *code,
        }
    }
}

#[derive(Debug, Serialize)]
struct UploadResponse {
    files: Vec<FileResult>,
}

/// Every file part in order. A request of one file answers with that file's status (201,
/// 200 for a duplicate, 413, 415, 422); a request of several answers 200 when any was added
/// and the per-file results say the rest.
pub(crate) async fn upload(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    request: Request,
) -> Response {
    if let Err(error) = state.access.check_upload_rate(viewer.id) {
        return WebError(error).into_response();
    }
    // A plain form (no JavaScript) wants to land on a page again, not on JSON.
    let from_form = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let (parts, body) = request.into_parts();
    let body = Body::from_stream(OneChunkAtATime::new(body.into_data_stream()));
    let multipart = Multipart::from_request(Request::from_parts(parts, body), &state).await;
    match receive(&state, viewer.id, multipart).await {
        Ok(_) if from_form => Redirect::to("/").into_response(),
        Ok(files) => {
            let status = match files.as_slice() {
                [only] => only.code(),
                many if many.iter().any(|file| {
                    matches!(
                        file,
                        FileResult::Added { .. } | FileResult::Duplicate { .. }
                    )
                }) =>
                {
                    200
                }
                many => many.first().map_or(400, FileResult::code),
            };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, Json(UploadResponse { files })).into_response()
        }
        Err(error) => WebError(error).into_response(),
    }
}

/// Hands the multipart parser one chunk of the body per poll. The parser reads its input for as
/// long as more is ready, so a client faster than the disk would otherwise have the whole
/// upload (gigabytes) pulled into memory ahead of the file; pausing after each chunk keeps
/// it one chunk ahead.
struct OneChunkAtATime<S> {
    inner: S,
    paused: bool,
}

impl<S> OneChunkAtATime<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            paused: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for OneChunkAtATime<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.paused {
            // Ready again at once: this only ends the parser's read-ahead loop.
            self.paused = false;
            context.waker().wake_by_ref();
            return Poll::Pending;
        }
        let item = std::task::ready!(self.inner.poll_next_unpin(context));
        self.paused = item.is_some();
        Poll::Ready(item)
    }
}

async fn receive(
    state: &AppState,
    owner: i64,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Vec<FileResult>, CoreError> {
    let mut multipart =
        multipart.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let mut results = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                return Err(ApiError::BadRequest(format!(
                    "the upload is not valid multipart form data: {error}"
                ))
                .into())
            }
        };
        let Some(name) = field.file_name().map(str::to_string) else {
            continue; // a plain form field: nothing to store
        };
        if results.len() >= MAX_FILES_PER_REQUEST {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_FILES_PER_REQUEST} files per upload"
            ))
            .into());
        }
        results.push(receive_file(state, owner, name, field).await?);
    }
    if results.is_empty() {
        return Err(ApiError::BadRequest(
            "the upload holds no file (send them as multipart form data with file names)".into(),
        )
        .into());
    }
    Ok(results)
}

/// Streams one file to a temporary file, hashing as it goes; refuses it as soon as it passes
/// the size limit.
async fn receive_file(
    state: &AppState,
    owner: i64,
    name: String,
    mut field: Field<'_>,
) -> Result<FileResult, CoreError> {
    // Removed on every way out but one: moved into the originals by `ingest::add`.
    let temporary = ScratchFile::new(&state.settings.data_dir, "upload")
        .await
        .map_err(CoreError::from_io)?;
    let mut file = tokio::fs::File::create(temporary.path())
        .await
        .map_err(CoreError::from_io)?;
    let limit = state.web.max_upload_bytes;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let streamed: Result<Option<FileResult>, CoreError> = async {
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Ok(Some(FileResult::Rejected {
                            name: name.clone(),
                            code: 413,
                            reason: format!(
                                "the file is larger than the {} allowed",
                                app::format::limit_size(limit)
                            ),
                        }));
                    }
                    hasher.update(&chunk);
                    file.write_all(&chunk).await.map_err(CoreError::from_io)?;
                }
                Ok(None) => break,
                Err(error) => {
                    return Err(ApiError::BadRequest(format!(
                        "the upload of {name:?} broke off: {error}"
                    ))
                    .into())
                }
            }
        }
        file.flush().await.map_err(CoreError::from_io)?;
        file.sync_all().await.map_err(CoreError::from_io)?;
        Ok(None)
    }
    .await;
    drop(file);
    if let Some(refused) = streamed? {
        return Ok(refused);
    }
    if size == 0 {
        return Ok(FileResult::Rejected {
            name,
            code: 422,
            reason: "the file is empty".into(),
        });
    }
    // From here on the file is whole: adding it runs to its end even when the request is
    // dropped (the client went, or shutdown stopped waiting), so an original never lacks its
    // row nor a row its original.
    let sha256 = hasher.finalize().into();
    let core = state.core.clone();
    let adding = tokio::spawn(async move {
        let candidate = Candidate {
            owner,
            temporary: temporary.path(),
            file_name: &name,
            sha256,
            byte_size: size,
            priority: flashbulb_store::jobs::PRIORITY_UPLOAD,
        };
        let outcome = core.add_photo(candidate).await;
        (name, outcome)
    });
    let (name, outcome) = adding
        .await
        .map_err(|error| CoreError::Internal(error.into()))?;
    Ok(match outcome {
        Ok(Outcome::Added(photo_id)) => FileResult::Added { name, photo_id },
        Ok(Outcome::Duplicate(photo_id)) => FileResult::Duplicate { name, photo_id },
        Err(Refusal::Server(error)) => return Err(error),
        Err(refusal) => FileResult::Rejected {
            name,
            code: refusal.status(),
            reason: refusal.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_gets_one_chunk_per_poll_and_then_the_end() {
        let chunks = futures_util::stream::iter([1, 2, 3]);
        let mut stream = OneChunkAtATime::new(chunks);
        let mut context = Context::from_waker(std::task::Waker::noop());
        let mut polled = Vec::new();
        for _ in 0..7 {
            polled.push(stream.poll_next_unpin(&mut context));
        }
        assert_eq!(
            polled,
            [
                Poll::Ready(Some(1)),
                Poll::Pending,
                Poll::Ready(Some(2)),
                Poll::Pending,
                Poll::Ready(Some(3)),
                Poll::Pending,
                Poll::Ready(None),
            ]
        );
    }
}
