//! The image pipeline: from an original file to the facts and derivatives the pages show.

pub mod decode;
pub mod derive;
mod heif;
mod jpeg;
pub mod metadata;
pub mod shrink;
pub mod sniff;

use std::{
    fs::File,
    io::{BufRead, BufReader, Cursor, Read, Seek},
    path::Path,
    time::Instant,
};

use derive::{DeriveError, Limits};
use fast_image_resize::Resizer;
use flashbulb_store::photos;
use flashbulb_store::Pool;
use flashbulb_types::model::PhotoId;
use image::RgbImage;
use sniff::Format;

use crate::files::{FileStore, Stored};

/// The files made of a photo, named as their URLs end: the grid's square thumbnail (WebP, JPEG,
/// and WebP at twice the side for high-density screens), and the photo page's previews at each
/// edge of [`derive::PREVIEW_EDGES`] the original can fill, in WebP, in AVIF up to the middle
/// one (libaom's working memory for a 2,560-pixel AVIF, some 70 MB, would double a job's), and
/// the middle one in JPEG for browsers that read neither. Photos derived before the sizes and AVIF
/// existed have only `thumb.*` and `preview.{webp,jpg}`.
pub const VARIANTS: [&str; 9] = [
    "thumb.webp",
    "thumb.jpg",
    "thumb-512.webp",
    "preview-720.avif",
    "preview-720.webp",
    "preview.avif",
    "preview.webp",
    "preview.jpg",
    "preview-2560.webp",
];

/// The high-density thumbnail, when the photo's short side can fill it.
pub use flashbulb_types::model::THUMB_2X;

/// `(variant, bytes)` for the [`VARIANTS`] made of one photo, [`COMPLETES`] last.
pub type Files = Vec<(&'static str, Vec<u8>)>;

/// Everything one run of the pipeline makes of one original.
#[derive(Debug)]
pub struct Derived {
    /// Upright size of the original.
    pub width: u32,
    pub height: u32,
    pub facts: flashbulb_store::photos::Facts,
    pub thumbhash: Vec<u8>,
    pub files: Files,
}

/// Where an original is read from: bytes in memory (tests, benchmarks) or its file (the job).
/// Each step opens its own reader and reads only what it needs, so a 2 GiB original costs read
/// buffers and the (shrunk) pixels, never its size in memory.
pub trait Source {
    type Reader<'a>: BufRead + Seek
    where
        Self: 'a;

    fn open(&self) -> std::io::Result<Self::Reader<'_>>;

    /// When reading it stops: for decoders that also read the clock between reads.
    fn deadline(&self) -> Option<Instant> {
        None
    }
}

impl Source for [u8] {
    type Reader<'a> = Cursor<&'a [u8]>;

    fn open(&self) -> std::io::Result<Cursor<&[u8]>> {
        Ok(Cursor::new(self))
    }
}

impl Source for Path {
    type Reader<'a> = BufReader<File>;

    fn open(&self) -> std::io::Result<BufReader<File>> {
        // Decoders read in small pieces; 64 KiB turns them into few system calls.
        Ok(BufReader::with_capacity(1 << 16, File::open(self)?))
    }
}

/// `source` whose readers fail once `deadline` has passed. Every decoder pulls its input as
/// it goes (a PNG row by row), so a file that would keep one busy for minutes stops at its next
/// read; libjpeg, which may hold thousands of scans in one read, also reads the clock at each
/// marker. The work after decoding is bounded by the preview's size.
struct Timed<'s, S: ?Sized> {
    source: &'s S,
    deadline: Instant,
}

impl<S: Source + ?Sized> Source for Timed<'_, S> {
    type Reader<'a>
        = TimedReader<S::Reader<'a>>
    where
        Self: 'a;

    fn open(&self) -> std::io::Result<Self::Reader<'_>> {
        Ok(TimedReader {
            inner: self.source.open()?,
            deadline: self.deadline,
            reads: 0,
        })
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.deadline)
    }
}

struct TimedReader<R> {
    inner: R,
    deadline: Instant,
    reads: u32,
}

impl<R> TimedReader<R> {
    /// Decoders read a byte at a time in places: the clock is read every 256th call, about
    /// once per scan of a progressive JPEG, for a few nanoseconds per byte.
    fn check(&mut self) -> std::io::Result<()> {
        self.reads = self.reads.wrapping_add(1);
        if self.reads.is_multiple_of(256) && Instant::now() >= self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the time limit passed",
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for TimedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.check()?;
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for TimedReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

impl<R: Seek> Seek for TimedReader<R> {
    fn seek(&mut self, position: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(position)
    }
}

/// The format of `source`, told by its first bytes.
fn sniff<S: Source + ?Sized>(source: &S) -> Result<Format, DeriveError> {
    let mut head = Vec::with_capacity(sniff::SNIFF_BYTES);
    source
        .open()
        .and_then(|reader| {
            reader
                .take(sniff::SNIFF_BYTES as u64)
                .read_to_end(&mut head)
        })
        .map_err(DeriveError::Read)?;
    Format::sniff(&head).ok_or(DeriveError::Unsupported("files of this kind"))
}

/// [`derive_from`] bytes in memory.
pub fn derive_all(bytes: &[u8], limits: Limits) -> Result<Derived, DeriveError> {
    derive_from(bytes, limits)
}

/// Decodes `source` once (shrunk to what the largest preview needs), turns it upright, and
/// makes the files of [`VARIANTS`] it can fill (see [`derive_pixels`]) and the thumbhash. Pure
/// CPU work: run it on a blocking thread.
pub fn derive_from<S: Source + ?Sized>(source: &S, limits: Limits) -> Result<Derived, DeriveError> {
    let started = Instant::now();
    let timed = Timed {
        source,
        deadline: started + limits.time_limit,
    };
    match derive_within(&timed, limits) {
        // Whatever a decoder made of its reader failing, the reason is the time.
        Err(_) if started.elapsed() >= limits.time_limit => {
            Err(DeriveError::TimedOut(limits.time_limit))
        }
        derived => derived,
    }
}

fn derive_within<S: Source + ?Sized>(source: &S, limits: Limits) -> Result<Derived, DeriveError> {
    let format = sniff(source)?;
    let (declared_width, declared_height) =
        derive::declared_size_of(source.open().map_err(DeriveError::Read)?, format, limits)?;
    let facts = metadata::read_from(source.open().map_err(DeriveError::Read)?, format);
    // Pixels for the largest preview when their decode fits the budget, else for the preview
    // every photo has (a 64-megapixel progressive JPEG at half size would not): the larger
    // previews are then made from what there is, never enlarged.
    let pixels = match derive::decode(source, format, derive::LARGEST_PREVIEW_EDGE, limits) {
        Err(DeriveError::OverBudget { .. }) => {
            derive::decode(source, format, derive::PREVIEW_EDGE, limits)?
        }
        pixels => pixels?,
    };
    let pixels = derive::upright(pixels, facts.orientation);
    let (width, height) = if (5..=8).contains(&facts.orientation) {
        (declared_height, declared_width)
    } else {
        (declared_width, declared_height)
    };
    let (thumbhash, files) = derive_pixels(&pixels)?;
    Ok(Derived {
        width,
        height,
        facts,
        thumbhash,
        files,
    })
}

/// The thumbhash and the files of [`VARIANTS`] made from upright pixels (at least the largest
/// preview's edge, or the whole original): each preview fitted within its edge, made from the
/// next larger one; the square thumbnails cut from the middle preview.
pub fn derive_pixels(pixels: &RgbImage) -> Result<(Vec<u8>, Files), DeriveError> {
    let mut resizer = Resizer::new();
    let (width, height) = pixels.dimensions();
    let mut files: Files = Vec::with_capacity(VARIANTS.len());
    let mut larger: Option<RgbImage> = None;
    let mut middle = None;
    let edges: Vec<u32> = flashbulb_types::model::preview_edges(width, height).collect();
    for &edge in edges.iter().rev() {
        let preview = derive::fit(&mut resizer, larger.as_ref().unwrap_or(pixels), edge)?;
        if edge <= derive::PREVIEW_EDGE {
            files.push((variant(edge, "avif")?, heif::encode_avif(&preview)?));
        }
        files.push((variant(edge, "webp")?, derive::encode_webp(&preview)));
        if edge == derive::PREVIEW_EDGE {
            files.push(("preview.jpg", derive::encode_jpeg(&preview)?));
            middle = Some(preview.clone());
        }
        larger = Some(preview);
    }
    let preview = middle.ok_or_else(|| DeriveError::Encode("no preview was made".into()))?;
    let thumb = derive::square(&mut resizer, &preview, derive::THUMBNAIL_SIDE)?;
    files.push(("thumb.webp", derive::encode_webp(&thumb)));
    files.push(("thumb.jpg", derive::encode_jpeg(&thumb)?));
    if preview.width().min(preview.height()) >= 2 * derive::THUMBNAIL_SIDE {
        let sharp = derive::square(&mut resizer, &preview, 2 * derive::THUMBNAIL_SIDE)?;
        files.push((THUMB_2X, derive::encode_webp(&sharp)));
    }
    let thumbhash = derive::thumbhash(&mut resizer, &preview)?;
    // Written in this order, the middle AVIF last: once it exists, every other file does
    // (pages ask for the sizes and AVIF only then).
    files.sort_by_key(|(variant, _)| *variant == COMPLETES);
    Ok((thumbhash, files))
}

/// The file a photo's derivation writes last: its presence says the photo has every size.
pub const COMPLETES: &str = "preview.avif";

/// The [`VARIANTS`] name of the preview at `edge` in `extension`.
fn variant(edge: u32, extension: &str) -> Result<&'static str, DeriveError> {
    let name = flashbulb_types::model::preview_variant(edge, extension);
    VARIANTS
        .iter()
        .find(|known| **known == name)
        .copied()
        .ok_or_else(|| DeriveError::Encode(format!("{name} is not a known variant")))
}

/// Only the square WebP thumbnail, decoded no larger than it needs: the work the thumbnail
/// benchmark compares with `vipsthumbnail`.
pub fn thumbnail(bytes: &[u8], limits: Limits) -> Result<Vec<u8>, DeriveError> {
    let format = Format::sniff(bytes).ok_or(DeriveError::Unsupported("files of this kind"))?;
    let orientation = metadata::read_from(Cursor::new(bytes), format).orientation;
    let pixels = derive::decode(
        bytes,
        format,
        derive::AtLeast::ShortEdge(derive::THUMBNAIL_SIDE),
        limits,
    )?;
    let pixels = derive::upright(pixels, orientation);
    let thumb = derive::square(&mut Resizer::new(), &pixels, derive::THUMBNAIL_SIDE)?;
    Ok(derive::encode_webp(&thumb))
}

/// Why a derivatives job did not finish, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file itself is the problem: retrying gives the same answer.
    #[error(transparent)]
    Photo(#[from] DeriveError),
    #[error("the original file is missing")]
    MissingOriginal,
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Database(#[from] flashbulb_store::StoreError),
}

impl PipelineError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PipelineError::Io(_)
                | PipelineError::Database(_)
                | PipelineError::Photo(DeriveError::Read(_))
                | PipelineError::Photo(DeriveError::TimedOut(_))
        )
    }
}

/// The `make_derivatives` job as the workers run it.
#[derive(Debug, Clone)]
pub struct DerivativesJob {
    pub pool: Pool,
    pub files: FileStore,
    pub limits: Limits,
    /// Jobs run at once; each takes a core while it decodes and encodes.
    pub workers: usize,
}

#[async_trait::async_trait]
impl crate::jobs::Job for DerivativesJob {
    fn kind(&self) -> flashbulb_store::jobs::JobKind {
        flashbulb_store::jobs::JobKind::MakeDerivatives
    }

    fn concurrency(&self) -> usize {
        self.workers.max(1)
    }

    async fn run(&self, photo: PhotoId) -> Result<(), crate::jobs::JobFailure> {
        make_derivatives(&self.pool, &self.files, photo, self.limits)
            .await
            .map_err(|error| crate::jobs::JobFailure {
                reason: error.to_string(),
                retryable: error.is_retryable(),
            })
    }
}

/// The `make_derivatives` job: reads the original, makes everything, writes the files (each
/// atomically), then records the facts and marks the photo ready, in that order, so a crash
/// at any point leaves at worst files that the next attempt rewrites byte for byte.
pub async fn make_derivatives(
    pool: &Pool,
    files: &FileStore,
    photo: PhotoId,
    limits: Limits,
) -> Result<(), PipelineError> {
    // Deleted since it was queued: nothing left to do.
    let Some(sha) = photos::sha256_of(pool, photo).await? else {
        return Ok(());
    };
    // From object storage, a copy in the scratch folder, removed when the job ends.
    let original = files
        .readable(Stored::Original(&sha))
        .await?
        .ok_or(PipelineError::MissingOriginal)?;
    let derived =
        match tokio::task::spawn_blocking(move || derive_from(original.path(), limits)).await {
            Ok(derived) => derived?,
            // A decoder that panics on a file will panic on it again: not worth a retry.
            Err(error) if error.is_panic() => {
                return Err(DeriveError::Corrupt("the decoder crashed on this file".into()).into())
            }
            Err(error) => {
                return Err(std::io::Error::other(format!("the pipeline stopped: {error}")).into())
            }
        };
    for (variant, bytes) in &derived.files {
        files
            .put_bytes(Stored::Derivative(&sha, variant), bytes)
            .await?;
    }
    photos::record_derivatives(
        pool,
        photo,
        photos::Derivatives {
            width: derived.width,
            height: derived.height,
            thumbhash: &derived.thumbhash,
            facts: &derived.facts,
        },
    )
    .await?;
    Ok(())
}
