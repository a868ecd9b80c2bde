//! Pixels to derivatives: decode (shrinking JPEGs while decoding), turn upright, resize, and
//! encode thumbnails and previews; the thumbhash comes from the same pixels.
//!
//! Derivatives are encoded from pixels alone: no EXIF block, so no GPS position, ever leaves
//! the original.

use fast_image_resize::{images::Image, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{codecs::jpeg::JpegEncoder, DynamicImage, ExtendedColorType, RgbImage};

use super::{sniff::Format, Source};

/// Square thumbnail side for the grid, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// Longest edge of the preview on the photo page.
pub const PREVIEW_EDGE: u32 = 1440;
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
    #[error("the image is damaged or incomplete: {0}")]
    Corrupt(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    /// Reading the file took longer than the time limit (thousands of progressive scans, a
    /// decompression bomb): retried, since a busy machine slows healthy files too.
    #[error("reading it took longer than the {0} seconds allowed")]
    TimedOut(u64),
    /// The file could not be read (storage, not the photo): worth another try.
    #[error("reading the original failed: {0}")]
    Read(std::io::Error),
}

/// Bounds on what one photo may cost to decode.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Declared pixels above this are refused before any decoding (decompression bombs).
    pub max_pixels: u64,
    /// Time one photo may take; its readers fail once it has passed.
    pub time_limit: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 100_000_000,
            time_limit: std::time::Duration::from_secs(60),
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
        // image's JPEG decoder reads the whole file before its header; this one stops at the
        // frame header, skipping what comes before it (a 2 GiB original costs nothing here).
        let mut decoder = jpeg_decoder::Decoder::new(reader);
        decoder.read_info().map_err(jpeg_error)?;
        let info = decoder
            .info()
            .ok_or_else(|| DeriveError::Corrupt("no JPEG header".into()))?;
        (u32::from(info.width), u32::from(info.height))
    } else {
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

fn check_pixels(width: u32, height: u32, limits: Limits) -> Result<(), DeriveError> {
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

impl AtLeast {
    /// The factor the image may shrink by, 1.0 when it is already small enough.
    fn scale(self, width: u32, height: u32) -> f64 {
        let (wanted, edge) = match self {
            AtLeast::LongEdge(wanted) => (wanted, width.max(height)),
            AtLeast::ShortEdge(wanted) => (wanted, width.min(height)),
        };
        if edge <= wanted {
            1.0
        } else {
            f64::from(wanted) / f64::from(edge)
        }
    }
}

/// Decodes to RGB with at least the pixels `at_least` asks for, shrinking JPEGs by 1/2, 1/4
/// or 1/8 inside the decoder where that still leaves enough.
pub fn decode<S: Source + ?Sized>(
    source: &S,
    format: Format,
    at_least: impl Into<AtLeast>,
    limits: Limits,
) -> Result<RgbImage, DeriveError> {
    let at_least = at_least.into();
    let open = || source.open().map_err(DeriveError::Read);
    if format == Format::Jpeg {
        return decode_jpeg(open()?, at_least, limits);
    }
    let image_format = format
        .image_format()
        .ok_or(DeriveError::Unsupported(format.mime_type()))?;
    declared_size_of(open()?, format, limits)?;
    let mut reader = image::ImageReader::with_format(open()?, image_format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4));
    reader.limits(image_limits);
    let image = reader
        .decode()
        .map_err(|error| DeriveError::Corrupt(error.to_string()))?;
    Ok(image.into_rgb8())
}

impl From<u32> for AtLeast {
    fn from(long_edge: u32) -> Self {
        AtLeast::LongEdge(long_edge)
    }
}

fn decode_jpeg(
    reader: impl std::io::Read,
    at_least: AtLeast,
    limits: Limits,
) -> Result<RgbImage, DeriveError> {
    let mut decoder = jpeg_decoder::Decoder::new(reader);
    decoder.set_max_decoding_buffer_size(
        usize::try_from(limits.max_pixels.saturating_mul(4)).unwrap_or(usize::MAX),
    );
    decoder.read_info().map_err(jpeg_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| DeriveError::Corrupt("no JPEG header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, limits)?;
    // The decoder picks the smallest of 1/8 … 1/1 that is at least the size asked for.
    let scale = at_least.scale(width, height);
    if scale < 1.0 {
        let wanted = |side: u32| ((f64::from(side) * scale).ceil() as u16).max(1);
        decoder
            .scale(wanted(width), wanted(height))
            .map_err(jpeg_error)?;
    }
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| DeriveError::Corrupt("no JPEG header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        jpeg_decoder::PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                // Adobe writes CMYK inverted; this is the common reading of it.
                let k = u16::from(p[3]);
                [p[0], p[1], p[2]].map(|c| (u16::from(c) * k / 255) as u8)
            })
            .collect(),
    };
    RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| DeriveError::Corrupt("the decoded image is incomplete".into()))
}

/// A JPEG decoder's error: the file's fault, unless reading it failed for another reason than
/// its end coming too soon.
fn jpeg_error(error: jpeg_decoder::Error) -> DeriveError {
    match error {
        jpeg_decoder::Error::Io(error) if error.kind() != std::io::ErrorKind::UnexpectedEof => {
            DeriveError::Read(error)
        }
        error => DeriveError::Corrupt(error.to_string()),
    }
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
    let longest = width.max(height);
    if longest <= edge {
        return Ok(image.clone());
    }
    let scale = f64::from(edge) / f64::from(longest);
    let target = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    resize(resizer, image, target(width), target(height), false)
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
    let failed = |error: String| DeriveError::Encode(format!("resizing: {error}"));
    let source = Image::from_vec_u8(
        image.width(),
        image.height(),
        image.as_raw().clone(),
        PixelType::U8x3,
    )
    .map_err(|error| failed(error.to_string()))?;
    let mut target = Image::new(width, height, PixelType::U8x3);
    let mut options =
        ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    if crop_to_fill {
        options = options.fit_into_destination(Some((0.5, 0.5)));
    }
    resizer
        .resize(&source, &mut target, &options)
        .map_err(|error| failed(error.to_string()))?;
    RgbImage::from_raw(width, height, target.into_vec())
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

/// A whole decoded image, for the formats the JPEG path does not cover.
pub fn to_rgb(image: DynamicImage) -> RgbImage {
    image.into_rgb8()
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
        assert!(app::codec::thumbhash_rgb(&hash).is_some());
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
