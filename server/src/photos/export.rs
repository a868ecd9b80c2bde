//! `GET /api/export/photos.csv`: every photo of the library with its metadata as CSV,
//! streamed batch by batch so that a library of millions costs the memory of one batch.

use std::io;

use app::{
    format::{rfc3339, taken_iso},
    model::PHOTO_EXPORT_PATH,
};
use axum::{
    body::{Body, Bytes},
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use futures_util::StreamExt;
use sqlx::{pool::PoolConnection, Any};

use crate::{error::ServerResult, state::AppState, users::access::SignedIn};

/// Rows per query: large enough that a million rows take few round trips, small enough that
/// a batch (and its CSV) stays well under a megabyte.
const BATCH_ROWS: i64 = 2_000;

/// One batch: the owner's photos after an id, walking the primary key. The unary `+` keeps
/// SQLite off the owner's indexes, with which it would sort all the owner's photos for every
/// batch (70 s for a million rows, against a few seconds this way).
pub const BATCH_SQL: &str = "SELECT id, file_name, taken_at, status, width, height, byte_size,
        mime_type, camera_make, camera_model, lens, focal_length_mm, aperture, exposure_time,
        iso, gps_latitude, gps_longitude, is_favourite, trashed_at, sha256, taken_offset_minutes
    FROM photos WHERE +owner_id = $1 AND id > $2 ORDER BY id LIMIT $3";

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

pub fn router() -> Router<AppState> {
    Router::new().route(PHOTO_EXPORT_PATH, get(export))
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    id: i64,
    file_name: String,
    taken_at: i64,
    status: String,
    width: i64,
    height: i64,
    byte_size: i64,
    mime_type: Option<String>,
    camera_make: Option<String>,
    camera_model: Option<String>,
    lens: Option<String>,
    focal_length_mm: Option<f64>,
    aperture: Option<f64>,
    exposure_time: Option<String>,
    iso: Option<i64>,
    gps_latitude: Option<f64>,
    gps_longitude: Option<f64>,
    #[sqlx(try_from = "crate::db::Flag")]
    is_favourite: bool,
    trashed_at: Option<i64>,
    sha256: Vec<u8>,
    taken_offset_minutes: Option<i64>,
}

impl ExportRow {
    fn record(&self) -> [String; 20] {
        fn text<T: ToString>(value: &Option<T>) -> String {
            value.as_ref().map(ToString::to_string).unwrap_or_default()
        }
        [
            self.id.to_string(),
            self.file_name.clone(),
            taken_iso(self.taken_at, self.taken_offset_minutes),
            self.status.clone(),
            self.width.to_string(),
            self.height.to_string(),
            self.byte_size.to_string(),
            text(&self.mime_type),
            text(&self.camera_make),
            text(&self.camera_model),
            text(&self.lens),
            text(&self.focal_length_mm),
            text(&self.aperture),
            text(&self.exposure_time),
            text(&self.iso),
            text(&self.gps_latitude),
            text(&self.gps_longitude),
            self.is_favourite.to_string(),
            self.trashed_at.map(rfc3339).unwrap_or_default(),
            self.sha256
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect(),
        ]
    }
}

/// Where the export stands between batches.
struct Progress {
    /// One connection for every batch: its page cache serves them all, where batches spread
    /// over the pool would warm the cache of every connection.
    connection: PoolConnection<Any>,
    owner: i64,
    /// The last id written: batches seek past it in the primary key, never with OFFSET, so
    /// the millionth row costs what the first did and each query is a short read.
    after_id: i64,
    header_written: bool,
    finished: bool,
}

async fn export(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
) -> ServerResult<Response> {
    let owner = viewer.id;
    let progress = Progress {
        connection: state.db.acquire().await?,
        owner,
        after_id: 0,
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
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"flashbulb-photos.csv\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// The next batch as CSV (with the header before the first), or `None` when all are written.
async fn next_batch(progress: &mut Progress) -> anyhow::Result<Option<Bytes>> {
    let rows: Vec<ExportRow> = sqlx::query_as(BATCH_SQL)
        .bind(progress.owner)
        .bind(progress.after_id)
        .bind(BATCH_ROWS)
        .fetch_all(&mut *progress.connection)
        .await?;
    progress.finished = (rows.len() as i64) < BATCH_ROWS;
    let mut csv = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160 + 256));
    if !progress.header_written {
        csv.write_record(HEADER)?;
        progress.header_written = true;
    } else if rows.is_empty() {
        return Ok(None);
    }
    for row in &rows {
        csv.write_record(row.record())?;
    }
    if let Some(last) = rows.last() {
        progress.after_id = last.id;
    }
    Ok(Some(Bytes::from(csv.into_inner()?)))
}
