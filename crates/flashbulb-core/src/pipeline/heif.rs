//! HEIF (iPhone HEIC, Canon HIF, Samsung and Xiaomi HEIF) and AVIF through libheif: the
//! container's boxes are parsed first, so the primary image's size and what decoding it will
//! take are known before any pixel is decoded; then the primary image (never a burst's other
//! frames, a depth map or an embedded thumbnail) is decoded whole, turned by the container's
//! own rotation and mirroring (`irot`, `imir`), and resized to what the previews need.
//!
//! libheif decodes the whole primary image at once (its 1.15 API has no shrink-on-load), so a
//! file is priced at its compressed bytes, its decoded planes, the 8-bit RGB they convert to
//! and the resized image.

use std::{io::Read, sync::LazyLock};

use image::RgbImage;
use libheif_rs::{
    Channel, ColorSpace, CompressionFormat, EncoderParameterValue, EncoderQuality, HeifContext,
    HeifError, HeifErrorCode, Image, ImageHandle, LibHeif, RgbChroma,
};

use super::{
    decode::within_budget,
    derive::{check_pixels, AtLeast, DeriveError, Limits},
    sniff::Format,
};

/// Largest HEIF or AVIF file read: libheif parses files in memory, and uploads parse them to
/// check them, so this bounds what one upload may hold. A 48-megapixel iPhone photo is about
/// 15 MB; a camera's largest HIF a few tens.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// libheif initialised once for the process: its plugins and colour tables are shared.
static LIBHEIF: LazyLock<LibHeif> = LazyLock::new(LibHeif::new);

/// A parsed HEIF or AVIF file: its bytes (libheif reads them in place) and its primary image.
pub struct Container {
    primary: ImageHandle,
    /// Fields drop in order: the context before the bytes it reads in place.
    _context: HeifContext,
    file_bytes: u64,
    format: Format,
    _bytes: Vec<u8>,
}

impl Container {
    /// Reads the whole file (compressed: a few megabytes for a phone photo, at most
    /// [`MAX_FILE_BYTES`]) and parses its boxes: no pixel is decoded.
    pub fn read(
        mut reader: impl Read,
        format: Format,
        limits: Limits,
    ) -> Result<Container, DeriveError> {
        let mut bytes = Vec::new();
        (&mut reader)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(DeriveError::Read)?;
        let file_bytes = bytes.len() as u64;
        if file_bytes > MAX_FILE_BYTES {
            return Err(DeriveError::UnsupportedKind(format!(
                "{} files larger than {}",
                name(format),
                flashbulb_types::format::limit_size(MAX_FILE_BYTES)
            )));
        }
        within_budget(
            file_bytes,
            || format!("{} file of {} bytes", name(format), file_bytes),
            limits,
        )?;
        LazyLock::force(&LIBHEIF);
        let context = HeifContext::read_from_bytes(&bytes).map_err(|error| failure(&error))?;
        let primary = context
            .primary_image_handle()
            .map_err(|error| failure(&error))?;
        let container = Container {
            primary,
            _context: context,
            file_bytes,
            format,
            _bytes: bytes,
        };
        let (width, height) = container.size();
        check_pixels(width, height, limits)?;
        // The coded size too: a grid may declare more than it shows.
        let (coded_width, coded_height) = (
            container.primary.ispe_width().max(0) as u32,
            container.primary.ispe_height().max(0) as u32,
        );
        if coded_width > 0 && coded_height > 0 {
            check_pixels(coded_width, coded_height, limits)?;
        }
        Ok(container)
    }

    /// The primary image's size as it is seen, after the container's rotation.
    pub fn size(&self) -> (u32, u32) {
        (self.primary.width(), self.primary.height())
    }

    /// Bytes decoding takes at its peak, while libheif converts its planes to RGB: the file,
    /// the decoded planes (counted as 4:4:4, since libheif 1.15 cannot say a handle's chroma
    /// before decoding it; two bytes a sample above 8 bits), the RGB image and what resizing
    /// it takes.
    fn peak_bytes(&self, resized_bytes: u64) -> u64 {
        let (width, height) = (
            u64::from(self.primary.width()),
            u64::from(self.primary.height()),
        );
        let pixels = width * height;
        let sample_bytes = if self.primary.luma_bits_per_pixel() > 8 {
            2
        } else {
            1
        };
        let alpha = u64::from(self.primary.has_alpha_channel());
        let planes = pixels * sample_bytes * (3 + alpha);
        self.file_bytes + planes + pixels * 3 + resized_bytes
    }

    /// Decodes the primary image upright and resizes it to what `at_least` asks (see
    /// [`super::decode::decode`]); `None` when only pricing. libheif hands over the whole
    /// image anyway, so it is resized with the previews' filter to exactly the size asked
    /// (within `max_shrunk`), not box-shrunk by a whole factor: a 12-megapixel photo's
    /// 2,560-pixel preview comes from all its pixels.
    pub fn decode(
        &self,
        at_least: AtLeast,
        max_shrunk: u64,
        limits: Limits,
        price_only: bool,
    ) -> Result<Option<RgbImage>, DeriveError> {
        let (width, height) = self.size();
        let (to_width, to_height) = resized_size(width, height, at_least, max_shrunk);
        // The resizer's first pass keeps the new width at the old height.
        let resized_bytes = 3 * u64::from(to_width) * (u64::from(height) + u64::from(to_height));
        within_budget(
            self.peak_bytes(resized_bytes),
            || {
                format!(
                    "{} {}",
                    super::decode::megapixels(width, height),
                    name(self.format)
                )
            },
            limits,
        )?;
        if price_only {
            return Ok(None);
        }
        // No decoding options: these bindings free the options before libheif reads them, and
        // the defaults are what is wanted (the container's rotation and mirroring applied; ten-
        // and twelve-bit photos brought to the 8 bits of interleaved RGB by the conversion).
        let mut image = LIBHEIF
            .decode(&self.primary, ColorSpace::Rgb(RgbChroma::Rgb), None)
            .map_err(|error| failure(&error))?;
        let plane = image
            .planes_mut()
            .interleaved
            .ok_or_else(|| DeriveError::Corrupt("the decoder returned no pixels".into()))?;
        if (plane.width, plane.height) != (width, height) || plane.storage_bits_per_pixel != 24 {
            return Err(DeriveError::Corrupt(format!(
                "the decoder returned {} × {} pixels of {} bits for a {width} × {height} image",
                plane.width, plane.height, plane.storage_bits_per_pixel
            )));
        }
        let row_bytes = width as usize * 3;
        let rows = height as usize;
        if plane.stride < row_bytes || plane.data.len() < plane.stride * rows {
            return Err(DeriveError::Corrupt(
                "the decoder returned short rows".into(),
            ));
        }
        // Rows moved together in place (libheif pads them), so the resizer reads one slice.
        for row in 1..rows {
            let from = row * plane.stride;
            plane
                .data
                .copy_within(from..from + row_bytes, row * row_bytes);
        }
        let pixels = &plane.data[..row_bytes * rows];
        let resized = super::derive::resize_rgb(
            &mut super::derive::Resizer::new(),
            (width, height, pixels),
            to_width,
            to_height,
            false,
        )?;
        Ok(Some(resized))
    }
}

/// The size a `width` × `height` image is resized to on decoding: the smallest that keeps what
/// `at_least` asks (never larger than the image), unless that takes more than `max_bytes`.
fn resized_size(width: u32, height: u32, at_least: AtLeast, max_bytes: u64) -> (u32, u32) {
    let (longest, shortest) = (width.max(height), width.min(height));
    let wanted = match at_least {
        AtLeast::LongEdge(edge) => f64::from(edge) / f64::from(longest),
        AtLeast::ShortEdge(side) => f64::from(side) / f64::from(shortest),
    };
    let pixels = f64::from(width) * f64::from(height);
    let affordable = (max_bytes as f64 / (3.0 * pixels)).sqrt();
    let scale = wanted.min(affordable).min(1.0);
    let side = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, side);
    (side(width), side(height))
}

/// AVIF previews' quality on libheif's scale (0 to 100): a 1,440-pixel preview takes about two
/// thirds of the WebP's bytes at its quality 80 (BENCHMARKS.md has the sizes).
pub const AVIF_QUALITY: u8 = 55;
/// libaom's speed (0, slowest, to 9): 8 encodes a 1,440-pixel preview in a third of the time 6
/// (libheif's default) takes, in no more bytes, so AVIF previews are made with the others.
pub const AVIF_SPEED: i32 = 8;

/// `image` as an AVIF (AV1 through libaom, 4:2:0, 8 bits) at the pipeline's quality and
/// speed, with no metadata.
pub fn encode_avif(image: &RgbImage) -> Result<Vec<u8>, DeriveError> {
    encode_avif_with(image, AVIF_QUALITY, AVIF_SPEED)
}

/// [`encode_avif`] at another `quality` (0 to 100) and libaom `speed` (0 to 9): what the
/// benchmark compares.
pub fn encode_avif_with(image: &RgbImage, quality: u8, speed: i32) -> Result<Vec<u8>, DeriveError> {
    let failed = |error: HeifError| DeriveError::Encode(format!("AVIF: {}", error.message));
    let (width, height) = image.dimensions();
    let mut picture = Image::new(width, height, ColorSpace::Rgb(RgbChroma::Rgb)).map_err(failed)?;
    picture
        .create_plane(Channel::Interleaved, width, height, 8)
        .map_err(failed)?;
    let row_bytes = width as usize * 3;
    {
        let plane = picture
            .planes_mut()
            .interleaved
            .ok_or_else(|| DeriveError::Encode("AVIF: libheif made no plane".into()))?;
        for (target, source) in plane
            .data
            .chunks_mut(plane.stride)
            .zip(image.as_raw().chunks_exact(row_bytes))
        {
            target[..row_bytes].copy_from_slice(source);
        }
    }
    let mut encoder = LIBHEIF
        .encoder_for_format(CompressionFormat::Av1)
        .map_err(failed)?;
    encoder
        .set_quality(EncoderQuality::Lossy(quality))
        .map_err(failed)?;
    encoder
        .set_parameter_value("speed", EncoderParameterValue::Int(speed))
        .map_err(failed)?;
    // One thread, as every other step of a job: the workers are sized to the cores, and at
    // speed 8 libaom's four default threads made even a 2,560-pixel AVIF no sooner.
    encoder
        .set_parameter_value("threads", EncoderParameterValue::Int(1))
        .map_err(failed)?;
    let mut context = HeifContext::new().map_err(failed)?;
    context
        .encode_image(&picture, &mut encoder, None)
        .map_err(failed)?;
    context.write_to_bytes().map_err(failed)
}

/// How a file of this family is named in messages.
fn name(format: Format) -> &'static str {
    match format {
        Format::Avif => "AVIF",
        _ => "HEIF",
    }
}

/// libheif's errors as the pipeline's: features it lacks (a codec without its plugin, an
/// unknown brand) are unsupported, the rest is damage.
fn failure(error: &HeifError) -> DeriveError {
    match error.code {
        HeifErrorCode::UnsupportedFeature | HeifErrorCode::UnsupportedFileType => {
            DeriveError::UnsupportedKind(error.message.clone())
        }
        HeifErrorCode::MemoryAllocationError => {
            DeriveError::Corrupt("the image asks for more memory than one photo may use".into())
        }
        _ => DeriveError::Corrupt(error.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(bytes: &[u8]) -> DeriveError {
        Container::read(bytes, Format::Heif, Limits::default())
            .err()
            .expect("refused")
    }

    #[test]
    fn images_are_resized_to_what_is_asked_within_the_bound() {
        let no_bound = u64::MAX;
        assert_eq!(
            resized_size(3024, 4032, AtLeast::LongEdge(2560), no_bound),
            (1920, 2560)
        );
        assert_eq!(
            resized_size(4032, 3024, AtLeast::ShortEdge(256), no_bound),
            (341, 256)
        );
        // Never enlarged; never more than the bound, even short of what is asked.
        assert_eq!(
            resized_size(640, 427, AtLeast::LongEdge(2560), no_bound),
            (640, 427)
        );
        let (width, height) = resized_size(100_000, 300, AtLeast::ShortEdge(256), 1 << 20);
        assert!(
            u64::from(width) * u64::from(height) * 3 <= 1 << 20,
            "{width} × {height}"
        );
    }

    #[test]
    fn files_too_large_or_without_boxes_are_refused_with_a_reason() {
        let head = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let mut huge = head.to_vec();
        huge.resize(MAX_FILE_BYTES as usize + 1, 0);
        let error = refusal(&huge);
        assert!(
            error
                .to_string()
                .contains("HEIF files larger than 64\u{a0}MiB"),
            "{error}"
        );
        assert!(matches!(refusal(head), DeriveError::Corrupt(_)));
        assert!(matches!(refusal(b""), DeriveError::Corrupt(_)));
    }
}
