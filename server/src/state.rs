//! The one application state every handler and server function reaches.

use std::sync::Arc;

use app::backend::SharedLibrary;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{config::Config, db::Pool, library::DbLibrary};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    pub db: Pool,
    pub library: SharedLibrary,
    /// Notified when a job is queued, so an idle worker starts at once.
    pub jobs_queued: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(config: Config, db: Pool) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name("flashbulb")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_addr(config.listen)
            .build();
        let library: SharedLibrary = Arc::new(DbLibrary::new(db.clone(), config.data_dir.clone()));
        Self {
            config: Arc::new(config),
            leptos_options,
            db,
            library,
            jobs_queued: Arc::new(tokio::sync::Notify::new()),
        }
    }
}
