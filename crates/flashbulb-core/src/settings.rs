//! The services' section of the configuration: what the core is configured with, derived by
//! the binary from the one flat file and environment (the keys keep their users' names; their
//! meaning is documented where the binary reads them), and the parts it builds from them.

use std::{path::PathBuf, time::Duration};

use flashbulb_store::Pool;

use crate::{
    alerts::AlertRule,
    cache::Cache,
    files::FileStore,
    jobs::{worker::WorkerConfig, Registry},
    live::HubConfig,
    pipeline::{derive::Limits, DerivativesJob},
    redis_link::RedisLink,
};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the photo files live (and a SQLite database, by default).
    pub data_dir: PathBuf,
    /// Where originals and derivatives are kept: the data folder, or object storage.
    pub files: FileStore,
    /// How this process names itself to others: alerts' webhook payloads carry it.
    pub instance: String,
    pub database_max_connections: u32,
    pub slow_query_ms: u64,
    pub max_image_pixels: u64,
    /// Derivative jobs run at once by this process, as many as the memory budgets allow.
    pub derivative_workers: usize,
    pub job_lease_secs: u64,
    pub job_timeout_secs: u64,
    pub job_memory_mib: u64,
    pub shutdown_grace_secs: u64,
    pub live_frame_ms: u64,
    pub live_heartbeat_secs: u64,
    pub live_mailbox_bytes: usize,
    pub live_threads: usize,
    pub live_niceness: i32,
    pub ops_sample_ms: u64,
    pub vitals_per_minute: u32,
    pub vitals_retention_days: u32,
    pub trash_grace_days: u32,
    pub alert_webhook: Option<String>,
    pub alerts: Vec<AlertRule>,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub cache_mb: u64,
    pub cache_ttl_secs: u64,
    pub media_url_window_secs: u64,
    /// Every configuration key with its value as the diagnostics page shows it (credentials
    /// hidden by whoever read the configuration).
    pub shown: Vec<(String, String)>,
}

impl Settings {
    /// The workers' settings.
    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            lease: Duration::from_secs(self.job_lease_secs),
            idle_poll: Duration::from_secs(2),
            shutdown_grace: self.shutdown_grace(),
        }
    }

    /// The derivatives job as these settings size and bound it.
    pub fn derivatives_job(&self, pool: &Pool) -> DerivativesJob {
        DerivativesJob {
            pool: pool.clone(),
            files: self.files.clone(),
            limits: self.job_limits(),
            workers: self.derivative_workers,
        }
    }

    /// What one job (and the upload's check of a file) may spend on a photo.
    pub fn job_limits(&self) -> Limits {
        Limits {
            max_pixels: self.max_image_pixels,
            time_limit: Duration::from_secs(self.job_timeout_secs),
            memory_bytes: self.job_memory_mib << 20,
        }
    }

    /// Every kind of job this process runs.
    pub fn jobs(&self, pool: &Pool) -> Registry {
        Registry::default().with(self.derivatives_job(pool))
    }

    /// How long in-flight requests, then running jobs, may take after a stop signal.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The live-updates hub's settings.
    pub fn hub_config(&self) -> HubConfig {
        HubConfig {
            frame: Duration::from_millis(self.live_frame_ms),
            heartbeat: Duration::from_secs(self.live_heartbeat_secs),
            mailbox_bytes: self.live_mailbox_bytes,
            threads: self.live_threads,
            niceness: self.live_niceness,
            ..HubConfig::default()
        }
    }

    /// The link to Redis when one is configured; [`RedisLink::start`] connects.
    pub fn redis_link(&self) -> Option<RedisLink> {
        let url = self.redis_url.as_deref()?;
        match RedisLink::new(url, &self.redis_prefix) {
            Ok(link) => Some(link),
            Err(error) => {
                // The configuration's validation parsed the URL already; not expected.
                tracing::error!(%error, "Redis is configured but cannot be used");
                None
            }
        }
    }

    /// The cache these settings ask for, over `redis` when there is one.
    pub fn cache(&self, redis: Option<RedisLink>) -> Cache {
        Cache::new(
            self.cache_mb.saturating_mul(1024 * 1024),
            Duration::from_secs(self.cache_ttl_secs),
            redis,
        )
    }
}
