//! Logging set-up: one `tracing` subscriber for the whole process: the log, and the layer
//! that keeps the slowest database statements for the diagnostics page.

use flashbulb_core::ops::slow_queries::SlowQueryLayer;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::{
    filter::Targets, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer,
};

/// Installs the subscriber once; later calls (tests) are ignored.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_filter(filter);
    // sqlx reports a slow statement as a warning of target `sqlx::query`; the layer sees them
    // whatever the log's filter says.
    let slow =
        SlowQueryLayer.with_filter(Targets::new().with_target("sqlx::query", LevelFilter::WARN));
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(slow)
        .try_init();
}
