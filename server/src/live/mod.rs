//! Live updates: the hub that coalesces and fans out changes, the `/ws` endpoint, the
//! library's publisher, the bridge between instances' hubs, and a load tool that drives the hub over real sockets.

pub mod bridge;
pub mod events;
pub mod hub;
pub mod load;
pub mod socket;

pub use bridge::{Relay, BRIDGE};
pub use events::LiveEvents;
pub use hub::{Channel, Hub, HubConfig, HubStats};
