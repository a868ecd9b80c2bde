//! The library export's statement: every photo of an owner with its metadata, batch by batch
//! along the primary key.

use flashbulb_types::model::{PhotoId, UserId};
use sqlx::{pool::PoolConnection, Any};

use crate::{Pool, StoreResult};

/// One batch: the owner's photos after an id, walking the primary key. The unary `+` keeps
/// SQLite off the owner's indexes, with which it would sort all the owner's photos for every
/// batch (70 s for a million rows, against a few seconds this way).
pub const BATCH_SQL: &str = "SELECT id, file_name, taken_at, status, width, height, byte_size,
        mime_type, camera_make, camera_model, lens, focal_length_mm, aperture, exposure_time,
        iso, gps_latitude, gps_longitude, is_favourite, trashed_at, sha256, taken_offset_minutes
    FROM photos WHERE +owner_id = $1 AND id > $2 ORDER BY id LIMIT $3";

/// One photo as the export writes it.
#[derive(Debug, sqlx::FromRow)]
pub struct ExportRow {
    pub id: i64,
    pub file_name: String,
    pub taken_at: i64,
    pub status: String,
    pub width: i64,
    pub height: i64,
    pub byte_size: i64,
    pub mime_type: Option<String>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens: Option<String>,
    pub focal_length_mm: Option<f64>,
    pub aperture: Option<f64>,
    pub exposure_time: Option<String>,
    pub iso: Option<i64>,
    pub gps_latitude: Option<f64>,
    pub gps_longitude: Option<f64>,
    #[sqlx(try_from = "crate::Flag")]
    pub is_favourite: bool,
    pub trashed_at: Option<i64>,
    pub sha256: Vec<u8>,
    pub taken_offset_minutes: Option<i64>,
}

/// An export under way: one connection for every batch (its page cache serves them all, where
/// batches spread over the pool would warm the cache of every connection), and the last id
/// written, which batches seek past in the primary key, never with OFFSET, so the millionth
/// row costs what the first did and each query is a short read.
pub struct Export {
    connection: PoolConnection<Any>,
    owner: UserId,
    after_id: PhotoId,
}

impl Export {
    pub async fn start(pool: &Pool, owner: UserId) -> StoreResult<Self> {
        Ok(Self {
            connection: pool.acquire().await?,
            owner,
            after_id: 0,
        })
    }

    /// The next `limit` photos; fewer means the last batch.
    pub async fn next_batch(&mut self, limit: i64) -> StoreResult<Vec<ExportRow>> {
        let rows: Vec<ExportRow> = sqlx::query_as(BATCH_SQL)
            .bind(self.owner)
            .bind(self.after_id)
            .bind(limit)
            .fetch_all(&mut *self.connection)
            .await?;
        if let Some(last) = rows.last() {
            self.after_id = last.id;
        }
        Ok(rows)
    }
}
