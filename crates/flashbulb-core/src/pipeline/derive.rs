//! Pixels to derivatives: decode (shrinking JPEGs while decoding), turn upright, resize, and
//! encode thumbnails and previews; the thumbhash comes from the same pixels.
//!
//! Derivatives are encoded from pixels alone: no EXIF block, so no GPS position, ever leaves
//! the original.

use fast_image_resize::{
    images::{Image, ImageRef},
    FilterType, PixelType, ResizeAlg, ResizeOptions,
};
use image::{codecs::jpeg::JpegEncoder, ExtendedColorType, RgbImage};

use super::{sniff::Format, Source};

pub use super::heif::{encode_avif, encode_avif_with, AVIF_QUALITY, AVIF_SPEED};
/// What [`fit`] and [`square`] resize with; one serves every resize of a job.
pub use fast_image_resize::Resizer;
/// The grid's square thumbnail side and the photo page's previews' edges, shared with the
/// pages that name them in `srcset`.
pub use flashbulb_types::model::{PREVIEW_EDGE, PREVIEW_EDGES, THUMBNAIL_SIDE};

/// The largest preview: what a decode must keep.
pub const LARGEST_PREVIEW_EDGE: u32 = PREVIEW_EDGES[PREVIEW_EDGES.len() - 1];
pub const WEBP_QUALITY: f32 = 80.0;
pub const JPEG_QUALITY: u8 = 82;

/// Refusals and failures of one photo, each with a reason a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    #[error("{0} photos are not supported yet")]
    Unsupported(&'static str),
    #[error(
        "the image declares {width} × {height} pixels, more than the {limit} megapixels allowed"
    )]
    TooManyPixels { width: u64, height: u64, limit: u64 },
    /// A valid file using a feature no decoder here reads: "unsupported: 12-bit JPEG".
    #[error("unsupported: {0}")]
    UnsupportedKind(String),
    /// Decoding would take more memory than one photo may use, known from the header.
    #[error(
        "decoding this {what} would take about {needed_mib} MiB, more than the {budget_mib} MiB \
         one photo may use"
    )]
    OverBudget {
        what: String,
        needed_mib: u64,
        budget_mib: u64,
    },
    #[error("the image is damaged or incomplete: {0}")]
    Corrupt(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    /// Reading the file took longer than the time limit (thousands of progressive scans, a
    /// decompression bomb): retried, since a busy machine slows healthy files too.
    #[error("reading it took longer than the {} allowed", seconds(.0))]
    TimedOut(std::time::Duration),
    /// The file could not be read (storage, not the photo): worth another try.
    #[error("reading the original failed: {0}")]
    Read(std::io::Error),
}

/// `60 seconds`, `1 second`, `0.3 seconds`.
fn seconds(duration: &std::time::Duration) -> String {
    match duration.as_secs_f64() {
        1.0 => "1 second".into(),
        whole if whole.fract() == 0.0 => format!("{whole} seconds"),
        part => format!("{part:.1} seconds"),
    }
}

/// Bounds on what one photo may cost to decode.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Declared pixels above this are refused before any decoding (decompression bombs).
    pub max_pixels: u64,
    /// Time one photo may take; its readers fail once it has passed.
    pub time_limit: std::time::Duration,
    /// Memory one photo may take to decode and derive, in bytes.
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 100_000_000,
            time_limit: std::time::Duration::from_secs(60),
            memory_bytes: 256 << 20,
        }
    }
}

/// Width and height the file declares, read from its header only.
pub fn declared_size_of<R: std::io::BufRead + std::io::Seek>(
    reader: R,
    format: Format,
    limits: Limits,
) -> Result<(u32, u32), DeriveError> {
    let (width, height) = if format == Format::Jpeg {
        // image's JPEG decoder reads the whole file before its header; this stops at the
        // frame header, skipping what comes before it (a 2 GiB original costs nothing here).
        let frame =
            super::decode::JpegFrame::read(reader).ok_or_else(super::decode::no_jpeg_frame)?;
        (frame.width, frame.height)
    } else if format == Format::Png {
        // The IHDR chunk only: image's reader would inflate the ICC profile and text chunks
        // before it (a 500 MB ICC bomb in a 486 KB file).
        let mut decoder = png::Decoder::new(reader);
        decoder.set_ignore_iccp_chunk(true);
        decoder.set_ignore_text_chunk(true);
        let info = decoder
            .read_header_info()
            .map_err(|error| DeriveError::Corrupt(error.to_string()))?;
        (info.width, info.height)
    } else if matches!(format, Format::Heif | Format::Avif) {
        // The boxes only: libheif parses them without decoding a pixel.
        super::heif::Container::read(reader, format, limits)?.size()
    } else {
        let mut reader = reader;
        if format == Format::Bmp {
            bmp_within_decoder_bounds(&mut reader, limits)?;
        }
        let image_format = format
            .image_format()
            .ok_or(DeriveError::Unsupported(format.mime_type()))?;
        image::ImageReader::with_format(reader, image_format)
            .into_dimensions()
            .map_err(|error| DeriveError::Corrupt(error.to_string()))?
    };
    check_pixels(width, height, limits)?;
    Ok((width, height))
}

/// The BMP decoder refuses sides over 65,535 pixels as "too large", which would read as a
/// damaged file: say what it is instead.
fn bmp_within_decoder_bounds<R: std::io::Read + std::io::Seek>(
    reader: &mut R,
    limits: Limits,
) -> Result<(), DeriveError> {
    let mut header = [0u8; 26];
    let read = reader.read_exact(&mut header);
    reader.rewind().map_err(DeriveError::Read)?;
    if read.is_ok() && u32::from_le_bytes([header[14], header[15], header[16], header[17]]) >= 40 {
        let side = |at: usize| {
            i32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
                .unsigned_abs()
        };
        check_pixels(side(18), side(22), limits)?;
        if side(18) > 65_535 || side(22) > 65_535 {
            return Err(DeriveError::UnsupportedKind(format!(
                "BMP of {} × {} pixels (at most 65,535 on a side)",
                side(18),
                side(22)
            )));
        }
    }
    Ok(())
}

pub(super) fn check_pixels(width: u32, height: u32, limits: Limits) -> Result<(), DeriveError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(DeriveError::Corrupt("the image has no pixels".into()));
    }
    if pixels > limits.max_pixels {
        return Err(DeriveError::TooManyPixels {
            width: width.into(),
            height: height.into(),
            limit: limits.max_pixels / 1_000_000,
        });
    }
    Ok(())
}

/// How many pixels a decode must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtLeast {
    /// The longest edge keeps at least this many pixels (for a preview that fits a box).
    LongEdge(u32),
    /// The shortest edge does (for a square crop).
    ShortEdge(u32),
}

impl From<u32> for AtLeast {
    fn from(long_edge: u32) -> Self {
        AtLeast::LongEdge(long_edge)
    }
}

/// Decodes to RGB with at least the pixels `at_least` asks for, shrunk while decoding and
/// within the memory budget of `limits` (see [`super::decode`]).
pub fn decode<S: Source + ?Sized>(
    source: &S,
    format: Format,
    at_least: impl Into<AtLeast>,
    limits: Limits,
) -> Result<RgbImage, DeriveError> {
    super::decode::decode(source, format, at_least.into(), limits)
}

/// Turns the pixels the way EXIF orientation `1..=8` says they should be seen.
pub fn upright(image: RgbImage, orientation: u8) -> RgbImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate180, rotate270, rotate90};
    match orientation {
        2 => flip_horizontal(&image),
        3 => rotate180(&image),
        4 => flip_vertical(&image),
        5 => flip_horizontal(&rotate90(&image)),
        6 => rotate90(&image),
        7 => flip_horizontal(&rotate270(&image)),
        8 => rotate270(&image),
        _ => image,
    }
}

/// `image` scaled to fit inside `edge` × `edge` (never enlarged).
pub fn fit(resizer: &mut Resizer, image: &RgbImage, edge: u32) -> Result<RgbImage, DeriveError> {
    let (width, height) = image.dimensions();
    if width.max(height) <= edge {
        return Ok(image.clone());
    }
    let (target_width, target_height) = flashbulb_types::model::fitted(width, height, edge);
    resize(resizer, image, target_width, target_height, false)
}

/// The centre square of `image`, scaled to `side` × `side`.
pub fn square(resizer: &mut Resizer, image: &RgbImage, side: u32) -> Result<RgbImage, DeriveError> {
    resize(resizer, image, side, side, true)
}

fn resize(
    resizer: &mut Resizer,
    image: &RgbImage,
    width: u32,
    height: u32,
    crop_to_fill: bool,
) -> Result<RgbImage, DeriveError> {
    let (from_width, from_height) = image.dimensions();
    resize_rgb(
        resizer,
        (from_width, from_height, image.as_raw()),
        width,
        height,
        crop_to_fill,
    )
}

/// `width` × `height` RGB pixels (`pixels`, rows without padding) resized to `to_width` ×
/// `to_height` (Catmull-Rom), cropped to fill when asked.
pub(super) fn resize_rgb(
    resizer: &mut Resizer,
    (width, height, pixels): (u32, u32, &[u8]),
    to_width: u32,
    to_height: u32,
    crop_to_fill: bool,
) -> Result<RgbImage, DeriveError> {
    let failed = |error: String| DeriveError::Encode(format!("resizing: {error}"));
    let source = ImageRef::new(width, height, pixels, PixelType::U8x3)
        .map_err(|error| failed(error.to_string()))?;
    let mut target = Image::new(to_width, to_height, PixelType::U8x3);
    let mut options =
        ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    if crop_to_fill {
        options = options.fit_into_destination(Some((0.5, 0.5)));
    }
    resizer
        .resize(&source, &mut target, &options)
        .map_err(|error| failed(error.to_string()))?;
    RgbImage::from_raw(to_width, to_height, target.into_vec())
        .ok_or_else(|| failed("the resized image is incomplete".into()))
}

pub fn encode_webp(image: &RgbImage) -> Vec<u8> {
    webp::Encoder::from_rgb(image.as_raw(), image.width(), image.height())
        .encode(WEBP_QUALITY)
        .to_vec()
}

pub fn encode_jpeg(image: &RgbImage) -> Result<Vec<u8>, DeriveError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|error| DeriveError::Encode(error.to_string()))?;
    Ok(out)
}

/// The thumbhash of `image` (computed on at most 100 × 100 pixels, as the format wants).
pub fn thumbhash(resizer: &mut Resizer, image: &RgbImage) -> Result<Vec<u8>, DeriveError> {
    let small = fit(resizer, image, 100)?;
    let rgba: Vec<u8> = small
        .pixels()
        .flat_map(|pixel| [pixel[0], pixel[1], pixel[2], 255])
        .collect();
    Ok(thumbhash::rgba_to_thumb_hash(
        small.width() as usize,
        small.height() as usize,
        &rgba,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        })
    }

    #[test]
    fn orientation_turns_the_pixels() {
        let image = gradient(40, 30);
        assert_eq!(upright(image.clone(), 1).dimensions(), (40, 30));
        assert_eq!(upright(image.clone(), 6).dimensions(), (30, 40));
        assert_eq!(upright(image.clone(), 8).dimensions(), (30, 40));
        assert_eq!(upright(image.clone(), 3).dimensions(), (40, 30));
        // Orientation 6 is a quarter turn clockwise: the old bottom-left corner is the new top-left.
        let turned = upright(image.clone(), 6);
        assert_eq!(turned.get_pixel(0, 0), image.get_pixel(0, 29));
    }

    #[test]
    fn resizing_fits_and_squares() {
        let mut resizer = Resizer::new();
        let image = gradient(3000, 2000);
        assert_eq!(
            fit(&mut resizer, &image, 1440).map(|i| i.dimensions()).ok(),
            Some((1440, 960))
        );
        assert_eq!(
            fit(&mut resizer, &gradient(100, 50), 1440)
                .map(|i| i.dimensions())
                .ok(),
            Some((100, 50))
        );
        assert_eq!(
            square(&mut resizer, &image, 256)
                .map(|i| i.dimensions())
                .ok(),
            Some((256, 256))
        );
        let hash = thumbhash(&mut resizer, &image).expect("thumbhash");
        assert!(flashbulb_types::codec::thumbhash_rgb(&hash).is_some());
    }

    #[test]
    fn encoders_write_their_formats() {
        let image = gradient(64, 48);
        let webp = encode_webp(&image);
        assert_eq!(&webp[..4], b"RIFF");
        assert_eq!(&webp[8..12], b"WEBP");
        let jpeg = encode_jpeg(&image).expect("jpeg");
        assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
        let decoded =
            decode(jpeg.as_slice(), Format::Jpeg, 1440, Limits::default()).expect("decode");
        assert_eq!(decoded.dimensions(), (64, 48));
    }

    #[test]
    fn jpegs_shrink_while_decoding() {
        let jpeg = encode_jpeg(&gradient(2048, 1024)).expect("jpeg");
        let decoded =
            decode(jpeg.as_slice(), Format::Jpeg, 256, Limits::default()).expect("decode");
        assert_eq!(
            decoded.dimensions(),
            (256, 128),
            "an eighth, still at least 256 wide"
        );
    }

    #[test]
    fn bombs_are_refused_before_decoding() {
        let jpeg = encode_jpeg(&gradient(200, 100)).expect("jpeg");
        let tiny = Limits {
            max_pixels: 10_000,
            ..Limits::default()
        };
        assert!(matches!(
            decode(jpeg.as_slice(), Format::Jpeg, 1440, tiny),
            Err(DeriveError::TooManyPixels { .. })
        ));
        assert!(matches!(
            decode(&jpeg[..200], Format::Jpeg, 1440, Limits::default()),
            Err(DeriveError::Corrupt(_))
        ));
        assert!(matches!(
            decode(b"GIF89a".as_slice(), Format::Gif, 1440, Limits::default()),
            Err(DeriveError::Corrupt(_))
        ));
    }
}
