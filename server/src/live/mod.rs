//! Live updates: the hub that coalesces and fans out changes, the library's publisher, the
//! bridge between instances' hubs, and a load tool that drives the hub over real sockets. The
//! `/ws` endpoint is the web layer's (`web::socket`).

pub mod bridge;
pub mod events;
pub mod hub;
pub mod load;

pub use bridge::{Relay, BRIDGE};
pub use events::LiveEvents;
pub use hub::{Channel, Hub, HubConfig, HubStats};

use flashbulb_types::live::ClientMessage;

/// A browser's message: one subscription request in JSON, or the reason it is not one.
pub fn read_client_message(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str::<ClientMessage>(text)
        .map_err(|error| format!("not a subscription message: {error}"))
}
