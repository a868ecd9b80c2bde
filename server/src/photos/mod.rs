//! Photos: one photo's details, per-owner changes to single photos, favourites and the trash.

pub mod export;
pub mod ingest;
pub mod media;
pub mod original;
pub mod signing;
pub mod upload;

use std::path::Path;

use app::model::{Cursor, PhotoDetail, PhotoId, PhotoPage, UserId};
use flashbulb_store::{
    cells::{into_page, PhotoRow, CELL_COLUMNS},
    visible,
};

use crate::{db::Pool, error::ServerResult, storage, ServerError};

/// Visible favourites of one owner; matches the `photos_favourites` partial index.
const FAVOURITE: &str = concat!("owner_id = $1 AND is_favourite = 1 AND ", visible!());

/// One page of `owner`'s favourites, newest first, continuing after `after`.
pub async fn favourites(
    pool: &Pool,
    owner: UserId,
    after: Option<Cursor>,
    limit: u32,
) -> ServerResult<PhotoPage> {
    // Keyset paging: `(taken_at, id) < (after)` seeks in the index instead of counting rows.
    let after = after.unwrap_or(Cursor::START);
    let rows: Vec<PhotoRow> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS} FROM photos
         WHERE {FAVOURITE} AND (taken_at, id) < ($2, $3)
         ORDER BY taken_at DESC, id DESC
         LIMIT $4"
    ))
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

/// Everything the photo page shows about one of `owner`'s photos.
pub async fn detail(
    pool: &Pool,
    data_dir: &Path,
    owner: UserId,
    photo: PhotoId,
) -> ServerResult<PhotoDetail> {
    let row: Option<DetailRow> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS}, byte_size, mime_type, camera_make, camera_model, lens,
                focal_length_mm, aperture, exposure_time, iso, trashed_at, status, sha256,
                failure, taken_offset_minutes
         FROM photos WHERE id = $1 AND owner_id = $2"
    ))
    .bind(photo)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    let row = row.ok_or(ServerError::NotFound)?;
    let has_original = tokio::fs::try_exists(storage::original_path(data_dir, &row.sha256))
        .await
        .unwrap_or(false);
    let visible = row.trashed_at.is_none() && row.status == "ready";
    // Neighbours in timeline order, through the timeline index; a trashed photo has none.
    let (newer, older) = if visible {
        let taken_at = row.cell.taken_at;
        tokio::try_join!(
            neighbour(pool, NEWER, owner, taken_at, photo),
            neighbour(pool, OLDER, owner, taken_at, photo),
        )?
    } else {
        (None, None)
    };
    let (albums, all_albums) = tokio::try_join!(
        flashbulb_store::albums::refs_holding(pool, owner, photo),
        flashbulb_store::albums::album_refs(pool, owner),
    )?;
    let camera = match (row.camera_make, row.camera_model) {
        // Many makers repeat their name in the model ("Canon EOS R6"); say it once.
        (Some(make), Some(model)) if model.starts_with(&make) => Some(model),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (make, model) => model.or(make),
    };
    Ok(PhotoDetail {
        cell: row.cell.into_cell(),
        byte_size: row.byte_size.max(0) as u64,
        mime_type: row.mime_type,
        camera,
        lens: row.lens,
        focal_length_mm: row.focal_length_mm,
        aperture: row.aperture,
        exposure_time: row.exposure_time,
        iso: row.iso,
        taken_offset_minutes: row
            .taken_offset_minutes
            .and_then(|minutes| i32::try_from(minutes).ok()),
        trashed_at: row.trashed_at,
        has_original,
        status: row.status,
        failure: row.failure,
        newer,
        older,
        albums,
        all_albums,
    })
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

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    cell: PhotoRow,
    byte_size: i64,
    mime_type: Option<String>,
    camera_make: Option<String>,
    camera_model: Option<String>,
    lens: Option<String>,
    focal_length_mm: Option<f64>,
    aperture: Option<f64>,
    exposure_time: Option<String>,
    iso: Option<i64>,
    trashed_at: Option<i64>,
    status: String,
    sha256: Vec<u8>,
    failure: Option<String>,
    taken_offset_minutes: Option<i64>,
}

/// Moves one of `owner`'s photos to the trash or back. Trashing twice keeps the first time,
/// so the trash's order does not change under a repeated click.
pub async fn set_trashed(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
    trashed: bool,
) -> ServerResult<()> {
    let updated = sqlx::query(
        "UPDATE photos
         SET trashed_at = CASE WHEN $1 THEN coalesce(trashed_at, $2) ELSE NULL END,
             emptied_at = CASE WHEN $3 THEN emptied_at ELSE NULL END
         WHERE id = $4 AND owner_id = $5",
    )
    .bind(trashed)
    .bind(crate::db::now())
    .bind(trashed)
    .bind(photo)
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ServerError::NotFound);
    }
    Ok(())
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
) -> ServerResult<PhotoPage> {
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
pub async fn trash_count(pool: &Pool, owner: UserId, list: TrashList) -> ServerResult<u64> {
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

impl From<TrashRow> for app::model::PhotoCell {
    fn from(row: TrashRow) -> Self {
        row.cell.into_cell()
    }
}

/// Empties `owner`'s trash. With a grace period the photos are only marked emptied: they leave
/// the trash for its "recently emptied" list, where they can still be restored, and
/// [`purge_emptied`] deletes them once the period is over. Without one they go at once.
pub async fn empty_trash(
    pool: &Pool,
    data_dir: &Path,
    owner: UserId,
    grace_days: u32,
) -> ServerResult<u64> {
    if grace_days == 0 {
        let hashes: Vec<Vec<u8>> = sqlx::query_scalar(
            "DELETE FROM photos WHERE owner_id = $1 AND trashed_at IS NOT NULL RETURNING sha256",
        )
        .bind(owner)
        .fetch_all(pool)
        .await?;
        remove_unused_originals(pool, data_dir, &hashes).await;
        return Ok(hashes.len() as u64);
    }
    let emptied = sqlx::query(
        "UPDATE photos SET emptied_at = $1
         WHERE owner_id = $2 AND trashed_at IS NOT NULL AND emptied_at IS NULL",
    )
    .bind(crate::db::now())
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(emptied)
}

/// Photos deleted for good per statement by [`purge_emptied`]: a short write, so uploads and
/// favourites waiting for SQLite's lock are not held up by a large trash.
const PURGE_BATCH: i64 = 500;

/// Deletes for good every photo (of any owner) emptied from the trash before `before` (Unix
/// seconds), then the originals no remaining photo shares; returns the owners whose photos
/// went, each once, with how many.
pub async fn purge_emptied(
    pool: &Pool,
    data_dir: &Path,
    before: i64,
) -> ServerResult<std::collections::BTreeMap<UserId, u64>> {
    let mut purged = std::collections::BTreeMap::new();
    loop {
        let rows: Vec<(UserId, Vec<u8>)> = sqlx::query_as(
            "DELETE FROM photos WHERE id IN (
                 SELECT id FROM photos WHERE emptied_at IS NOT NULL AND emptied_at < $1 LIMIT $2
             ) RETURNING owner_id, sha256",
        )
        .bind(before)
        .bind(PURGE_BATCH)
        .fetch_all(pool)
        .await?;
        for (owner, _) in &rows {
            *purged.entry(*owner).or_default() += 1;
        }
        let hashes: Vec<Vec<u8>> = rows.into_iter().map(|(_, sha)| sha).collect();
        remove_unused_originals(pool, data_dir, &hashes).await;
        if (hashes.len() as i64) < PURGE_BATCH {
            return Ok(purged);
        }
    }
}

/// Removes the originals of deleted photos that no remaining photo shares. Files go after the
/// rows are gone: a crash in between leaves an orphan file, never a photo without its original.
async fn remove_unused_originals(pool: &Pool, data_dir: &Path, hashes: &[Vec<u8>]) {
    for sha in hashes {
        if let Err(error) = storage::remove_original_unless_used(pool, data_dir, sha).await {
            tracing::warn!(%error, sha = %storage::hex(sha), "could not remove an original");
        }
    }
}

/// Sets the favourite flag of one of `owner`'s photos; another owner's photo is "not found".
pub async fn set_favourite(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
    favourite: bool,
) -> ServerResult<bool> {
    let updated = sqlx::query(
        "UPDATE photos SET is_favourite = $1 WHERE id = $2 AND owner_id = $3 AND trashed_at IS NULL",
    )
    .bind(i64::from(favourite))
    .bind(photo)
    .bind(owner)
    .execute(pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ServerError::NotFound);
    }
    Ok(favourite)
}
