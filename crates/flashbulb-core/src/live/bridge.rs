//! The library's updates on their way to the hubs: straight into this process' hub, or, with
//! Redis, published to every instance's hub (this one included), so a tab sees a change
//! whichever instance it is connected to.

use flashbulb_types::live::{Addition, Change, Topic};
use flashbulb_types::model::UserId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::hub::{Channel, Hub};
use crate::redis_link::{Delivery, RedisLink, BRIDGE};

/// Where updates go; cheap to clone.
#[derive(Clone)]
pub struct Relay {
    hub: Hub,
    redis: Option<RedisLink>,
}

/// One update as it travels between instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Bridged {
    Add {
        owner: UserId,
        topic: Topic,
        addition: Addition,
    },
    Change {
        owner: UserId,
        topic: Topic,
        change: Change,
    },
}

impl Relay {
    /// Publishes into `hub`, and with `redis` into every instance's.
    pub fn new(hub: Hub, redis: Option<RedisLink>) -> Self {
        Self { hub, redis }
    }

    /// With Redis, starts forwarding what any instance publishes into this hub.
    pub fn start(&self) -> Option<tokio::task::JoinHandle<()>> {
        let redis = self.redis.as_ref()?;
        Some(tokio::spawn(forward(self.hub.clone(), redis.deliveries())))
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// True when an update for `channel` may reach a tab: while the hubs are bridged, a tab
    /// on another instance may be watching.
    pub fn is_watched(&self, channel: Channel) -> bool {
        self.bridged().is_some() || self.hub.is_watched(channel)
    }

    pub async fn add(&self, channel: Channel, addition: &Addition) {
        let Channel { owner, topic } = channel;
        let bridged = Bridged::Add {
            owner,
            topic,
            addition: addition.clone(),
        };
        if !self.publish(&bridged).await {
            self.hub.add(channel, addition);
        }
    }

    pub async fn change(&self, channel: Channel, change: &Change) {
        let Channel { owner, topic } = channel;
        let bridged = Bridged::Change {
            owner,
            topic,
            change: change.clone(),
        };
        if !self.publish(&bridged).await {
            self.hub.change(channel, change);
        }
    }

    /// Redis, while this instance hears what is published (its own updates come back that way).
    fn bridged(&self) -> Option<&RedisLink> {
        self.redis.as_ref().filter(|redis| redis.is_subscribed())
    }

    /// `false` when the update must be delivered here directly: not bridged, or Redis away.
    /// Tabs on other instances then miss it and catch up at their next resync.
    async fn publish(&self, update: &Bridged) -> bool {
        let Some(redis) = self.bridged() else {
            return false;
        };
        match serde_json::to_vec(update) {
            Ok(payload) => redis.publish(BRIDGE, &payload).await,
            Err(_) => false,
        }
    }
}

/// Hands every bridged update to this process' hub. After a gap (this process fell behind
/// Redis' messages, or the subscription was lost and made again) updates may have been
/// missed: every socket here gets a `resync`, so its page refetches.
async fn forward(hub: Hub, mut deliveries: tokio::sync::broadcast::Receiver<Delivery>) {
    loop {
        match deliveries.recv().await {
            Err(RecvError::Closed) => return,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live updates from Redis were dropped; pages resync");
                hub.resync_all();
            }
            Ok(Delivery::Reconnected) => {
                tracing::info!("bridged again after a gap; pages resync");
                hub.resync_all();
            }
            Ok(Delivery::Message { channel, payload }) if channel == BRIDGE => {
                match serde_json::from_slice::<Bridged>(&payload) {
                    Ok(Bridged::Add {
                        owner,
                        topic,
                        addition,
                    }) => hub.add(Channel { owner, topic }, &addition),
                    Ok(Bridged::Change {
                        owner,
                        topic,
                        change,
                    }) => hub.change(Channel { owner, topic }, &change),
                    Err(error) => tracing::warn!(%error, "ignored a malformed live update"),
                }
            }
            Ok(_) => {}
        }
    }
}
