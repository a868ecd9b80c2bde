//! The job queue's workers and the kinds of job they run. The queue itself (leases, retries,
//! priorities, hand-back) is the store's (`flashbulb_store::jobs`): its rows are its state.
//! What a job does is a [`Job`] in the [`Registry`] the workers are started with, so the
//! workers name no kind of work themselves.

pub mod worker;

use std::sync::Arc;

use flashbulb_store::jobs::JobKind;
use flashbulb_types::model::PhotoId;

/// A kind of job: what a worker does with the photo a queued job of its kind names.
#[async_trait::async_trait]
pub trait Job: Send + Sync + 'static {
    /// The queue's name for the jobs this runs.
    fn kind(&self) -> JobKind;

    /// How many of these run at once in this process.
    fn concurrency(&self) -> usize;

    /// Does the work for `photo`. It must be idempotent: a job whose lease ran out is done
    /// again by another worker.
    async fn run(&self, photo: PhotoId) -> Result<(), JobFailure>;
}

/// Why a job did not succeed, and whether trying again later may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub reason: String,
    pub retryable: bool,
}

/// The kinds of job this process runs.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: Vec<Arc<dyn Job>>,
}

impl Registry {
    /// This registry and `job`.
    pub fn with(mut self, job: impl Job) -> Self {
        self.jobs.push(Arc::new(job));
        self
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Arc<dyn Job>> {
        self.jobs.iter()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.jobs.iter().map(|job| job.kind().as_str()))
            .finish()
    }
}
