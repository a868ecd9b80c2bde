//! Photos: per-owner changes to single photos, and the favourites list.

use app::model::{Cursor, PhotoId, PhotoPage, UserId};

use crate::{
    db::Pool,
    error::ServerResult,
    timeline::{PhotoRow, CELL_COLUMNS},
    ServerError,
};

/// Visible favourites of one owner; matches the `photos_favourites` partial index.
const FAVOURITE: &str =
    "owner_id = ? AND is_favourite = 1 AND status = 'ready' AND trashed_at IS NULL";

/// One page of `owner`'s favourites, newest first, continuing after `after`.
pub async fn favourites(
    pool: &Pool,
    owner: UserId,
    after: Option<Cursor>,
    limit: u32,
) -> ServerResult<PhotoPage> {
    // Keyset paging: `(taken_at, id) < (after)` seeks in the index instead of counting rows.
    let after = after.unwrap_or(Cursor {
        taken_at: i64::MAX,
        id: i64::MAX,
    });
    let rows: Vec<PhotoRow> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS} FROM photos
         WHERE {FAVOURITE} AND (taken_at, id) < (?, ?)
         ORDER BY taken_at DESC, id DESC
         LIMIT ?"
    ))
    .bind(owner)
    .bind(after.taken_at)
    .bind(after.id)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM photos WHERE {FAVOURITE}"))
        .bind(owner)
        .fetch_one(pool)
        .await?;
    let mut photos: Vec<_> = rows.into_iter().map(PhotoRow::into_cell).collect();
    let more = photos.len() > limit as usize;
    photos.truncate(limit as usize);
    let next = if more {
        photos.last().map(Cursor::after)
    } else {
        None
    };
    Ok(PhotoPage {
        photos,
        next,
        total: total.max(0) as u64,
    })
}

/// Sets the favourite flag of one of `owner`'s photos; another owner's photo is "not found".
pub async fn set_favourite(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
    favourite: bool,
) -> ServerResult<bool> {
    let updated = sqlx::query(
        "UPDATE photos SET is_favourite = ? WHERE id = ? AND owner_id = ? AND trashed_at IS NULL",
    )
    .bind(favourite)
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
