//! Live updates: the hub that coalesces and fans out changes, the `/ws` endpoint, the
//! library's publisher, and a load tool that drives the hub over real sockets.

pub mod events;
pub mod hub;
pub mod load;
pub mod socket;

pub use events::LiveEvents;
pub use hub::{Channel, Hub, HubConfig, HubStats};
