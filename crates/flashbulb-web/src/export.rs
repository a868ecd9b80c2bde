//! `GET /api/export/photos.csv`: every photo of the library with its metadata as CSV,
//! streamed batch by batch so that a library of millions costs the memory of one batch;
//! tagged with the library's tag, so asking again while nothing changed costs a 304.

use std::io;

use app::format::{rfc3339, taken_iso};
use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use flashbulb_store::export::{Export, ExportRow};
use futures_util::StreamExt;

use crate::conditional::{self, REVALIDATE};
use crate::WebResult;
use crate::{access::SignedIn, state::AppState};

/// Rows per query: large enough that a million rows take few round trips, small enough that
/// a batch (and its CSV) stays well under a megabyte.
const BATCH_ROWS: i64 = 2_000;

/// The columns, in the order the header names them.
const HEADER: [&str; 20] = [
    "id",
    "file_name",
    "taken_at",
    "status",
    "width",
    "height",
    "byte_size",
    "mime_type",
    "camera_make",
    "camera_model",
    "lens",
    "focal_length_mm",
    "aperture",
    "exposure_time",
    "iso",
    "gps_latitude",
    "gps_longitude",
    "favourite",
    "trashed_at",
    "sha256",
];

/// A photo as one CSV record, in the order of [`HEADER`].
fn record(row: &ExportRow) -> [String; 20] {
    fn text<T: ToString>(value: &Option<T>) -> String {
        value.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    [
        row.id.to_string(),
        row.file_name.clone(),
        taken_iso(row.taken_at, row.taken_offset_minutes),
        row.status.clone(),
        row.width.to_string(),
        row.height.to_string(),
        row.byte_size.to_string(),
        text(&row.mime_type),
        text(&row.camera_make),
        text(&row.camera_model),
        text(&row.lens),
        text(&row.focal_length_mm),
        text(&row.aperture),
        text(&row.exposure_time),
        text(&row.iso),
        text(&row.gps_latitude),
        text(&row.gps_longitude),
        row.is_favourite.to_string(),
        row.trashed_at.map(rfc3339).unwrap_or_default(),
        row.sha256
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    ]
}

/// Where the export stands between batches.
struct Progress {
    export: Export,
    header_written: bool,
    finished: bool,
}

pub(crate) async fn export(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    request_headers: HeaderMap,
) -> WebResult<Response> {
    // Read before the rows: a write while they are read changes the tag.
    let etag = conditional::tag(&state.cache.library_tag(viewer.id).await, true);
    if let Some(unchanged) = conditional::not_modified(&request_headers, &etag, REVALIDATE) {
        return Ok(unchanged);
    }
    let progress = Progress {
        export: Export::start(&state.db, viewer.id).await?,
        header_written: false,
        finished: false,
    };
    // Fused: the compression layer polls the body once more after its end to finish its own
    // stream, and an unfold polled past its end panics, which cut every compressed export short.
    let chunks = futures_util::stream::unfold(progress, |mut progress| async move {
        if progress.finished {
            return None;
        }
        match next_batch(&mut progress).await {
            Ok(Some(chunk)) => Some((Ok(chunk), progress)),
            Ok(None) => None,
            Err(error) => {
                // The status line is gone already: a cut-short body is the one signal left,
                // and the client sees a truncated file, never a silently incomplete one.
                tracing::warn!(%error, "photo export stopped");
                progress.finished = true;
                Some((Err(io::Error::other(error.to_string())), progress))
            }
        }
    })
    .fuse();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"flashbulb-photos.csv\""),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// The next batch as CSV (with the header before the first), or `None` when all are written.
async fn next_batch(progress: &mut Progress) -> anyhow::Result<Option<Bytes>> {
    let rows = progress.export.next_batch(BATCH_ROWS).await?;
    progress.finished = (rows.len() as i64) < BATCH_ROWS;
    let mut csv = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160 + 256));
    if !progress.header_written {
        csv.write_record(HEADER)?;
        progress.header_written = true;
    } else if rows.is_empty() {
        return Ok(None);
    }
    for row in &rows {
        csv.write_record(record(row))?;
    }
    Ok(Some(Bytes::from(csv.into_inner()?)))
}
