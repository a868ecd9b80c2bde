//! `flashbulb import DIR`: every photo below a folder joins the library. Idempotent and
//! resumable: files already in the library (same bytes) are skipped, so an interrupted import
//! simply runs again.

use std::{fmt, path::PathBuf, time::Instant};

use anyhow::Context;
use flashbulb_store::Pool;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::{
    jobs::worker::Workers,
    photos::ingest::{self, Candidate, Outcome, Refusal},
    pipeline::sniff::{Format, SNIFF_BYTES},
    users,
};

/// What to import, and whether to wait for the derivatives (the command line's arguments).
#[derive(Debug, Clone)]
pub struct ImportArgs {
    /// The folder to walk (subfolders too).
    pub dir: PathBuf,
    /// The user who owns the photos; created if missing.
    pub owner: String,
    /// Only add the photos and queue their derivatives; a running server makes them.
    pub no_wait: bool,
}

#[derive(Debug, Default, PartialEq)]
pub struct ImportReport {
    pub added: u64,
    pub duplicates: u64,
    /// Files that are not photos Flashbulb reads, with the reason of each.
    pub refused: Vec<(PathBuf, String)>,
    pub failed_derivatives: i64,
    pub seconds: f64,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} photos ({} already there) in {:.1} s",
            self.added, self.duplicates, self.seconds
        )?;
        if !self.refused.is_empty() {
            write!(f, "; {} files skipped:", self.refused.len())?;
            for (path, reason) in self.refused.iter().take(20) {
                write!(f, "\n  {}: {reason}", path.display())?;
            }
            if self.refused.len() > 20 {
                write!(f, "\n  … and {} more", self.refused.len() - 20)?;
            }
        }
        if self.failed_derivatives > 0 {
            write!(
                f,
                "\n{} photos could not be read; their reasons are on their photo pages",
                self.failed_derivatives
            )?;
        }
        Ok(())
    }
}

pub async fn run(
    pool: &Pool,
    settings: &crate::Settings,
    args: &ImportArgs,
) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    anyhow::ensure!(args.dir.is_dir(), "{} is not a folder", args.dir.display());
    let owner = users::find_or_create(pool, &args.owner, true).await?;
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&args.dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.into_path())
        .collect();
    let progress = bar(files.len() as u64, "adding");
    crate::storage::sweep_scratch(&settings.data_dir).await?;
    let limits = settings.job_limits();
    let mut report = ImportReport::default();
    for path in files {
        progress.inc(1);
        let head = read_head(&path).await.unwrap_or_default();
        if Format::sniff(&head).is_none() {
            // Not an image at all (sidecars, videos, notes): skipped quietly.
            continue;
        }
        // Copied, not moved: the folder being imported stays as it was.
        let temporary = crate::storage::ScratchFile::new(&settings.data_dir, "import").await?;
        let (sha256, byte_size) = copy_hashing(&path, temporary.path())
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let candidate = Candidate {
            owner,
            temporary: temporary.path(),
            file_name: &name,
            sha256,
            byte_size,
            priority: flashbulb_store::jobs::PRIORITY_IMPORT,
        };
        match ingest::add(pool, &settings.files, candidate, limits).await {
            Ok(Outcome::Added(_)) => report.added += 1,
            Ok(Outcome::Duplicate(_)) => report.duplicates += 1,
            Err(Refusal::Server(error)) => return Err(error.into()),
            Err(refusal) => report.refused.push((path, refusal.to_string())),
        }
    }
    progress.finish_and_clear();

    if !args.no_wait {
        wait_for_derivatives(pool, settings).await?;
    }
    report.failed_derivatives = flashbulb_store::photos::failed_count(pool, owner).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Runs this process's workers (if it has any) until no derivative job is waiting or
/// running.
pub(crate) async fn wait_for_derivatives(
    pool: &Pool,
    settings: &crate::Settings,
) -> anyhow::Result<()> {
    let waiting =
        |depth: flashbulb_store::jobs::QueueDepth| (depth.queued + depth.running).max(0) as u64;
    let total = waiting(flashbulb_store::jobs::depth(pool).await?);
    if total == 0 {
        return Ok(());
    }
    // A process configured with no workers (a web-only machine) watches other processes'.
    let progress = if settings.derivative_workers == 0 {
        bar(total, "worker processes making derivatives for")
    } else {
        bar(total, "making derivatives for")
    };
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut worker_config = settings.worker_config();
    worker_config.idle_poll = std::time::Duration::from_millis(200);
    // With Redis, running servers hear of every imported photo: their pages update live and
    // their caches drop what the import changed. Without, nobody watches this process' hub
    // and running servers show the photos once their cached pages expire (cache_ttl_secs).
    let redis = settings.redis_link();
    let cache = settings.cache(redis.clone());
    let events = crate::live::LiveEvents::new(
        crate::live::Relay::new(crate::live::Hub::new(settings.hub_config()), redis.clone()),
        pool.clone(),
        cache.clone(),
        crate::media::MediaSigner::new(pool.clone(), settings.media_url_window_secs),
    );
    let _background = crate::background::start(redis.as_ref(), &cache, &events);
    let workers = (settings.derivative_workers > 0).then(|| {
        Workers::start(
            pool.clone(),
            worker_config,
            &settings.jobs(pool),
            wake,
            events,
        )
    });
    loop {
        let left = waiting(flashbulb_store::jobs::depth(pool).await?);
        progress.set_position(total.saturating_sub(left));
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    progress.finish_and_clear();
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    Ok(())
}

async fn read_head(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        let read = file.read(&mut head[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    head.truncate(filled);
    Ok(head)
}

/// Copies `from` to `to` in chunks, hashing as it goes.
async fn copy_hashing(
    from: &std::path::Path,
    to: &std::path::Path,
) -> std::io::Result<([u8; 32], u64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut source = tokio::fs::File::open(from).await?;
    let mut target = tokio::fs::File::create(to).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = source.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        target.write_all(&buffer[..read]).await?;
        size += read as u64;
    }
    target.sync_all().await?;
    Ok((hasher.finalize().into(), size))
}

fn bar(total: u64, verb: &str) -> ProgressBar {
    let progress = ProgressBar::new(total);
    let template =
        format!("{{spinner}} {verb} [{{bar:40}}] {{human_pos}}/{{human_len}} photos, {{eta}} left");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        progress.set_style(style.progress_chars("=> "));
    }
    progress
}
