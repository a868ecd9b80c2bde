//! The timeline's statements: month buckets, the newest photos, and one month's segment.

use flashbulb_types::{
    codec::{aspect_milli, Segment, SegmentEntry},
    format::{month_start, next_month},
    model::{MonthBucket, PhotoCell, UserId},
};

use crate::{
    cells::{clamp_u32, PhotoRow, CELL_COLUMNS},
    visible, Pool, StoreError,
};

/// Every month with at least one visible photo, newest first, with its photo count.
///
/// Reads the trigger-maintained `photo_months`: a few hundred rows at any library size.
pub async fn month_buckets(pool: &Pool, owner: UserId) -> Result<Vec<MonthBucket>, StoreError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(MONTHS_SQL)
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

/// The month buckets of owner `$1`, newest first.
pub const MONTHS_SQL: &str = "SELECT month, photo_count FROM photo_months
     WHERE owner_id = $1 AND photo_count > 0
     ORDER BY month DESC";

/// One month of owner `$1`'s timeline: taken from `$2` until `$3`, `$4` photos after the
/// first `$5`.
pub const BUCKET_SQL: &str = concat!(
    "SELECT id, taken_at, width, height, is_favourite, thumbhash, media_key, file_name
     FROM photos
     WHERE owner_id = $1 AND ",
    visible!(),
    " AND taken_at >= $2 AND taken_at < $3
     ORDER BY taken_at DESC, id DESC
     LIMIT $4 OFFSET $5"
);

/// The newest `$2` visible photos of owner `$1`, as grid cells.
pub fn newest_sql() -> String {
    format!(
        "SELECT {CELL_COLUMNS}
         FROM photos
         WHERE owner_id = $1 AND {}
         ORDER BY taken_at DESC, id DESC
         LIMIT $2",
        visible!()
    )
}

/// The newest `limit` visible photos of `owner`, newest first (ties broken by id).
pub async fn newest_photos(
    pool: &Pool,
    owner: UserId,
    limit: u32,
) -> Result<Vec<PhotoCell>, StoreError> {
    let rows: Vec<PhotoRow> = sqlx::query_as(&newest_sql())
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
) -> Result<Segment, StoreError> {
    let start = month_start(year, month);
    let (next_year, next) = next_month(year, month);
    let end = month_start(next_year, next);
    let rows: Vec<SegmentRow> = sqlx::query_as(BUCKET_SQL)
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

#[derive(sqlx::FromRow)]
struct SegmentRow {
    id: i64,
    taken_at: i64,
    width: i64,
    height: i64,
    #[sqlx(try_from = "crate::Flag")]
    is_favourite: bool,
    thumbhash: Option<Vec<u8>>,
    media_key: Option<Vec<u8>>,
    file_name: String,
}
