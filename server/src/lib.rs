//! The `flashbulb` binary's library: the typed configuration read from the one flat file and
//! environment (and the sections it derives for each crate), the command line, logging,
//! shutdown signals, and the fuzz targets' entry points. The services are `flashbulb_core`'s,
//! the HTTP surface `flashbulb_web`'s, the seed and load tools `flashbulb_tools`'.

pub mod cli;
pub mod config;
pub mod fuzzing;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
