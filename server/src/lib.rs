//! Flashbulb's server: configuration and the command line, the services (`services::Core` and
//! one module per feature below it), and the HTTP layer with server-side rendering (`web`).

// Leptos view types nest deeply; the timeline page exceeds the default limit.
#![recursion_limit = "256"]

pub mod background;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod fuzzing;
pub mod import;
pub mod instance;
pub mod jobs;
pub mod library;
pub mod live;
pub mod metrics;
pub mod ops;
pub mod photos;
pub mod pipeline;
pub mod redis_link;
pub mod seed;
pub mod services;
pub mod shutdown;
pub mod storage;
pub mod sync;
pub mod telemetry;
pub mod users;
pub mod vitals;
pub mod web;

pub use config::Config;
pub use error::{ServerError, ServerResult};
pub use web::build_app;
pub use web::state::AppState;
