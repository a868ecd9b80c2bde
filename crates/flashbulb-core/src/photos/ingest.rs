//! Adding a photo: a file already on disk (an upload's temporary file, or a copy of an
//! imported one) becomes an original, a `pending` row and a derivatives job, or nothing.

use std::path::Path;

use flashbulb_store::Pool;
use flashbulb_store::{photos, StoreError};
use flashbulb_types::model::{PhotoId, UserId};
use flashbulb_types::ApiError;

use crate::{
    files::{FileStore, Stored},
    pipeline::{
        decode,
        derive::{self, DeriveError, Limits},
        sniff::Format,
    },
    CoreError,
};

/// A file that is ready to add: hashed and sniffed while it was written.
#[derive(Debug)]
pub struct Candidate<'a> {
    pub owner: UserId,
    /// The file to add; moved into the originals on success, removed otherwise.
    pub temporary: &'a Path,
    pub file_name: &'a str,
    pub sha256: [u8; 32],
    pub byte_size: u64,
    pub priority: i64,
}

/// What became of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Added(PhotoId),
    /// The owner already has a photo with exactly these bytes.
    Duplicate(PhotoId),
}

/// Why a file was not added; nothing of it is left behind.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("this is not a photo Flashbulb knows (JPEG, PNG, GIF, WebP, TIFF or BMP)")]
    NotAnImage,
    #[error(transparent)]
    Image(#[from] DeriveError),
    #[error(transparent)]
    Server(#[from] CoreError),
}

impl Refusal {
    /// The HTTP status that says what went wrong.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotAnImage | Refusal::Image(DeriveError::Unsupported(_)) => 415,
            Refusal::Image(DeriveError::TooManyPixels { .. }) => 422,
            Refusal::Image(_) => 422,
            Refusal::Server(error) => error.to_api().status(),
        }
    }
}

/// Adds a candidate, or refuses it and removes its temporary file. Checks, in order: the
/// format (magic bytes), the header (dimensions, pixel limit), duplicates; then the original
/// moves into place and the row and its job are written in one transaction.
pub async fn add(
    pool: &Pool,
    files: &FileStore,
    candidate: Candidate<'_>,
    limits: Limits,
) -> Result<Outcome, Refusal> {
    let outcome = add_inner(pool, files, &candidate, limits).await;
    // Whatever happened, the temporary file is gone afterwards (moved or removed).
    let _ = tokio::fs::remove_file(candidate.temporary).await;
    outcome
}

async fn add_inner(
    pool: &Pool,
    files: &FileStore,
    candidate: &Candidate<'_>,
    limits: Limits,
) -> Result<Outcome, Refusal> {
    let temporary = candidate.temporary.to_path_buf();
    let (format, (width, height)) = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, Seek};
        // Only the header is read: the file may be hundreds of megabytes.
        let file = std::fs::File::open(&temporary).map_err(CoreError::from_io)?;
        let mut reader = std::io::BufReader::new(file);
        let head = reader.fill_buf().map_err(CoreError::from_io)?;
        let format = Format::sniff(head).ok_or(Refusal::NotAnImage)?;
        reader.rewind().map_err(CoreError::from_io)?;
        // Our own temporary file failing to read is the server's fault, not the photo's.
        let refusal = |error| match error {
            DeriveError::Read(error) => Refusal::Server(CoreError::from_io(error)),
            other => Refusal::Image(other),
        };
        let size = derive::declared_size_of(reader, format, limits).map_err(refusal)?;
        // A file whose decoding cannot fit a job's memory is refused now, with the sizes,
        // rather than failing in its job later.
        decode::price(temporary.as_path(), format, limits).map_err(refusal)?;
        Ok::<_, Refusal>((format, size))
    })
    .await
    .map_err(|error| CoreError::Internal(error.into()))??;

    let existing = photos::with_content(pool, candidate.owner, &candidate.sha256[..])
        .await
        .map_err(CoreError::from)?;
    if let Some(id) = existing {
        return Ok(Outcome::Duplicate(id));
    }

    let original = Stored::Original(&candidate.sha256);
    let placed_here = if files.exists(original).await.map_err(CoreError::from_io)? {
        // Another owner has the same bytes: one file serves both.
        false
    } else {
        files
            .put_file(original, candidate.temporary)
            .await
            .map_err(CoreError::from_io)?;
        true
    };
    match insert_row(pool, candidate, format, width, height).await {
        Ok(id) => Ok(Outcome::Added(id)),
        Err(error) => {
            if placed_here {
                let _ = super::remove_original_unless_used(pool, files, &candidate.sha256).await;
            }
            // Two uploads of the same bytes at once: the other one won.
            if let CoreError::Database(StoreError::Conflict(_)) = &error {
                let id = photos::with_content(pool, candidate.owner, &candidate.sha256[..])
                    .await
                    .map_err(CoreError::from)?
                    .ok_or(CoreError::Refused(ApiError::NotFound))?;
                return Ok(Outcome::Duplicate(id));
            }
            Err(error.into())
        }
    }
}

async fn insert_row(
    pool: &Pool,
    candidate: &Candidate<'_>,
    format: Format,
    width: u32,
    height: u32,
) -> Result<PhotoId, CoreError> {
    let photo = photos::NewPhoto {
        owner: candidate.owner,
        file_name: &clean_file_name(candidate.file_name),
        width,
        height,
        byte_size: candidate.byte_size,
        mime_type: format.mime_type(),
        sha256: &candidate.sha256[..],
        priority: candidate.priority,
    };
    Ok(photos::insert(pool, photo).await?)
}

/// The last path component, without control characters or bidirectional formatting ones, at
/// most 255 characters; a name that is nothing after that becomes `photo`. Bidirectional
/// overrides would let `gpj.exe` read as `exe.jpg` wherever the name is shown.
pub fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_bidirectional_control(c))
        .take(255)
        .collect();
    match cleaned.trim() {
        "" | "." | ".." => "photo".to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// Unicode's explicit bidirectional formatting characters (UAX #9): marks, embeddings,
/// overrides and isolates.
fn is_bidirectional_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_their_last_part() {
        assert_eq!(clean_file_name("photo\u{202E}gpj.exe"), "photogpj.exe");
        assert_eq!(clean_file_name("\u{2067}a\u{2069}\u{200F}.jpg"), "a.jpg");
        assert_eq!(clean_file_name("IMG_1.JPG"), "IMG_1.JPG");
        assert_eq!(clean_file_name("C:\\photos\\IMG_2.JPG"), "IMG_2.JPG");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\u{0}b\nc.jpg"), "abc.jpg");
        assert_eq!(clean_file_name(".."), "photo");
        assert_eq!(clean_file_name(""), "photo");
        assert_eq!(clean_file_name(&"x".repeat(300)).len(), 255);
    }
}
