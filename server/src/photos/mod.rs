//! Photos: one photo's details, per-owner changes to single photos, favourites and the trash.

pub mod export;
pub mod ingest;
pub mod media;
pub mod original;
pub mod signing;
pub mod upload;

use std::path::Path;

use app::model::{AlbumRef, Cursor, PhotoDetail, PhotoId, PhotoPage, UserId};

use crate::{
    db::Pool,
    error::ServerResult,
    storage,
    timeline::{PhotoRow, CELL_COLUMNS},
    ServerError,
};

/// Visible favourites of one owner; matches the `photos_favourites` partial index.
const FAVOURITE: &str =
    "owner_id = $1 AND is_favourite = 1 AND status = 'ready' AND trashed_at IS NULL";

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

/// A page from `limit + 1` fetched photos: the extra one only says that more follow, and
/// `cursor_of` turns the last shown photo into the position the next page starts after.
pub(crate) fn into_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    total: i64,
    cursor_of: impl Fn(&T) -> Cursor,
) -> PhotoPage
where
    T: Into<app::model::PhotoCell>,
{
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    PhotoPage {
        photos: rows.into_iter().map(Into::into).collect(),
        next,
        total: total.max(0) as u64,
    }
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
                failure
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
        sqlx::query_as::<_, (i64, String)>(
            "SELECT a.id, a.title FROM album_photos ap JOIN albums a ON a.id = ap.album_id
             WHERE ap.photo_id = $1 AND a.owner_id = $2
             ORDER BY lower(a.title), a.id"
        )
        .bind(photo)
        .bind(owner)
        .fetch_all(pool),
        crate::albums::album_refs(pool, owner),
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
        trashed_at: row.trashed_at,
        has_original,
        status: row.status,
        failure: row.failure,
        newer,
        older,
        albums: albums
            .into_iter()
            .map(|(id, title)| AlbumRef { id, title })
            .collect(),
        all_albums,
    })
}

const NEWER: &str = "SELECT id FROM photos
    WHERE owner_id = $1 AND status = 'ready' AND trashed_at IS NULL AND (taken_at, id) > ($2, $3)
    ORDER BY taken_at ASC, id ASC LIMIT 1";
const OLDER: &str = "SELECT id FROM photos
    WHERE owner_id = $1 AND status = 'ready' AND trashed_at IS NULL AND (taken_at, id) < ($2, $3)
    ORDER BY taken_at DESC, id DESC LIMIT 1";

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
         SET trashed_at = CASE WHEN $1 THEN coalesce(trashed_at, $2) ELSE NULL END
         WHERE id = $3 AND owner_id = $4",
    )
    .bind(trashed)
    .bind(crate::db::now())
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

/// One page of `owner`'s trash, most recently trashed first; reads the `photos_trash` index.
pub async fn trash(
    pool: &Pool,
    owner: UserId,
    after: Option<Cursor>,
    limit: u32,
) -> ServerResult<PhotoPage> {
    let after = after.unwrap_or(Cursor::START);
    let rows: Vec<TrashRow> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS}, trashed_at FROM photos
         WHERE owner_id = $1 AND trashed_at IS NOT NULL AND (trashed_at, id) < ($2, $3)
         ORDER BY trashed_at DESC, id DESC
         LIMIT $4"
    ))
    .bind(owner)
    .bind(after.key)
    .bind(after.id)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM photos WHERE owner_id = $1 AND trashed_at IS NOT NULL",
    )
    .bind(owner)
    .fetch_one(pool)
    .await?;
    Ok(into_page(rows, limit, total, |row| Cursor {
        key: row.trashed_at,
        id: row.cell.id(),
    }))
}

#[derive(sqlx::FromRow)]
struct TrashRow {
    #[sqlx(flatten)]
    cell: PhotoRow,
    trashed_at: i64,
}

impl From<TrashRow> for app::model::PhotoCell {
    fn from(row: TrashRow) -> Self {
        row.cell.into_cell()
    }
}

/// Deletes `owner`'s trashed photos, then the originals no remaining photo shares.
pub async fn empty_trash(pool: &Pool, data_dir: &Path, owner: UserId) -> ServerResult<u64> {
    let mut tx = pool.begin().await?;
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar(
        "DELETE FROM photos WHERE owner_id = $1 AND trashed_at IS NOT NULL RETURNING sha256",
    )
    .bind(owner)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    // Files go after the rows are gone: a crash in between leaves an orphan file, never a
    // photo without its original.
    for sha in &hashes {
        if let Err(error) = storage::remove_original_unless_used(pool, data_dir, sha).await {
            tracing::warn!(%error, sha = %storage::hex(sha), "could not remove an original");
        }
    }
    Ok(hashes.len() as u64)
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
