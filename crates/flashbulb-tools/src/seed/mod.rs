//! `flashbulb seed`: a synthetic library (rows, thumbhashes, camera data, and pictures to look
//! at) for demos and benchmarks.

pub mod pictures;

use std::{fmt, time::Instant};

use flashbulb_core::users;
use flashbulb_store::bulk::GeneratedPhoto;
use flashbulb_store::Pool;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::SmallRng, Rng, SeedableRng};

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// How many photos to add.
    #[arg(long, default_value_t = 5000)]
    pub photos: u64,
    /// The user who owns them; created if missing.
    #[arg(long, default_value = "demo")]
    pub owner: String,
    /// Photos are spread over this many years back from now.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub years: u32,
    /// Seed of the random generator: the same seed gives the same library.
    #[arg(long, default_value_t = 1)]
    pub random_seed: u64,
    /// Do nothing if the owner already has photos (so a demo can be restarted safely).
    #[arg(long)]
    pub only_if_empty: bool,
    /// Colour placeholders only, without the demo pictures and their thumbnails.
    #[arg(long)]
    pub without_pictures: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct SeedReport {
    pub owner: String,
    pub inserted: u64,
    pub skipped_because_not_empty: bool,
    pub millis: u128,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped_because_not_empty {
            return write!(f, "{} already has photos; nothing seeded", self.owner);
        }
        let seconds = self.millis as f64 / 1000.0;
        let rate = if seconds > 0.0 {
            self.inserted as f64 / seconds
        } else {
            0.0
        };
        write!(
            f,
            "seeded {} photos for {} in {seconds:.1} s ({rate:.0} photos/s)",
            flashbulb_types::format::thousands(self.inserted),
            self.owner
        )
    }
}

const CAMERAS: &[(&str, &str, &str)] = &[
    ("Canon", "Canon EOS R6", "RF24-105mm F4 L IS USM"),
    ("FUJIFILM", "X-T5", "XF16-80mmF4 R OIS WR"),
    ("SONY", "ILCE-7M4", "FE 35mm F1.8"),
    (
        "Apple",
        "iPhone 15 Pro",
        "iPhone 15 Pro back triple camera 6.86mm f/1.78",
    ),
    ("Google", "Pixel 8", "Pixel 8 back camera 6.9mm f/1.68"),
    ("NIKON CORPORATION", "NIKON Z 6_2", "NIKKOR Z 24-70mm f/4 S"),
];

/// Width × height pairs of common sensors, landscape and portrait.
const SHAPES: &[(u32, u32)] = &[
    (6000, 4000),
    (4000, 6000),
    (4032, 3024),
    (3024, 4032),
    (5472, 3648),
    (3840, 2160),
    (3000, 3000),
];

/// Seeds the rows with colour placeholders only.
pub async fn run(pool: &Pool, args: &SeedArgs) -> anyhow::Result<SeedReport> {
    seed(pool, args, &[], Instant::now()).await
}

/// Seeds the rows, each showing one of the demo pictures (drawn and derived into `store`
/// first) unless `args` asks for colour placeholders only.
pub async fn run_with_pictures(
    pool: &Pool,
    args: &SeedArgs,
    store: &flashbulb_core::files::FileStore,
) -> anyhow::Result<SeedReport> {
    if args.without_pictures {
        return run(pool, args).await;
    }
    let started = Instant::now();
    let pictures = pictures::prepare(store).await?;
    seed(pool, args, &pictures, started).await
}

async fn seed(
    pool: &Pool,
    args: &SeedArgs,
    pictures: &[pictures::DemoPicture],
    started: Instant,
) -> anyhow::Result<SeedReport> {
    let owner = users::find_or_create(pool, &args.owner, true).await?;
    let existing = flashbulb_store::photos::count_of(pool, owner).await?;
    if args.only_if_empty && existing > 0 {
        return Ok(SeedReport {
            owner: args.owner.clone(),
            inserted: 0,
            skipped_because_not_empty: true,
            millis: started.elapsed().as_millis(),
        });
    }

    // Mixing in the owner and the existing count keeps content hashes distinct across
    // owners and across repeated seeding.
    let mut rng =
        SmallRng::seed_from_u64(args.random_seed ^ existing as u64 ^ ((owner as u64) << 40));
    let palette = thumbhash_palette(&mut rng);
    let now = flashbulb_store::now();
    let span = i64::from(args.years) * 365 * 86_400;
    let progress = progress_bar(args.photos);

    // Rows arrive in the order of every index they touch: taken times ascending (the timeline,
    // camera and lens indexes), content hashes ascending within the run, file names numbered.
    // Each insert lands beside the last, so the pages it changes are already in the default
    // page cache: a million rows need no large cache (in random order, six indexes took a
    // 256 MiB one to stay fast).
    let mut rows = Rows {
        existing: existing as u64,
        made: 0,
        times: TakenTimes::new(&mut rng, now, span, args.photos),
        hashes: AscendingHashes::new(&mut rng),
        palette: &palette,
        pictures,
        rng,
    };
    let inserted = flashbulb_store::bulk::insert_photos(
        pool,
        owner,
        now,
        args.photos,
        !pictures.is_empty(),
        |count| rows.next_batch(count),
        |count| progress.inc(count),
    )
    .await?;
    progress.finish_and_clear();
    Ok(SeedReport {
        owner: args.owner.clone(),
        inserted,
        skipped_because_not_empty: false,
        millis: started.elapsed().as_millis(),
    })
}

/// The rows of one seeding run, made batch by batch as the store asks for them.
struct Rows<'a> {
    /// The owner's photos before this run: file names number on from there.
    existing: u64,
    made: u64,
    times: TakenTimes,
    hashes: AscendingHashes,
    palette: &'a [Vec<u8>],
    /// Shown by the rows when there are any; colour placeholders otherwise.
    pictures: &'a [pictures::DemoPicture],
    rng: SmallRng,
}

impl Rows<'_> {
    fn next_batch(&mut self, count: usize) -> Vec<GeneratedPhoto> {
        (0..count).map(|_| self.next_row()).collect()
    }

    fn next_row(&mut self) -> GeneratedPhoto {
        let rng = &mut self.rng;
        let (make, model, lens) = CAMERAS[rng.random_range(0..CAMERAS.len())];
        let sha = self.hashes.next(rng);
        // A picture's own size, placeholder and files; or a sensor's size and a colour.
        let (width, height, thumbhash, shows) = if self.pictures.is_empty() {
            let (width, height) = SHAPES[rng.random_range(0..SHAPES.len())];
            let palette = &self.palette[rng.random_range(0..self.palette.len())];
            (width, height, palette.clone(), None)
        } else {
            let picture = &self.pictures[rng.random_range(0..self.pictures.len())];
            (
                picture.width,
                picture.height,
                picture.thumbhash.clone(),
                Some((sha[..8].to_vec(), picture.sha256.clone())),
            )
        };
        self.made += 1;
        GeneratedPhoto {
            file_name: format!("IMG_{:07}.JPG", self.existing + self.made),
            taken_at: self.times.next(rng),
            width,
            height,
            byte_size: rng.random_range(1_500_000i64..12_000_000),
            sha256: sha,
            thumbhash,
            camera_make: make,
            camera_model: model,
            lens,
            shows,
        }
    }
}

/// Taken times in ascending order, spread over `span` seconds up to `now` the way a real
/// library is: some months busy (a holiday, a new baby), some quiet. Each month-long slice gets
/// a random share of the photos, spaced evenly across it with jitter, so the times come out
/// sorted without holding them all.
struct TakenTimes {
    /// Cumulative weights of the slices, the last one the total.
    cumulative: Vec<f64>,
    start: i64,
    slice_secs: i64,
    photos: u64,
    slice: usize,
    /// Photos given to the slices before `slice`, and how many of `slice`'s are out.
    before: u64,
    taken_in_slice: u64,
}

impl TakenTimes {
    /// Thirty days per slice: the timeline's months, near enough.
    const SLICE_SECS: i64 = 30 * 86_400;

    fn new(rng: &mut SmallRng, now: i64, span: i64, photos: u64) -> Self {
        let slices = (span / Self::SLICE_SECS).max(1) as usize;
        let mut total = 0.0;
        let cumulative = (0..slices)
            .map(|_| {
                // Cubed: most slices are ordinary, a few hold several times their share.
                let busy: f64 = rng.random();
                total += 0.25 + 4.0 * busy * busy * busy;
                total
            })
            .collect();
        Self {
            cumulative,
            start: now - span,
            slice_secs: span / slices as i64,
            photos,
            slice: 0,
            before: 0,
            taken_in_slice: 0,
        }
    }

    /// Photos given to the slices up to and including `slice`.
    fn through(&self, slice: usize) -> u64 {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        if slice + 1 >= self.cumulative.len() {
            return self.photos;
        }
        (self.photos as f64 * self.cumulative[slice] / total).round() as u64
    }

    fn next(&mut self, rng: &mut SmallRng) -> i64 {
        while self.slice + 1 < self.cumulative.len()
            && self.before + self.taken_in_slice >= self.through(self.slice)
        {
            self.before = self.through(self.slice);
            self.slice += 1;
            self.taken_in_slice = 0;
        }
        let in_slice = self.through(self.slice).saturating_sub(self.before).max(1) as i64;
        let step = (self.slice_secs / in_slice).max(1);
        let slice_start = self.start + self.slice as i64 * self.slice_secs;
        // More photos than seconds in a slice share seconds rather than spill into the next.
        let at = (slice_start + self.taken_in_slice as i64 * step + rng.random_range(0..step))
            .min(slice_start + self.slice_secs - 1);
        self.taken_in_slice += 1;
        at
    }
}

/// Content hashes that ascend within one seeding run: eight bytes of a random base plus the
/// row's number, then random bytes. Consecutive rows sit side by side in the hash index, and
/// runs (for other owners, or repeated) start at random places, so they do not collide.
struct AscendingHashes {
    base: u64,
    next: u64,
}

impl AscendingHashes {
    fn new(rng: &mut SmallRng) -> Self {
        // The low 32 bits count the rows: four billion per run.
        Self {
            base: rng.random::<u64>() & !u64::from(u32::MAX),
            next: 0,
        }
    }

    fn next(&mut self, rng: &mut SmallRng) -> [u8; 32] {
        let mut hash: [u8; 32] = rng.random();
        hash[..8].copy_from_slice(&(self.base | self.next).to_be_bytes());
        self.next += 1;
        hash
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{spinner} seeding [{bar:40}] {human_pos}/{human_len} photos, {per_sec}, {eta} left",
    )
    .map(|style| style.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Real thumbhashes of small two-colour gradients: each seeded photo gets one, so the grid
/// paints believable placeholder colours without decoding any image.
fn thumbhash_palette(rng: &mut SmallRng) -> Vec<Vec<u8>> {
    const SIDE: usize = 16;
    (0..64)
        .map(|_| {
            let top: [u8; 3] = rng.random();
            let bottom: [u8; 3] = rng.random();
            let mut rgba = Vec::with_capacity(SIDE * SIDE * 4);
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let t = (x + y) as f32 / (2 * (SIDE - 1)) as f32;
                    for channel in 0..3 {
                        let mixed =
                            f32::from(top[channel]) * (1.0 - t) + f32::from(bottom[channel]) * t;
                        rgba.push(mixed as u8);
                    }
                    rgba.push(255);
                }
            }
            thumbhash::rgba_to_thumb_hash(SIDE, SIDE, &rgba)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_times_ascend_within_the_span_and_vary_by_month() {
        let mut rng = SmallRng::seed_from_u64(7);
        let (now, span, photos) = (1_800_000_000, 12 * 365 * 86_400, 100_000);
        let mut times = TakenTimes::new(&mut rng, now, span, photos);
        let all: Vec<i64> = (0..photos).map(|_| times.next(&mut rng)).collect();
        assert!(all.windows(2).all(|pair| pair[0] <= pair[1]), "not sorted");
        assert!(all[0] >= now - span && all[all.len() - 1] < now);
        let mut per_slice = std::collections::BTreeMap::<i64, u64>::new();
        for at in &all {
            *per_slice
                .entry((at - (now - span)) / TakenTimes::SLICE_SECS)
                .or_default() += 1;
        }
        let busiest = per_slice.values().max().copied().unwrap_or_default();
        let quietest = per_slice.values().min().copied().unwrap_or_default();
        assert!(per_slice.len() > 140, "{} slices", per_slice.len());
        assert!(
            busiest > 3 * quietest,
            "{quietest} to {busiest}: every month alike"
        );
    }

    #[test]
    fn taken_times_hold_more_photos_than_seconds() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut times = TakenTimes::new(&mut rng, 1_000, 100, 1_000);
        let all: Vec<i64> = (0..1_000).map(|_| times.next(&mut rng)).collect();
        assert!(all.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(all.iter().all(|at| (900..1_000).contains(at)));
    }

    #[test]
    fn hashes_ascend_within_a_run_and_runs_differ() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut first = AscendingHashes::new(&mut rng);
        let mut second = AscendingHashes::new(&mut rng);
        let run: Vec<[u8; 32]> = (0..1_000).map(|_| first.next(&mut rng)).collect();
        assert!(run.windows(2).all(|pair| pair[0] < pair[1]));
        assert_ne!(run[0][..4], second.next(&mut rng)[..4]);
    }
}
