//! `flashbulb rederive`: photos whose derivatives an earlier version made (one preview size, no
//! AVIF, no high-density thumbnail) get every file again, through the job uploads use, below
//! imports and uploads in the queue. Idempotent: a photo that has its files, or a job already,
//! is left alone, so an interrupted run simply runs again.

use std::{fmt, time::Instant};

use flashbulb_store::{
    jobs::{self, JobKind},
    photos, Pool,
};

use crate::{files::Stored, pipeline};

/// Photos looked at per query.
const PAGE: i64 = 1_000;

#[derive(Debug, Default, PartialEq)]
pub struct RederiveReport {
    /// Photos queued for new derivatives.
    pub queued: u64,
    /// Photos that have every file already.
    pub complete: u64,
    pub seconds: f64,
}

impl fmt::Display for RederiveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} photos queued for every size and AVIF ({} had them already), {:.1} s",
            self.queued, self.complete, self.seconds
        )
    }
}

/// Queues new derivatives for every ready photo of every owner that lacks the file a complete
/// derivation writes last ([`pipeline::COMPLETES`]); then, unless `no_wait`, makes them with
/// this process's workers and a progress bar (a running server's workers take them otherwise).
pub async fn run(
    pool: &Pool,
    settings: &crate::Settings,
    no_wait: bool,
) -> anyhow::Result<RederiveReport> {
    let started = Instant::now();
    let mut report = RederiveReport::default();
    let mut after = 0;
    loop {
        let page = photos::ready_with_own_derivatives(pool, after, PAGE).await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = *last;
        for (photo, sha256) in page {
            let complete = Stored::Derivative(&sha256, pipeline::COMPLETES);
            if settings.files.exists(complete).await? {
                report.complete += 1;
            } else if jobs::enqueue_unless_queued(
                pool,
                JobKind::MakeDerivatives,
                photo,
                jobs::PRIORITY_REDERIVE,
            )
            .await?
            {
                report.queued += 1;
            }
        }
    }
    if !no_wait {
        crate::import::wait_for_derivatives(pool, settings).await?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
