//! Decoding within a memory budget. Every format reaches the rest of the pipeline as pixels no
//! larger than the preview needs: JPEGs shrink inside their decoder, PNGs, TIFFs and GIFs are
//! shrunk row by row as they decode, and WebPs and BMPs, whose decoders only make whole
//! images, are decoded whole only when that fits. What the header says the decoding will
//! take is checked before any pixel is decoded, so a file that cannot fit is refused with
//! the sizes, not halfway through.

use std::{
    io::{BufRead, Read, Seek},
    time::Instant,
};

use image::{ImageDecoder, RgbImage};

use super::{
    derive::{check_pixels, AtLeast, DeriveError, Limits},
    shrink::{narrow, Samples, Shrinker},
    sniff::Format,
    Source,
};

const MIB: u64 = 1 << 20;

/// Memory kept back from the decoding for what follows it: the shrunk pixels turned upright,
/// the previews, the thumbnails, the thumbhash and the encoders' working memory (one encoder at
/// a time; libaom's for a 1,440-pixel AVIF is about 20 MB, libwebp's for a 2,560-pixel WebP
/// about 30). The decoder's own memory is free by then.
pub const AFTER_DECODE: u64 = 48 * MIB;

/// Largest shrunk image: what the decoders may hand on, whatever `at_least` asks. A 2,560-pixel
/// square preview's pixels fit.
const MAX_SHRUNK: u64 = 24 * MIB;

/// What the decoding itself may use of a job's budget.
pub fn decode_budget(limits: Limits) -> u64 {
    limits.memory_bytes.saturating_sub(AFTER_DECODE).max(MIB)
}

/// Refuses work that needs `needed` bytes when the decode budget is smaller.
pub(super) fn within_budget(
    needed: u64,
    what: impl FnOnce() -> String,
    limits: Limits,
) -> Result<(), DeriveError> {
    let budget = decode_budget(limits);
    if needed > budget {
        return Err(DeriveError::OverBudget {
            what: what(),
            needed_mib: needed.div_ceil(MIB),
            budget_mib: limits.memory_bytes / MIB,
        });
    }
    Ok(())
}

pub(super) fn megapixels(width: u32, height: u32) -> String {
    let megapixels = f64::from(width) * f64::from(height) / 1e6;
    if megapixels >= 10.0 {
        format!("{megapixels:.0}-megapixel")
    } else {
        format!("{megapixels:.1}-megapixel")
    }
}

/// Decodes `source` to RGB with at least the pixels `at_least` asks for (and no more than
/// twice as many on each side, within [`MAX_SHRUNK`]), within `limits.memory_bytes`.
pub fn decode<S: Source + ?Sized>(
    source: &S,
    format: Format,
    at_least: AtLeast,
    limits: Limits,
) -> Result<RgbImage, DeriveError> {
    run(source, format, at_least, limits, Mode::Decode)?
        .ok_or_else(|| DeriveError::Corrupt("the image could not be decoded".into()))
}

/// Whether decoding `source` for the preview every photo has fits `limits` (larger ones are
/// made when their decode fits too), from its headers alone (the first
/// frame's, for a GIF): what a decode would refuse before decoding, said at upload.
pub fn price<S: Source + ?Sized>(
    source: &S,
    format: Format,
    limits: Limits,
) -> Result<(), DeriveError> {
    run(
        source,
        format,
        AtLeast::LongEdge(super::derive::PREVIEW_EDGE),
        limits,
        Mode::Price,
    )
    .map(|_| ())
}

/// What a run of the decoders is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Decode,
    /// Stop after the checks made from the headers, before the first pixel.
    Price,
}

fn run<S: Source + ?Sized>(
    source: &S,
    format: Format,
    at_least: AtLeast,
    limits: Limits,
    mode: Mode,
) -> Result<Option<RgbImage>, DeriveError> {
    let open = || source.open().map_err(DeriveError::Read);
    match format {
        Format::Jpeg => decode_jpeg(open()?, at_least, limits, mode, source.deadline()),
        Format::Png => decode_png(open()?, at_least, limits, mode),
        Format::Tiff => decode_tiff(open()?, at_least, limits, mode).or_else(|error| match error {
            // Layouts the strip reader does not take (palette, YCbCr, planes, Lab):
            // whole, when that fits.
            Fallback::Whole => decode_whole(open()?, Format::Tiff, at_least, limits, mode),
            Fallback::Failed(error) => Err(error),
        }),
        Format::Gif => decode_gif(open()?, at_least, limits, mode),
        Format::Webp => decode_whole(open()?, format, at_least, limits, mode),
        Format::Bmp => {
            // Its header, checked for what the decoder refuses.
            super::derive::declared_size_of(open()?, format, limits)?;
            decode_whole(open()?, format, at_least, limits, mode)
        }
        Format::Heif | Format::Avif => super::heif::Container::read(open()?, format, limits)?
            .decode(at_least, MAX_SHRUNK, limits, mode == Mode::Price),
    }
}

// ---------------------------------------------------------------------------------------
// JPEG

/// What a JPEG's frame header says: enough to know what decoding it costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegFrame {
    pub width: u32,
    pub height: u32,
    /// The start-of-frame marker's code: `0xC0` baseline, `0xC2` progressive, and so on.
    pub marker: u8,
    /// Bits per sample.
    pub precision: u8,
    pub progressive: bool,
    /// Sampling factors `(horizontal, vertical)` of each component.
    pub components: Vec<(u8, u8)>,
}

impl JpegFrame {
    /// The frame header of the JPEG `reader` reads, `None` when there is none before the
    /// first scan (the decoder then says what is wrong).
    pub fn read(mut reader: impl Read) -> Option<JpegFrame> {
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).ok()?;
        if two != [0xFF, 0xD8] {
            return None;
        }
        loop {
            // A marker: 0xFF, any fill bytes, then its code. Bytes before it are skipped, as
            // libjpeg skips them (with a warning some cameras' files earn).
            let mut byte = [0u8; 1];
            while byte[0] != 0xFF {
                reader.read_exact(&mut byte).ok()?;
            }
            let mut code = 0xFF;
            while code == 0xFF {
                reader.read_exact(&mut byte).ok()?;
                code = byte[0];
            }
            if matches!(code, 0x01 | 0xD0..=0xD7) {
                continue; // no length
            }
            if matches!(code, 0xD9 | 0xDA) {
                return None; // the end, or a scan, before any frame
            }
            reader.read_exact(&mut two).ok()?;
            let length = u16::from_be_bytes(two).checked_sub(2)? as usize;
            let is_frame = matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC);
            if !is_frame {
                std::io::copy(
                    &mut reader.by_ref().take(length as u64),
                    &mut std::io::sink(),
                )
                .ok()
                .filter(|&copied| copied == length as u64)?;
                continue;
            }
            let mut header = vec![0u8; length];
            reader.read_exact(&mut header).ok()?;
            let count = *header.get(5)? as usize;
            let components = (0..count)
                .map(|index| {
                    let sampling = *header.get(6 + index * 3 + 1)?;
                    Some((sampling >> 4, sampling & 0x0F))
                })
                .collect::<Option<Vec<_>>>()?;
            return Some(JpegFrame {
                width: u32::from(u16::from_be_bytes([header[3], header[4]])),
                height: u32::from(u16::from_be_bytes([header[1], header[2]])),
                marker: code,
                precision: header[0],
                progressive: matches!(code, 0xC2 | 0xC6 | 0xCA | 0xCE),
                components,
            });
        }
    }

    /// What in this frame the decoder does not read, named: valid files, not damaged ones.
    pub fn unsupported(&self) -> Option<String> {
        let kind = match self.marker {
            0xC3 | 0xC7 | 0xCB | 0xCF => "lossless JPEG".to_string(),
            0xC5 | 0xC6 | 0xCD | 0xCE => "hierarchical JPEG".to_string(),
            0xC9 | 0xCA => "arithmetic-coded JPEG".to_string(),
            _ if self.precision != 8 => format!("{}-bit JPEG", self.precision),
            _ if self.height == 0 => "JPEG whose height comes after its first scan (DNL)".into(),
            _ if !matches!(self.components.len(), 1 | 3 | 4) => {
                format!("JPEG with {} colour components", self.components.len())
            }
            _ => return None,
        };
        Some(kind)
    }

    /// Bytes the decoder holds for a decode shrunk to `out_width` × `out_height`: every
    /// coefficient of a progressive frame (scans refine them all until the last), one plane
    /// per component at the shrunk size, and the interleaved result (four bytes a pixel for
    /// CMYK) with room for libjpeg's row buffers. Segments before the frame (EXIF, ICC, 64 MiB
    /// of them in the hostile set) cost nothing: libjpeg skips what it is not asked to keep.
    pub fn decoding_bytes(&self, out_width: u32, out_height: u32) -> u64 {
        let max_h = self
            .components
            .iter()
            .map(|c| c.0)
            .max()
            .unwrap_or(1)
            .max(1);
        let max_v = self
            .components
            .iter()
            .map(|c| c.1)
            .max()
            .unwrap_or(1)
            .max(1);
        let mcus_across = u64::from(self.width.div_ceil(8 * u32::from(max_h)));
        let mcus_down = u64::from(self.height.div_ceil(8 * u32::from(max_v)));
        let coefficients: u64 = if self.progressive {
            self.components
                .iter()
                .map(|&(h, v)| mcus_across * u64::from(h) * mcus_down * u64::from(v) * 64 * 2)
                .sum()
        } else {
            0
        };
        let out = u64::from(out_width + 16) * u64::from(out_height + 16);
        let planes = out * self.components.len() as u64;
        coefficients + planes + out * 3 * 2
    }
}

fn decode_jpeg(
    mut reader: impl BufRead + Seek,
    at_least: AtLeast,
    limits: Limits,
    mode: Mode,
    deadline: Option<Instant>,
) -> Result<Option<RgbImage>, DeriveError> {
    let frame = JpegFrame::read(&mut reader).ok_or_else(no_jpeg_frame)?;
    if let Some(kind) = frame.unsupported() {
        return Err(DeriveError::UnsupportedKind(kind));
    }
    check_pixels(frame.width, frame.height, limits)?;
    let factor = jpeg_factor(frame.width, frame.height, at_least);
    let (out_width, out_height) = (frame.width.div_ceil(factor), frame.height.div_ceil(factor));
    within_budget(
        frame.decoding_bytes(out_width, out_height),
        || {
            format!(
                "{} {}JPEG",
                megapixels(frame.width, frame.height),
                if frame.progressive {
                    "progressive "
                } else {
                    ""
                }
            )
        },
        limits,
    )?;
    if mode == Mode::Price {
        return Ok(None);
    }
    reader.rewind().map_err(DeriveError::Read)?;
    super::jpeg::decode(reader, factor, deadline).map(Some)
}

/// A JPEG without a frame header before its first scan: nothing says what its pixels are.
pub fn no_jpeg_frame() -> DeriveError {
    DeriveError::Corrupt("no JPEG frame header before its first scan".into())
}

/// 1, 2, 4 or 8: the largest the decoder's scaling offers that still keeps what `at_least`
/// asks for.
fn jpeg_factor(width: u32, height: u32, at_least: AtLeast) -> u32 {
    let wanted = super::shrink::factor_for(width, height, at_least, u64::MAX);
    [8, 4, 2, 1]
        .into_iter()
        .find(|&factor| factor <= wanted)
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------------------
// PNG

fn decode_png(
    reader: impl BufRead + Seek,
    at_least: AtLeast,
    limits: Limits,
    mode: Mode,
) -> Result<Option<RgbImage>, DeriveError> {
    let budget = decode_budget(limits);
    let mut decoder = png::Decoder::new_with_limits(
        reader,
        png::Limits {
            bytes: usize::try_from(budget).unwrap_or(usize::MAX),
        },
    );
    // Text and ICC chunks are compressed: skipped unread, they cannot inflate.
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(png_error)?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_pixels(width, height, limits)?;
    let samples = match reader.output_color_type().0 {
        png::ColorType::Grayscale => Samples::Gray,
        png::ColorType::GrayscaleAlpha => Samples::GrayAlpha,
        png::ColorType::Rgb => Samples::Rgb,
        png::ColorType::Rgba => Samples::Rgba,
        png::ColorType::Indexed => {
            return Err(DeriveError::Corrupt(
                "the palette could not be applied".into(),
            ))
        }
    };
    let mut shrinker = Shrinker::new(width, height, at_least, MAX_SHRUNK)?;
    // The decoder keeps this row and the one above it (filters refer to it), and we its RGB.
    let line = reader
        .output_line_size(width)
        .ok_or_else(|| DeriveError::Corrupt("the image is too large".into()))?
        as u64;
    within_budget(
        line * 2 + u64::from(width) * 3 + shrinker.output_bytes(),
        || {
            format!(
                "PNG with rows {} pixels wide",
                flashbulb_types::format::thousands(width.into())
            )
        },
        limits,
    )?;
    if reader.info().interlaced {
        // Adam7 hands out its passes across the whole image: only a whole frame holds them.
        let frame_bytes = reader
            .output_buffer_size()
            .ok_or_else(|| DeriveError::Corrupt("the image is too large".into()))?;
        within_budget(
            frame_bytes as u64 + shrinker.output_bytes(),
            || format!("{} interlaced PNG", megapixels(width, height)),
            limits,
        )?;
        if mode == Mode::Price {
            return Ok(None);
        }
        let mut frame = vec![0u8; frame_bytes];
        let output = reader.next_frame(&mut frame).map_err(png_error)?;
        for (y, row) in frame.chunks_exact(output.line_size).enumerate() {
            shrinker.add(0, y as u32, row, samples);
            shrinker.rows_done(y as u32 + 1);
        }
    } else {
        if mode == Mode::Price {
            return Ok(None);
        }
        let mut y = 0;
        while let Some(row) = reader.next_row().map_err(png_error)? {
            shrinker.add(0, y, row.data(), samples);
            y += 1;
            shrinker.rows_done(y);
        }
        if y < height {
            return Err(DeriveError::Corrupt("the image data ends early".into()));
        }
    }
    shrinker.finish().map(Some)
}

fn png_error(error: png::DecodingError) -> DeriveError {
    match error {
        png::DecodingError::IoError(error) if error.kind() != std::io::ErrorKind::UnexpectedEof => {
            DeriveError::Read(error)
        }
        png::DecodingError::LimitsExceeded => DeriveError::Corrupt(
            "a chunk of the file asks for more memory than one photo may use".into(),
        ),
        error => DeriveError::Corrupt(error.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// TIFF

enum Fallback {
    /// A layout the strip reader does not handle.
    Whole,
    Failed(DeriveError),
}

impl From<DeriveError> for Fallback {
    fn from(error: DeriveError) -> Self {
        Fallback::Failed(error)
    }
}

fn tiff_error(error: tiff::TiffError) -> DeriveError {
    match error {
        tiff::TiffError::IoError(error) if error.kind() != std::io::ErrorKind::UnexpectedEof => {
            DeriveError::Read(error)
        }
        tiff::TiffError::LimitsExceeded => DeriveError::Corrupt(
            "a part of the file asks for more memory than one photo may use".into(),
        ),
        tiff::TiffError::UnsupportedError(what) => {
            DeriveError::UnsupportedKind(format!("TIFF feature ({what})"))
        }
        error => DeriveError::Corrupt(error.to_string()),
    }
}

fn decode_tiff(
    reader: impl BufRead + Seek,
    at_least: AtLeast,
    limits: Limits,
    mode: Mode,
) -> Result<Option<RgbImage>, Fallback> {
    use tiff::{decoder::DecodingResult, tags::Tag, ColorType};
    let budget = decode_budget(limits);
    let mut tiff_limits = tiff::decoder::Limits::default();
    tiff_limits.decoding_buffer_size = usize::try_from(budget).unwrap_or(usize::MAX);
    tiff_limits.intermediate_buffer_size = usize::try_from(budget / 2).unwrap_or(usize::MAX);
    let mut decoder = tiff::decoder::Decoder::new(reader)
        .map_err(tiff_error)?
        .with_limits(tiff_limits);
    let (width, height) = decoder.dimensions().map_err(tiff_error)?;
    check_pixels(width, height, limits)?;
    let (samples, bits) = match decoder.colortype().map_err(tiff_error)? {
        ColorType::Gray(bits) => (Samples::Gray, bits),
        ColorType::GrayA(bits) => (Samples::GrayAlpha, bits),
        ColorType::RGB(bits) => (Samples::Rgb, bits),
        ColorType::RGBA(bits) => (Samples::Rgba, bits),
        ColorType::CMYK(bits) => (Samples::Cmyk, bits),
        _ => return Err(Fallback::Whole),
    };
    let planar = decoder
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(tiff_error)?
        .unwrap_or(1);
    if planar != 1 && decoder.get_chunk_type() == tiff::decoder::ChunkType::Tile {
        // The tiff crate asserts on these (0.11.3), whichever way they are read.
        return Err(Fallback::Failed(DeriveError::UnsupportedKind(
            "TIFF with separate colour planes in tiles".into(),
        )));
    }
    if !matches!(bits, 8 | 16) || planar != 1 {
        return Err(Fallback::Whole);
    }
    let (chunk_width, chunk_height) = decoder.chunk_dimensions();
    let chunk_bytes = u64::from(chunk_width)
        * u64::from(chunk_height)
        * samples.channels() as u64
        * u64::from(bits / 8);
    let mut shrinker = Shrinker::new(width, height, at_least, MAX_SHRUNK)?;
    within_budget(
        // The chunk as stored (compressed, at most as large) and decoded.
        chunk_bytes * 2 + shrinker.output_bytes(),
        || format!("TIFF stored in pieces of {chunk_width} × {chunk_height} pixels"),
        limits,
    )?;
    if mode == Mode::Price {
        return Ok(None);
    }
    let chunks_across = width.div_ceil(chunk_width.max(1));
    let chunk_count = chunks_across * height.div_ceil(chunk_height.max(1));
    // The decoder panics on a chunk it does not have: the file must list every one.
    let listed = match decoder.get_chunk_type() {
        tiff::decoder::ChunkType::Strip => decoder.strip_count(),
        tiff::decoder::ChunkType::Tile => decoder.tile_count(),
    }
    .map_err(tiff_error)?;
    if listed != chunk_count {
        return Err(Fallback::Failed(DeriveError::Corrupt(format!(
            "the file lists {listed} pieces of the image where its size needs {chunk_count}"
        ))));
    }
    let channels = samples.channels();
    let mut row8 = Vec::new();
    for index in 0..chunk_count {
        let x0 = (index % chunks_across) * chunk_width;
        let y0 = (index / chunks_across) * chunk_height;
        let (data_width, data_height) = decoder.chunk_data_dimensions(index);
        let chunk = decoder.read_chunk(index).map_err(tiff_error)?;
        let row_samples = data_width as usize * channels;
        for row in 0..data_height as usize {
            let range = row * row_samples..(row + 1) * row_samples;
            let y = y0 + row as u32;
            match &chunk {
                DecodingResult::U8(data) => {
                    let Some(row) = data.get(range) else { break };
                    shrinker.add(x0, y, row, samples);
                }
                DecodingResult::U16(data) => {
                    let Some(row) = data.get(range) else { break };
                    narrow(row.iter().copied(), &mut row8);
                    shrinker.add(x0, y, &row8, samples);
                }
                _ => return Err(Fallback::Whole),
            }
        }
        // A band of chunks is complete once its last chunk across has been read.
        if index % chunks_across == chunks_across - 1 {
            shrinker.rows_done(y0 + data_height);
        }
    }
    Ok(Some(shrinker.finish()?))
}

// ---------------------------------------------------------------------------------------
// GIF

fn decode_gif(
    reader: impl BufRead + Seek,
    at_least: AtLeast,
    limits: Limits,
    mode: Mode,
) -> Result<Option<RgbImage>, DeriveError> {
    let gif_error = |error: gif::DecodingError| match error {
        gif::DecodingError::Io(error) if error.kind() != std::io::ErrorKind::UnexpectedEof => {
            DeriveError::Read(error)
        }
        error => DeriveError::Corrupt(error.to_string()),
    };
    let budget = decode_budget(limits);
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::new(budget).unwrap_or(std::num::NonZeroU64::MIN),
    ));
    let mut decoder = options.read_info(reader).map_err(gif_error)?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    check_pixels(width, height, limits)?;
    let mut shrinker = Shrinker::new(width, height, at_least, MAX_SHRUNK)?;
    let Some(frame) = decoder.next_frame_info().map_err(gif_error)? else {
        return Err(DeriveError::Corrupt("the GIF holds no image".into()));
    };
    let (left, top) = (u32::from(frame.left), u32::from(frame.top));
    let (frame_width, frame_height) = (u32::from(frame.width), u32::from(frame.height));
    let interlaced = frame.interlaced;
    let transparent = frame.transparent;
    check_pixels(frame_width, frame_height, limits)?;
    // One index per pixel: a whole frame only when interlaced (its rows come in four passes);
    // else a row, and its colours.
    let frame_bytes = u64::from(frame_width) * u64::from(frame_height);
    within_budget(
        if interlaced {
            frame_bytes
        } else {
            u64::from(frame_width) * 4
        } + shrinker.output_bytes(),
        || format!("{} interlaced GIF", megapixels(frame_width, frame_height)),
        limits,
    )?;
    if mode == Mode::Price {
        return Ok(None);
    }
    let palette = decoder.palette().map_err(gif_error)?.to_vec();
    // All 256 entries, missing and transparent ones black: one lookup per pixel.
    let mut colours = [0u8; 256 * 3];
    for (index, rgb) in palette.chunks_exact(3).take(256).enumerate() {
        if Some(index as u8) != transparent {
            colours[index * 3..index * 3 + 3].copy_from_slice(rgb);
        }
    }
    let mut rgb = Vec::new();
    let mut add_row = |shrinker: &mut Shrinker, y: u32, indices: &[u8]| {
        rgb.resize(indices.len() * 3, 0);
        for (at, &index) in indices.iter().enumerate() {
            let from = usize::from(index) * 3;
            rgb[at * 3..at * 3 + 3].copy_from_slice(&colours[from..from + 3]);
        }
        shrinker.add(left, top + y, &rgb, Samples::Rgb);
        // Rows above the frame are background; below it, nothing more comes.
        shrinker.rows_done(top + y + 1);
    };
    // Background down to the frame: done before its first row, so no sums wait for it.
    shrinker.rows_done(top);
    if interlaced {
        let mut frame = vec![0u8; frame_bytes as usize];
        decoder.read_into_buffer(&mut frame).map_err(gif_error)?;
        for (y, row) in frame.chunks_exact(frame_width.max(1) as usize).enumerate() {
            add_row(&mut shrinker, y as u32, row);
        }
    } else {
        let mut row = vec![0u8; frame_width as usize];
        for y in 0..frame_height {
            if frame_width > 0 && !decoder.fill_buffer(&mut row).map_err(gif_error)? {
                return Err(DeriveError::Corrupt("the image data ends early".into()));
            }
            add_row(&mut shrinker, y, &row);
        }
    }
    shrinker.finish().map(Some)
}

// ---------------------------------------------------------------------------------------
// Whole-image decoders (WebP, BMP, unusual TIFFs)

fn decode_whole(
    reader: impl BufRead + Seek,
    format: Format,
    at_least: AtLeast,
    limits: Limits,
    mode: Mode,
) -> Result<Option<RgbImage>, DeriveError> {
    let image_format = format
        .image_format()
        .ok_or(DeriveError::Unsupported(format.mime_type()))?;
    let corrupt = |error: image::ImageError| match error {
        image::ImageError::Limits(_) => {
            DeriveError::Corrupt("the image asks for more memory than one photo may use".into())
        }
        image::ImageError::Unsupported(error) => DeriveError::UnsupportedKind(error.to_string()),
        error => DeriveError::Corrupt(error.to_string()),
    };
    let mut decoder = image::ImageReader::with_format(reader, image_format)
        .into_decoder()
        .map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    let colour = decoder.color_type();
    let pixels = u64::from(width) * u64::from(height);
    // What the decoders hold beside the result, measured: lossless WebP keeps its ARGB
    // pixels as u32s; lossy WebP its YUV planes.
    let working = match format {
        Format::Webp => pixels * 4,
        _ => 0,
    };
    let mut shrinker = Shrinker::new(width, height, at_least, MAX_SHRUNK)?;
    let total = decoder.total_bytes();
    within_budget(
        total + working + shrinker.output_bytes(),
        || {
            format!(
                "{} {}",
                megapixels(width, height),
                match format {
                    Format::Webp => "WebP",
                    Format::Bmp => "BMP",
                    _ => "TIFF",
                }
            )
        },
        limits,
    )?;
    if mode == Mode::Price {
        return Ok(None);
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(decode_budget(limits));
    decoder.set_limits(image_limits).map_err(corrupt)?;
    let mut buffer = vec![0u8; total as usize];
    decoder.read_image(&mut buffer).map_err(corrupt)?;
    // Bytes a sample: 1, 2 (16-bit, native order) or 4 (float, 0.0 to 1.0).
    let (samples, sample_bytes) = match colour {
        image::ColorType::L8 => (Samples::Gray, 1),
        image::ColorType::La8 => (Samples::GrayAlpha, 1),
        image::ColorType::Rgb8 => (Samples::Rgb, 1),
        image::ColorType::Rgba8 => (Samples::Rgba, 1),
        image::ColorType::L16 => (Samples::Gray, 2),
        image::ColorType::La16 => (Samples::GrayAlpha, 2),
        image::ColorType::Rgb16 => (Samples::Rgb, 2),
        image::ColorType::Rgba16 => (Samples::Rgba, 2),
        image::ColorType::Rgb32F => (Samples::Rgb, 4),
        image::ColorType::Rgba32F => (Samples::Rgba, 4),
        other => {
            return Err(DeriveError::UnsupportedKind(format!(
                "{other:?} pixels in this format"
            )))
        }
    };
    let row_bytes = width as usize * samples.channels() * sample_bytes;
    let mut row8 = Vec::new();
    for (y, row) in buffer.chunks_exact(row_bytes.max(1)).enumerate() {
        match sample_bytes {
            1 => shrinker.add(0, y as u32, row, samples),
            2 => {
                let samples16 = row
                    .chunks_exact(2)
                    .map(|sample| u16::from_ne_bytes([sample[0], sample[1]]));
                narrow(samples16, &mut row8);
                shrinker.add(0, y as u32, &row8, samples);
            }
            _ => {
                row8.clear();
                row8.extend(row.chunks_exact(4).map(|sample| {
                    let value = f32::from_ne_bytes([sample[0], sample[1], sample[2], sample[3]]);
                    (value.clamp(0.0, 1.0) * 255.0).round() as u8
                }));
                shrinker.add(0, y as u32, &row8, samples);
            }
        }
        shrinker.rows_done(y as u32 + 1);
    }
    drop(buffer);
    shrinker.finish().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiff(width: u32, height: u32, rows_per_strip: u32) -> Vec<u8> {
        use tiff::encoder::{colortype::RGB8, Compression, TiffEncoder};
        let mut out = std::io::Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut out)
            .expect("tiff")
            .with_compression(Compression::Uncompressed);
        let mut image = encoder.new_image::<RGB8>(width, height).expect("image");
        image.rows_per_strip(rows_per_strip).expect("rows");
        let mut row = 0;
        loop {
            let samples = image.next_strip_sample_count() as usize;
            if samples == 0 {
                break;
            }
            let strip: Vec<u8> = (0..samples)
                .map(|index| (row * 10 + (index / (width as usize * 3)) as u32) as u8)
                .collect();
            row += rows_per_strip;
            image.write_strip(&strip).expect("strip");
        }
        image.finish().expect("finish");
        out.into_inner()
    }

    #[test]
    fn tiffs_decode_strip_by_strip() {
        let bytes = tiff(50, 40, 3);
        let image = decode(
            bytes.as_slice(),
            Format::Tiff,
            AtLeast::LongEdge(1440),
            Limits::default(),
        )
        .expect("decoded");
        assert_eq!(image.dimensions(), (50, 40));
        assert_eq!(image.get_pixel(0, 4).0, [31, 31, 31]);
        let shrunk = decode(
            bytes.as_slice(),
            Format::Tiff,
            AtLeast::LongEdge(20),
            Limits::default(),
        )
        .expect("decoded");
        assert_eq!(shrunk.dimensions(), (25, 20));
    }

    #[test]
    fn a_jpeg_frame_header_tells_its_size_sampling_and_cost() {
        let jpeg = super::super::derive::encode_jpeg(&RgbImage::new(100, 60)).expect("jpeg");
        let frame = JpegFrame::read(jpeg.as_slice()).expect("frame");
        assert_eq!((frame.width, frame.height), (100, 60));
        assert!(!frame.progressive);
        assert_eq!((frame.marker, frame.precision), (0xC0, 8));
        assert_eq!(frame.components.len(), 3);
        assert_eq!(frame.unsupported(), None);
        assert_eq!(JpegFrame::read(&b"\xFF\xD8\xFF\xD9"[..]), None);
        assert_eq!(JpegFrame::read(&b"GIF89a"[..]), None);

        // 100 MP, progressive 4:2:0: the coefficients alone are 300 MB.
        let progressive = JpegFrame {
            width: 10_000,
            height: 10_000,
            marker: 0xC2,
            precision: 8,
            progressive: true,
            components: vec![(2, 2), (1, 1), (1, 1)],
        };
        let bytes = progressive.decoding_bytes(1250, 1250);
        assert!((300_000_000..320_000_000).contains(&bytes), "{bytes}");
        let baseline = JpegFrame {
            marker: 0xC0,
            progressive: false,
            ..progressive.clone()
        };
        assert!(baseline.decoding_bytes(1250, 1250) < 20_000_000);

        // Valid frames the decoder does not read are named.
        let named = |frame: JpegFrame| frame.unsupported().unwrap_or_default();
        let twelve_bit = JpegFrame {
            marker: 0xC1,
            precision: 12,
            ..baseline.clone()
        };
        assert_eq!(named(twelve_bit), "12-bit JPEG");
        let arithmetic = JpegFrame {
            marker: 0xC9,
            ..baseline.clone()
        };
        assert_eq!(named(arithmetic), "arithmetic-coded JPEG");
        let lossless = JpegFrame {
            marker: 0xC3,
            ..baseline.clone()
        };
        assert_eq!(named(lossless), "lossless JPEG");
        let two_components = JpegFrame {
            components: vec![(1, 1), (1, 1)],
            ..baseline.clone()
        };
        assert_eq!(named(two_components), "JPEG with 2 colour components");
        let height_later = JpegFrame {
            height: 0,
            ..baseline
        };
        assert!(named(height_later).contains("DNL"));
    }
}
