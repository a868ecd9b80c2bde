//! Where files live in the data folder: originals are content-addressed by their SHA-256.

use std::path::{Path, PathBuf};

/// `data/originals/ab/ab12…ef`: two hex digits of fan-out keep folders small at millions of files.
pub fn original_path(data_dir: &Path, sha256: &[u8]) -> PathBuf {
    let hex = hex(sha256);
    let fan_out = hex.get(..2).unwrap_or("00").to_string();
    data_dir.join("originals").join(fan_out).join(hex)
}

/// `data/derivatives/ab/ab12…ef/thumb.webp`: every derivative of one original in its folder,
/// named after the content it was made from, so its URL can be cached forever.
pub fn derivative_path(data_dir: &Path, sha256: &[u8], variant: &str) -> PathBuf {
    let hex = hex(sha256);
    let fan_out = hex.get(..2).unwrap_or("00").to_string();
    data_dir
        .join("derivatives")
        .join(fan_out)
        .join(hex)
        .join(variant)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader (or a crash) never sees half a file.
pub async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a file path without a folder"))?;
    tokio::fs::create_dir_all(folder).await?;
    // Unique per write: two writers of the same file (a job redone after a lost lease) never
    // share a temporary file; the last rename wins with identical bytes.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let temporary = folder.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("file"),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    tokio::fs::write(&temporary, bytes).await?;
    match tokio::fs::rename(&temporary, path).await {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = tokio::fs::remove_file(&temporary).await;
            Err(error)
        }
    }
}

pub use app::format::hex;

/// Removes an original that no photo refers to any more; a missing file is no error.
pub async fn remove_original(data_dir: &Path, sha256: &[u8]) -> std::io::Result<()> {
    match tokio::fs::remove_file(original_path(data_dir, sha256)).await {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes an original unless a photo (of any owner) still refers to its bytes.
pub async fn remove_original_unless_used(
    pool: &crate::db::Pool,
    data_dir: &Path,
    sha256: &[u8],
) -> Result<(), crate::ServerError> {
    let used: crate::db::Flag =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = $1)")
            .bind(sha256)
            .fetch_one(pool)
            .await?;
    if !used.0 {
        remove_original(data_dir, sha256)
            .await
            .map_err(crate::ServerError::from_io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn originals_fan_out_by_their_first_byte() {
        let sha = [0xab; 32];
        let path = original_path(Path::new("/data"), &sha);
        assert_eq!(path, Path::new("/data/originals/ab").join("ab".repeat(32)));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
