//! The operations console's pages, `/ops` live and `/ops/diagnostics`, over what the server
//! reports about itself (`flashbulb_types::ops`).

mod page;

pub use flashbulb_types::ops::*;

pub use page::{DiagnosticsPage, OpsPage};
