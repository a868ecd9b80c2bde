//! Live updates: the hub that coalesces and fans out changes, the library's publisher, and the
//! bridge between instances' hubs, and the threads sockets run on. The `/ws` endpoint is the web layer's (`flashbulb-web`'s
//! `socket`); the load tool that drives it over real sockets is `flashbulb-tools`'.

pub mod bridge;
pub mod events;
pub mod hub;
pub mod runtime;
pub mod wire;

pub use bridge::Relay;
pub use events::LiveEvents;
pub use hub::{Channel, Frame, Hub, HubConfig, HubStats};

use flashbulb_types::live::ClientMessage;

/// A browser's message: one subscription request in JSON, or the reason it is not one.
pub fn read_client_message(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str::<ClientMessage>(text)
        .map_err(|error| format!("not a subscription message: {error}"))
}
