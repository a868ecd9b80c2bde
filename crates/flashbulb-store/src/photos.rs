//! Single photos and their lists outside the timeline: one photo's record and neighbours,
//! favourites, the trash and its emptying, and the per-photo flags.

use flashbulb_types::model::{Cursor, PhotoCell, PhotoId, PhotoPage, UserId};

use crate::{
    cells::{into_page, PhotoRow, CELL_COLUMNS},
    visible, Pool, StoreError, StoreResult,
};

/// Visible favourites of one owner; matches the `photos_favourites` partial index.
const FAVOURITE: &str = concat!("owner_id = $1 AND is_favourite = 1 AND ", visible!());

/// A page of owner `$1`'s favourites after `($2, $3)`, at most `$4` rows.
pub fn favourites_page_sql() -> String {
    format!(
        "SELECT {CELL_COLUMNS} FROM photos
         WHERE {FAVOURITE} AND (taken_at, id) < ($2, $3)
         ORDER BY taken_at DESC, id DESC
         LIMIT $4"
    )
}

/// One page of `owner`'s favourites, newest first, continuing after `after`.
pub async fn favourites(
    pool: &Pool,
    owner: UserId,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<PhotoPage> {
    // Keyset paging: `(taken_at, id) < (after)` seeks in the index instead of counting rows.
    let after = after.unwrap_or(Cursor::START);
    let rows: Vec<PhotoRow> = sqlx::query_as(&favourites_page_sql())
        .bind(owner)
        .bind(after.key)
        .bind(after.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM photos WHERE {FAVOURITE}"))
        .bind(owner)
        .fetch_one(pool)
        .await?;
    let photos: Vec<_> = rows.into_iter().map(PhotoRow::into_cell).collect();
    Ok(into_page(photos, limit, total, Cursor::after))
}

/// Everything stored about one of `owner`'s photos, for its page.
pub async fn record(pool: &Pool, owner: UserId, photo: PhotoId) -> StoreResult<PhotoRecord> {
    let row: Option<PhotoRecord> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS}, byte_size, mime_type, camera_make, camera_model, lens,
                focal_length_mm, aperture, exposure_time, iso, trashed_at, status, sha256,
                failure, taken_offset_minutes, coalesce(derivatives_of, sha256) AS derivatives_sha256
         FROM photos WHERE id = $1 AND owner_id = $2"
    ))
    .bind(photo)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    row.ok_or(StoreError::NotFound)
}

/// The visible photos just newer and just older than one taken at `taken_at`, in timeline
/// order, through the timeline index.
pub async fn neighbours(
    pool: &Pool,
    owner: UserId,
    taken_at: i64,
    photo: PhotoId,
) -> StoreResult<(Option<PhotoId>, Option<PhotoId>)> {
    Ok(tokio::try_join!(
        neighbour(pool, NEWER, owner, taken_at, photo),
        neighbour(pool, OLDER, owner, taken_at, photo),
    )?)
}

const NEWER: &str = concat!(
    "SELECT id FROM photos WHERE owner_id = $1 AND ",
    visible!(),
    " AND (taken_at, id) > ($2, $3) ORDER BY taken_at ASC, id ASC LIMIT 1"
);
const OLDER: &str = concat!(
    "SELECT id FROM photos WHERE owner_id = $1 AND ",
    visible!(),
    " AND (taken_at, id) < ($2, $3) ORDER BY taken_at DESC, id DESC LIMIT 1"
);

async fn neighbour(
    pool: &Pool,
    sql: &'static str,
    owner: UserId,
    taken_at: i64,
    photo: PhotoId,
) -> Result<Option<PhotoId>, sqlx::Error> {
    sqlx::query_scalar(sql)
        .bind(owner)
        .bind(taken_at)
        .bind(photo)
        .fetch_optional(pool)
        .await
}

/// One photo as its page needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct PhotoRecord {
    #[sqlx(flatten)]
    pub cell: PhotoRow,
    pub byte_size: i64,
    pub mime_type: Option<String>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens: Option<String>,
    pub focal_length_mm: Option<f64>,
    pub aperture: Option<f64>,
    pub exposure_time: Option<String>,
    pub iso: Option<i64>,
    pub trashed_at: Option<i64>,
    pub status: String,
    pub sha256: Vec<u8>,
    pub failure: Option<String>,
    pub taken_offset_minutes: Option<i64>,
    /// The content its derivatives were made for: its own, or a shared picture's.
    pub derivatives_sha256: Vec<u8>,
}

/// Moves one of `owner`'s photos to the trash or back. Trashing twice keeps the first time,
/// so the trash's order does not change under a repeated click.
pub async fn set_trashed(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
    trashed: bool,
) -> StoreResult<()> {
    let updated = sqlx::query(
        "UPDATE photos
         SET trashed_at = CASE WHEN $1 THEN coalesce(trashed_at, $2) ELSE NULL END,
             emptied_at = CASE WHEN $3 THEN emptied_at ELSE NULL END
         WHERE id = $4 AND owner_id = $5",
    )
    .bind(trashed)
    .bind(crate::now())
    .bind(trashed)
    .bind(photo)
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected();
    crate::found(updated)
}

/// Which list of the trash page: photos in the trash, or those emptied from it that can still
/// be restored. Each reads its own partial index in its own order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrashList {
    /// Most recently trashed first (`photos_trash`).
    InTrash,
    /// Most recently emptied first (`photos_emptied`).
    Emptied,
}

impl TrashList {
    /// The list's condition and the column it is ordered by.
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            TrashList::InTrash => (
                "trashed_at IS NOT NULL AND emptied_at IS NULL",
                "trashed_at",
            ),
            TrashList::Emptied => ("emptied_at IS NOT NULL", "emptied_at"),
        }
    }

    /// One page of the list: owner `$1`, after `($2, $3)`, at most `$4` rows.
    pub fn page_sql(self) -> String {
        let (condition, order) = self.parts();
        format!(
            "SELECT {CELL_COLUMNS}, {order} AS listed_at FROM photos
             WHERE owner_id = $1 AND {condition} AND ({order}, id) < ($2, $3)
             ORDER BY {order} DESC, id DESC
             LIMIT $4"
        )
    }
}

/// One page of one of `owner`'s trash lists.
pub async fn trash(
    pool: &Pool,
    owner: UserId,
    list: TrashList,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<PhotoPage> {
    let after = after.unwrap_or(Cursor::START);
    let rows: Vec<TrashRow> = sqlx::query_as(&list.page_sql())
        .bind(owner)
        .bind(after.key)
        .bind(after.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    let total = trash_count(pool, owner, list).await?;
    Ok(into_page(rows, limit, total as i64, |row| Cursor {
        key: row.listed_at,
        id: row.cell.id(),
    }))
}

/// How many photos one of `owner`'s trash lists holds.
pub async fn trash_count(pool: &Pool, owner: UserId, list: TrashList) -> StoreResult<u64> {
    let (condition, _) = list.parts();
    let count: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM photos WHERE owner_id = $1 AND {condition}"
    ))
    .bind(owner)
    .fetch_one(pool)
    .await?;
    Ok(count.max(0) as u64)
}

#[derive(sqlx::FromRow)]
struct TrashRow {
    #[sqlx(flatten)]
    cell: PhotoRow,
    listed_at: i64,
}

impl From<TrashRow> for PhotoCell {
    fn from(row: TrashRow) -> Self {
        row.cell.into_cell()
    }
}

/// Deletes every photo in `owner`'s trash at once; returns the content hashes of their
/// originals, whose files the caller removes unless another photo shares them.
pub async fn delete_trashed(pool: &Pool, owner: UserId) -> StoreResult<Vec<Vec<u8>>> {
    Ok(sqlx::query_scalar(
        "DELETE FROM photos WHERE owner_id = $1 AND trashed_at IS NOT NULL RETURNING sha256",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?)
}

/// Marks every photo in `owner`'s trash emptied: they leave the trash for its "recently
/// emptied" list, where they can still be restored. Returns how many.
pub async fn mark_emptied(pool: &Pool, owner: UserId) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE photos SET emptied_at = $1
         WHERE owner_id = $2 AND trashed_at IS NOT NULL AND emptied_at IS NULL",
    )
    .bind(crate::now())
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Deletes up to `limit` photos (of any owner) emptied from the trash before `before` (Unix
/// seconds); returns each one's owner and original's content hash.
pub async fn delete_emptied(
    pool: &Pool,
    before: i64,
    limit: i64,
) -> StoreResult<Vec<(UserId, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "DELETE FROM photos WHERE id IN (
             SELECT id FROM photos WHERE emptied_at IS NOT NULL AND emptied_at < $1 LIMIT $2
         ) RETURNING owner_id, sha256",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Marks one of `owner`'s photos (not in the trash) a favourite or not; returns its state as
/// stored, read by the same statement, so publishing the change costs no second query.
pub async fn set_favourite(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
    favourite: bool,
) -> StoreResult<PhotoState> {
    // Another owner's photo, or one in the trash, is "not found".
    let state: Option<PhotoState> = sqlx::query_as(&format!(
        "UPDATE photos SET is_favourite = $1 WHERE id = $2 AND owner_id = $3 AND trashed_at IS NULL
         RETURNING {STATE_COLUMNS}"
    ))
    .bind(i64::from(favourite))
    .bind(photo)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    state.ok_or(StoreError::NotFound)
}

/// Where one of an owner's photos stands in the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Processing {
    pub id: PhotoId,
    /// `pending`, `ready` or `failed`.
    pub status: String,
    pub failure: Option<String>,
}

/// Where each of `ids` stands, for those that are `owner`'s photos; others are not listed.
pub async fn processing(
    pool: &Pool,
    owner: UserId,
    ids: &[PhotoId],
) -> StoreResult<Vec<Processing>> {
    let mut select = crate::Statement::new(
        crate::backend(pool),
        "SELECT id, status, failure FROM photos WHERE owner_id = ",
    );
    select.push_bind(owner).push(" AND id IN (");
    for (index, id) in ids.iter().enumerate() {
        select
            .push(if index == 0 { "" } else { ", " })
            .push_bind(*id);
    }
    select.push(")");
    Ok(select.query_as()?.fetch_all(pool).await?)
}

/// How many photos `owner` has, in any state.
pub async fn count_of(pool: &Pool, owner: UserId) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM photos WHERE owner_id = $1")
            .bind(owner)
            .fetch_one(pool)
            .await?,
    )
}

/// A photo's state as live pages show it.
#[derive(Debug, sqlx::FromRow)]
pub struct PhotoState {
    pub owner_id: UserId,
    pub status: String,
    #[sqlx(try_from = "crate::Flag")]
    pub is_favourite: bool,
    #[sqlx(try_from = "crate::Flag")]
    pub trashed: bool,
    /// The error of its last failed job, if any.
    pub failure: Option<String>,
}

/// The columns of a [`PhotoState`], read from `photos` (a query or an update's `RETURNING`).
const STATE_COLUMNS: &str = "owner_id, status, is_favourite, trashed_at IS NOT NULL AS trashed,
    (SELECT last_error FROM jobs WHERE photo_id = photos.id AND state = 'failed'
     ORDER BY id DESC LIMIT 1) AS failure";

/// The state of `photo`, if it exists.
pub async fn state(pool: &Pool, photo: PhotoId) -> StoreResult<Option<PhotoState>> {
    Ok(
        sqlx::query_as(&format!("SELECT {STATE_COLUMNS} FROM photos WHERE id = $1"))
            .bind(photo)
            .fetch_optional(pool)
            .await?,
    )
}

/// `photo` as a grid cell, if it exists.
pub async fn cell(pool: &Pool, photo: PhotoId) -> StoreResult<Option<PhotoCell>> {
    let row: Option<PhotoRow> =
        sqlx::query_as(&format!("SELECT {CELL_COLUMNS} FROM photos WHERE id = $1"))
            .bind(photo)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(PhotoRow::into_cell))
}

/// An owner's photo count and queued jobs. The queue is walked first (CROSS JOIN fixes the
/// order in SQLite): it holds a handful of jobs, while starting from the owner's photos read
/// all of them, 130 ms a frame at a million. (PostgreSQL's sum of integers is a numeric,
/// hence the cast.)
pub const COUNTERS_SQL: &str =
    "SELECT (SELECT CAST(coalesce(sum(photo_count), 0) AS BIGINT) FROM photo_months WHERE owner_id = $1),
            (SELECT count(*) FROM jobs j CROSS JOIN photos p
             WHERE p.id = j.photo_id AND p.owner_id = $2 AND j.state IN ('queued', 'running'))";

/// `owner`'s photos in the timeline and jobs waiting or running.
pub async fn counters(pool: &Pool, owner: UserId) -> StoreResult<(u64, u64)> {
    let (photos, queued): (i64, i64) = sqlx::query_as(COUNTERS_SQL)
        .bind(owner)
        .bind(owner)
        .fetch_one(pool)
        .await?;
    Ok((photos.max(0) as u64, queued.max(0) as u64))
}

/// The EXIF facts Flashbulb keeps (the pipeline reads them); every one is optional, cameras
/// record what they like.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// When the photo was taken: the clock of the place, in seconds since 1970 as if it were
    /// UTC (so the photo belongs to the day it was taken there).
    pub taken_at: Option<i64>,
    /// How far that clock was from UTC, in minutes east, when the camera recorded it.
    pub taken_offset_minutes: Option<i64>,
    /// 1 to 8, as EXIF defines; 1 is "upright".
    pub orientation: u8,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens: Option<String>,
    /// `1/250`, `0.5`.
    pub exposure_time: Option<String>,
    pub aperture: Option<f64>,
    pub iso: Option<i64>,
    pub focal_length_mm: Option<f64>,
    /// Degrees, south and west negative.
    pub gps: Option<(f64, f64)>,
}

/// What the pipeline made of an original, as its row records it.
#[derive(Debug, Clone, Copy)]
pub struct Derivatives<'a> {
    /// Upright size of the original.
    pub width: u32,
    pub height: u32,
    pub thumbhash: &'a [u8],
    pub facts: &'a Facts,
}

/// The content hash of `photo`'s original, if the photo exists.
pub async fn sha256_of(pool: &Pool, photo: PhotoId) -> StoreResult<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = $1")
            .bind(photo)
            .fetch_optional(pool)
            .await?,
    )
}

/// Records what the pipeline made of `photo` and marks it ready, its media key taken from its
/// content hash.
pub async fn record_derivatives(
    pool: &Pool,
    photo: PhotoId,
    derived: Derivatives<'_>,
) -> StoreResult<()> {
    let facts = derived.facts;
    sqlx::query(
        "UPDATE photos SET
             width = $1, height = $2, orientation = $3, thumbhash = $4,
             taken_at = coalesce($5, taken_at),
             taken_offset_minutes = CASE WHEN $5 IS NULL THEN taken_offset_minutes ELSE $16 END,
             camera_make = $6, camera_model = $7, lens = $8, exposure_time = $9, aperture = $10,
             iso = $11, focal_length_mm = $12, gps_latitude = $13, gps_longitude = $14,
             status = 'ready', failure = NULL, media_key = substr(sha256, 1, 8)
         WHERE id = $15",
    )
    .bind(i64::from(derived.width))
    .bind(i64::from(derived.height))
    .bind(i64::from(facts.orientation))
    .bind(derived.thumbhash)
    .bind(facts.taken_at)
    .bind(&facts.camera_make)
    .bind(&facts.camera_model)
    .bind(&facts.lens)
    .bind(&facts.exposure_time)
    .bind(facts.aperture)
    .bind(facts.iso)
    .bind(facts.focal_length_mm)
    .bind(facts.gps.map(|(latitude, _)| latitude))
    .bind(facts.gps.map(|(_, longitude)| longitude))
    .bind(photo)
    .bind(facts.taken_offset_minutes)
    .execute(pool)
    .await?;
    Ok(())
}

/// `owner`'s photo with these bytes (its original's content hash), if they have one.
pub async fn with_content(
    pool: &Pool,
    owner: UserId,
    sha256: &[u8],
) -> StoreResult<Option<PhotoId>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM photos WHERE owner_id = $1 AND sha256 = $2")
            .bind(owner)
            .bind(sha256)
            .fetch_optional(pool)
            .await?,
    )
}

/// Whether any photo, of any owner, has the original with this content hash.
pub async fn content_in_use(pool: &Pool, sha256: &[u8]) -> StoreResult<bool> {
    let used: crate::Flag =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = $1)")
            .bind(sha256)
            .fetch_one(pool)
            .await?;
    Ok(used.0)
}

/// A new photo as an upload or import stores it, before the pipeline has seen it.
#[derive(Debug, Clone, Copy)]
pub struct NewPhoto<'a> {
    pub owner: UserId,
    pub file_name: &'a str,
    pub width: u32,
    pub height: u32,
    pub byte_size: u64,
    pub mime_type: &'a str,
    pub sha256: &'a [u8],
    /// Of its derivatives job.
    pub priority: i64,
}

/// Stores a new photo, pending, and queues its derivatives job in the same transaction, so
/// the row and its job exist together or not at all. A photo of the owner with the same bytes
/// stored meanwhile makes this a [`crate::StoreError::Conflict`].
pub async fn insert(pool: &Pool, photo: NewPhoto<'_>) -> StoreResult<PhotoId> {
    let now = crate::now();
    let mut tx = crate::begin_write(pool).await?;
    let id: PhotoId = sqlx::query_scalar(
        "INSERT INTO photos (owner_id, file_name, taken_at, width, height, byte_size, mime_type,
                             sha256, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING id",
    )
    .bind(photo.owner)
    .bind(photo.file_name)
    .bind(now)
    .bind(i64::from(photo.width))
    .bind(i64::from(photo.height))
    .bind(photo.byte_size as i64)
    .bind(photo.mime_type)
    .bind(photo.sha256)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    crate::jobs::enqueue(
        &mut tx,
        crate::jobs::JobKind::MakeDerivatives,
        id,
        photo.priority,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The content hash whose derivatives show `owner`'s photo of media key `key` (the first 8
/// bytes of its hash): a range of the UNIQUE (owner_id, sha256) index finds it. A demo photo
/// shows its shared picture's files.
pub async fn derivatives_by_media_key(
    pool: &Pool,
    owner: UserId,
    key: [u8; 8],
) -> StoreResult<Option<Vec<u8>>> {
    let query = match next_prefix(key) {
        Some(upper) => sqlx::query_scalar(
            "SELECT coalesce(derivatives_of, sha256) FROM photos
             WHERE owner_id = $1 AND sha256 >= $2 AND sha256 < $3 AND media_key = $4 LIMIT 1",
        )
        .bind(owner)
        .bind(key.to_vec())
        .bind(upper.to_vec()),
        None => sqlx::query_scalar(
            "SELECT coalesce(derivatives_of, sha256) FROM photos
             WHERE owner_id = $1 AND sha256 >= $2 AND $3 IS NOT NULL AND media_key = $4 LIMIT 1",
        )
        .bind(owner)
        .bind(key.to_vec())
        .bind(key.to_vec()),
    };
    Ok(query.bind(key.to_vec()).fetch_optional(pool).await?)
}

/// The smallest 8-byte prefix above every hash that starts with `key`; `None` past the top.
fn next_prefix(key: [u8; 8]) -> Option<[u8; 8]> {
    u64::from_be_bytes(key).checked_add(1).map(u64::to_be_bytes)
}

/// What downloading `owner`'s original of `photo` needs: its name, type and content hash.
pub async fn original_of(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
) -> StoreResult<Option<(String, Option<String>, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "SELECT file_name, mime_type, sha256 FROM photos WHERE id = $1 AND owner_id = $2",
    )
    .bind(photo)
    .bind(owner)
    .fetch_optional(pool)
    .await?)
}

/// Up to `limit` ready photos with derivatives of their own (not a shared demo picture's),
/// after `after` in id order: `(id, content hash)`, for walking the whole library in pages.
pub async fn ready_with_own_derivatives(
    pool: &Pool,
    after: PhotoId,
    limit: i64,
) -> StoreResult<Vec<(PhotoId, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "SELECT id, sha256 FROM photos
         WHERE id > $1 AND status = 'ready' AND derivatives_of IS NULL
         ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How many of `owner`'s photos the pipeline could not process.
pub async fn failed_count(pool: &Pool, owner: UserId) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM photos WHERE owner_id = $1 AND status = 'failed'")
            .bind(owner)
            .fetch_one(pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_prefix_carries_and_ends_at_the_top() {
        assert_eq!(
            super::next_prefix([0, 0, 0, 0, 0, 0, 0, 0xff]),
            Some([0, 0, 0, 0, 0, 0, 1, 0])
        );
        assert_eq!(super::next_prefix([0xff; 8]), None);
    }
}
