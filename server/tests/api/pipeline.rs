//! The image pipeline and the job queue with real photographs (fetched by `scripts/fixtures`
//! from Debian's forensics-samples-files, npm's exif and Pillow's test images).

use std::time::Duration;

pub(crate) use crate::files::{fixture, multipart};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use flashbulb::config::Config;
use flashbulb_core::{
    jobs::{worker::Workers, Registry},
    pipeline::{self, derive::Limits},
};
use flashbulb_store::jobs::{self, JobKind};

use super::TestApp;

/// A derivative's size, decoded: AVIFs by the pipeline's own decoder (libheif), the rest by
/// the `image` crate.
fn decode_size(bytes: &[u8]) -> (u32, u32) {
    use flashbulb_core::pipeline::{derive, sniff::Format};
    if Format::sniff(bytes) == Some(Format::Avif) {
        let image = derive::decode(bytes, Format::Avif, 100_000, Limits::default())
            .expect("an AVIF derivative decodes");
        return image.dimensions();
    }
    let image = image::load_from_memory(bytes).expect("a derivative decodes");
    (image.width(), image.height())
}

/// Each derivative's name and decoded size, by name.
fn sizes_of(derived: &pipeline::Derived) -> Vec<(&'static str, (u32, u32))> {
    let mut sizes: Vec<_> = derived
        .files
        .iter()
        .map(|(variant, bytes)| (*variant, decode_size(bytes)))
        .collect();
    sizes.sort();
    sizes
}

/// The derivative named `variant`.
fn file<'a>(derived: &'a pipeline::Derived, variant: &str) -> &'a [u8] {
    derived
        .files
        .iter()
        .find(|(name, _)| *name == variant)
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_else(|| panic!("no {variant}"))
}

#[test]
fn a_camera_photo_gives_its_exif_and_derivatives() {
    let derived = pipeline::derive_all(&fixture("photos/sony-alpha-6000.jpg"), Limits::default())
        .expect("the Sony photo");
    assert_eq!((derived.width, derived.height), (6000, 4000));
    let facts = &derived.facts;
    assert_eq!(facts.camera_make.as_deref(), Some("SONY"));
    assert_eq!(facts.camera_model.as_deref(), Some("ILCE-6000"));
    assert_eq!(facts.lens.as_deref(), Some("E PZ 16-50mm F3.5-5.6 OSS"));
    assert_eq!(facts.exposure_time.as_deref(), Some("6"));
    assert_eq!(facts.aperture, Some(8.0));
    assert_eq!(facts.iso, Some(100));
    assert_eq!(facts.focal_length_mm, Some(22.0));
    // 2014-04-18 20:33:53 by the place's clock, whose offset the camera did not record.
    assert_eq!(facts.taken_at, Some(1_397_853_233));
    assert_eq!(facts.taken_offset_minutes, None);
    assert_eq!(facts.gps, None);
    // Each preview at its edge, in each format; the thumbnails at one and two times.
    assert_eq!(
        sizes_of(&derived),
        [
            ("preview-2560.webp", (2560, 1707)),
            ("preview-720.avif", (720, 480)),
            ("preview-720.webp", (720, 480)),
            ("preview.avif", (1440, 960)),
            ("preview.jpg", (1440, 960)),
            ("preview.webp", (1440, 960)),
            ("thumb-512.webp", (512, 512)),
            ("thumb.jpg", (256, 256)),
            ("thumb.webp", (256, 256)),
        ]
    );
    assert!(app::codec::thumbhash_rgb(&derived.thumbhash).is_some());
    // A small original gets no preview larger than itself, nor one of its own size twice.
    let derived = pipeline::derive_all(&fixture("pillow/hopper.jpg"), Limits::default())
        .expect("a 128-pixel photo");
    assert_eq!(
        sizes_of(&derived),
        [
            ("preview.avif", (128, 128)),
            ("preview.jpg", (128, 128)),
            ("preview.webp", (128, 128)),
            ("thumb.jpg", (256, 256)),
            ("thumb.webp", (256, 256)),
        ]
    );
}

#[test]
fn orientation_is_applied_and_gps_never_reaches_a_derivative() {
    // Orientation 3 (upside down) with a GPS position.
    let bytes = fixture("photos/IMG_20200124_231153.jpg");
    let derived = pipeline::derive_all(&bytes, Limits::default()).expect("the Xiaomi photo");
    assert_eq!(derived.facts.orientation, 3);
    assert_eq!((derived.width, derived.height), (4000, 3000));
    let (latitude, longitude) = derived.facts.gps.expect("GPS position");
    assert!((latitude + 15.83567).abs() < 1e-4, "{latitude}");
    assert!((longitude + 48.01556).abs() < 1e-4, "{longitude}");
    for (variant, file) in &derived.files {
        let facts = pipeline::metadata::read(file);
        assert_eq!(facts.gps, None, "{variant} carries GPS");
        assert_eq!(facts.camera_model, None, "{variant} carries EXIF");
        assert!(
            !file.windows(4).any(|w| w == b"Exif"),
            "{variant} has an EXIF block"
        );
    }

    // Orientation 8 (a quarter turn) swaps width and height.
    let derived =
        pipeline::derive_all(&fixture("photos/right.jpg"), Limits::default()).expect("right.jpg");
    assert_eq!(derived.facts.orientation, 8);
    assert_eq!((derived.width, derived.height), (480, 640));
    assert_eq!(decode_size(file(&derived, "preview.webp")), (480, 640));

    let derived = pipeline::derive_all(
        &fixture("pillow/hopper_orientation_6.jpg"),
        Limits::default(),
    )
    .expect("orientation 6");
    assert_eq!(derived.facts.orientation, 6);
    let (width, height) = (derived.width, derived.height);
    let stored =
        image::load_from_memory(&fixture("pillow/hopper_orientation_6.jpg")).expect("decode");
    assert_eq!((width, height), (stored.height(), stored.width()));
}

#[test]
fn a_photo_that_takes_longer_than_its_time_limit_stops_with_that_reason() {
    let photo = fixture("photos/sony-alpha-6000.jpg");
    let hurried = Limits {
        time_limit: Duration::from_millis(1),
        ..Limits::default()
    };
    let error = pipeline::derive_all(&photo, hurried).expect_err("24 MP in a millisecond");
    assert!(
        matches!(
            error,
            flashbulb_core::pipeline::derive::DeriveError::TimedOut(_)
        ),
        "{error}"
    );
    assert!(error.to_string().contains("longer than"), "{error}");
    assert!(flashbulb_core::pipeline::PipelineError::Photo(error).is_retryable());
    // Within its time, the same file is fine.
    pipeline::derive_all(&photo, Limits::default()).expect("24 MP in a minute");
}

#[test]
fn unusual_but_valid_pixel_formats_make_derivatives() {
    for file in [
        "pillow/hopper_unknown_pixel_mode.tif", // 32-bit float RGB, decoded whole
        "pillow/16bit.deflate.tif",             // 16-bit grey, strip by strip
        "pillow/tiff_adobe_deflate.tif",
        "pillow/hopper_lzw.tif",
    ] {
        let derived = pipeline::derive_all(&fixture(file), Limits::default())
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert!(derived.width > 0 && !derived.files.is_empty(), "{file}");
    }

    // A CMYK JPEG (Adobe's inverted samples) comes out in the colours another decoder sees.
    let cmyk = fixture("pillow/pil_sample_cmyk.jpg");
    let derived = pipeline::derive_all(&cmyk, Limits::default()).expect("CMYK JPEG");
    let reference = image::load_from_memory(&cmyk).expect("decode").to_rgb8();
    assert_eq!((derived.width, derived.height), reference.dimensions());
    let mean = |image: &image::RgbImage| {
        let mut sums = [0u64; 3];
        for pixel in image.pixels() {
            for (sum, value) in sums.iter_mut().zip(pixel.0) {
                *sum += u64::from(value);
            }
        }
        sums.map(|sum| sum / u64::from(image.width() * image.height()))
    };
    let preview = image::load_from_memory(file(&derived, "preview.webp"))
        .expect("preview")
        .to_rgb8();
    let (ours, theirs) = (mean(&preview), mean(&reference));
    for (a, b) in ours.iter().zip(theirs) {
        assert!(
            a.abs_diff(b) <= 8,
            "mean colour {ours:?}, another decoder {theirs:?}"
        );
    }
}

#[test]
fn malformed_and_hostile_images_are_refused_with_a_reason() {
    for (file, expect) in [
        ("pillow/truncated_jpeg.jpg", "damaged"),
        ("pillow/truncated_image.png", "damaged"),
        ("pillow/broken.png", "damaged"),
        ("pillow/zero_width.gif", "damaged"),
        ("pillow/decompression_bomb.gif", ""),
        ("pillow/bmp/b/reallybig.bmp", "megapixels allowed"),
        ("pillow/png_decompression_dos.png", ""),
        ("heif/heif_truncated/truncated.heic", "damaged"),
        ("heif/heif_corrupted/corrupted.heic", "damaged"),
        ("heif/heif_corrupted/corrupted.hif", "damaged"),
        ("heif/heif_corrupted/empty.heic", "not supported yet"),
        // 200 megapixels in 2.4 MB: refused from its boxes, before a pixel is decoded.
        ("heif/heif_special/200MP.heic", "megapixels allowed"),
        // Valid, but the TIFF decoder asserts on them: named rather than crashing it.
        (
            "pillow/tiff_tiled_planar_raw.tif",
            "unsupported: TIFF with separate colour planes in tiles",
        ),
    ] {
        let bytes = fixture(file);
        let outcome = std::panic::catch_unwind(|| pipeline::derive_all(&bytes, Limits::default()));
        let outcome = outcome.unwrap_or_else(|_| panic!("{file} crashed the pipeline"));
        match outcome {
            Err(error) => {
                let reason = error.to_string();
                assert!(reason.contains(expect), "{file}: {reason}");
            }
            // A few of Pillow's oddities are valid images after all; then they must be sane.
            Ok(derived) => assert!(
                expect.is_empty() && derived.width > 0 && derived.height > 0,
                "{file} was accepted"
            ),
        }
    }
    let tiny = Limits {
        max_pixels: 1_000_000,
        ..Limits::default()
    };
    let error = pipeline::derive_all(&fixture("photos/sony-alpha-6000.jpg"), tiny)
        .expect_err("24 MP over a 1 MP limit");
    assert!(
        error.to_string().contains("24000000") || error.to_string().contains("6000 × 4000"),
        "{error}"
    );
}

/// The mean absolute difference of two images' samples, 0 to 255.
fn mean_difference(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

fn preview_of(derived: &pipeline::Derived) -> image::RgbImage {
    image::load_from_memory(file(derived, "preview.webp"))
        .expect("preview")
        .to_rgb8()
}

#[test]
fn phone_photos_in_heif_and_avif_give_their_exif_and_upright_derivatives() {
    // An iPhone 8 Plus held upright: its pixels are coded on their side (4032 × 3024) with an
    // `irot` box and EXIF orientation 6. libheif turns them; turning them again by the EXIF
    // orientation would lay the photo down.
    let arrow = fixture("heif/heif_other/arrow.heic");
    assert_eq!(pipeline::metadata::read(&arrow).orientation, 6);
    let derived = pipeline::derive_all(&arrow, Limits::default()).expect("the iPhone 8 HEIC");
    assert_eq!((derived.width, derived.height), (3024, 4032));
    assert_eq!(derived.facts.orientation, 1);
    assert_eq!(derived.facts.camera_make.as_deref(), Some("Apple"));
    assert_eq!(derived.facts.camera_model.as_deref(), Some("iPhone 8 Plus"));
    assert!(derived.facts.taken_at.is_some());
    assert_eq!(
        sizes_of(&derived),
        [
            ("preview-2560.webp", (1920, 2560)),
            ("preview-720.avif", (540, 720)),
            ("preview-720.webp", (540, 720)),
            ("preview.avif", (1080, 1440)),
            ("preview.jpg", (1080, 1440)),
            ("preview.webp", (1080, 1440)),
            ("thumb-512.webp", (512, 512)),
            ("thumb.jpg", (256, 256)),
            ("thumb.webp", (256, 256)),
        ]
    );
    for (variant, file) in &derived.files {
        assert!(
            !file.windows(4).any(|w| w == b"Exif"),
            "{variant} has an EXIF block"
        );
    }

    // An iPhone 13 Pro's grid of tiles with a depth map and an HDR gain map beside it: the
    // primary image, with the date and offset the phone recorded.
    let derived = pipeline::derive_all(&fixture("heif/heif_other/pug.heic"), Limits::default())
        .expect("the iPhone 13 HEIC");
    assert_eq!((derived.width, derived.height), (4032, 3024));
    assert_eq!(derived.facts.camera_model.as_deref(), Some("iPhone 13 Pro"));
    // 21 February 2023, 14:33:08 by the place's clock.
    let day = app::format::parse_day("2023-02-21").expect("a day");
    assert_eq!(derived.facts.taken_at, Some(day + 14 * 3600 + 33 * 60 + 8));

    // A Canon HIF of 10 bits a sample, a Xiaomi HEIC, and a Nokia burst (its primary frame).
    for (file, size) in [
        ("heif/heif_other/cat.hif", (4240, 2832)),
        ("heif/heif_special/xiaomi.heic", (2592, 1944)),
        ("heif/heif_other/nokia/bird_burst.heic", (1280, 720)),
        ("heif/heif/RGB_10__29x100.heif", (29, 100)),
        ("pillow/avif/hopper.avif", (128, 128)),
    ] {
        let derived = pipeline::derive_all(&fixture(file), Limits::default())
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!((derived.width, derived.height), size, "{file}");
        assert!(derived.files.iter().all(|(_, bytes)| !bytes.is_empty()));
    }

    // The same picture stored turned and mirrored every way, each with the `irot` and `imir`
    // that undo it: all eight come out alike, and unlike the picture turned once more.
    let upright = preview_of(
        &pipeline::derive_all(&fixture("pillow/avif/rot0mir0.avif"), Limits::default())
            .expect("rot0mir0"),
    );
    for turned in [
        "rot1mir0", "rot2mir0", "rot3mir0", "rot0mir1", "rot1mir1", "rot3mir1",
    ] {
        let file = format!("pillow/avif/{turned}.avif");
        let derived = pipeline::derive_all(&fixture(&file), Limits::default())
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!((derived.width, derived.height), (640, 427), "{file}");
        let preview = preview_of(&derived);
        let difference = mean_difference(&preview, &upright);
        let upside_down = mean_difference(&image::imageops::rotate180(&preview), &upright);
        let mirrored = mean_difference(&image::imageops::flip_horizontal(&preview), &upright);
        assert!(difference < 12.0, "{file} differs by {difference:.1}");
        assert!(
            upside_down > 2.0 * difference && mirrored > 2.0 * difference,
            "{file}"
        );
    }

    // Within a job's memory budget, or refused with the sizes before decoding.
    let small = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let error = pipeline::derive_all(&arrow, small).expect_err("12 MP in 16 MiB of decoding");
    assert!(error.to_string().contains("12-megapixel HEIF"), "{error}");
}

/// A valid PNG header declaring `width` × `height` pixels, with no pixel data worth decoding:
/// a decompression bomb as the upload sees it.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // An IDAT chunk holding an empty zlib stream: the header reader needs one to exist.
    let idat = [
        b"IDAT".as_slice(),
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ]
    .concat();
    png.extend_from_slice(&8u32.to_be_bytes());
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32(&idat).to_be_bytes());
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

/// Posts `body` to the upload endpoint as `content_type`.
async fn post_upload(app: &TestApp, content_type: &str, body: Vec<u8>) -> (StatusCode, String) {
    app.request(
        Request::post("/api/upload")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("request"),
    )
    .await
}

pub(crate) async fn upload(
    app: &TestApp,
    files: &[(&str, &[u8])],
) -> (StatusCode, serde_json::Value) {
    let (content_type, body) = multipart(files);
    let (status, text) = post_upload(app, &content_type, body).await;
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}

/// Uploads as a client does when told the database is briefly away (503 with Retry-After):
/// tries again. Two workers decoding beside sixteen test threads can slow a request enough
/// that the database gate probes, and a probe starved of CPU shuts the gate for a moment.
async fn upload_until_taken(
    app: &TestApp,
    files: &[(&str, &[u8])],
) -> (StatusCode, serde_json::Value) {
    for _ in 0..20 {
        let (status, json) = upload(app, files).await;
        if status != StatusCode::SERVICE_UNAVAILABLE {
            return (status, json);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    upload(app, files).await
}

/// The next derivatives job for `worker`, held for `seconds`.
async fn lease(app: &TestApp, worker: &str, seconds: u64) -> Option<jobs::Leased> {
    jobs::lease(
        &app.pool,
        JobKind::MakeDerivatives,
        worker,
        Duration::from_secs(seconds),
    )
    .await
    .expect("lease")
}

/// Runs workers until the queue has nothing waiting or running.
pub(crate) async fn run_jobs(app: &TestApp) {
    run_jobs_while(app, async {}).await
}

/// Runs workers while `work` runs and then until the queue has nothing waiting or running;
/// gives what `work` gave.
pub(crate) async fn run_jobs_while<T>(
    app: &TestApp,
    work: impl std::future::Future<Output = T>,
) -> T {
    let mut config = app.config.core().worker_config();
    config.idle_poll = Duration::from_millis(50);
    let mut derivatives = app.config.core().derivatives_job(&app.pool);
    derivatives.workers = 2;
    let workers = Workers::start(
        app.pool.clone(),
        config,
        &Registry::default().with(derivatives),
        Default::default(),
        app.state.events.clone(),
    );
    let output = work.await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let depth = jobs::depth(&app.pool).await.expect("depth");
        if depth.queued + depth.running == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs did not finish: {depth:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workers.shutdown().await;
    output
}

/// Files in the scratch folders (`tmp/HOST-PID/`), which must be empty between requests.
fn leftovers(app: &TestApp) -> Vec<String> {
    let tmp = app.dir.path().join("tmp");
    let mut files = Vec::new();
    for folder in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        match std::fs::read_dir(folder.path()) {
            Ok(entries) => files.extend(
                entries
                    .flatten()
                    .map(|entry| entry.path().display().to_string()),
            ),
            Err(_) => files.push(folder.path().display().to_string()),
        }
    }
    files
}

#[tokio::test]
async fn an_upload_becomes_a_photo_with_derivatives_at_immutable_urls() {
    let app = TestApp::new().await.with_photos(1).await;
    let photo = fixture("photos/test1.jpg");
    let (status, json) = upload(&app, &[("My trip/test1.jpg", &photo)]).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["files"][0]["photo_id"].as_i64().expect("photo id");
    assert_eq!(json["files"][0]["status"], "added");
    let (state, name): (String, String) =
        sqlx::query_as("SELECT status, file_name FROM photos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!((state.as_str(), name.as_str()), ("pending", "test1.jpg"));
    assert_eq!(app.scalar("SELECT count(*) FROM jobs").await, 1);

    run_jobs(&app).await;
    let (state, model, key): (String, Option<String>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT status, camera_model, media_key FROM photos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!(state, "ready");
    assert_eq!(model.as_deref(), Some("iPhone 4S"));
    assert_eq!(
        app.scalar("SELECT count(*) FROM jobs").await,
        0,
        "finished jobs linger"
    );
    let key = app::format::hex(&key.expect("a media key"));
    let owner = app
        .scalar(&format!("SELECT owner_id FROM photos WHERE id = {id}"))
        .await;
    let access = app.state.media.access(owner).await.expect("access");
    let media = format!("{access}/{key}");

    let (status, headers, bytes) = app
        .request_bytes(
            Request::get(format!("/media/{media}/thumb.webp"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let window = Config::default().media_url_window_secs;
    let shared = shared_cache_lifetime(&headers);
    assert!(
        (window - 1..=2 * window).contains(&shared),
        "shared caches keep it until the URL expires, one to two windows: {shared} s"
    );
    assert_eq!(headers[header::CONTENT_TYPE], "image/webp");
    assert_eq!(decode_size(&bytes), (256, 256));
    let (_, html) = app.get(&format!("/p/{id}")).await;
    assert!(
        html.contains(&format!("/media/{media}/preview.webp")),
        "the photo page lacks its preview"
    );
    let (_, html) = app.get("/").await;
    assert!(
        html.contains(&format!("/media/{media}/thumb.webp")),
        "the timeline lacks the thumbnail"
    );
    // The grid's island signs the thumbnails it fetches with the same access.
    assert!(
        html.contains(&access),
        "the timeline lacks the media access"
    );
    let someone_else = app.state.media.access(owner + 1).await.expect("access");
    for bad in [
        format!("/media/{media}/original.jpg"),
        format!("/media/{access}/{}/thumb.webp", key.to_uppercase()),
        format!("/media/{access}/0000000000000000/thumb.webp"),
        format!("/media/{access}/../../etc/thumb.webp"),
        // Unsigned, the way derivatives were once addressed.
        format!("/media/{key}/thumb.webp"),
        // A valid access of another owner opens only that owner's photos.
        format!("/media/{someone_else}/{key}/thumb.webp"),
    ] {
        let (status, _) = app.get(&bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    let signature = access.rsplit('-').next().expect("signature");
    let later = access.replacen('-', "-9", 1);
    for forged in [
        access.replace(signature, &"0".repeat(32)),
        later,
        format!("{}-{}", owner + 1, access.split_once('-').expect("owner").1),
        "1-1-x".to_string(),
        "%00".to_string(),
    ] {
        let (status, body) = app.get(&format!("/media/{forged}/{key}/thumb.webp")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{forged}: {body}");
        assert!(body.contains("not valid"), "{forged}: {body}");
    }

    // The same bytes again: a duplicate, no second row, no second file.
    let (status, json) = upload(&app, &[("copy.jpg", &photo)]).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["files"][0]["status"], "duplicate");
    assert_eq!(json["files"][0]["photo_id"].as_i64(), Some(id));
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 2);
    assert!(
        leftovers(&app).is_empty(),
        "temporary files left: {:?}",
        leftovers(&app)
    );
}

#[tokio::test]
async fn an_iphone_heic_upload_becomes_an_upright_photo_with_its_camera() {
    let app = TestApp::new().await;
    let heic = fixture("heif/heif_other/arrow.heic");
    let (status, json) = upload(&app, &[("IMG_0001.HEIC", &heic)]).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["files"][0]["photo_id"].as_i64().expect("photo id");
    // Its size is known from the boxes at once, upright, before the job decodes anything.
    let (width, height, mime): (i64, i64, String) =
        sqlx::query_as("SELECT width, height, mime_type FROM photos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!((width, height, mime.as_str()), (3024, 4032, "image/heic"));

    run_jobs(&app).await;
    let (state, model, taken, key): (String, Option<String>, Option<i64>, Option<Vec<u8>>) =
        sqlx::query_as(
            "SELECT status, camera_model, taken_at, media_key FROM photos WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("row");
    assert_eq!(state, "ready");
    assert_eq!(model.as_deref(), Some("iPhone 8 Plus"));
    assert!(taken.is_some());
    let key = app::format::hex(&key.expect("a media key"));
    let owner = app
        .scalar(&format!("SELECT owner_id FROM photos WHERE id = {id}"))
        .await;
    let access = app.state.media.access(owner).await.expect("access");
    let (status, headers, bytes) = app
        .request_bytes(
            Request::get(format!("/media/{access}/{key}/preview.jpg"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(
        decode_size(&bytes),
        (1080, 1440),
        "the preview stands upright"
    );
    let (status, headers, bytes) = app
        .request_bytes(
            Request::get(format!("/media/{access}/{key}/preview.avif"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/avif");
    assert_eq!(decode_size(&bytes), (1080, 1440));

    // Its page offers each preview by width, AVIF first where its largest is enough, sized
    // to the frame.
    let (status, page) = app.get(&format!("/p/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let media = format!("/media/{access}/{key}");
    let avif = format!(
        "<source type=\"image/avif\" media=\"(max-resolution: 1dppx) and (max-width: 1080px), \
         (max-resolution: 1.5dppx) and (max-width: 720px), (max-resolution: 2dppx) and \
         (max-width: 540px), (max-resolution: 3dppx) and (max-width: 360px)\" \
         srcset=\"{media}/preview-720.avif 540w, {media}/preview.avif 1080w\""
    );
    assert!(page.contains(&avif), "{page}");
    assert!(page.contains(&format!("{media}/preview-2560.webp 1920w")));
    assert!(page
        .contains("sizes=\"(max-width: 720px) min(calc(100vw - 16px), calc(78vh * 3024 / 4032))"));
}

#[tokio::test]
async fn photos_derived_before_the_sizes_existed_keep_working() {
    let app = TestApp::new().await;
    let photo = fixture("photos/test1.jpg");
    let (status, json) = upload(&app, &[("test1.jpg", &photo)]).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["files"][0]["photo_id"].as_i64().expect("photo id");
    run_jobs(&app).await;
    let (sha, key): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT sha256, media_key FROM photos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    // What an earlier version made: one preview in WebP and JPEG, one thumbnail.
    let data_dir = app.config.data_dir.clone();
    let path = |variant: &str| flashbulb_core::storage::derivative_path(&data_dir, &sha, variant);
    for variant in flashbulb_core::pipeline::VARIANTS {
        if !matches!(
            variant,
            "thumb.webp" | "thumb.jpg" | "preview.webp" | "preview.jpg"
        ) {
            match std::fs::remove_file(path(variant)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    panic!("{variant}: {error}")
                }
                _ => {}
            }
        }
    }
    let (status, page) = app.get(&format!("/p/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("image/avif") && !page.contains("sizes="),
        "{page}"
    );
    assert!(page.contains("/preview.webp\""), "{page}");

    // The grid names the high-density thumbnail of every photo: the one there is stands in,
    // sent to be checked again, since the photo's next derivation makes the real one.
    let key = app::format::hex(&key);
    let owner = app
        .scalar(&format!("SELECT owner_id FROM photos WHERE id = {id}"))
        .await;
    let access = app.state.media.access(owner).await.expect("access");
    for (variant, stand_in) in [
        ("thumb-512.webp", "thumb.webp"),
        ("preview-2560.webp", "preview.webp"),
    ] {
        let (status, headers, bytes) = app
            .request_bytes(
                Request::get(format!("/media/{access}/{key}/{variant}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{variant}");
        assert_eq!(headers[header::CONTENT_TYPE], "image/webp");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(bytes, std::fs::read(path(stand_in)).expect("the stand-in"));
    }
    // AVIF has no stand-in: pages never name it for such a photo.
    let (status, _, _) = app
        .request_bytes(
            Request::get(format!("/media/{access}/{key}/preview.avif"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `flashbulb rederive` gives it every file again, once: a second run finds nothing to do.
    let settings = app.config.core();
    let report = flashbulb_core::rederive::run(&app.pool, &settings, true)
        .await
        .expect("rederive");
    assert_eq!((report.queued, report.complete), (1, 0));
    let again = flashbulb_core::rederive::run(&app.pool, &settings, true)
        .await
        .expect("rederive");
    assert_eq!((again.queued, again.complete), (0, 0), "queued twice");
    run_jobs(&app).await;
    assert!(path("preview.avif").exists() && path("thumb.webp").exists());
    let (_, page) = app.get(&format!("/p/{id}")).await;
    assert!(page.contains("type=\"image/avif\""), "{page}");
    let done = flashbulb_core::rederive::run(&app.pool, &settings, true)
        .await
        .expect("rederive");
    assert_eq!((done.queued, done.complete), (0, 1));
}

#[tokio::test]
async fn derivatives_come_from_memory_once_read_and_never_after_their_photo_is_deleted() {
    let app = TestApp::with_config(Config {
        trash_grace_days: 0,
        ..Config::default()
    })
    .await
    .with_photos(1)
    .await;
    let (status, json) = upload(&app, &[("test1.jpg", &fixture("photos/test1.jpg"))]).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["files"][0]["photo_id"].as_i64().expect("photo id");
    run_jobs(&app).await;
    let key: Vec<u8> = sqlx::query_scalar("SELECT media_key FROM photos WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("a media key");
    let owner = app
        .scalar(&format!("SELECT owner_id FROM photos WHERE id = {id}"))
        .await;
    let access = app.state.media.access(owner).await.expect("access");
    let url = format!("/media/{access}/{}/thumb.webp", app::format::hex(&key));
    let fetch = |extra: Option<(header::HeaderName, String)>| {
        let mut request = Request::get(&url);
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        app.request_bytes(request.body(Body::empty()).expect("request"))
    };

    let (status, first, from_disk) = fetch(None).await;
    assert_eq!(status, StatusCode::OK);
    let hits = app.state.cache.stats().l1_hits;
    let (status, second, from_memory) = fetch(None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(from_memory, from_disk, "the same bytes from memory");
    assert_eq!(app.state.cache.stats().l1_hits, hits + 1, "a hit");
    // Read by the router the first time, answered before routing the second: alike (but for
    // the seconds left to shared caches, which may have ticked).
    let lifetimes = [
        shared_cache_lifetime(&first),
        shared_cache_lifetime(&second),
    ];
    assert!(lifetimes[0] - lifetimes[1] <= 1, "{lifetimes:?}");
    let without_lifetime = |mut headers: axum::http::HeaderMap| {
        headers.remove(header::CACHE_CONTROL);
        headers
    };
    assert_eq!(without_lifetime(first), without_lifetime(second.clone()));
    assert_eq!(second[header::CONTENT_TYPE], "image/webp");
    assert_eq!(second[header::CONTENT_LENGTH], from_disk.len().to_string());
    let etag = second[header::ETAG].to_str().expect("ascii").to_string();
    let (status, headers, body) = fetch(Some((header::IF_NONE_MATCH, etag.clone()))).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG], etag.as_str());
    assert!(body.is_empty());
    // Ranges still come from the file.
    let (status, _, part) = fetch(Some((header::RANGE, "bytes=0-9".into()))).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, from_disk[..10]);

    // Deleted: its derivatives are gone from memory with the write that deleted them.
    let (status, body) = app
        .post_form("/api/set_trashed", &format!("photo_id={id}&trashed=true"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post_form("/api/empty_trash", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let (status, _, _) = fetch(None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let app = TestApp::with_config(Config {
        max_upload_bytes: 100_000,
        ..Config::default()
    })
    .await
    .with_photos(1)
    .await;
    let big = fixture("photos/sony-alpha-6000.jpg");
    for (name, bytes, status, reason) in [
        (
            "notes.jpg",
            &b"just some text, not a photo"[..],
            415,
            "not a photo",
        ),
        (
            "movie.mp4",
            &b"\0\0\0\x18ftypmp42\0\0\0\0isommp42 and the rest of a film"[..],
            415,
            "not a photo",
        ),
        (
            "lying.heic",
            &b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08meta but no boxes follow"[..],
            422,
            "damaged",
        ),
        (
            "broken.png",
            &fixture("pillow/broken.png")[..],
            422,
            "damaged",
        ),
        (
            "bomb.bmp",
            &fixture("pillow/bmp/b/reallybig.bmp")[..],
            422,
            "megapixels allowed",
        ),
        (
            "bomb.png",
            &png_declaring(20_000, 20_000)[..],
            422,
            "megapixels",
        ),
        (
            "too-much-to-decode.webp",
            &super::hostile::webp_lossless_header(10_000, 10_000)[..],
            422,
            "more than the 256 MiB one photo may use",
        ),
        ("empty.jpg", &b""[..], 422, "empty"),
        ("huge.jpg", &big[..], 413, "larger than"),
    ] {
        let (code, json) = upload(&app, &[(name, bytes)]).await;
        assert_eq!(code.as_u16(), status, "{name}: {json}");
        assert_eq!(json["files"][0]["status"], "rejected", "{name}");
        let said = json["files"][0]["reason"].as_str().unwrap_or_default();
        assert!(said.contains(reason), "{name}: {said}");
    }
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM jobs").await, 0);
    assert!(
        leftovers(&app).is_empty(),
        "temporary files left: {:?}",
        leftovers(&app)
    );
    assert!(
        !app.dir.path().join("originals").exists(),
        "an original was kept"
    );

    for (content_type, body) in [
        ("multipart/form-data; boundary=x", "garbage".to_string()),
        ("text/plain", "hello".to_string()),
        (
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n".to_string(),
        ),
    ] {
        let (status, _) = post_upload(&app, content_type, body.into_bytes()).await;
        assert!(status.is_client_error(), "{content_type}: {status}");
    }
}

#[tokio::test]
async fn a_photo_that_fails_to_decode_is_failed_with_its_reason_and_the_worker_goes_on() {
    let app = TestApp::new().await.with_photos(1).await;
    // The header is fine, so the upload is taken; the pixels end early.
    let (status, json) = upload(
        &app,
        &[
            ("truncated.jpg", &fixture("pillow/truncated_jpeg.jpg")),
            ("good.jpg", &fixture("photos/test2.jpg")),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    run_jobs(&app).await;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT file_name, status, failure FROM photos WHERE id > 1 ORDER BY file_name",
    )
    .fetch_all(&app.pool)
    .await
    .expect("rows");
    assert_eq!(rows[0].0, "good.jpg");
    assert_eq!(
        rows[0].1, "ready",
        "the worker stopped after the broken photo"
    );
    assert_eq!(rows[1].0, "truncated.jpg");
    assert_eq!(rows[1].1, "failed");
    assert!(
        rows[1].2.as_deref().unwrap_or_default().contains("damaged"),
        "{rows:?}"
    );
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, last_error FROM jobs")
            .fetch_one(&app.pool)
            .await
            .expect("the failed job is kept");
    assert_eq!(state, "failed");
    assert!(error.unwrap_or_default().contains("damaged"));
    let failed = app
        .scalar("SELECT id FROM photos WHERE file_name = 'truncated.jpg'")
        .await;
    let (_, page) = app.get(&format!("/p/{failed}")).await;
    assert!(
        page.contains("could not be read") && page.contains("damaged"),
        "the photo page hides the failure"
    );
}

#[tokio::test]
async fn a_job_whose_worker_died_is_finished_once_by_another_with_identical_derivatives() {
    let app = TestApp::new().await.with_photos(1).await;
    let photo = fixture("photos/IMG_20200124_231153.jpg");
    let (_, json) = upload(&app, &[("phone.jpg", &photo)]).await;
    let id = json["files"][0]["photo_id"].as_i64().expect("id");

    // A worker takes the job and dies: it never completes, its lease runs out.
    let taken = lease(&app, "dead-worker", 1).await.expect("a job");
    assert_eq!(taken.photo_id, Some(id));
    let again = lease(&app, "other", 60).await;
    assert_eq!(again, None, "a held job was handed out twice");
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    run_jobs(&app).await;
    assert_eq!(app.scalar("SELECT count(*) FROM jobs").await, 0);
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM photos WHERE id = {id} AND status = 'ready'"
        ))
        .await,
        1
    );
    // The dead worker coming back cannot complete a job it no longer holds.
    assert!(!jobs::complete(&app.pool, taken.id, "dead-worker")
        .await
        .expect("complete"));

    let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("sha");
    let expected = pipeline::derive_all(&photo, Limits::default()).expect("derive");
    for (variant, bytes) in &expected.files {
        let stored = std::fs::read(flashbulb_core::storage::derivative_path(
            app.dir.path(),
            &sha,
            variant,
        ))
        .expect("derivative on disk");
        assert!(stored == *bytes, "{variant} differs from a fresh run");
    }
}

#[tokio::test]
async fn a_renewed_lease_keeps_a_long_job_and_a_job_out_of_attempts_fails_with_its_reason() {
    let app = TestApp::new().await;
    let (_, json) = upload(&app, &[("long.jpg", &fixture("photos/test3.jpg"))]).await;
    let id = json["files"][0]["photo_id"].as_i64().expect("id");
    sqlx::query("UPDATE jobs SET max_attempts = 2")
        .execute(&app.pool)
        .await
        .expect("two attempts");

    // A worker busy for three leases renews its one-second lease with its process's
    // heartbeat: nobody else takes the job meanwhile.
    let first = lease(&app, "busy", 1).await.expect("a job");
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            jobs::heartbeat(&app.pool, "busy", Duration::from_secs(1))
                .await
                .expect("heartbeat"),
            1,
            "the one job it runs"
        );
        assert_eq!(lease(&app, "other", 60).await, None, "taken while renewed");
    }
    // It stops renewing (hung, killed): the lease runs out and the next take is attempt 2.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let second = lease(&app, "other", 1).await.expect("taken over");
    assert_eq!((second.id, second.attempts), (first.id, 2));
    assert_eq!(
        jobs::heartbeat(&app.pool, "busy", Duration::from_secs(1))
            .await
            .expect("heartbeat"),
        0,
        "a lost lease is not renewed"
    );

    // That was its last attempt: once its lease runs out too, nobody takes it again, and the
    // sweep fails it and its photo with the reason.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        lease(&app, "third", 60).await,
        None,
        "out of attempts, taken again"
    );
    assert_eq!(jobs::fail_exhausted(&app.pool).await.expect("sweep"), [id]);
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, last_error FROM jobs WHERE id = $1")
            .bind(first.id)
            .fetch_one(&app.pool)
            .await
            .expect("job");
    assert_eq!(state, "failed");
    assert!(error.contains("2 attempts"), "{error}");
    let (status, failure): (String, Option<String>) =
        sqlx::query_as("SELECT status, failure FROM photos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("photo");
    assert_eq!(status, "failed");
    assert!(failure.unwrap_or_default().contains("within its lease"));
    assert!(jobs::fail_exhausted(&app.pool)
        .await
        .expect("sweep again")
        .is_empty());
}

/// Workers of two processes (two identities) on one queue, with `lease` and `time_limit`.
fn two_processes(app: &TestApp, lease: Duration, time_limit: Duration) -> [Workers; 2] {
    [(), ()].map(|()| {
        let mut config = app.config.core().worker_config();
        config.idle_poll = Duration::from_millis(50);
        config.lease = lease;
        let mut derivatives = app.config.core().derivatives_job(&app.pool);
        derivatives.workers = 1;
        derivatives.limits.time_limit = time_limit;
        Workers::start(
            app.pool.clone(),
            config,
            &Registry::default().with(derivatives),
            Default::default(),
            app.state.events.clone(),
        )
    })
}

/// A valid JPEG that takes seconds to decode: thousands of progressive scans over 16 MP, each
/// of which libjpeg runs over every block.
fn slow_jpeg() -> Vec<u8> {
    super::hostile::jpeg_progressive_flat(4096, 4096, 3_000)
}

/// `(attempts, leased_by)` of the photo's job while it exists.
async fn job_of(app: &TestApp, photo: i64) -> Option<(i64, Option<String>)> {
    sqlx::query_as("SELECT attempts, leased_by FROM jobs WHERE photo_id = $1")
        .bind(photo)
        .fetch_optional(&app.pool)
        .await
        .expect("job")
}

#[tokio::test]
async fn a_job_longer_than_its_lease_runs_once_on_one_worker() {
    let app = TestApp::new().await;
    let slow = slow_jpeg();
    let (_, json) = upload(&app, &[("slow.jpg", &slow)]).await;
    let photo = json["files"][0]["photo_id"].as_i64().expect("id");
    let started = std::time::Instant::now();
    // Leases are whole seconds in the database: one second, renewed every third of it.
    let workers = two_processes(&app, Duration::from_secs(1), Duration::from_secs(60));
    let mut holders = std::collections::BTreeSet::new();
    let mut most_attempts = 0;
    while let Some((attempts, holder)) = job_of(&app, photo).await {
        most_attempts = most_attempts.max(attempts);
        holders.extend(holder);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    for workers in workers {
        workers.shutdown().await;
    }
    assert!(
        took > Duration::from_millis(2_500),
        "the job took {took:?}, not longer than two leases: this proves nothing"
    );
    assert_eq!(most_attempts, 1, "the job was taken again");
    assert_eq!(holders.len(), 1, "held by {holders:?}");
    let status: String = sqlx::query_scalar("SELECT status FROM photos WHERE id = $1")
        .bind(photo)
        .fetch_one(&app.pool)
        .await
        .expect("photo");
    assert_eq!(status, "ready");
}

#[tokio::test]
async fn a_job_that_always_times_out_fails_after_its_attempts_and_the_queue_goes_on() {
    let app = TestApp::new().await;
    let slow = slow_jpeg();
    let (_, json) = upload_until_taken(&app, &[("slow.jpg", &slow)]).await;
    let photo = json["files"][0]["photo_id"].as_i64().expect("id");
    sqlx::query("UPDATE jobs SET max_attempts = 2")
        .execute(&app.pool)
        .await
        .expect("two attempts");
    let workers = two_processes(&app, Duration::from_secs(5), Duration::from_millis(300));
    // While it waits for its second attempt, another photo goes through.
    let (status, json) =
        upload_until_taken(&app, &[("quick.jpg", &fixture("photos/test3.jpg"))]).await;
    let quick = json["files"][0]["photo_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("the second upload answered {status}: {json}"));
    let started = std::time::Instant::now();
    let status = |id: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (String, Option<String>)>(
                "SELECT status, failure FROM photos WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("photo")
        }
    };
    while status(photo).await.0 == "pending" || status(quick).await.0 == "pending" {
        assert!(started.elapsed() < Duration::from_secs(60), "never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for workers in workers {
        workers.shutdown().await;
    }
    assert_eq!(status(quick).await.0, "ready");
    let (state, failure) = status(photo).await;
    assert_eq!(state, "failed");
    assert_eq!(
        failure.as_deref(),
        Some("reading it took longer than the 0.3 seconds allowed")
    );
    let (job_state, attempts): (String, i64) =
        sqlx::query_as("SELECT state, attempts FROM jobs WHERE photo_id = $1")
            .bind(photo)
            .fetch_one(&app.pool)
            .await
            .expect("job");
    assert_eq!((job_state.as_str(), attempts), ("failed", 2));
}

#[tokio::test]
async fn shutdown_hands_running_jobs_back_to_the_queue() {
    let app = TestApp::new().await.with_photos(1).await;
    upload(&app, &[("a.jpg", &fixture("photos/test3.jpg"))]).await;
    let job = lease(&app, "stopping", 600).await.expect("job");
    assert_eq!(job.attempts, 1);
    assert_eq!(
        jobs::release_all(&app.pool, "stopping")
            .await
            .expect("release"),
        1
    );
    let (state, attempts): (String, i64) = sqlx::query_as("SELECT state, attempts FROM jobs")
        .fetch_one(&app.pool)
        .await
        .expect("job");
    assert_eq!(
        (state.as_str(), attempts),
        ("queued", 0),
        "a returned job lost an attempt"
    );
    run_jobs(&app).await;
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE status = 'ready'")
            .await,
        2
    );
}

#[tokio::test]
async fn importing_a_folder_is_idempotent() {
    let app = TestApp::new().await;
    let folder = tempfile::tempdir().expect("folder");
    for name in ["test1.jpg", "test2.jpg", "right.jpg"] {
        std::fs::write(folder.path().join(name), fixture(&format!("photos/{name}"))).expect("copy");
    }
    std::fs::create_dir(folder.path().join("nested")).expect("nested");
    std::fs::write(
        folder.path().join("nested/test3.jpg"),
        fixture("photos/test3.jpg"),
    )
    .expect("copy");
    std::fs::write(folder.path().join("notes.txt"), "not a photo").expect("notes");
    std::fs::write(
        folder.path().join("broken.png"),
        fixture("pillow/broken.png"),
    )
    .expect("broken");
    let args = flashbulb_core::import::ImportArgs {
        dir: folder.path().to_path_buf(),
        owner: "demo".into(),
        no_wait: false,
    };
    let first = flashbulb_core::import::run(&app.pool, &app.config.core(), &args)
        .await
        .expect("import");
    assert_eq!(first.added, 4, "{first}");
    assert_eq!(first.refused.len(), 1, "{first}");
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE status = 'ready'")
            .await,
        4
    );
    let second = flashbulb_core::import::run(&app.pool, &app.config.core(), &args)
        .await
        .expect("again");
    assert_eq!((second.added, second.duplicates), (0, 4), "{second}");
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 4);
    assert!(
        folder.path().join("test1.jpg").exists(),
        "the import moved the user's files"
    );
}

#[tokio::test]
async fn a_retryable_failure_waits_its_backoff_and_the_last_attempt_fails_for_good() {
    let app = TestApp::new().await.with_photos(1).await;
    upload(&app, &[("a.jpg", &fixture("photos/test1.jpg"))]).await;
    app.execute("UPDATE jobs SET max_attempts = 2").await;

    let job = lease(&app, "w", 60).await.expect("job");
    let now = flashbulb_store::now();
    match jobs::fail(&app.pool, &job, "w", "disk hiccup", true)
        .await
        .expect("fail")
    {
        jobs::AfterFailure::Retry { run_at } => assert!(run_at >= now + 2, "no backoff: {run_at}"),
        other => panic!("first failure was final: {other:?}"),
    }
    // Not due yet: nobody may take it before its backoff has passed.
    let early = lease(&app, "w", 60).await;
    assert_eq!(early, None);
    app.execute("UPDATE jobs SET run_at = 0").await;
    let job = lease(&app, "w", 60).await.expect("due again");
    assert_eq!(job.attempts, 2);
    let outcome = jobs::fail(&app.pool, &job, "w", "disk hiccup again", true)
        .await
        .expect("fail");
    assert_eq!(outcome, jobs::AfterFailure::Failed);
    let (state, error): (String, String) = sqlx::query_as("SELECT state, last_error FROM jobs")
        .fetch_one(&app.pool)
        .await
        .expect("job");
    assert_eq!(
        (state.as_str(), error.as_str()),
        ("failed", "disk hiccup again")
    );
    let depth = jobs::depth(&app.pool).await.expect("depth");
    assert_eq!((depth.queued, depth.running, depth.failed), (0, 0, 1));
}

#[tokio::test]
async fn uploads_outrank_imports_in_the_queue() {
    let app = TestApp::new().await.with_photos(1).await;
    let import_first: i64 = {
        let mut connection = app.pool.acquire().await.expect("connection");
        jobs::enqueue(
            &mut connection,
            JobKind::MakeDerivatives,
            1,
            jobs::PRIORITY_IMPORT,
        )
        .await
        .expect("import job")
    };
    let (_, json) = upload(&app, &[("now.jpg", &fixture("photos/test2.jpg"))]).await;
    let uploaded = json["files"][0]["photo_id"].as_i64().expect("id");
    let first = lease(&app, "w", 60).await.expect("job");
    assert_eq!(
        first.photo_id,
        Some(uploaded),
        "the import ({import_first}) went first"
    );
}

#[test]
fn an_original_on_disk_derives_as_in_memory_even_behind_megabytes_of_padding() {
    let photo = fixture("photos/sony-alpha-6000.jpg");
    // Application segments every decoder skips, before the EXIF block: what a huge original
    // looks like to the pipeline, which must read through it rather than load it.
    let segment: Vec<u8> = [0xFF, 0xEF, 0xFF, 0xFF]
        .into_iter()
        .chain(std::iter::repeat_n(0, 65_533))
        .collect();
    let mut padded = photo[..2].to_vec();
    for _ in 0..128 {
        padded.extend_from_slice(&segment);
    }
    padded.extend_from_slice(&photo[2..]);
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("padded.jpg");
    std::fs::write(&path, &padded).expect("write the padded photo");

    let from_disk = pipeline::derive_from(path.as_path(), Limits::default()).expect("from disk");
    let in_memory = pipeline::derive_all(&photo, Limits::default()).expect("in memory");
    assert_eq!(
        (from_disk.width, from_disk.height),
        (in_memory.width, in_memory.height)
    );
    assert_eq!(
        from_disk.facts, in_memory.facts,
        "EXIF is found past the padding"
    );
    assert_eq!(from_disk.thumbhash, in_memory.thumbhash);
    assert_eq!(
        from_disk.files, in_memory.files,
        "the same derivatives, byte for byte"
    );

    let missing = pipeline::derive_from(dir.path().join("gone.jpg").as_path(), Limits::default());
    assert!(
        matches!(missing, Err(pipeline::derive::DeriveError::Read(_))),
        "a file that cannot be read is a storage error, worth retrying: {missing:?}"
    );
}

/// The seconds a media answer's `Cache-Control` lets shared caches keep it (`s-maxage`),
/// checking that browsers keep it for a year, as the URL never changes meaning.
pub fn shared_cache_lifetime(headers: &axum::http::HeaderMap) -> u64 {
    let value = headers[header::CACHE_CONTROL].to_str().expect("ascii");
    let lifetime = value
        .strip_prefix("public, max-age=31536000, immutable, s-maxage=")
        .unwrap_or_else(|| panic!("a media answer's Cache-Control: {value}"));
    lifetime.parse().expect("seconds")
}
