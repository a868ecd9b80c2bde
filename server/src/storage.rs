//! Where files live in the data folder: originals are content-addressed by their SHA-256.

use std::path::{Path, PathBuf};

/// `data/originals/ab/ab12…ef`: two hex digits of fan-out keep folders small at millions of files.
pub fn original_path(data_dir: &Path, sha256: &[u8]) -> PathBuf {
    let hex = hex(sha256);
    let fan_out = hex.get(..2).unwrap_or("00").to_string();
    data_dir.join("originals").join(fan_out).join(hex)
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Removes an original that no photo refers to any more; a missing file is no error.
pub async fn remove_original(data_dir: &Path, sha256: &[u8]) -> std::io::Result<()> {
    match tokio::fs::remove_file(original_path(data_dir, sha256)).await {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
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
