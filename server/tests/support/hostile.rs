//! The hostile set: files crafted to cost decoders the most for their size, one per class a
//! photo library meets in the wild (strips, 100-megapixel flat images, metadata bombs,
//! thousand-scan JPEGs, valid files of unusual kinds). Made on the spot, written to a folder,
//! and derived one at a time with the peak of allocated memory measured around each job.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::Write,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use flashbulb_core::pipeline::{self, derive::Limits};

/// The system allocator, counting the bytes live and their peak since the last reset.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

/// What a class of file must come to.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    Ready,
    /// Failed, the reason holding this text.
    Fails(&'static str),
    /// Either, as the machine's speed decides (a file built to take long).
    ReadyOrFails(&'static str),
}

/// One crafted file.
pub struct Case {
    pub class: &'static str,
    pub name: String,
    pub path: PathBuf,
    pub expect: Expect,
}

/// What one job came to.
pub struct Outcome {
    pub name: String,
    pub class: &'static str,
    pub bytes: u64,
    /// Peak of memory allocated during the job, above what was live before it.
    pub peak_bytes: u64,
    /// Peak growth of what malloc has handed out during the job, sampled: sees C libraries too.
    pub malloc_peak_bytes: u64,
    pub elapsed: Duration,
    /// `ready` or the failure's reason.
    pub result: Result<(u32, u32), String>,
    pub expect: Expect,
}

impl Outcome {
    /// `ready, W × H` or `failed: reason`.
    pub fn result_text(&self) -> String {
        match &self.result {
            Ok((width, height)) => format!("ready, {width} × {height}"),
            Err(reason) => format!("failed: {reason}"),
        }
    }

    /// One line of a run's log: file, peaks (allocated, malloc), time, outcome.
    pub fn line(&self) -> String {
        format!(
            "{:<36} {:>6.1} MiB peak {:>6.1} MiB malloc {:>6.2} s  {}",
            self.name,
            self.peak_bytes as f64 / f64::from(1 << 20),
            self.malloc_peak_bytes as f64 / f64::from(1 << 20),
            self.elapsed.as_secs_f64(),
            self.result_text()
        )
    }

    /// Whether the result is the one expected of this class.
    pub fn as_expected(&self) -> bool {
        match (self.expect, &self.result) {
            (Expect::Ready | Expect::ReadyOrFails(_), Ok(_)) => true,
            (Expect::Fails(reason) | Expect::ReadyOrFails(reason), Err(error)) => {
                error.contains(reason)
            }
            _ => false,
        }
    }
}

/// Derives `case` from its file as the job does, measuring the peak of memory allocated.
pub fn run(case: &Case, limits: Limits) -> Outcome {
    let bytes = std::fs::metadata(&case.path).map_or(0, |meta| meta.len());
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let (result, malloc_peak_bytes) = sampling_malloc(|| {
        pipeline::derive_from(case.path.as_path(), limits)
            .map(|derived| (derived.width, derived.height))
            .map_err(|error| error.to_string())
    });
    let elapsed = started.elapsed();
    let peak_bytes = PEAK.load(Ordering::Relaxed).saturating_sub(before) as u64;
    Outcome {
        name: case.name.clone(),
        class: case.class,
        bytes,
        peak_bytes,
        malloc_peak_bytes,
        elapsed,
        result,
        expect: case.expect,
    }
}

/// Bytes malloc has handed out and not had back (glibc's `mallinfo2`): Rust's allocations and
/// C libraries' (libjpeg's), which pass by the counting allocator.
fn malloc_in_use() -> u64 {
    // SAFETY: mallinfo2 only reads malloc's statistics.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

/// Runs `job` while another thread samples [`malloc_in_use`] every millisecond; returns its
/// result and the peak growth seen. A sample can miss a short spike, not the buffers a decoder
/// holds while it decodes.
fn sampling_malloc<T>(job: impl FnOnce() -> T) -> (T, u64) {
    let before = malloc_in_use();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(malloc_in_use().saturating_sub(before));
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        });
        let result = job();
        done.store(true, Ordering::Relaxed);
        let peak = sampler.join().expect("the sampler");
        (result, peak)
    })
}

/// How large the set's files are: `Full` is what the library meets in the wild (the
/// benchmark, on a release build); `Quick` shortens the strips and makes the flat files that
/// are decoded through 25 MP, whose cost per pixel would make a debug build crawl. The files
/// refused from their header are 100 MP in every size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Full,
    Quick,
    /// Smaller still: the benchmark's smoke run, which only checks that nothing rots.
    Smoke,
}

/// Writes every file of the hostile set into `folder`.
pub fn build(folder: &Path, size: Size) -> Vec<Case> {
    let strip = match size {
        Size::Full => 100_000_000,
        Size::Quick => 2_000_000,
        Size::Smoke => 100_000,
    };
    // As wide as one row may be and still leave the budget room: 30 MB of RGB.
    let wide = strip.min(10_000_000);
    // The side of the flat files decoded through (a debug build decodes 25 MP in seconds);
    // the ones refused from their header are 100 MP in both.
    let side: u16 = match size {
        Size::Full => 10_000,
        Size::Quick => 5_000,
        Size::Smoke => 1_000,
    };
    let big = u32::from(side);
    let mut cases = Vec::new();
    let mut add = |class: &'static str, name: String, bytes: Vec<u8>, expect: Expect| {
        let path = folder.join(&name);
        std::fs::write(&path, bytes).expect("write a crafted file");
        cases.push(Case {
            class,
            name,
            path,
            expect,
        });
    };

    // Extreme aspect ratios, in every format that allows them.
    add(
        "strip",
        format!("strip-1x{strip}.png"),
        png_flat(1, strip, 8, 0),
        Expect::Ready,
    );
    add(
        "strip",
        format!("strip-{wide}x1.png"),
        png_flat(wide, 1, 8, 0),
        Expect::Ready,
    );
    add(
        "strip",
        format!("strip-2x{}.png", strip / 2),
        png_flat(2, strip / 2, 8, 0),
        Expect::Ready,
    );
    add(
        "strip",
        format!("strip-1x{strip}.tiff"),
        tiff_rgb_flat(1, strip),
        Expect::Ready,
    );
    add(
        "strip",
        format!("strip-{wide}x1.tiff"),
        tiff_rgb_flat(wide, 1),
        Expect::Ready,
    );
    add(
        "strip",
        "strip-1x65535.gif".into(),
        gif_flat(1, 65_535, false),
        Expect::Ready,
    );
    add(
        "strip",
        "strip-65535x1.gif".into(),
        gif_flat(65_535, 1, false),
        Expect::Ready,
    );
    add(
        "strip",
        "strip-1x65535.bmp".into(),
        bmp_flat(1, 65_535),
        Expect::Ready,
    );
    add(
        "strip",
        "strip-1x10000000.bmp".into(),
        bmp_flat(1, 10_000_000),
        Expect::Fails("unsupported: BMP of 1 × 10000000 pixels"),
    );
    add(
        "strip",
        "strip-1x16383.webp".into(),
        webp_flat(1, 16_383),
        Expect::Ready,
    );

    // 100-megapixel files that are not JPEGs: tiny on disk, each a bomb when decoded whole.
    add(
        "100 MP",
        format!("flat-{big}x{big}.png"),
        png_flat(big, big, 8, 2),
        Expect::Ready,
    );
    add(
        "100 MP",
        format!("flat-{big}x{big}-rgba16.png"),
        png_flat(big, big, 16, 6),
        Expect::Ready,
    );
    add(
        "100 MP",
        "flat-10000x10000-interlaced.png".into(),
        png_interlaced_header(10_000, 10_000),
        Expect::Fails("interlaced PNG"),
    );
    add(
        "100 MP",
        format!("flat-{big}x{big}.tiff"),
        tiff_rgb_flat(big, big),
        Expect::Ready,
    );
    add(
        "100 MP",
        format!("flat-{big}x{big}.gif"),
        gif_flat(side, side, false),
        Expect::Ready,
    );
    add(
        "100 MP",
        format!("flat-{big}x{big}-interlaced.gif"),
        gif_flat(side, side, true),
        Expect::Ready,
    );
    add(
        "100 MP",
        "rle-10000x10000.bmp".into(),
        bmp_rle_empty(10_000, 10_000),
        Expect::Fails("MiB one photo may use"),
    );
    add(
        "100 MP",
        "lossless-10000x10000.webp".into(),
        webp_lossless_header(10_000, 10_000),
        Expect::Fails("MiB one photo may use"),
    );
    add(
        "100 MP",
        "progressive-10000x10000.jpg".into(),
        jpeg_header(0xC2, 8, 10_000, 10_000, &[(2, 2), (1, 1), (1, 1)]),
        Expect::Fails("progressive JPEG would take about"),
    );

    // Metadata bombs: a few pixels, and chunks that inflate to 500 MB.
    add(
        "metadata",
        "icc-bomb.png".into(),
        png_with_chunk(b"iCCP", 500 << 20),
        Expect::Ready,
    );
    add(
        "metadata",
        "ztxt-bomb.png".into(),
        png_with_chunk(b"zTXt", 500 << 20),
        Expect::Ready,
    );
    add(
        "metadata",
        "itxt-bomb.png".into(),
        png_with_chunk(b"iTXt", 500 << 20),
        Expect::Ready,
    );
    add(
        "metadata",
        "app-segments-64mib.jpg".into(),
        jpeg_with_app_segments(64 << 20),
        Expect::Ready,
    );

    // Thousands of progressive scans: each one after the last coefficient repaints the image.
    add(
        "scans",
        "progressive-2000-scans.jpg".into(),
        jpeg_progressive_flat(1024, 1024, 2_000),
        Expect::ReadyOrFails("longer than"),
    );
    // A progressive JPEG large enough that libjpeg holds over 100 MiB of coefficients in C
    // (64 MP of grey) and still within the budget: what the malloc column must see.
    let progressive_side: u16 = match size {
        Size::Full => 8_000,
        Size::Quick => 4_000,
        Size::Smoke => 1_000,
    };
    add(
        "scans",
        format!("progressive-{progressive_side}x{progressive_side}.jpg"),
        jpeg_progressive_flat(progressive_side, progressive_side, 4),
        Expect::Ready,
    );

    // Valid JPEGs of kinds the decoder does not read: named, not called damaged.
    add(
        "unusual",
        "12-bit.jpg".into(),
        jpeg_header(0xC1, 12, 640, 480, &[(1, 1)]),
        Expect::Fails("unsupported: 12-bit JPEG"),
    );
    add(
        "unusual",
        "arithmetic.jpg".into(),
        jpeg_header(0xC9, 8, 640, 480, &[(1, 1), (1, 1), (1, 1)]),
        Expect::Fails("unsupported: arithmetic-coded JPEG"),
    );
    add(
        "unusual",
        "hierarchical.jpg".into(),
        jpeg_header(0xC5, 8, 640, 480, &[(1, 1)]),
        Expect::Fails("unsupported: hierarchical JPEG"),
    );
    cases
}

// ---------------------------------------------------------------------------------------
// PNG

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

fn png_ihdr(width: u32, height: u32, depth: u8, colour: u8, interlace: u8) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, interlace]);
    ihdr
}

/// A PNG of one grey-blue colour, compressed as it is written (a few hundred KB at 100 MP).
fn png_flat(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    let channels: usize = match colour {
        0 => 1,
        2 => 3,
        6 => 4,
        _ => unreachable!(),
    };
    let sample_bytes = usize::from(depth / 8);
    let mut row = vec![0u8]; // filter: none
    for _ in 0..width {
        for channel in 0..channels {
            let value = [90u8, 120, 160, 255][channel];
            row.extend(std::iter::repeat_n(value, sample_bytes));
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Rows in batches: a million one-pixel rows are written as a few large writes.
    let batch: Vec<u8> = row.repeat((1 << 20) / row.len() + 1);
    let rows_per_batch = batch.len() / row.len();
    let mut left = height as usize;
    while left > 0 {
        let rows = left.min(rows_per_batch);
        zlib.write_all(&batch[..rows * row.len()]).expect("deflate");
        left -= rows;
    }
    let idat = zlib.finish().expect("deflate");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(
        &mut png,
        b"IHDR",
        &png_ihdr(width, height, depth, colour, 0),
    );
    for piece in idat.chunks(1 << 20) {
        png_chunk(&mut png, b"IDAT", piece);
    }
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// An Adam7-interlaced PNG header with an empty image stream: its size alone decides.
fn png_interlaced_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &png_ihdr(width, height, 8, 2, 1));
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A 32 × 24 PNG with one compressed `kind` chunk that inflates to `inflated` bytes.
fn png_with_chunk(kind: &[u8; 4], inflated: usize) -> Vec<u8> {
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated / zeros.len() {
        zlib.write_all(&zeros).expect("deflate");
    }
    let compressed = zlib.finish().expect("deflate");
    let mut data = match kind {
        b"iCCP" => b"bomb\0\0".to_vec(),
        b"zTXt" => b"Comment\0\0".to_vec(),
        _ => b"Comment\0\x01\0\0\0".to_vec(),
    };
    data.extend_from_slice(&compressed);
    let pixels = png_flat(32, 24, 8, 2);
    let mut png = pixels[..8 + 25].to_vec(); // signature and IHDR
    png_chunk(&mut png, kind, &data);
    png.extend_from_slice(&pixels[8 + 25..]);
    png
}

// ---------------------------------------------------------------------------------------
// TIFF, GIF, BMP, WebP

fn tiff_rgb_flat(width: u32, height: u32) -> Vec<u8> {
    use tiff::encoder::{colortype::RGB8, TiffEncoder};
    let mut out = std::io::Cursor::new(Vec::new());
    // Uncompressed: this tiff version's encoder writes compressed strips that do not read
    // back (neither by its own decoder nor by image's).
    let mut encoder = TiffEncoder::new(&mut out).expect("tiff");
    let mut image = encoder
        .new_image::<RGB8>(width, height)
        .expect("tiff image");
    // Strips of about 64 KiB, as libtiff and cameras write them.
    let rows = ((1u32 << 16) / (width * 3)).clamp(1, height);
    image.rows_per_strip(rows).expect("rows per strip");
    let mut strip = Vec::new();
    loop {
        let samples = image.next_strip_sample_count() as usize;
        if samples == 0 {
            break;
        }
        strip.clear();
        strip.extend((0..samples).map(|index| [90u8, 120, 160][index % 3]));
        image.write_strip(&strip).expect("strip");
    }
    image.finish().expect("tiff");
    out.into_inner()
}

/// A GIF of one colour; its frame buffer is made here, not in the job.
fn gif_flat(width: u16, height: u16, interlaced: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let palette = [90u8, 120, 160, 255, 255, 255];
        let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).expect("gif");
        let mut frame = gif::Frame {
            width,
            height,
            interlaced,
            buffer: std::borrow::Cow::Owned(vec![0u8; usize::from(width) * usize::from(height)]),
            ..gif::Frame::default()
        };
        frame.palette = None;
        encoder.write_frame(&frame).expect("gif frame");
    }
    out
}

/// An uncompressed 24-bit BMP, bottom-up.
fn bmp_flat(width: u32, height: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let mut bmp = bmp_header(width, height, 24, 0, row * height);
    let mut line = vec![0u8; row as usize];
    for pixel in line.chunks_exact_mut(3).take(width as usize) {
        pixel.copy_from_slice(&[160, 120, 90]);
    }
    for _ in 0..height {
        bmp.extend_from_slice(&line);
    }
    bmp
}

/// An 8-bit RLE BMP whose data is just "end of bitmap": 100 MP in a hundred-odd bytes.
fn bmp_rle_empty(width: u32, height: u32) -> Vec<u8> {
    let mut bmp = bmp_header(width, height, 8, 1, 2);
    bmp.extend_from_slice(&[0, 1]);
    bmp
}

fn bmp_header(width: u32, height: u32, bits: u16, compression: u32, data_bytes: u32) -> Vec<u8> {
    let palette: u32 = if bits == 8 { 256 * 4 } else { 0 };
    let offset = 14 + 40 + palette;
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&(offset + data_bytes).to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&offset.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&(width as i32).to_le_bytes());
    bmp.extend_from_slice(&(height as i32).to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&bits.to_le_bytes());
    bmp.extend_from_slice(&compression.to_le_bytes());
    bmp.extend_from_slice(&data_bytes.to_le_bytes());
    bmp.extend_from_slice(&[0; 16]);
    for index in 0..palette / 4 {
        let grey = index as u8;
        bmp.extend_from_slice(&[grey, grey, grey, 0]);
    }
    bmp
}

/// A lossless WebP made by image's encoder.
fn webp_flat(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbImage::from_pixel(width, height, image::Rgb([90, 120, 160]));
    let mut out = std::io::Cursor::new(Vec::new());
    pixels
        .write_to(&mut out, image::ImageFormat::WebP)
        .expect("webp");
    out.into_inner()
}

/// A lossless WebP header declaring `width` × `height` and no image data after it.
pub fn webp_lossless_header(width: u32, height: u32) -> Vec<u8> {
    let bits: u32 = (width - 1) | ((height - 1) << 14);
    let mut vp8l = vec![0x2F];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.extend_from_slice(&[0; 8]);
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&((4 + 8 + vp8l.len()) as u32).to_le_bytes());
    webp.extend_from_slice(b"WEBPVP8L");
    webp.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
    webp.extend_from_slice(&vp8l);
    webp
}

// ---------------------------------------------------------------------------------------
// JPEG

/// SOI and a frame header of the given kind (`0xC1` extended, `0xC2` progressive, `0xC5`
/// hierarchical, `0xC9` arithmetic), then EOI: what the header reader sees of a real file.
fn jpeg_header(
    marker: u8,
    precision: u8,
    width: u16,
    height: u16,
    sampling: &[(u8, u8)],
) -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend_from_slice(&quantisation());
    jpeg.extend_from_slice(&frame(marker, precision, width, height, sampling));
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    jpeg
}

fn quantisation() -> Vec<u8> {
    let mut dqt = vec![0xFF, 0xDB, 0, 67, 0];
    dqt.extend_from_slice(&[1; 64]);
    dqt
}

fn frame(marker: u8, precision: u8, width: u16, height: u16, sampling: &[(u8, u8)]) -> Vec<u8> {
    let mut sof = vec![0xFF, marker];
    sof.extend_from_slice(&(8 + 3 * sampling.len() as u16).to_be_bytes());
    sof.push(precision);
    sof.extend_from_slice(&height.to_be_bytes());
    sof.extend_from_slice(&width.to_be_bytes());
    sof.push(sampling.len() as u8);
    for (index, (h, v)) in sampling.iter().enumerate() {
        sof.extend_from_slice(&[index as u8 + 1, h << 4 | v, 0]);
    }
    sof
}

/// A baseline JPEG of a few pixels preceded by `metadata` bytes of APP2 segments.
fn jpeg_with_app_segments(metadata: usize) -> Vec<u8> {
    let pixels = image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 160]));
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut plain)
        .encode_image(&pixels)
        .expect("jpeg");
    let mut jpeg = plain[..2].to_vec();
    // ICC profile pieces, which the decoder keeps to hand back: 255 at most by their numbering,
    // then plain APP2 segments.
    let body = 65_533 - 14;
    for index in 0..metadata / 65_533 {
        jpeg.extend_from_slice(&[0xFF, 0xE2, 0xFF, 0xFF]);
        jpeg.extend_from_slice(b"ICC_PROFILE\0");
        jpeg.extend_from_slice(&[(index % 255 + 1) as u8, 255]);
        jpeg.extend(std::iter::repeat_n(0u8, body));
    }
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

/// Entropy-coded bits with JPEG's byte stuffing.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    current: u32,
    count: u32,
}

impl Bits {
    fn put(&mut self, value: u32, length: u32) {
        for shift in (0..length).rev() {
            self.current = self.current << 1 | (value >> shift & 1);
            self.count += 1;
            if self.count == 8 {
                self.byte();
            }
        }
    }

    fn byte(&mut self) {
        let byte = self.current as u8;
        self.out.push(byte);
        if byte == 0xFF {
            self.out.push(0);
        }
        self.current = 0;
        self.count = 0;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            let pad = 8 - self.count;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

/// A valid progressive greyscale JPEG of one flat colour and `scans` scans: the DC scan, one
/// AC scan, then DC refinement scans, each of which makes the decoder repaint every pixel.
pub fn jpeg_progressive_flat(width: u16, height: u16, scans: usize) -> Vec<u8> {
    let blocks = usize::from(width.div_ceil(8)) * usize::from(height.div_ceil(8));
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend_from_slice(&quantisation());
    jpeg.extend_from_slice(&frame(0xC2, 8, width, height, &[(1, 1)]));
    // DC table 0: one code, "0", for a difference of 0. AC table 0: the fifteen
    // end-of-band runs, four bits each.
    let mut dht = vec![0xFF, 0xC4];
    let mut tables = vec![0x00, 1];
    tables.extend_from_slice(&[0; 15]);
    tables.push(0);
    tables.push(0x10);
    tables.extend_from_slice(&[0, 0, 0, 15]);
    tables.extend_from_slice(&[0; 12]);
    tables.extend((0..15u8).map(|run| run << 4));
    dht.extend_from_slice(&(tables.len() as u16 + 2).to_be_bytes());
    dht.extend_from_slice(&tables);
    jpeg.extend_from_slice(&dht);
    let scan = |jpeg: &mut Vec<u8>, start: u8, end: u8, approximation: u8, data: Vec<u8>| {
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, start, end, approximation]);
        jpeg.extend_from_slice(&data);
    };
    // DC, first pass: a difference of 0 in every block.
    let mut dc = Bits::default();
    for _ in 0..blocks {
        dc.put(0, 1);
    }
    scan(&mut jpeg, 0, 0, 0x01, dc.finish());
    // AC 1–63: every block empty, as runs of end-of-band.
    let mut ac = Bits::default();
    let mut left = blocks;
    while left > 0 {
        let run = left.min(32_767);
        let bits = usize::BITS - 1 - run.leading_zeros();
        ac.put(bits, 4);
        ac.put((run - (1 << bits)) as u32, bits);
        left -= run;
    }
    scan(&mut jpeg, 1, 63, 0x00, ac.finish());
    // DC refinements of the last bit: one zero bit per block, repeated.
    let mut refine = Bits::default();
    for _ in 0..blocks {
        refine.put(0, 1);
    }
    let refine = refine.finish();
    for _ in 2..scans {
        scan(&mut jpeg, 0, 0, 0x10, refine.clone());
    }
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    jpeg
}
