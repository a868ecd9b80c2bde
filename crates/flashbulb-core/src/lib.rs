//! Flashbulb's services, apart from HTTP: the library behind the pages' port, the image
//! pipeline and the jobs that run it, the live hub and its bridge, the cache, accounts, media
//! signing, storage of files, metrics, Web Vitals and the operations console. [`Core`] holds
//! them; [`Settings`] is what they are configured with. Names neither axum nor Leptos (`cargo
//! tree -p flashbulb-core -e normal` shows it): the web layer (`flashbulb-web`) is above.

pub mod alerts;
pub mod background;
pub mod cache;
pub mod error;
pub mod files;
pub mod gate;
pub mod import;
pub mod instance;
pub mod jobs;
pub mod library;
pub mod live;
pub mod media;
pub mod metrics;
pub mod ops;
pub mod photos;
pub mod pipeline;
pub mod rederive;
pub mod redis_link;
pub mod services;
pub mod settings;
pub mod storage;
pub mod sync;
pub mod users;
pub mod vitals;

pub use error::{CoreError, CoreResult};
pub use services::Core;
pub use settings::Settings;
