//! The one application state every handler and server function reaches.

use std::sync::Arc;

use app::backend::SharedLibrary;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    config::Config,
    db::Pool,
    library::DbLibrary,
    live::{Hub, LiveEvents},
    metrics::Metrics,
    ops::Ops,
    vitals::Vitals,
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    pub db: Pool,
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
}

impl AppState {
    /// Needs a Tokio runtime: the hub starts its flusher.
    pub fn new(config: Config, db: Pool) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name("flashbulb")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_addr(config.listen)
            .build();
        let hub = Hub::new(config.hub_config());
        let events = LiveEvents::new(hub.clone(), db.clone());
        let library: SharedLibrary = Arc::new(DbLibrary::new(
            db.clone(),
            config.data_dir.clone(),
            events.clone(),
        ));
        let metrics = Metrics::new(db.clone(), config.database_max_connections, hub.clone());
        let vitals = Vitals::new(
            std::num::NonZeroU32::new(config.vitals_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        );
        let ops = Ops::new(config.alerts.clone());
        Self {
            config: Arc::new(config),
            leptos_options,
            db,
            library,
            jobs_queued: Arc::new(tokio::sync::Notify::new()),
            hub,
            events,
            metrics,
            vitals,
            ops,
            started: std::time::Instant::now(),
        }
    }
}
