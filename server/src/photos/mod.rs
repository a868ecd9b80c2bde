//! Photos: per-owner changes to single photos.

use app::model::{PhotoId, UserId};

use crate::{db::Pool, error::ServerResult, ServerError};

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
