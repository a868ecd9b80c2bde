//! Live updates: the protocol the `/ws` hub speaks with every tab.
//!
//! The hub sends its frames as binary messages ([`frame`]: several frames back to back when a
//! connection fell behind) and every other [`ServerMessage`] as JSON text; the browser sends
//! [`ClientMessage`]s as JSON text. A frame carries, for one topic, the latest state of every
//! key that changed since the previous frame ([`Change`]) and the additions in the order they
//! happened ([`Addition`]). A `resync` means updates were dropped: refetch instead of patching.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::model::{AlbumId, PhotoCell, PhotoId};

pub mod frame;

/// The path of the hub's WebSocket endpoint.
pub const LIVE_PATH: &str = "/ws";

/// The DOM event (on `window`) the socket island dispatches for every message; its `detail`
/// is the message's JSON text.
pub const LIVE_EVENT: &str = "flashbulb-live";

/// How long to wait before reconnecting after `failures` failed attempts in a row (at least
/// 1): exponential from half a second up to 30 s, then scaled by `random` in 0..1 into the
/// upper half ("equal jitter"), so clients that lost the server together come back spread out.
pub fn retry_delay(failures: u32, random: f64) -> std::time::Duration {
    const FIRST_MS: f64 = 500.0;
    const LONGEST_MS: f64 = 30_000.0;
    let exponent = failures.clamp(1, 17) as i32 - 1;
    let ceiling = (FIRST_MS * 2f64.powi(exponent)).min(LONGEST_MS);
    let delay = ceiling * (0.5 + 0.5 * random.clamp(0.0, 1.0));
    std::time::Duration::from_millis(delay as u64)
}

/// The DOM event (on `window`) that tells the timeline island what changed, its `detail` a
/// [`TimelineNews`] in text. The socket island, loaded lazily, reads the JSON; the timeline
/// island, in the first chunk, only reads these few words and so ships without a JSON parser.
pub const TIMELINE_EVENT: &str = "flashbulb-timeline";

/// What a message means for the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineNews {
    /// Photos entered or left the timeline: read the months again.
    Moved,
    /// Updates were lost: read everything again.
    Resync,
    Favourite {
        id: PhotoId,
        favourite: bool,
    },
}

impl TimelineNews {
    /// What `message` means for the timeline, in order.
    pub fn of(message: &ServerMessage) -> Vec<TimelineNews> {
        match message {
            ServerMessage::Frame {
                topic: Topic::Library,
                state,
                added,
                ..
            } => {
                let mut news: Vec<TimelineNews> = state
                    .iter()
                    .filter_map(|change| match change {
                        Change::Photo {
                            id,
                            favourite,
                            trashed: false,
                            ..
                        } => Some(TimelineNews::Favourite {
                            id: *id,
                            favourite: *favourite,
                        }),
                        _ => None,
                    })
                    .collect();
                let trashed = state
                    .iter()
                    .any(|change| matches!(change, Change::Photo { trashed: true, .. }));
                if !added.is_empty() || trashed {
                    news.push(TimelineNews::Moved);
                }
                news
            }
            ServerMessage::Resync {
                topic: None | Some(Topic::Library),
            } => vec![TimelineNews::Resync],
            _ => Vec::new(),
        }
    }

    /// `moved`, `resync` or `favourite 42 true`.
    pub fn encode(&self) -> String {
        match self {
            TimelineNews::Moved => "moved".into(),
            TimelineNews::Resync => "resync".into(),
            TimelineNews::Favourite { id, favourite } => format!("favourite {id} {favourite}"),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        let mut words = text.split(' ');
        let news = match words.next()? {
            "moved" => TimelineNews::Moved,
            "resync" => TimelineNews::Resync,
            "favourite" => TimelineNews::Favourite {
                id: words.next()?.parse().ok()?,
                favourite: words.next()?.parse().ok()?,
            },
            _ => return None,
        };
        words.next().is_none().then_some(news)
    }
}

/// A stream of updates a tab may subscribe to; always within the viewer's own library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Photos added, processed, changed and trashed; the library's counters.
    Library,
    /// One album's changes.
    Album(AlbumId),
    /// Server figures for the operations console.
    Ops,
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Library => f.write_str("library"),
            Topic::Album(id) => write!(f, "album:{id}"),
            Topic::Ops => f.write_str("ops"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topic {0:?}: expected library, album:ID or ops")]
pub struct UnknownTopic(pub String);

impl FromStr for Topic {
    type Err = UnknownTopic;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "library" => Ok(Topic::Library),
            "ops" => Ok(Topic::Ops),
            _ => text
                .strip_prefix("album:")
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|id| id.parse::<AlbumId>().ok())
                .filter(|id| *id > 0)
                .map(Topic::Album)
                .ok_or_else(|| UnknownTopic(text.chars().take(64).collect())),
        }
    }
}

impl Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a tab asks of the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Subscribe { topic: Topic },
    Unsubscribe { topic: Topic },
}

/// What the hub sends a tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The first message on a new socket: how the hub paces this connection.
    Hello {
        frame_ms: u64,
        heartbeat_ms: u64,
    },
    Subscribed {
        topic: Topic,
    },
    Unsubscribed {
        topic: Topic,
    },
    /// A request the hub would not serve, and why; the socket stays open.
    Refused {
        reason: String,
    },
    /// Everything that happened on `topic` since its previous frame.
    Frame {
        topic: Topic,
        /// Counts the frames of this topic, so a gap is visible.
        seq: u64,
        #[serde(default)]
        state: Vec<Change>,
        #[serde(default)]
        added: Vec<Addition>,
    },
    /// Updates were dropped (for `topic`, or for every topic when `None`): refetch.
    Resync {
        topic: Option<Topic>,
    },
}

/// The processing state of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    Pending,
    Ready,
    Failed,
}

/// The counters the hub keeps pages up to date with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// Photos in the timeline (ready and not in the trash).
    Photos,
    /// Jobs waiting or running in the queue.
    Queued,
}

/// A piece of state as it is now; a later change of the same [`Change::key`] replaces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Photo {
        id: PhotoId,
        status: PhotoStatus,
        favourite: bool,
        trashed: bool,
        /// Why the photo could not be processed, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
    Count {
        counter: Counter,
        value: u64,
    },
    /// An album's title or contents changed; `deleted` once it is gone.
    Album {
        id: AlbumId,
        title: String,
        photos: u64,
        deleted: bool,
    },
    /// The operations console's figures, on the `ops` topic.
    Ops(Box<crate::ops::OpsSnapshot>),
}

/// What a [`Change`] is the state of: coalescing keeps only the newest change per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKey {
    Photo(PhotoId),
    Count(Counter),
    Album(AlbumId),
    Ops,
}

impl Change {
    pub fn key(&self) -> ChangeKey {
        match self {
            Change::Photo { id, .. } => ChangeKey::Photo(*id),
            Change::Count { counter, .. } => ChangeKey::Count(*counter),
            Change::Album { id, .. } => ChangeKey::Album(*id),
            Change::Ops(_) => ChangeKey::Ops,
        }
    }
}

/// Something new, sent in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Addition {
    /// A photo entered the timeline (its derivatives are ready, or it left the trash).
    Photo(PhotoCell),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_read_back_what_they_write() {
        for topic in [Topic::Library, Topic::Album(42), Topic::Ops] {
            assert_eq!(topic.to_string().parse::<Topic>(), Ok(topic));
        }
        for bad in [
            "",
            "album:",
            "album:0",
            "album:-1",
            "album:+3",
            "album:99999999999999999999",
            "Library",
            "album:1 ",
        ] {
            assert!(bad.parse::<Topic>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_a_ceiling() {
        use std::time::Duration;
        assert_eq!(retry_delay(1, 1.0), Duration::from_millis(500));
        assert_eq!(retry_delay(1, 0.0), Duration::from_millis(250));
        assert_eq!(retry_delay(3, 1.0), Duration::from_millis(2_000));
        assert_eq!(retry_delay(40, 1.0), Duration::from_secs(30));
        assert_eq!(retry_delay(40, 0.0), Duration::from_secs(15));
        assert_eq!(retry_delay(0, 1.0), retry_delay(1, 1.0));
    }

    #[test]
    fn timeline_news_reads_back_and_refuses_anything_else() {
        for news in [
            TimelineNews::Moved,
            TimelineNews::Resync,
            TimelineNews::Favourite {
                id: 42,
                favourite: true,
            },
        ] {
            assert_eq!(TimelineNews::decode(&news.encode()), Some(news));
        }
        for bad in [
            "",
            "favourite",
            "favourite x true",
            "favourite 1 maybe",
            "moved now",
        ] {
            assert_eq!(TimelineNews::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_frame_tells_the_timeline_of_favourites_and_moves() {
        let photo = |id, favourite, trashed| Change::Photo {
            id,
            status: PhotoStatus::Ready,
            favourite,
            trashed,
            failure: None,
        };
        let frame = ServerMessage::Frame {
            topic: Topic::Library,
            seq: 1,
            state: vec![photo(1, true, false), photo(2, false, true)],
            added: vec![],
        };
        assert_eq!(
            TimelineNews::of(&frame),
            [
                TimelineNews::Favourite {
                    id: 1,
                    favourite: true
                },
                TimelineNews::Moved
            ]
        );
        let other_topic = ServerMessage::Frame {
            topic: Topic::Album(3),
            seq: 1,
            state: vec![photo(1, true, false)],
            added: vec![],
        };
        assert!(TimelineNews::of(&other_topic).is_empty());
        assert_eq!(
            TimelineNews::of(&ServerMessage::Resync { topic: None }),
            [TimelineNews::Resync]
        );
    }

    #[test]
    fn client_messages_are_strict() {
        let subscribe: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","topic":"album:7"}"#).expect("valid");
        assert_eq!(
            subscribe,
            ClientMessage::Subscribe {
                topic: Topic::Album(7)
            }
        );
        for bad in [
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","topic":"everything"}"#,
            r#"{"type":"publish","topic":"library"}"#,
            r#"{"type":"subscribe","topic":"library","extra":1}"#,
            r#"["publish","library"]"#,
            r#"{"type":"subscribe","topic":"library"} trailing"#,
        ] {
            assert!(
                serde_json::from_str::<ClientMessage>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn coalescing_keys_separate_what_must_stay_apart() {
        let photo = |id, favourite| Change::Photo {
            id,
            status: PhotoStatus::Ready,
            favourite,
            trashed: false,
            failure: None,
        };
        assert_eq!(photo(1, true).key(), photo(1, false).key());
        assert_ne!(photo(1, true).key(), photo(2, true).key());
        let count = |counter| Change::Count { counter, value: 1 };
        assert_ne!(count(Counter::Photos).key(), count(Counter::Queued).key());
    }
}
