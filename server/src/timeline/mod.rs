//! The timeline: month buckets, the newest photos, and bucket segments in the columnar encoding.

use app::{
    codec::{aspect_milli, thumbhash_rgb, Segment, SegmentEntry},
    format::{month_start, next_month},
    model::{MonthBucket, PhotoCell, UserId},
};
use axum::{
    extract::{Path, Query, State},
    http::header,
    response::IntoResponse,
    routing::get,
    Router,
};
use serde::Deserialize;

use crate::{db::Pool, error::ServerResult, state::AppState, users::access::SignedIn, ServerError};

/// The predicate every timeline query shares: visible photos of one owner, who is `$1`.
const VISIBLE: &str = "owner_id = $1 AND status = 'ready' AND trashed_at IS NULL";

/// Photos per segment when the client does not say.
pub const DEFAULT_SEGMENT: u32 = 500;
/// Upper bound of one segment: keeps a response (and its query) small.
pub const MAX_SEGMENT: u32 = 5_000;

pub const SEGMENT_CONTENT_TYPE: &str = "application/vnd.flashbulb.segment";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/timeline/buckets/{month}", get(get_bucket_segment))
}

/// Every month with at least one visible photo, newest first, with its photo count.
///
/// Reads the trigger-maintained `photo_months`: a few hundred rows at any library size.
pub async fn month_buckets(pool: &Pool, owner: UserId) -> ServerResult<Vec<MonthBucket>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT month, photo_count FROM photo_months
         WHERE owner_id = $1 AND photo_count > 0
         ORDER BY month DESC",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(month, count)| MonthBucket {
            year: month.div_euclid(12) as i32,
            month: (month.rem_euclid(12) + 1) as u8,
            count: count.max(0) as u64,
        })
        .collect())
}

/// The newest `limit` visible photos of `owner`, newest first (ties broken by id).
pub async fn newest_photos(pool: &Pool, owner: UserId, limit: u32) -> ServerResult<Vec<PhotoCell>> {
    let rows: Vec<PhotoRow> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS}
         FROM photos
         WHERE {VISIBLE}
         ORDER BY taken_at DESC, id DESC
         LIMIT $2"
    ))
    .bind(owner)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(PhotoRow::into_cell).collect())
}

/// Photos `offset .. offset + limit` of one month, in timeline order (newest first).
pub async fn bucket_segment(
    pool: &Pool,
    owner: UserId,
    (year, month): (i32, u8),
    offset: u32,
    limit: u32,
) -> ServerResult<Segment> {
    let start = month_start(year, month);
    let (next_year, next) = next_month(year, month);
    let end = month_start(next_year, next);
    let rows: Vec<SegmentRow> = sqlx::query_as(&format!(
        "SELECT id, taken_at, width, height, is_favourite, thumbhash, media_key, file_name
         FROM photos
         WHERE {VISIBLE} AND taken_at >= $2 AND taken_at < $3
         ORDER BY taken_at DESC, id DESC
         LIMIT $4 OFFSET $5"
    ))
    .bind(owner)
    .bind(start)
    .bind(end)
    .bind(i64::from(limit))
    .bind(i64::from(offset))
    .fetch_all(pool)
    .await?;
    let mut segment = Segment::default();
    for row in rows {
        segment.push(SegmentEntry {
            id: row.id,
            taken_at: row.taken_at,
            aspect_milli: aspect_milli(clamp_u32(row.width), clamp_u32(row.height)),
            favourite: row.is_favourite,
            thumbhash: row.thumbhash.as_deref().unwrap_or_default(),
            media: row.media_key.as_deref().and_then(|key| key.try_into().ok()),
            name: &row.file_name,
        });
    }
    Ok(segment)
}

#[derive(Debug, Deserialize)]
struct SegmentQuery {
    #[serde(default)]
    offset: u32,
    limit: Option<u32>,
}

/// `GET /api/timeline/buckets/{yyyy-mm}?offset=&limit=`: one segment of one month.
async fn get_bucket_segment(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    Path(month): Path<String>,
    query: Result<Query<SegmentQuery>, axum::extract::rejection::QueryRejection>,
) -> ServerResult<impl IntoResponse> {
    let Query(query) = query.map_err(|rejection| ServerError::BadRequest(rejection.body_text()))?;
    let month = parse_month(&month)?;
    let limit = query.limit.unwrap_or(DEFAULT_SEGMENT);
    if limit == 0 || limit > MAX_SEGMENT {
        return Err(ServerError::BadRequest(format!(
            "limit must be between 1 and {MAX_SEGMENT}"
        )));
    }
    let owner = viewer.id;
    let segment = bucket_segment(&state.db, owner, month, query.offset, limit).await?;
    Ok((
        [
            (header::CONTENT_TYPE, SEGMENT_CONTENT_TYPE),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        segment.encode(),
    ))
}

/// `2026-11` → (2026, 11); anything else is a 400 that says what was expected.
pub fn parse_month(text: &str) -> ServerResult<(i32, u8)> {
    let invalid = || ServerError::BadRequest(format!("{text:?} is not a month like 2026-11"));
    let (year, month) = text.split_once('-').ok_or_else(invalid)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let month: u8 = month.parse().map_err(|_| invalid())?;
    if !(1..=12).contains(&month) || year < 1 {
        return Err(invalid());
    }
    Ok((year, month))
}

fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// The columns a grid cell needs, as every photo-list query selects them.
pub(crate) const CELL_COLUMNS: &str =
    "id, file_name, taken_at, width, height, is_favourite, thumbhash, media_key";

#[derive(sqlx::FromRow)]
pub(crate) struct PhotoRow {
    id: i64,
    file_name: String,
    pub(crate) taken_at: i64,
    width: i64,
    height: i64,
    #[sqlx(try_from = "crate::db::Flag")]
    is_favourite: bool,
    thumbhash: Option<Vec<u8>>,
    media_key: Option<Vec<u8>>,
}

impl From<PhotoRow> for PhotoCell {
    fn from(row: PhotoRow) -> Self {
        row.into_cell()
    }
}

impl PhotoRow {
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    pub(crate) fn into_cell(self) -> PhotoCell {
        PhotoCell {
            id: self.id,
            file_name: self.file_name,
            taken_at: self.taken_at,
            width: clamp_u32(self.width),
            height: clamp_u32(self.height),
            favourite: self.is_favourite,
            placeholder_rgb: self
                .thumbhash
                .as_deref()
                .and_then(thumbhash_rgb)
                .unwrap_or([128, 128, 128]),
            media: self.media_key.as_deref().and_then(media_key),
        }
    }
}

#[derive(sqlx::FromRow)]
struct SegmentRow {
    id: i64,
    taken_at: i64,
    width: i64,
    height: i64,
    #[sqlx(try_from = "crate::db::Flag")]
    is_favourite: bool,
    thumbhash: Option<Vec<u8>>,
    media_key: Option<Vec<u8>>,
    file_name: String,
}

/// A stored media key as its URL form; anything but 8 bytes is no key.
fn media_key(bytes: &[u8]) -> Option<String> {
    (bytes.len() == 8).then(|| crate::storage::hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(parse_month("2026-11").ok(), Some((2026, 11)));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026_11",
            "",
            "-",
            "abcd-ef",
            "2026-11-01",
        ] {
            assert!(parse_month(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn thumbhash_colour_survives_garbage() {
        assert_eq!(thumbhash_rgb(&[]), None);
        assert_eq!(thumbhash_rgb(&[1, 2]), None);
        let _ = thumbhash_rgb(&[0xff; 64]);
    }
}
