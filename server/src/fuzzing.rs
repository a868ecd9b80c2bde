//! What each fuzz target checks of one input. The libFuzzer targets in `fuzz/` call these
//! functions to explore (`scripts/fuzz`), and the test below replays every kept input through
//! the same functions in the ordinary test build, so the test command needs no instrumented one.

use app::search::SearchForm;
use flashbulb_core::pipeline::{
    derive::{declared_size_of, Limits},
    sniff::Format,
};
use flashbulb_types::model::Cursor;

/// A target's name (as `fuzz/Cargo.toml` names its binary) and its check.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target, in the order `scripts/fuzz` runs them.
pub const TARGETS: &[Target] = &[
    ("upload_sniffing", upload_sniffing),
    ("heif_boxes", heif_boxes),
    ("image_decoding", image_decoding),
    ("exif_extraction", exif_extraction),
    ("vitals_beacon", vitals_beacon),
    ("websocket_message", websocket_message),
    ("request_arguments", request_arguments),
];

/// An uploaded file's first bytes and header: the format sniffed from its magic bytes, then
/// the dimensions its header declares, read the way uploads read them (never decoded whole).
pub fn upload_sniffing(data: &[u8]) {
    let Some(format) = Format::sniff(data) else {
        return;
    };
    let _ = format.mime_type();
    let limits = Limits {
        max_pixels: 50_000_000,
        ..Limits::default()
    };
    if let Ok((width, height)) = declared_size_of(std::io::Cursor::new(data), format, limits) {
        assert!(u64::from(width) * u64::from(height) <= limits.max_pixels);
        // The pricing uploads run next, from the same headers.
        let _ = flashbulb_core::pipeline::decode::price(data, format, limits);
    }
}

/// A HEIF or AVIF file's brands and boxes as uploads read them: the format from the `ftyp`
/// box's brands, then libheif's parse of the boxes for the primary image's size and the price
/// of decoding it. libFuzzer reaches the C++ box parser sooner here than through every format.
pub fn heif_boxes(data: &[u8]) {
    let Some(format @ (Format::Heif | Format::Avif)) = Format::sniff(data) else {
        return;
    };
    let limits = Limits {
        max_pixels: 50_000_000,
        ..Limits::default()
    };
    if let Ok((width, height)) = declared_size_of(std::io::Cursor::new(data), format, limits) {
        assert!(width > 0 && height > 0);
        assert!(u64::from(width) * u64::from(height) <= limits.max_pixels);
        let _ = flashbulb_core::pipeline::decode::price(data, format, limits);
    }
}

/// A file decoded as its job decodes it, through every decoder (libjpeg's C code among them),
/// up to a megapixel (what libFuzzer's small inputs reach, and what keeps the replay of the
/// test photographs quick): derivatives, or a reason, never a panic.
pub fn image_decoding(data: &[u8]) {
    let limits = Limits {
        max_pixels: 1_000_000,
        time_limit: std::time::Duration::from_secs(10),
        ..Limits::default()
    };
    if let Ok(derived) = flashbulb_core::pipeline::derive_all(data, limits) {
        assert!(derived.width > 0 && derived.height > 0);
        assert!(u64::from(derived.width) * u64::from(derived.height) <= limits.max_pixels);
        assert!(derived.files.iter().all(|(_, bytes)| !bytes.is_empty()));
    }
}

/// EXIF extraction from an uploaded file: camera, lens, time and orientation, or nothing.
pub fn exif_extraction(data: &[u8]) {
    let _ = flashbulb_core::pipeline::metadata::read(data);
}

/// A Web Vitals beacon as browsers post it: JSON checked field by field.
pub fn vitals_beacon(data: &[u8]) {
    if let Ok(beacon) = flashbulb_core::vitals::parse(data) {
        // What is accepted is what the checks promise: a plausible, finite value each.
        for sample in &beacon.metrics {
            assert!(sample.value.is_finite() && sample.value >= 0.0);
        }
    }
}

/// A message a browser sends over the live-updates socket: a subscription request, or a
/// reason to refuse it that is itself sendable.
pub fn websocket_message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(reason) = flashbulb_core::live::read_client_message(text) {
        // The refusal travels back as JSON on one line.
        let refusal = flashbulb_types::live::ServerMessage::Refused { reason };
        let encoded = serde_json::to_string(&refusal).expect("a refusal encodes");
        assert!(!encoded.contains('\n'));
    }
}

/// Arguments pages and server functions take from URLs: search forms and paging cursors.
pub fn request_arguments(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Cursor::parse_argument(Some(text));
    let mut fields = text.split('\u{1f}').map(|field| Some(field.to_string()));
    let form = SearchForm {
        q: fields.next().flatten(),
        camera: fields.next().flatten(),
        lens: fields.next().flatten(),
        from: fields.next().flatten(),
        to: fields.next().flatten(),
        album: fields.next().flatten(),
    };
    if form.parse().is_ok() {
        // A search that parses links back to a search page of this site, and nowhere else.
        let href = form.href();
        assert!(href.starts_with("/search?"));
        assert!(!href.contains(['"', '<', '>', ' ', '\n']));
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// The folders whose files are `target`'s inputs, under the repository at `root`: its seeds
    /// and regression inputs (committed), the test photographs for the image parsers (fetched by
    /// `scripts/fixtures`), and the corpus `scripts/fuzz` grew on this machine, when there is one.
    fn corpus_folders(root: &Path, target: &str) -> Vec<PathBuf> {
        let mut folders = vec![
            root.join("fuzz/seeds").join(target),
            root.join("fuzz/regressions").join(target),
            root.join("target/fuzz/corpus").join(target),
        ];
        match target {
            "upload_sniffing" | "image_decoding" => {
                folders.push(root.join(".fixtures/photos"));
                folders.push(root.join(".fixtures/pillow"));
                folders.push(root.join(".fixtures/heif"));
            }
            "heif_boxes" => {
                folders.push(root.join(".fixtures/heif"));
                folders.push(root.join(".fixtures/pillow/avif"));
            }
            "exif_extraction" => folders.push(root.join(".fixtures/photos")),
            _ => {}
        }
        folders
    }

    fn repository() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the server crate lives in the repository")
            .to_path_buf()
    }

    fn files_under(folder: &Path) -> Vec<PathBuf> {
        walkdir::WalkDir::new(folder)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| entry.into_path())
            .collect()
    }

    /// Every kept input of every target passes its check again, in the ordinary build: what
    /// libFuzzer once found stays fixed. The photographs must be there (`scripts/fixtures`), so
    /// the image parsers are never replayed over their small seeds alone.
    #[test]
    fn every_kept_fuzz_input_passes_its_target_again() {
        let root = repository();
        let fixtures = root.join(".fixtures/photos");
        assert!(
            fixtures.is_dir(),
            "{} is missing: run scripts/fixtures first",
            fixtures.display()
        );
        // One thread per target: deriving a thousand test images in a debug build takes
        // half a minute, which the other targets need not wait for.
        let failures: Vec<String> = std::thread::scope(|scope| {
            let replays: Vec<_> = TARGETS
                .iter()
                .map(|&(target, check)| {
                    let root = &root;
                    scope.spawn(move || {
                        let inputs: Vec<PathBuf> = corpus_folders(root, target)
                            .iter()
                            .flat_map(|folder| files_under(folder))
                            .collect();
                        assert!(!inputs.is_empty(), "{target} has no input to replay");
                        let mut failures = Vec::new();
                        for input in &inputs {
                            let data = std::fs::read(input).expect("read a fuzz input");
                            if std::panic::catch_unwind(|| check(&data)).is_err() {
                                failures.push(format!("{target}: {}", input.display()));
                            }
                        }
                        println!("fuzz inputs replayed: {target} {}", inputs.len());
                        failures
                    })
                })
                .collect();
            replays
                .into_iter()
                .flat_map(|replay| replay.join().expect("a replay"))
                .collect()
        });
        assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
    }
}
