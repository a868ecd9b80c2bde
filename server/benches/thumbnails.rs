//! Thumbnail throughput against `vipsthumbnail` (libvips) on the same real photographs, same
//! size (256 × 256 centre crop) and format (WebP, quality 80), in the same run, one core each.
//!
//! `cargo bench -p flashbulb --bench thumbnails` (or `scripts/bench`). Environment:
//! `BENCH_PHOTOS_DIR` (default `.fixtures/photos`), `BENCH_ROUNDS` (default 5), `BENCH_OUT`.

use std::{path::PathBuf, process::Command, time::Instant};

use flashbulb_core::pipeline::{self, derive::Limits};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let folder = std::env::var("BENCH_PHOTOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".fixtures/photos"));
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}; run scripts/fixtures", folder.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("jpg"))
        })
        .collect();
    files.sort();
    // The photos both tools read; the same list goes to each.
    let (files, photos): (Vec<PathBuf>, Vec<Vec<u8>>) = files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("photo");
            (path, bytes)
        })
        .filter(|(_, bytes)| pipeline::thumbnail(bytes, Limits::default()).is_ok())
        .unzip();
    let megapixels: f64 = photos
        .iter()
        .filter_map(|bytes| {
            image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .ok()?
                .into_dimensions()
                .ok()
        })
        .map(|(w, h)| f64::from(w) * f64::from(h) / 1e6)
        .sum();
    eprintln!(
        "{} photos, {megapixels:.1} MP in all, {rounds} rounds",
        photos.len()
    );

    // Ours: one thread (the JPEG decoder is built without its thread pool), the files already
    // in memory (vips reads them from the page cache).
    let run_ours = || {
        let started = Instant::now();
        for bytes in &photos {
            pipeline::thumbnail(bytes, Limits::default()).expect("thumbnail");
        }
        photos.len() as f64 / started.elapsed().as_secs_f64()
    };

    // vipsthumbnail: one process per round over every file, one worker thread.
    let out = tempfile::tempdir().expect("output folder");
    let inputs: Vec<&PathBuf> = files.iter().collect();
    let run_vips = || {
        let started = Instant::now();
        let status = Command::new("vipsthumbnail")
            .env("VIPS_CONCURRENCY", "1")
            .args(&inputs)
            .args(["--size", "256x256", "--smartcrop", "centre", "-o"])
            .arg(format!("{}/%s.webp[Q=80,strip]", out.path().display()))
            .status()
            .expect("vipsthumbnail (Debian libvips-tools) is installed");
        assert!(status.success(), "vipsthumbnail failed");
        inputs.len() as f64 / started.elapsed().as_secs_f64()
    };
    run_ours();
    run_vips();
    // Rounds alternate, so a busy spell of this shared machine slows both sides of a round;
    // the ratio is the median of the rounds' ratios.
    let (mut ours_rounds, mut vips_rounds, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (ours, vips) = (run_ours(), run_vips());
        ours_rounds.push(ours);
        vips_rounds.push(vips);
        ratios.push(ours / vips);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (ours, vips, ratio) = (
        median(&mut ours_rounds),
        median(&mut vips_rounds),
        median(&mut ratios),
    );

    let json = serde_json::json!({
        "benchmark": "thumbnails",
        "photos": photos.len(),
        "megapixels": megapixels,
        "rounds": rounds,
        "flashbulb_per_second": ours,
        "vipsthumbnail_per_second": vips,
        "ratio": ratio,
        "target_ratio": 1.0,
    });
    let text = serde_json::to_string_pretty(&json).expect("json");
    println!("{text}");
    if let Ok(path) = std::env::var("BENCH_OUT") {
        std::fs::write(path, text).expect("write results");
    }
}
