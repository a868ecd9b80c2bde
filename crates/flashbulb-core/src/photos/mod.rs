//! Photos: one photo's page, emptying the trash and purging it for good (rows, then the
//! originals no photo shares any more), and taking new photos in (`ingest`). Their statements
//! are the store's (`flashbulb_store::photos`); their media URLs are signed by `media`.

pub mod ingest;

use flashbulb_store::photos::{delete_emptied, delete_trashed, mark_emptied, neighbours, record};
use flashbulb_store::Pool;
use flashbulb_types::model::{PhotoDetail, PhotoId, UserId};

use crate::{
    error::CoreResult,
    files::{FileStore, Stored},
    storage,
};

/// Everything the photo page shows about one of `owner`'s photos.
pub async fn detail(
    pool: &Pool,
    files: &FileStore,
    owner: UserId,
    photo: PhotoId,
) -> CoreResult<PhotoDetail> {
    let row = record(pool, owner, photo).await?;
    let (has_original, responsive) = tokio::join!(
        files.exists(Stored::Original(&row.sha256)),
        files.exists(Stored::Derivative(
            &row.derivatives_sha256,
            crate::pipeline::COMPLETES,
        )),
    );
    let (has_original, responsive) = (has_original.unwrap_or(false), responsive.unwrap_or(false));
    let visible = row.trashed_at.is_none() && row.status == "ready";
    // Neighbours in timeline order; a trashed photo has none.
    let (newer, older) = if visible {
        neighbours(pool, owner, row.cell.taken_at, photo).await?
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
        responsive,
        status: row.status,
        failure: row.failure,
        newer,
        older,
        albums,
        all_albums,
    })
}

/// Empties `owner`'s trash. With a grace period the photos are only marked emptied: they leave
/// the trash for its "recently emptied" list, where they can still be restored, and
/// [`purge_emptied`] deletes them once the period is over. Without one they go at once.
pub async fn empty_trash(
    pool: &Pool,
    files: &FileStore,
    owner: UserId,
    grace_days: u32,
) -> CoreResult<u64> {
    if grace_days == 0 {
        let hashes = delete_trashed(pool, owner).await?;
        remove_unused_originals(pool, files, &hashes).await;
        return Ok(hashes.len() as u64);
    }
    Ok(mark_emptied(pool, owner).await?)
}

/// Photos deleted for good per statement by [`purge_emptied`]: a short write, so uploads and
/// favourites waiting for SQLite's lock are not held up by a large trash.
const PURGE_BATCH: i64 = 500;

/// Deletes for good every photo (of any owner) emptied from the trash before `before` (Unix
/// seconds), then the originals no remaining photo shares; returns the owners whose photos
/// went, each once, with how many.
pub async fn purge_emptied(
    pool: &Pool,
    files: &FileStore,
    before: i64,
) -> CoreResult<std::collections::BTreeMap<UserId, u64>> {
    let mut purged = std::collections::BTreeMap::new();
    loop {
        let rows = delete_emptied(pool, before, PURGE_BATCH).await?;
        for (owner, _) in &rows {
            *purged.entry(*owner).or_default() += 1;
        }
        let hashes: Vec<Vec<u8>> = rows.into_iter().map(|(_, sha)| sha).collect();
        remove_unused_originals(pool, files, &hashes).await;
        if (hashes.len() as i64) < PURGE_BATCH {
            return Ok(purged);
        }
    }
}

/// Removes the originals of deleted photos that no remaining photo shares. FileStore go after the
/// rows are gone: a crash in between leaves an orphan file, never a photo without its original.
async fn remove_unused_originals(pool: &Pool, files: &FileStore, hashes: &[Vec<u8>]) {
    for sha in hashes {
        if let Err(error) = remove_original_unless_used(pool, files, sha).await {
            tracing::warn!(%error, sha = %storage::hex(sha), "could not remove an original");
        }
    }
}

/// Removes an original unless a photo (of any owner) still refers to its bytes; a missing
/// file is no error.
pub(crate) async fn remove_original_unless_used(
    pool: &Pool,
    files: &FileStore,
    sha256: &[u8],
) -> CoreResult<()> {
    if !flashbulb_store::photos::content_in_use(pool, sha256).await? {
        files
            .remove(Stored::Original(sha256))
            .await
            .map_err(crate::CoreError::from_io)?;
    }
    Ok(())
}
