//! The timeline's queries: month buckets and the newest photos of one owner.

use app::model::{MonthBucket, PhotoCell, UserId};

use crate::{db::Pool, error::ServerResult};

/// The predicate every timeline query shares: visible photos of one owner.
const VISIBLE: &str = "owner_id = ? AND status = 'ready' AND trashed_at IS NULL";

/// Every month with at least one visible photo, newest first, with its photo count.
pub async fn month_buckets(pool: &Pool, owner: UserId) -> ServerResult<Vec<MonthBucket>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT CAST(strftime('%Y', taken_at, 'unixepoch') AS INTEGER) AS year,
                CAST(strftime('%m', taken_at, 'unixepoch') AS INTEGER) AS month,
                count(*)
         FROM photos
         WHERE {VISIBLE}
         GROUP BY year, month
         ORDER BY year DESC, month DESC"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(year, month, count)| MonthBucket {
            year: year as i32,
            month: month as u8,
            count: count.max(0) as u64,
        })
        .collect())
}

/// The newest `limit` visible photos of `owner`, newest first (ties broken by id).
pub async fn newest_photos(pool: &Pool, owner: UserId, limit: u32) -> ServerResult<Vec<PhotoCell>> {
    let rows: Vec<PhotoRow> = sqlx::query_as(&format!(
        "SELECT id, file_name, taken_at, width, height, is_favourite, thumbhash
         FROM photos
         WHERE {VISIBLE}
         ORDER BY taken_at DESC, id DESC
         LIMIT ?"
    ))
    .bind(owner)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(PhotoRow::into_cell).collect())
}

#[derive(sqlx::FromRow)]
struct PhotoRow {
    id: i64,
    file_name: String,
    taken_at: i64,
    width: i64,
    height: i64,
    is_favourite: bool,
    thumbhash: Option<Vec<u8>>,
}

impl PhotoRow {
    fn into_cell(self) -> PhotoCell {
        PhotoCell {
            id: self.id,
            file_name: self.file_name,
            taken_at: self.taken_at,
            width: u32::try_from(self.width).unwrap_or(0),
            height: u32::try_from(self.height).unwrap_or(0),
            favourite: self.is_favourite,
            placeholder_rgb: self
                .thumbhash
                .as_deref()
                .and_then(average_rgb)
                .unwrap_or([128, 128, 128]),
        }
    }
}

/// The average colour a thumbhash encodes; `None` for bytes that are not a thumbhash.
pub fn average_rgb(hash: &[u8]) -> Option<[u8; 3]> {
    // The thumbhash header is 5 bytes (6 with alpha); anything shorter would be misread.
    if hash.len() < 5 {
        return None;
    }
    let (r, g, b, _) = thumbhash::thumb_hash_to_average_rgba(hash).ok()?;
    let channel = |value: f32| (value.clamp(0.0, 1.0) * 255.0).round() as u8;
    Some([channel(r), channel(g), channel(b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_rgb_survives_garbage() {
        assert_eq!(average_rgb(&[]), None);
        assert_eq!(average_rgb(&[1, 2]), None);
        let _ = average_rgb(&[0xff; 64]);
    }
}
