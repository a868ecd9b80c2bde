//! The one application state every handler and server function reaches.

use std::sync::Arc;

use app::backend::SharedLibrary;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    background::Background,
    cache::Cache,
    config::Config,
    db::Pool,
    library::DbLibrary,
    live::{Hub, LiveEvents, Relay},
    metrics::Metrics,
    ops::Ops,
    photos::signing::MediaSigner,
    redis_link::RedisLink,
    vitals::Vitals,
    web::access::Access,
};

/// Cheap to clone: axum clones a route's state for every request that passes through a
/// layer, hits of the page cache included, and cloning every field each time cost a fifth
/// of a cached page's time.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    pub db: Pool,
    /// Shut while the database is away, so requests fail fast with 503.
    pub database_gate: crate::web::gate::Gate,
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
    /// When this state (the server) started.
    pub started: std::time::Instant,
    /// Pages and segments: L1 here, L2 in Redis when configured.
    pub cache: Cache,
    /// Redis, when configured: the cache's second level and the hubs' bridge.
    pub redis: Option<RedisLink>,
    /// Signs and checks media URLs.
    pub media: MediaSigner,
    /// Sessions, who may reach which route, and the sign-in and upload rate limits.
    pub access: Access,
}

impl AppState {
    /// Makes every part; none starts a task ([`AppState::start`] does).
    pub fn new(config: Config, db: Pool) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name("flashbulb")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_addr(config.listen)
            .hash_files(crate::web::assets::site_files_hashed())
            .build();
        let hub = Hub::new(config.hub_config());
        let redis = config.redis_link();
        let cache = config.cache(redis.clone());
        let media = MediaSigner::new(db.clone(), config.media_url_window_secs);
        let events = LiveEvents::new(
            Relay::new(hub.clone(), redis.clone()),
            db.clone(),
            cache.clone(),
            media.clone(),
        );
        let library: SharedLibrary = Arc::new(DbLibrary::new(
            db.clone(),
            config.data_dir.clone(),
            events.clone(),
            media.clone(),
            config.trash_grace_days,
        ));
        let database_gate = crate::web::gate::Gate::new(db.clone());
        let metrics = Metrics::new(
            db.clone(),
            config.database_max_connections,
            hub.clone(),
            cache.clone(),
            database_gate.clone(),
        );
        let vitals = Vitals::new(
            std::num::NonZeroU32::new(config.vitals_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        );
        let ops = Ops::new(config.alerts.clone());
        let access = Access::new(db.clone(), &config);
        Self(Arc::new(Shared {
            config: Arc::new(config),
            leptos_options,
            database_gate,
            db,
            library,
            jobs_queued: Arc::new(tokio::sync::Notify::new()),
            hub,
            events,
            metrics,
            vitals,
            ops,
            started: std::time::Instant::now(),
            cache,
            redis,
            media,
            access,
        }))
    }

    /// Starts every task the parts run beside requests ([`crate::background::start`]); they
    /// stop when the returned tasks are dropped.
    pub fn start(&self) -> Background {
        crate::background::start(self.redis.as_ref(), &self.cache, &self.events)
    }
}
