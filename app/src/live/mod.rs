//! Live updates: the protocol the `/ws` hub speaks with every tab (`flashbulb_types::live`),
//! and the island that holds the tab's one socket and hands what arrives to the rest of the
//! page.

mod socket;

pub use flashbulb_types::live::*;

#[cfg(feature = "hydrate")]
pub use socket::{is_open, on_message};
pub use socket::{LiveUpdates, LIVE_STATE_ATTRIBUTE};
