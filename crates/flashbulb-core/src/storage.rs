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

/// `data/tmp/host-pid`: this process's half-written files (uploads arriving, imports being
/// copied, derivatives being encoded). On the data folder's file system, so finished files
/// move into place with a rename; named after the process, so what a killed process left
/// is found and removed at the next start ([`sweep_scratch`]).
pub fn scratch_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tmp").join(crate::instance::name())
}

/// A file in the scratch folder that is removed when dropped, unless it was moved away: an
/// upload cut off, a request cancelled or a refusal never leaves it behind.
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
}

impl ScratchFile {
    /// A new, uniquely named path in this process's scratch folder (created if missing).
    pub async fn new(data_dir: &Path, purpose: &str) -> std::io::Result<Self> {
        let folder = scratch_dir(data_dir);
        tokio::fs::create_dir_all(&folder).await?;
        Ok(Self {
            path: folder.join(format!("{purpose}-{:032x}", rand::random::<u128>())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        // Usually already moved into place or removed: then there is nothing to do.
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(%error, path = %self.path.display(), "could not remove a scratch file")
            }
            _ => {}
        }
    }
}

/// Scratch files of other hosts' processes this old are certainly abandoned.
const ABANDONED_ELSEWHERE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes what stopped processes left in `data/tmp`: the folders of this host's processes
/// that no longer run (killed mid-upload or mid-job), and anything else there untouched for a
/// day (other hosts sharing the folder). Call at start, before this process writes there.
/// Returns the entries removed.
pub async fn sweep_scratch(data_dir: &Path) -> std::io::Result<usize> {
    let tmp = data_dir.join("tmp");
    let mut entries = match tokio::fs::read_dir(&tmp).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let metadata = entry.metadata().await?;
        let idle = metadata
            .modified()
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .unwrap_or_default();
        let abandoned = (metadata.is_dir() && crate::instance::is_gone(&name, false))
            || idle > ABANDONED_ELSEWHERE;
        if !abandoned {
            continue;
        }
        let outcome = if metadata.is_dir() {
            tokio::fs::remove_dir_all(entry.path()).await
        } else {
            tokio::fs::remove_file(entry.path()).await
        };
        match outcome {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(removed)
}

/// Writes `bytes` to `path` through a scratch file and a rename, so a reader (or a crash)
/// never sees half a file, and a crash leaves its half in the scratch folder, not beside
/// the finished files.
pub async fn write_atomically(data_dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a file path without a folder"))?;
    tokio::fs::create_dir_all(folder).await?;
    // Unique per write: two writers of the same file (a job redone after a lost lease) never
    // share a scratch file; the last rename wins with identical bytes.
    let scratch = ScratchFile::new(data_dir, "write").await?;
    tokio::fs::write(scratch.path(), bytes).await?;
    tokio::fs::rename(scratch.path(), path).await
}

pub use flashbulb_types::format::hex;

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

    #[tokio::test]
    async fn scratch_files_go_when_dropped_and_dead_processes_folders_at_start() {
        let data = tempfile::tempdir().expect("a folder");
        let kept_path = {
            let dropped = ScratchFile::new(data.path(), "upload")
                .await
                .expect("scratch");
            tokio::fs::write(dropped.path(), b"half")
                .await
                .expect("write");
            let kept = ScratchFile::new(data.path(), "upload")
                .await
                .expect("scratch");
            tokio::fs::write(kept.path(), b"whole")
                .await
                .expect("write");
            let moved = data.path().join("moved");
            tokio::fs::rename(kept.path(), &moved)
                .await
                .expect("rename");
            assert!(dropped.path().exists());
            moved
        };
        assert!(kept_path.exists(), "a file moved away is not the guard's");
        let scratch = scratch_dir(data.path());
        assert_eq!(
            std::fs::read_dir(&scratch)
                .expect("the scratch folder")
                .count(),
            0,
            "a dropped scratch file is removed"
        );

        let host = crate::instance::host();
        let dead = data.path().join("tmp").join(format!("{host}-99999999"));
        let alive = data.path().join("tmp").join(format!("{host}-1"));
        let elsewhere = data.path().join("tmp").join("other-host-7");
        for folder in [&dead, &alive, &elsewhere] {
            std::fs::create_dir_all(folder).expect("a folder");
            std::fs::write(folder.join("write-1"), b"half").expect("a file");
        }
        let removed = sweep_scratch(data.path()).await.expect("sweep");
        // The dead process's folder and this process's own (an earlier life's, at start).
        assert_eq!(removed, 2);
        assert!(!dead.exists() && !scratch.exists());
        assert!(alive.exists() && elsewhere.exists());
        assert_eq!(
            sweep_scratch(&data.path().join("none"))
                .await
                .expect("sweep"),
            0
        );
    }
}
