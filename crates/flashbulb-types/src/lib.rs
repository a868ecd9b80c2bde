//! What Flashbulb's browser code and server share, free of both: the model and its
//! identifiers, the timeline's segment codec, the live protocol, the console's figures, Web
//! Vitals, labels and numbers as pages write them, the API error with its stable codes, and the
//! [`library::Library`] port between pages and storage.

pub mod codec;
pub mod error;
pub mod format;
pub mod library;
pub mod live;
pub mod model;
pub mod ops;
pub mod vitals;
mod wire;

pub use error::ApiError;
