//! `flashbulb seed`: a synthetic library (rows, thumbhashes, camera data, and pictures to look
//! at) for demos and benchmarks.

pub mod pictures;

use std::{fmt, path::Path, time::Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::SmallRng, Rng, SeedableRng};

use crate::{db::Pool, users};

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
            app::format::thousands(self.inserted),
            self.owner
        )
    }
}

/// Rows per INSERT statement: 16 bound values each stays under SQLite's 32,766 variables.
const ROWS_PER_STATEMENT: usize = 2_000;
/// Page cache of the seeding connection, in KiB.
const SEED_CACHE_KIB: u32 = 256 * 1024;

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

/// Seeds the rows, each showing one of the demo pictures (drawn and derived into `data_dir`
/// first) unless `args` asks for colour placeholders only.
pub async fn run_with_pictures(
    pool: &Pool,
    args: &SeedArgs,
    data_dir: &Path,
) -> anyhow::Result<SeedReport> {
    if args.without_pictures {
        return run(pool, args).await;
    }
    let started = Instant::now();
    let pictures = pictures::prepare(data_dir).await?;
    seed(pool, args, &pictures, started).await
}

async fn seed(
    pool: &Pool,
    args: &SeedArgs,
    pictures: &[pictures::DemoPicture],
    started: Instant,
) -> anyhow::Result<SeedReport> {
    let owner = users::find_or_create(pool, &args.owner, true).await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM photos WHERE owner_id = $1")
        .bind(owner)
        .fetch_one(pool)
        .await?;
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
    let now = crate::db::now();
    let span = i64::from(args.years) * 365 * 86_400;
    let progress = progress_bar(args.photos);

    // Rows arrive in random order for six indexes (the content hash, the timeline, camera,
    // lens, file-name trigrams): a page cache large enough for their hot pages turns most
    // random reads into memory hits. Only this connection, which ends with the seeding, gets
    // it. (PostgreSQL's shared buffers are the server's to size.)
    let backend = crate::db::backend(pool);
    let mut connection = crate::db::bulk_connection(pool).await?;
    if backend == crate::db::Backend::Sqlite {
        sqlx::query(&format!("PRAGMA cache_size = -{SEED_CACHE_KIB}"))
            .execute(&mut connection)
            .await?;
        // Each multi-row insert inside the transaction keeps a statement journal (the pages it
        // changes, so that it alone can be undone). In a temporary file that journal cost 1.5
        // writes per row (77,284 `pwrite` calls for 50,000 rows); in memory, no system call.
        sqlx::query("PRAGMA temp_store = MEMORY")
            .execute(&mut connection)
            .await?;
    }

    let batches = Batches {
        backend,
        owner,
        existing: existing as u64,
        photos: args.photos,
        now,
        span,
        palette: &palette,
        pictures,
    };
    let inserted = batches.insert(&mut connection, &mut rng, &progress).await?;
    sqlx::Connection::close(connection).await?;
    progress.finish_and_clear();
    Ok(SeedReport {
        owner: args.owner.clone(),
        inserted,
        skipped_because_not_empty: false,
        millis: started.elapsed().as_millis(),
    })
}

/// What one seeding run inserts; `insert` writes it in one transaction of multi-row
/// statements.
struct Batches<'a> {
    backend: crate::db::Backend,
    owner: i64,
    existing: u64,
    photos: u64,
    now: i64,
    span: i64,
    palette: &'a [Vec<u8>],
    /// Shown by the rows when there are any; colour placeholders otherwise.
    pictures: &'a [pictures::DemoPicture],
}

impl Batches<'_> {
    /// All rows in one transaction. Rows land at random places in six indexes, so every
    /// commit rewrites most index pages: in SQLite's WAL, a million rows committed 50,000 at a
    /// time wrote each such page twenty times over (and checkpointed it as often). Generated
    /// in the sqlite3 shell, such a million took 49 s that way and 17 s in one transaction;
    /// with this and the in-memory statement journal of `run`, this seed's debug build went
    /// from 48 s to 36 s. One transaction also leaves nothing half-seeded when interrupted.
    /// Progress still moves statement by statement.
    async fn insert(
        &self,
        connection: &mut sqlx::AnyConnection,
        rng: &mut SmallRng,
        progress: &ProgressBar,
    ) -> anyhow::Result<u64> {
        let mut tx = sqlx::Connection::begin(&mut *connection)
            .await
            .context("starting the seed transaction")?;
        let mut inserted = 0u64;
        while inserted < self.photos {
            let rows = ((self.photos - inserted) as usize).min(ROWS_PER_STATEMENT);
            let with_pictures = !self.pictures.is_empty();
            let mut insert = crate::db::Statement::new(
                self.backend,
                if with_pictures {
                    "INSERT INTO photos (owner_id, file_name, taken_at, width, height, byte_size, \
                     mime_type, sha256, status, thumbhash, camera_make, camera_model, lens, \
                     created_at, media_key, derivatives_of) VALUES "
                } else {
                    "INSERT INTO photos (owner_id, file_name, taken_at, width, height, byte_size, \
                     mime_type, sha256, status, thumbhash, camera_make, camera_model, lens, \
                     created_at) VALUES "
                },
            );
            let serial_base = self.existing + inserted;
            for index in 0..rows {
                let (make, model, lens) = CAMERAS[rng.random_range(0..CAMERAS.len())];
                let sha: [u8; 32] = rng.random();
                // A picture's own size, placeholder and files; or a sensor's size and a colour.
                let (width, height, thumbhash, media_key, derivatives_of) =
                    if self.pictures.is_empty() {
                        let (width, height) = SHAPES[rng.random_range(0..SHAPES.len())];
                        let palette = &self.palette[rng.random_range(0..self.palette.len())];
                        (width, height, palette.clone(), None, None)
                    } else {
                        let picture = &self.pictures[rng.random_range(0..self.pictures.len())];
                        (
                            picture.width,
                            picture.height,
                            picture.thumbhash.clone(),
                            Some(sha[..8].to_vec()),
                            Some(picture.sha256.clone()),
                        )
                    };
                insert
                    .push(if index == 0 { "(" } else { ", (" })
                    .push_bind(self.owner)
                    .push(", ")
                    .push_bind(format!("IMG_{:07}.JPG", serial_base + index as u64 + 1))
                    .push(", ")
                    .push_bind(self.now - rng.random_range(0..self.span))
                    .push(", ")
                    .push_bind(i64::from(width))
                    .push(", ")
                    .push_bind(i64::from(height))
                    .push(", ")
                    .push_bind(rng.random_range(1_500_000i64..12_000_000))
                    .push(", ")
                    .push_bind("image/jpeg")
                    .push(", ")
                    .push_bind(sha.to_vec())
                    .push(", ")
                    .push_bind("ready")
                    .push(", ")
                    .push_bind(thumbhash)
                    .push(", ")
                    .push_bind(make)
                    .push(", ")
                    .push_bind(model)
                    .push(", ")
                    .push_bind(lens)
                    .push(", ")
                    .push_bind(self.now);
                if with_pictures {
                    insert
                        .push(", ")
                        .push_bind(media_key)
                        .push(", ")
                        .push_bind(derivatives_of);
                }
                insert.push(")");
            }
            insert
                .query()?
                .execute(&mut *tx)
                .await
                .context("inserting seed photos")?;
            inserted += rows as u64;
            progress.inc(rows as u64);
        }
        tx.commit().await.context("committing seed photos")?;
        Ok(inserted)
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
