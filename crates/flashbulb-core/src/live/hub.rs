//! The hub: channels (a topic of one owner's library) with their subscribers, coalescing of
//! what is published into one frame per channel per frame interval, and one bounded mailbox
//! per connection.
//!
//! A frame is serialized once and shared by every subscriber (a reference-counted buffer),
//! so fan-out costs one queue push per connection, not one serialization.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, Weak,
    },
    time::Duration,
};

use flashbulb_types::{
    live::{Addition, Change, Topic, COUNT_KEY_PREFIX as COUNT_KEY},
    model::UserId,
};
use indexmap::IndexMap;
use tokio::sync::{watch, Notify};

use crate::sync::lock;

/// One message of the protocol, serialized once and shared by every subscriber (a clone
/// shares the bytes). Made only from a `String`, so it is always UTF-8: the socket sends it
/// as a text message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame(bytes::Bytes);

impl Frame {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> bytes::Bytes {
        self.0
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self(bytes::Bytes::from(text))
    }
}

/// How the hub paces and bounds its work; see `Config` for each knob's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    pub frame: Duration,
    pub heartbeat: Duration,
    pub mailbox_bytes: usize,
    pub max_changes_per_frame: usize,
    pub max_additions_per_frame: usize,
    pub max_topics_per_connection: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            frame: Duration::from_millis(50),
            heartbeat: Duration::from_secs(20),
            mailbox_bytes: 256 * 1024,
            max_changes_per_frame: 2_000,
            max_additions_per_frame: 500,
            max_topics_per_connection: 16,
        }
    }
}

/// A topic within one owner's library: the unit of subscription and coalescing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel {
    pub owner: UserId,
    pub topic: Topic,
}

/// Counters of the hub's work since start, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    pub connections: u64,
    pub channels: u64,
    pub published: u64,
    pub frames: u64,
    pub deliveries: u64,
    pub mailbox_overflows: u64,
    pub channel_overflows: u64,
    pub peers_dropped: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    published: AtomicU64,
    frames: AtomicU64,
    deliveries: AtomicU64,
    mailbox_overflows: AtomicU64,
    channel_overflows: AtomicU64,
    peers_dropped: AtomicU64,
}

/// The live-updates hub of this process; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    config: HubConfig,
    channels: Mutex<HashMap<Channel, ChannelState>>,
    /// Woken by every publish, so an idle hub flushes at once instead of on a fixed tick.
    published: Arc<Notify>,
    next_connection: AtomicU64,
    counters: Counters,
    closing: watch::Sender<bool>,
}

#[derive(Default)]
struct ChannelState {
    subscribers: HashMap<u64, Arc<Mailbox>>,
    /// Latest state per key since the last frame, in the order keys first changed.
    changes: IndexMap<String, String>,
    /// Additions since the last frame, in the order they happened.
    additions: Vec<String>,
    /// More happened within one frame than a frame may carry: subscribers get a `resync`.
    overflowed: bool,
    seq: u64,
    /// The counters as every subscriber last got them: a recount that finds the same value
    /// sends nothing (most recounts follow a change that moved no counter, a favourite). A
    /// new subscriber or a resync forgets them, so the next recount goes out again.
    counts_sent: HashMap<String, String>,
}

impl ChannelState {
    fn is_dirty(&self) -> bool {
        self.overflowed || !self.changes.is_empty() || !self.additions.is_empty()
    }
}

impl Hub {
    /// Creates the hub; nothing is sent until [`Hub::start`].
    pub fn new(config: HubConfig) -> Self {
        let inner = Arc::new(Inner {
            config,
            channels: Mutex::new(HashMap::new()),
            published: Arc::new(Notify::new()),
            next_connection: AtomicU64::new(1),
            counters: Counters::default(),
            closing: watch::channel(false).0,
        });
        Self { inner }
    }

    /// Starts the flusher, which sends a frame per dirty channel every frame interval, on the
    /// current Tokio runtime; it ends when the last clone of the hub is dropped.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(flush_loop(
            Arc::downgrade(&self.inner),
            self.inner.published.clone(),
            self.inner.config.frame,
        ))
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Publishes the current value of a piece of state; within one frame only the last
    /// value per key is sent.
    pub fn change(&self, channel: Channel, change: &Change) {
        self.publish(channel, |state, config| {
            let Ok(json) = serde_json::to_string(change) else {
                return;
            };
            let key = change.key();
            let unchanged_count = matches!(change, Change::Count { .. })
                && !state.changes.contains_key(&key)
                && state.counts_sent.get(&key) == Some(&json);
            if unchanged_count {
                return;
            }
            state.changes.insert(key, json);
            if state.changes.len() > config.max_changes_per_frame {
                state.overflowed = true;
            }
        });
    }

    /// Publishes something new; additions are sent in order, batched per frame.
    pub fn add(&self, channel: Channel, addition: &Addition) {
        self.publish(channel, |state, config| {
            let Ok(json) = serde_json::to_string(addition) else {
                return;
            };
            state.additions.push(json);
            if state.additions.len() > config.max_additions_per_frame {
                state.overflowed = true;
            }
        });
    }

    /// Whether anyone listens on `channel`: publishers may skip work when nobody does.
    pub fn is_watched(&self, channel: Channel) -> bool {
        self.lock_channels().contains_key(&channel)
    }

    fn publish(&self, channel: Channel, record: impl FnOnce(&mut ChannelState, &HubConfig)) {
        {
            let mut channels = self.lock_channels();
            // Nobody listens: nothing to keep. A later subscriber reads the current state.
            let Some(state) = channels.get_mut(&channel) else {
                return;
            };
            if state.overflowed {
                // A resync is due anyway; what it replaces need not be kept.
                return;
            }
            record(state, &self.inner.config);
            if state.overflowed {
                state.changes.clear();
                state.additions.clear();
                self.inner
                    .counters
                    .channel_overflows
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        self.inner
            .counters
            .published
            .fetch_add(1, Ordering::Relaxed);
        self.inner.published.notify_one();
    }

    /// A new connection with its own mailbox and no subscriptions yet.
    pub fn connect(&self) -> Connection {
        self.inner
            .counters
            .connections
            .fetch_add(1, Ordering::Relaxed);
        Connection {
            id: self.inner.next_connection.fetch_add(1, Ordering::Relaxed),
            hub: self.clone(),
            mailbox: Arc::new(Mailbox::new(self.inner.config.mailbox_bytes)),
            channels: HashSet::new(),
        }
    }

    /// Asks every connection to close (server shutdown); they send a "going away" close.
    pub fn close_all(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Turns `true` when the server shuts down: each socket then says goodbye.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// Counts a socket the heartbeat dropped because its peer stopped answering.
    pub fn peer_dropped(&self) {
        self.inner
            .counters
            .peers_dropped
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> HubStats {
        let counters = &self.inner.counters;
        HubStats {
            connections: counters.connections.load(Ordering::Relaxed),
            channels: self.lock_channels().len() as u64,
            published: counters.published.load(Ordering::Relaxed),
            frames: counters.frames.load(Ordering::Relaxed),
            deliveries: counters.deliveries.load(Ordering::Relaxed),
            mailbox_overflows: counters.mailbox_overflows.load(Ordering::Relaxed),
            channel_overflows: counters.channel_overflows.load(Ordering::Relaxed),
            peers_dropped: counters.peers_dropped.load(Ordering::Relaxed),
        }
    }

    fn lock_channels(&self) -> MutexGuard<'_, HashMap<Channel, ChannelState>> {
        lock(&self.inner.channels)
    }
}

impl Inner {
    /// Turns every dirty channel into one frame and hands it to each subscriber.
    fn flush(&self) {
        let mut work: Vec<(Frame, Vec<Arc<Mailbox>>)> = Vec::new();
        {
            let mut channels = lock(&self.channels);
            for (channel, state) in channels.iter_mut() {
                if !state.is_dirty() {
                    continue;
                }
                let frame = if std::mem::take(&mut state.overflowed) {
                    state.counts_sent.clear();
                    resync_frame(Some(channel.topic))
                } else {
                    state.seq += 1;
                    for (key, json) in &state.changes {
                        if key.starts_with(COUNT_KEY) {
                            state.counts_sent.insert(key.clone(), json.clone());
                        }
                    }
                    frame_json(channel.topic, state.seq, &state.changes, &state.additions)
                };
                state.changes.clear();
                state.additions.clear();
                work.push((
                    Frame::from(frame),
                    state.subscribers.values().cloned().collect(),
                ));
            }
        }
        for (frame, mailboxes) in work {
            self.counters.frames.fetch_add(1, Ordering::Relaxed);
            self.counters
                .deliveries
                .fetch_add(mailboxes.len() as u64, Ordering::Relaxed);
            for mailbox in mailboxes {
                if mailbox.deliver(frame.clone()) == Delivery::Overflowed {
                    self.counters
                        .mailbox_overflows
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Sleeps until something is published, then gathers for one frame interval and flushes:
/// a burst within a frame becomes one frame, and a channel is flushed at most once per frame.
async fn flush_loop(inner: Weak<Inner>, published: Arc<Notify>, frame: Duration) {
    loop {
        // The timeout only lets the loop notice that the hub is gone.
        let woken = tokio::time::timeout(Duration::from_secs(1), published.notified()).await;
        if woken.is_ok() {
            tokio::time::sleep(frame).await;
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.flush();
    }
}

/// `{"type":"frame",…}` from already serialized parts, in the shape of
/// [`flashbulb_types::live::ServerMessage::Frame`].
fn frame_json(
    topic: Topic,
    seq: u64,
    changes: &IndexMap<String, String>,
    additions: &[String],
) -> String {
    let size = 64
        + changes.values().map(|c| c.len() + 1).sum::<usize>()
        + additions.iter().map(|a| a.len() + 1).sum::<usize>();
    let mut json = String::with_capacity(size);
    json.push_str(r#"{"type":"frame","topic":""#);
    json.push_str(&topic.to_string());
    json.push_str(r#"","seq":"#);
    json.push_str(&seq.to_string());
    json.push_str(r#","state":["#);
    join_into(&mut json, changes.values());
    json.push_str(r#"],"added":["#);
    join_into(&mut json, additions.iter());
    json.push_str("]}");
    json
}

fn join_into<'a>(json: &mut String, parts: impl Iterator<Item = &'a String>) {
    for (index, part) in parts.enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(part);
    }
}

pub fn resync_frame(topic: Option<Topic>) -> String {
    serde_json::to_string(&flashbulb_types::live::ServerMessage::Resync { topic })
        .unwrap_or_else(|_| r#"{"type":"resync","topic":null}"#.to_string())
}

/// One connection's place in the hub: its mailbox and the channels it listens to. Dropping
/// it unsubscribes from everything.
pub struct Connection {
    id: u64,
    hub: Hub,
    mailbox: Arc<Mailbox>,
    channels: HashSet<Channel>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a connection may follow at most {0} topics at once")]
pub struct TooManyTopics(pub usize);

impl Connection {
    pub fn subscribe(&mut self, channel: Channel) -> Result<(), TooManyTopics> {
        let most = self.hub.inner.config.max_topics_per_connection;
        if !self.channels.contains(&channel) && self.channels.len() >= most {
            return Err(TooManyTopics(most));
        }
        if self.channels.insert(channel) {
            let mut channels = self.hub.lock_channels();
            let state = channels.entry(channel).or_default();
            state.subscribers.insert(self.id, self.mailbox.clone());
            // Its page may have been drawn before the counters last went out.
            state.counts_sent.clear();
        }
        Ok(())
    }

    pub fn unsubscribe(&mut self, channel: Channel) {
        if self.channels.remove(&channel) {
            let mut channels = self.hub.lock_channels();
            remove_subscriber(&mut channels, channel, self.id);
        }
    }

    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

fn remove_subscriber(channels: &mut HashMap<Channel, ChannelState>, channel: Channel, id: u64) {
    if let Some(state) = channels.get_mut(&channel) {
        state.subscribers.remove(&id);
        if state.subscribers.is_empty() {
            channels.remove(&channel);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut channels = self.hub.lock_channels();
        for channel in self.channels.drain() {
            remove_subscriber(&mut channels, channel, self.id);
        }
        drop(channels);
        self.hub
            .inner
            .counters
            .connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Queued,
    Overflowed,
}

/// Frames waiting for one connection, bounded in bytes. Past the bound the backlog is thrown
/// away and replaced by one `resync`: a slow client refetches instead of falling further
/// behind.
pub struct Mailbox {
    queue: Mutex<Queue>,
    ready: Notify,
    limit: usize,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Frame>,
    bytes: usize,
    resync: bool,
}

/// What a connection's writer takes out of its mailbox at once.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Send a `resync` (for every topic) before the frames.
    pub resync: bool,
    pub frames: VecDeque<Frame>,
}

impl Mailbox {
    fn new(limit: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            limit,
        }
    }

    fn deliver(&self, frame: Frame) -> Delivery {
        let delivery = {
            let mut queue = lock(&self.queue);
            // One frame larger than the bound still goes to an idle connection: the bound is
            // on the backlog, and frames themselves are bounded by the channel limits.
            if queue.bytes > 0 && queue.bytes + frame.len() > self.limit {
                queue.frames.clear();
                queue.bytes = 0;
                queue.resync = true;
                Delivery::Overflowed
            } else {
                queue.bytes += frame.len();
                queue.frames.push_back(frame);
                Delivery::Queued
            }
        };
        self.ready.notify_one();
        delivery
    }

    /// Waits until something is waiting to be sent.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Everything waiting, leaving the mailbox empty.
    pub fn take(&self) -> Outgoing {
        let mut queue = lock(&self.queue);
        queue.bytes = 0;
        Outgoing {
            resync: std::mem::take(&mut queue.resync),
            frames: std::mem::take(&mut queue.frames),
        }
    }
}

#[cfg(test)]
mod tests {
    use flashbulb_types::live::{Counter, ServerMessage};

    use super::*;

    fn count(value: u64) -> Change {
        Change::Count {
            counter: Counter::Photos,
            value,
        }
    }

    const LIBRARY: Channel = Channel {
        owner: 1,
        topic: Topic::Library,
    };

    #[test]
    fn frames_parse_as_the_protocol_says() {
        let mut changes = IndexMap::new();
        let change = count(3);
        changes.insert(
            change.key(),
            serde_json::to_string(&change).expect("serializable"),
        );
        let json = frame_json(Topic::Album(9), 4, &changes, &[]);
        let parsed: ServerMessage = serde_json::from_str(&json).expect("a valid frame");
        assert_eq!(
            parsed,
            ServerMessage::Frame {
                topic: Topic::Album(9),
                seq: 4,
                state: vec![change],
                added: vec![],
            }
        );
        let resync: ServerMessage =
            serde_json::from_str(&resync_frame(None)).expect("a valid resync");
        assert_eq!(resync, ServerMessage::Resync { topic: None });
    }

    #[tokio::test]
    async fn nothing_is_kept_for_channels_nobody_follows() {
        let hub = Hub::new(HubConfig::default());
        hub.change(LIBRARY, &count(1));
        assert_eq!(hub.stats().published, 0);
        assert!(!hub.is_watched(LIBRARY));
        let mut connection = hub.connect();
        connection.subscribe(LIBRARY).expect("one topic");
        assert!(hub.is_watched(LIBRARY));
        drop(connection);
        assert!(!hub.is_watched(LIBRARY));
        assert_eq!(hub.stats().connections, 0);
    }

    #[tokio::test]
    async fn a_connection_follows_a_bounded_number_of_topics() {
        let hub = Hub::new(HubConfig {
            max_topics_per_connection: 2,
            ..HubConfig::default()
        });
        let mut connection = hub.connect();
        for album in 1..=2 {
            connection
                .subscribe(Channel {
                    owner: 1,
                    topic: Topic::Album(album),
                })
                .expect("within the bound");
        }
        // Subscribing again to one already followed is not another topic.
        connection
            .subscribe(Channel {
                owner: 1,
                topic: Topic::Album(2),
            })
            .expect("already followed");
        assert_eq!(connection.subscribe(LIBRARY), Err(TooManyTopics(2)));
    }

    /// The frames one connection got, as protocol messages.
    fn frames(connection: &Connection) -> Vec<ServerMessage> {
        let outgoing = connection.mailbox().take();
        outgoing
            .frames
            .iter()
            .map(|frame| serde_json::from_slice(frame.as_bytes()).expect("a valid frame"))
            .collect()
    }

    #[tokio::test]
    async fn a_counter_goes_out_only_when_its_value_changed() {
        let hub = Hub::new(HubConfig::default());
        let mut first = hub.connect();
        first.subscribe(LIBRARY).expect("one topic");
        hub.change(LIBRARY, &count(5));
        hub.inner.flush();
        assert_eq!(frames(&first).len(), 1, "the first value goes out");
        // A recount that finds the same value sends nothing; a new value goes out.
        hub.change(LIBRARY, &count(5));
        hub.inner.flush();
        assert!(
            frames(&first).is_empty(),
            "an unchanged counter was sent again"
        );
        hub.change(LIBRARY, &count(6));
        hub.inner.flush();
        assert_eq!(frames(&first).len(), 1);
        // Back and forth within one frame: the last value goes out, even if already sent.
        hub.change(LIBRARY, &count(7));
        hub.change(LIBRARY, &count(6));
        hub.inner.flush();
        assert_eq!(frames(&first).len(), 1);
        // A newcomer may have drawn its page before the last value: it gets the next recount.
        let mut second = hub.connect();
        second.subscribe(LIBRARY).expect("one topic");
        hub.change(LIBRARY, &count(6));
        hub.inner.flush();
        assert_eq!(frames(&second).len(), 1, "the newcomer missed the counter");
    }

    #[test]
    fn a_full_mailbox_trades_its_backlog_for_one_resync() {
        let mailbox = Mailbox::new(100);
        let frame = || Frame::from("x".repeat(40));
        assert_eq!(mailbox.deliver(frame()), Delivery::Queued);
        assert_eq!(mailbox.deliver(frame()), Delivery::Queued);
        assert_eq!(mailbox.deliver(frame()), Delivery::Overflowed);
        let outgoing = mailbox.take();
        assert!(outgoing.resync);
        assert!(outgoing.frames.is_empty());
        // After the resync, frames flow again.
        assert_eq!(mailbox.deliver(frame()), Delivery::Queued);
        let outgoing = mailbox.take();
        assert!(!outgoing.resync);
        assert_eq!(outgoing.frames.len(), 1);
        // A single frame above the bound still reaches an idle connection.
        assert_eq!(
            mailbox.deliver(Frame::from("y".repeat(500))),
            Delivery::Queued
        );
    }
}
