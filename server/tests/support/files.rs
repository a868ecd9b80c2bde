//! Test files shared by the test binaries: the fixtures `scripts/fixtures` fetched, and
//! multipart bodies of files as browsers send them.

use std::path::PathBuf;

/// A fixture file; missing fixtures fail the test loudly (run `scripts/fixtures`).
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.fixtures")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "fixture {} is missing ({error}); run scripts/fixtures first",
            path.display()
        )
    })
}

/// A multipart body with one file part per `(name, bytes)`.
pub fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "flashbulb-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
