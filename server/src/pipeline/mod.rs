//! The image pipeline: from an original file to the facts and derivatives the pages show.

pub mod derive;
pub mod metadata;
pub mod sniff;

use std::path::Path;

use app::model::PhotoId;
use fast_image_resize::Resizer;

use crate::{db::Pool, storage};
use derive::{DeriveError, Limits};
use sniff::Format;

/// The files made for every photo, named as their URLs end.
pub const VARIANTS: [&str; 4] = ["thumb.webp", "thumb.jpg", "preview.webp", "preview.jpg"];

/// Everything one run of the pipeline makes of one original.
#[derive(Debug)]
pub struct Derived {
    /// Upright size of the original.
    pub width: u32,
    pub height: u32,
    pub facts: metadata::Facts,
    pub thumbhash: Vec<u8>,
    /// `(variant, bytes)` for each of [`VARIANTS`].
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Decodes `bytes` once (shrunk to what the preview needs), turns it upright, and makes the
/// square thumbnail, the preview, both in WebP and JPEG, and the thumbhash. Pure CPU work: run
/// it on a blocking thread.
pub fn derive_all(bytes: &[u8], limits: Limits) -> Result<Derived, DeriveError> {
    let format = Format::sniff(bytes).ok_or(DeriveError::Unsupported("files of this kind"))?;
    if !format.is_supported() {
        return Err(DeriveError::Unsupported(format.mime_type()));
    }
    let (declared_width, declared_height) = derive::declared_size(bytes, format, limits)?;
    let facts = metadata::read(bytes);
    let pixels = derive::decode(bytes, format, derive::PREVIEW_EDGE, limits)?;
    let pixels = derive::upright(pixels, facts.orientation);
    let (width, height) = if (5..=8).contains(&facts.orientation) {
        (declared_height, declared_width)
    } else {
        (declared_width, declared_height)
    };
    let mut resizer = Resizer::new();
    let preview = derive::fit(&mut resizer, &pixels, derive::PREVIEW_EDGE)?;
    let thumb = derive::square(&mut resizer, &preview, derive::THUMBNAIL_SIDE)?;
    let thumbhash = derive::thumbhash(&mut resizer, &preview)?;
    let files = vec![
        ("thumb.webp", derive::encode_webp(&thumb)),
        ("thumb.jpg", derive::encode_jpeg(&thumb)?),
        ("preview.webp", derive::encode_webp(&preview)),
        ("preview.jpg", derive::encode_jpeg(&preview)?),
    ];
    Ok(Derived {
        width,
        height,
        facts,
        thumbhash,
        files,
    })
}

/// Only the square WebP thumbnail, decoded no larger than it needs: the work the thumbnail
/// benchmark compares with `vipsthumbnail`.
pub fn thumbnail(bytes: &[u8], limits: Limits) -> Result<Vec<u8>, DeriveError> {
    let format = Format::sniff(bytes).ok_or(DeriveError::Unsupported("files of this kind"))?;
    let orientation = metadata::read(bytes).orientation;
    let pixels = derive::decode(
        bytes,
        format,
        derive::AtLeast::ShortEdge(derive::THUMBNAIL_SIDE),
        limits,
    )?;
    let pixels = derive::upright(pixels, orientation);
    let thumb = derive::square(&mut Resizer::new(), &pixels, derive::THUMBNAIL_SIDE)?;
    Ok(derive::encode_webp(&thumb))
}

/// Why a derivatives job did not finish, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file itself is the problem: retrying gives the same answer.
    #[error(transparent)]
    Photo(#[from] DeriveError),
    #[error("the original file is missing")]
    MissingOriginal,
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl PipelineError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PipelineError::Io(_) | PipelineError::Database(_))
    }
}

/// The `make_derivatives` job: reads the original, makes everything, writes the files (each
/// atomically), then records the facts and marks the photo ready, in that order, so a crash
/// at any point leaves at worst files that the next attempt rewrites byte for byte.
pub async fn make_derivatives(
    pool: &Pool,
    data_dir: &Path,
    photo: PhotoId,
    limits: Limits,
) -> Result<(), PipelineError> {
    let sha: Option<Vec<u8>> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = ?")
        .bind(photo)
        .fetch_optional(pool)
        .await?;
    // Deleted since it was queued: nothing left to do.
    let Some(sha) = sha else { return Ok(()) };
    let original = storage::original_path(data_dir, &sha);
    let bytes = match tokio::fs::read(&original).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(PipelineError::MissingOriginal)
        }
        Err(error) => return Err(error.into()),
    };
    let derived = match tokio::task::spawn_blocking(move || derive_all(&bytes, limits)).await {
        Ok(derived) => derived?,
        // A decoder that panics on a file will panic on it again: not worth a retry.
        Err(error) if error.is_panic() => {
            return Err(DeriveError::Corrupt("the decoder crashed on this file".into()).into())
        }
        Err(error) => {
            return Err(std::io::Error::other(format!("the pipeline stopped: {error}")).into())
        }
    };
    for (variant, bytes) in &derived.files {
        storage::write_atomically(&storage::derivative_path(data_dir, &sha, variant), bytes)
            .await?;
    }
    let facts = &derived.facts;
    sqlx::query(
        "UPDATE photos SET
             width = ?, height = ?, orientation = ?, thumbhash = ?,
             taken_at = coalesce(?, taken_at),
             camera_make = ?, camera_model = ?, lens = ?, exposure_time = ?, aperture = ?,
             iso = ?, focal_length_mm = ?, gps_latitude = ?, gps_longitude = ?,
             status = 'ready', failure = NULL, media_key = substr(sha256, 1, 8)
         WHERE id = ?",
    )
    .bind(derived.width)
    .bind(derived.height)
    .bind(facts.orientation)
    .bind(&derived.thumbhash)
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
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a photo failed for good, keeping the reason for its owner to read.
pub async fn mark_failed(pool: &Pool, photo: PhotoId, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE photos SET status = 'failed', failure = ? WHERE id = ?")
        .bind(reason)
        .bind(photo)
        .execute(pool)
        .await
        .map(|_| ())
}
