//! Phone formats, in and out, in one run. In: thumbnail throughput from HEIF/HEIC and AVIF
//! originals against `vipsthumbnail` (Debian's libvips reads both through the same libheif),
//! same files, same 256 × 256 WebP, one core each, rounds alternating. Out: what each preview
//! format costs for the same 1,440-pixel previews of real photographs: encoding time and
//! bytes for AVIF (at the speed the pipeline uses and at libaom's slower default), WebP and
//! JPEG at the pipeline's qualities.
//!
//! `cargo bench -p flashbulb --bench formats` (or `scripts/bench`). Environment:
//! `BENCH_ROUNDS` (default 5), `BENCH_FORMATS_LIMIT` (files of each set, default all; the
//! smoke run takes 2), `BENCH_OUT`.

use std::{path::PathBuf, process::Command, time::Instant};

use flashbulb_core::pipeline::{
    self,
    derive::{self, Limits},
    sniff::Format,
};
use serde_json::json;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Every file under `folder` whose name ends in one of `extensions` and that the pipeline
/// makes a thumbnail of (the damaged and refused ones of the test sets left out).
fn originals(folder: &PathBuf, extensions: &[&str], limit: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(folder)
        .into_iter()
        .filter_map(Result::ok)
        .map(|entry| entry.into_path())
        .filter(|path| {
            path.extension().is_some_and(|ext| {
                extensions
                    .iter()
                    .any(|wanted| ext.eq_ignore_ascii_case(wanted))
            })
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("an original");
            (path, bytes)
        })
        .filter(|(_, bytes)| pipeline::thumbnail(bytes, Limits::default()).is_ok())
        .take(limit)
        .collect()
}

/// Whether `vipsthumbnail` makes a thumbnail of `path` (libvips 8.14 fails to seek in some
/// HIF files libheif itself reads).
fn vips_reads(path: &PathBuf, out: &std::path::Path) -> bool {
    Command::new("vipsthumbnail")
        .env("VIPS_CONCURRENCY", "1")
        .arg(path)
        .args(["--size", "256x256", "-o"])
        .arg(format!("{}/check-%s.webp", out.display()))
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Ours against vipsthumbnail over the `files` both read: per second (medians) and the median
/// ratio, with the files only we read named.
fn thumbnails(name: &str, files: &[(PathBuf, Vec<u8>)], rounds: usize) -> serde_json::Value {
    let out = tempfile::tempdir().expect("output folder");
    let (files, vips_cannot): (Vec<_>, Vec<_>) = files
        .iter()
        .cloned()
        .partition(|(path, _)| vips_reads(path, out.path()));
    let vips_cannot: Vec<String> = vips_cannot
        .iter()
        .filter_map(|(path, _)| Some(path.file_name()?.to_string_lossy().into_owned()))
        .collect();
    let files = files.as_slice();
    let megapixels: f64 = files
        .iter()
        .filter_map(|(_, bytes)| {
            let format = Format::sniff(bytes)?;
            derive::declared_size_of(std::io::Cursor::new(bytes), format, Limits::default()).ok()
        })
        .map(|(width, height)| f64::from(width) * f64::from(height) / 1e6)
        .sum();
    let run_ours = || {
        let started = Instant::now();
        for (_, bytes) in files {
            pipeline::thumbnail(bytes, Limits::default()).expect("thumbnail");
        }
        files.len() as f64 / started.elapsed().as_secs_f64()
    };
    let run_vips = || {
        let started = Instant::now();
        // Files of one name in several folders would overwrite each other's output: no matter.
        let status = Command::new("vipsthumbnail")
            .env("VIPS_CONCURRENCY", "1")
            .args(files.iter().map(|(path, _)| path))
            .args(["--size", "256x256", "--smartcrop", "centre", "-o"])
            .arg(format!("{}/%s.webp[Q=80,strip]", out.path().display()))
            .stderr(std::process::Stdio::null())
            .status()
            .expect("vipsthumbnail (Debian libvips-tools) is installed");
        assert!(status.success(), "vipsthumbnail failed on the {name} files");
        files.len() as f64 / started.elapsed().as_secs_f64()
    };
    run_ours();
    run_vips();
    let (mut ours, mut vips, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (one, other) = (run_ours(), run_vips());
        ours.push(one);
        vips.push(other);
        ratios.push(one / other);
    }
    let (ours, vips, ratio) = (median(&mut ours), median(&mut vips), median(&mut ratios));
    eprintln!(
        "{name}: {} files, {megapixels:.1} MP: {ours:.1}/s, vips {vips:.1}/s, {ratio:.2}×",
        files.len()
    );
    json!({
        "files": files.len(),
        "only_flashbulb_reads": vips_cannot,
        "megapixels": megapixels,
        "flashbulb_per_second": ours,
        "vipsthumbnail_per_second": vips,
        "ratio": ratio,
    })
}

/// Encoding time (median milliseconds per preview) and bytes (mean per preview) of each
/// preview format for the same previews.
fn preview_formats(previews: &[image::RgbImage], rounds: usize) -> serde_json::Value {
    type Encode = Box<dyn Fn(&image::RgbImage) -> Vec<u8>>;
    let formats: Vec<(&str, Encode)> = vec![
        (
            "avif",
            Box::new(|image| pipeline::derive::encode_avif(image).expect("AVIF")),
        ),
        (
            "avif_speed_6",
            Box::new(|image| {
                pipeline::derive::encode_avif_with(image, pipeline::derive::AVIF_QUALITY, 6)
                    .expect("AVIF")
            }),
        ),
        ("webp", Box::new(derive::encode_webp)),
        (
            "jpeg",
            Box::new(|image| derive::encode_jpeg(image).expect("JPEG")),
        ),
    ];
    let mut report = serde_json::Map::new();
    for (name, encode) in &formats {
        let mut milliseconds = Vec::new();
        let mut bytes = 0usize;
        for round in 0..rounds.max(1) {
            for preview in previews {
                let started = Instant::now();
                let encoded = encode(preview);
                milliseconds.push(started.elapsed().as_secs_f64() * 1e3);
                if round == 0 {
                    bytes += encoded.len();
                }
            }
        }
        let per_preview = bytes as f64 / previews.len() as f64;
        let ms = median(&mut milliseconds);
        eprintln!("{name}: {ms:.1} ms, {:.0} KB a preview", per_preview / 1e3);
        report.insert(
            (*name).into(),
            json!({ "median_ms": ms, "mean_bytes": per_preview }),
        );
    }
    serde_json::Value::Object(report)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = root.join(".fixtures");
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5);
    let limit: usize = std::env::var("BENCH_FORMATS_LIMIT")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(usize::MAX);
    // Phones' and cameras' HEIC and HIF (iPhone 8 Plus and 13 Pro, Xiaomi, Canon, a Nokia
    // burst), and the AVIFs of Pillow's tests (small: no camera's AVIF is in the registries).
    let heif = originals(&fixtures.join("heif"), &["heic", "hif"], limit);
    let avif = originals(&fixtures.join("pillow/avif"), &["avif"], limit);
    assert!(!heif.is_empty() && !avif.is_empty(), "run scripts/fixtures");
    let heif_report = thumbnails("HEIF", &heif, rounds);
    let avif_report = thumbnails("AVIF", &avif, rounds);

    // The 1,440-pixel previews of the camera photos, as the pipeline makes them.
    let photos = originals(&fixtures.join("photos"), &["jpg"], limit);
    let previews: Vec<image::RgbImage> = photos
        .iter()
        .map(|(_, bytes)| {
            let pixels = derive::decode(
                bytes.as_slice(),
                Format::Jpeg,
                derive::PREVIEW_EDGE,
                Limits::default(),
            )
            .expect("decode");
            derive::fit(&mut derive::Resizer::new(), &pixels, derive::PREVIEW_EDGE).expect("fit")
        })
        .collect();
    let encodings = preview_formats(&previews, rounds.min(3));

    let json = json!({
        "benchmark": "formats",
        "rounds": rounds,
        "heif": heif_report,
        "avif": avif_report,
        "previews": previews.len(),
        "preview_edge": derive::PREVIEW_EDGE,
        "avif_quality": pipeline::derive::AVIF_QUALITY,
        "avif_speed": pipeline::derive::AVIF_SPEED,
        "webp_quality": derive::WEBP_QUALITY,
        "jpeg_quality": derive::JPEG_QUALITY,
        "encodings": encodings,
    });
    let text = serde_json::to_string_pretty(&json).expect("json");
    println!("{text}");
    if let Ok(path) = std::env::var("BENCH_OUT") {
        std::fs::write(path, text).expect("write results");
    }
}
