//! Bulk writes: many generated photos in one transaction of multi-row statements, as the demo
//! library and the benchmarks' large libraries are made.

use anyhow::Context;
use flashbulb_types::model::UserId;

use crate::{backend, bulk_connection, Backend, Pool, Statement};

/// Rows per INSERT statement: 16 bound values each stays under SQLite's 32,766 variables.
pub const ROWS_PER_STATEMENT: usize = 2_000;

/// One generated photo, stored ready with its placeholder.
#[derive(Debug, Clone)]
pub struct GeneratedPhoto {
    pub file_name: String,
    pub taken_at: i64,
    pub width: u32,
    pub height: u32,
    pub byte_size: i64,
    pub sha256: [u8; 32],
    pub thumbhash: Vec<u8>,
    pub camera_make: &'static str,
    pub camera_model: &'static str,
    pub lens: &'static str,
    /// A photo that shows a shared picture's files: its media key, and the picture's hash.
    pub shows: Option<(Vec<u8>, Vec<u8>)>,
}

/// Inserts `total` photos of `owner`, created at `now`, in one transaction, asking `batch` for
/// the next rows (at most [`ROWS_PER_STATEMENT`] at a time) and telling `progress` after each
/// statement. With `with_pictures` every row names the picture it shows.
///
/// One transaction: rows land at random places in six indexes, so every commit rewrites most
/// index pages; in SQLite's WAL, a million rows committed 50,000 at a time wrote each such
/// page twenty times over (and checkpointed it as often). Generated in the sqlite3 shell, such
/// a million took 49 s that way and 17 s in one transaction; with the in-memory statement
/// journal below, the seed's debug build went from 48 s to 36 s. One transaction also leaves
/// nothing half-written when interrupted.
pub async fn insert_photos(
    pool: &Pool,
    owner: UserId,
    now: i64,
    total: u64,
    with_pictures: bool,
    mut batch: impl FnMut(usize) -> Vec<GeneratedPhoto>,
    progress: impl Fn(u64),
) -> anyhow::Result<u64> {
    let backend = backend(pool);
    let mut connection = bulk_connection(pool).await?;
    if backend == Backend::Sqlite {
        // Each multi-row insert inside the transaction keeps a statement journal (the pages it
        // changes, so that it alone can be undone). In a temporary file that journal cost 1.5
        // writes per row (77,284 `pwrite` calls for 50,000 rows); in memory, no system call.
        sqlx::query("PRAGMA temp_store = MEMORY")
            .execute(&mut connection)
            .await?;
    }
    let mut tx = sqlx::Connection::begin(&mut connection)
        .await
        .context("starting the bulk transaction")?;
    let mut inserted = 0u64;
    while inserted < total {
        let rows = batch(((total - inserted) as usize).min(ROWS_PER_STATEMENT));
        if rows.is_empty() {
            break;
        }
        let mut insert = Statement::new(
            backend,
            if with_pictures {
                "INSERT INTO photos (owner_id, file_name, taken_at, width, height, byte_size, \
                 mime_type, sha256, status, thumbhash, camera_make, camera_model, lens, \
                 created_at, media_key, derivatives_of) VALUES "
            } else {
                "INSERT INTO photos (owner_id, file_name, taken_at, width, height, byte_size, \
                 mime_type, sha256, status, thumbhash, camera_make, camera_model, lens, \
                 created_at) VALUES "
            },
        );
        let count = rows.len() as u64;
        for (index, row) in rows.into_iter().enumerate() {
            insert
                .push(if index == 0 { "(" } else { ", (" })
                .push_bind(owner)
                .push(", ")
                .push_bind(row.file_name)
                .push(", ")
                .push_bind(row.taken_at)
                .push(", ")
                .push_bind(i64::from(row.width))
                .push(", ")
                .push_bind(i64::from(row.height))
                .push(", ")
                .push_bind(row.byte_size)
                .push(", ")
                .push_bind("image/jpeg")
                .push(", ")
                .push_bind(row.sha256.to_vec())
                .push(", ")
                .push_bind("ready")
                .push(", ")
                .push_bind(row.thumbhash)
                .push(", ")
                .push_bind(row.camera_make)
                .push(", ")
                .push_bind(row.camera_model)
                .push(", ")
                .push_bind(row.lens)
                .push(", ")
                .push_bind(now);
            if with_pictures {
                let (media_key, picture) = row.shows.unzip();
                insert
                    .push(", ")
                    .push_bind(media_key)
                    .push(", ")
                    .push_bind(picture);
            }
            insert.push(")");
        }
        insert
            .query()?
            .execute(&mut *tx)
            .await
            .context("inserting generated photos")?;
        inserted += count;
        progress(count);
    }
    tx.commit().await.context("committing generated photos")?;
    sqlx::Connection::close(connection).await?;
    Ok(inserted)
}
