//! The services, apart from HTTP: the database, the library port, the live hub and
//! its publisher, the cache, metrics, Web Vitals, the console, media signing. [`Core`] holds
//! them; the web layer's state wraps it with what only HTTP needs (Leptos' options, the access
//! guard). No part starts a task when made: [`Core::start`] starts them all and returns their
//! handles.

use std::sync::Arc;

use flashbulb_store::Pool;
use flashbulb_types::library::SharedLibrary;

use crate::{
    background::Background,
    library::DbLibrary,
    live::{Hub, LiveEvents, Relay},
    media::MediaSigner,
    metrics::Metrics,
    ops::{Ops, Sources},
    photos::ingest::{self, Candidate, Outcome, Refusal},
    redis_link::RedisLink,
    settings::Settings,
    vitals::Vitals,
};

/// Every service of one server process. Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Core {
    pub settings: Arc<Settings>,
    pub db: Pool,
    /// Shut while the database is away, so requests fail fast with 503.
    pub database_gate: crate::gate::Gate,
    pub library: SharedLibrary,
    /// Notified when a job is queued, so an idle worker starts at once.
    pub jobs_queued: Arc<tokio::sync::Notify>,
    /// The live-updates hub every `/ws` socket of this process hangs on.
    pub hub: Hub,
    /// Publishes the library's changes to the hub.
    pub events: LiveEvents,
    /// Request, pool, queue, hub and process figures for `/metrics` and the console.
    pub metrics: Metrics,
    /// Web Vitals ingest: its rate limiter.
    pub vitals: Vitals,
    /// The console's history and the alert rules' states.
    pub ops: Ops,
    /// Pages and segments: L1 here, L2 in Redis when configured.
    pub cache: crate::cache::Cache,
    /// Redis, when configured: the cache's second level and the hubs' bridge.
    pub redis: Option<RedisLink>,
    /// Signs and checks media URLs.
    pub media: MediaSigner,
}

impl Core {
    /// Makes every service; none starts a task ([`Core::start`] does).
    pub fn new(settings: Settings, db: Pool) -> Self {
        let hub = Hub::new(settings.hub_config());
        let redis = settings.redis_link();
        let cache = settings.cache(redis.clone());
        let media = MediaSigner::new(db.clone(), settings.media_url_window_secs);
        let events = LiveEvents::new(
            Relay::new(hub.clone(), redis.clone()),
            db.clone(),
            cache.clone(),
            media.clone(),
        );
        let library: SharedLibrary = Arc::new(DbLibrary::new(
            db.clone(),
            settings.files.clone(),
            events.clone(),
            media.clone(),
            settings.trash_grace_days,
        ));
        let database_gate = crate::gate::Gate::new(db.clone());
        let metrics = Metrics::new(
            db.clone(),
            settings.database_max_connections,
            hub.clone(),
            cache.clone(),
            database_gate.clone(),
        );
        let vitals = Vitals::new(
            std::num::NonZeroU32::new(settings.vitals_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        );
        let settings = Arc::new(settings);
        let ops = Ops::new(Sources {
            db: db.clone(),
            hub: hub.clone(),
            cache: cache.clone(),
            metrics: metrics.clone(),
            vitals: vitals.clone(),
            settings: settings.clone(),
        });
        Self {
            settings,
            database_gate,
            db,
            library,
            jobs_queued: Arc::new(tokio::sync::Notify::new()),
            hub,
            events,
            metrics,
            vitals,
            ops,
            cache,
            redis,
            media,
        }
    }

    /// Adds a photo a person sent: checks and stores it with its derivatives' job, then tells
    /// its owner's pages that the queue grew and wakes an idle worker. The one door for new
    /// photos from requests (the import adds in bulk and lets the workers publish).
    pub async fn add_photo(&self, candidate: Candidate<'_>) -> Result<Outcome, Refusal> {
        let owner = candidate.owner;
        let limits = self.settings.job_limits();
        let outcome = ingest::add(&self.db, &self.settings.files, candidate, limits).await;
        if let Ok(Outcome::Added(_)) = outcome {
            self.events.counters_changed(owner);
            self.announce_jobs().await;
        }
        outcome
    }

    /// Wakes the idle workers of this process and, through Redis, of every other (web-only
    /// instances leave jobs to `flashbulb worker` processes); without Redis the others find
    /// the job at their next look at the queue.
    async fn announce_jobs(&self) {
        self.jobs_queued.notify_waiters();
        self.jobs_queued.notify_one();
        if let Some(redis) = &self.redis {
            redis.publish(crate::redis_link::JOBS, b"").await;
        }
    }

    /// Starts every task the services run beside requests ([`crate::background::start`]);
    /// they stop when the returned tasks are dropped.
    pub fn start(&self) -> Background {
        let mut background =
            crate::background::start(self.redis.as_ref(), &self.cache, &self.events);
        if let Some(redis) = &self.redis {
            background.push(
                "job announcements",
                tokio::spawn(wake_on_announcements(
                    redis.deliveries(),
                    self.jobs_queued.clone(),
                )),
            );
        }
        background
    }
}

/// Wakes this process's idle workers whenever any process announces a queued job.
async fn wake_on_announcements(
    mut deliveries: tokio::sync::broadcast::Receiver<crate::redis_link::Delivery>,
    wake: Arc<tokio::sync::Notify>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match deliveries.recv().await {
            Err(RecvError::Closed) => return,
            Ok(crate::redis_link::Delivery::Message { channel, .. })
                if channel == crate::redis_link::JOBS =>
            {
                wake.notify_waiters();
                wake.notify_one();
            }
            // A gap may have hidden an announcement: look at the queue.
            Err(RecvError::Lagged(_)) | Ok(crate::redis_link::Delivery::Reconnected) => {
                wake.notify_one();
            }
            Ok(_) => {}
        }
    }
}
