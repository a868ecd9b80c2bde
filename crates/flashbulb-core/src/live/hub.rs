//! The hub: channels (a topic of one owner's library) with their subscribers, coalescing of
//! what is published into frames, and the sweep that hands every subscriber the frames after
//! its cursor, writing each socket at most once per frame interval.
//!
//! A frame is encoded once (binary, [`flashbulb_types::live::frame`]) together with the
//! WebSocket message that carries it, and shared by every subscriber (a reference-counted
//! buffer). An idle socket is written at once by the sweep ([`super::wire`]); only one that
//! cannot take it gets a mailbox backlog, bounded in bytes, for its own task to write. While
//! a sweep runs the next frames are built at a quicker pace, so under load a change waits
//! about one sweep and frames merge into each socket's one write before any socket falls
//! behind.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, Weak,
    },
    time::Duration,
};

use flashbulb_types::{
    live::{frame::encode_frame, Addition, Change, ChangeKey, Counter, Topic},
    model::UserId,
};
use indexmap::IndexMap;
use tokio::sync::{watch, Notify};

use super::{
    runtime::LiveRuntime,
    wire::{self, Wire},
};
use crate::sync::lock;

/// One frame in its binary form, encoded once and shared by every subscriber (a clone shares
/// the bytes), with the WebSocket message that carries it alone: an idle socket is written
/// that message as it is, a busy one sends its waiting frames together as one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    payload: bytes::Bytes,
    message: bytes::Bytes,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.payload
    }
}

impl From<Vec<u8>> for Frame {
    fn from(payload: Vec<u8>) -> Self {
        let mut message = Vec::with_capacity(payload.len() + 4);
        wire::binary_message(&mut message, &[&payload]);
        Self {
            payload: bytes::Bytes::from(payload),
            message: bytes::Bytes::from(message),
        }
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
    /// Threads of the live runtime (the flusher and every socket).
    pub threads: usize,
    /// Added to the live threads' nice value: how far below requests they run.
    pub niceness: i32,
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
            threads: 1,
            niceness: 5,
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
    /// Frames queued to connections and not yet written: far behind, the flusher waits.
    unsent: Arc<AtomicU64>,
    next_connection: AtomicU64,
    counters: Counters,
    closing: watch::Sender<bool>,
    /// Where the flusher and the sockets run: not on the threads that answer requests.
    runtime: LiveRuntime,
}

/// A connection following a channel, and how far it was given the channel's frames.
struct Subscriber {
    mailbox: Arc<Mailbox>,
    /// The channel's `seq` of the last frame handed to this connection.
    cursor: AtomicU64,
}

#[derive(Default)]
struct ChannelState {
    /// By connection id: a sweep visits the sockets in the order they were opened, which is
    /// the order their state here and in the kernel was allocated in, on both ends of a
    /// loopback connection, so one write's memory lies next to the last one's. In hash order
    /// the same CPU wrote fewer sockets: at 10,000 sockets sweeps took about a fifth longer.
    subscribers: BTreeMap<u64, Arc<Subscriber>>,
    /// Latest state per key since the last frame, in the order keys first changed.
    changes: IndexMap<ChangeKey, Change>,
    /// Additions since the last frame, in the order they happened.
    additions: Vec<Addition>,
    /// More happened within one frame than a frame may carry: subscribers get a `resync`.
    overflowed: bool,
    seq: u64,
    /// The counters as every subscriber last got them: a recount that finds the same value
    /// sends nothing (most recounts follow a change that moved no counter, a favourite). A
    /// new subscriber or a resync forgets them, so the next recount goes out again.
    counts_sent: HashMap<Counter, u64>,
    /// The latest frames, oldest first, each with its `seq`: a subscriber is handed those
    /// after its cursor when the sweep reaches it.
    log: VecDeque<(u64, Outbound)>,
    /// `seq` when the last sweep of this channel began: later frames need another.
    swept: u64,
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
            unsent: Arc::default(),
            next_connection: AtomicU64::new(1),
            counters: Counters::default(),
            closing: watch::channel(false).0,
            runtime: LiveRuntime::new(config.threads, config.niceness),
        });
        Self { inner }
    }

    /// Starts the flusher, which sends a frame per dirty channel every frame interval, on the
    /// live runtime; it ends when the last clone of the hub is dropped.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        self.spawn(flush_loop(
            Arc::downgrade(&self.inner),
            self.inner.published.clone(),
            self.inner.config.frame,
        ))
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Runs a socket's task on the live runtime, apart from the request threads.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.runtime.spawn(task)
    }

    /// Publishes the current value of a piece of state; within one frame only the last
    /// value per key is sent.
    pub fn change(&self, channel: Channel, change: &Change) {
        self.publish(channel, |state, config| {
            let key = change.key();
            if let Change::Count { counter, value } = change {
                let unchanged = !state.changes.contains_key(&key)
                    && state.counts_sent.get(counter) == Some(value);
                if unchanged {
                    return;
                }
            }
            state.changes.insert(key, change.clone());
            if state.changes.len() > config.max_changes_per_frame {
                state.overflowed = true;
            }
        });
    }

    /// Publishes something new; additions are sent in order, batched per frame.
    pub fn add(&self, channel: Channel, addition: &Addition) {
        self.publish(channel, |state, config| {
            state.additions.push(addition.clone());
            if state.additions.len() > config.max_additions_per_frame {
                state.overflowed = true;
            }
        });
    }

    /// Sends every subscriber of every channel a `resync` with the next frame: after a gap in
    /// what reached this hub (the bridge lost Redis, or fell behind its messages), no socket
    /// here can know what it missed.
    pub fn resync_all(&self) {
        {
            let mut channels = self.lock_channels();
            for state in channels.values_mut() {
                state.overflowed = true;
                state.changes.clear();
                state.additions.clear();
            }
        }
        self.inner.published.notify_one();
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
            mailbox: Arc::new(Mailbox::new(
                self.inner.config.mailbox_bytes,
                self.inner.unsent.clone(),
            )),
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
    /// Whether the sockets have more than [`FRAMES_BEHIND`] frames each waiting, on average.
    fn sockets_behind(&self) -> bool {
        let connections = self.counters.connections.load(Ordering::Relaxed);
        self.unsent.load(Ordering::Relaxed) > connections * FRAMES_BEHIND
    }

    /// Turns every dirty channel into one frame and hands it to each subscriber (tests; the
    /// flusher sweeps while it builds).
    #[cfg(test)]
    fn flush(&self) {
        self.build();
        self.sweep();
    }

    /// Turns every dirty channel into one frame, added to the channel's log; whether there
    /// was any.
    fn build(&self) -> bool {
        let mut built = false;
        let mut channels = lock(&self.channels);
        for (channel, state) in channels.iter_mut() {
            if !state.is_dirty() {
                continue;
            }
            built = true;
            state.seq += 1;
            let outbound = if std::mem::take(&mut state.overflowed) {
                state.counts_sent.clear();
                Outbound::Resync(channel.topic)
            } else {
                for change in state.changes.values() {
                    if let Change::Count { counter, value } = change {
                        state.counts_sent.insert(*counter, *value);
                    }
                }
                let mut bytes = Vec::with_capacity(16 + state.changes.len() * 4);
                encode_frame(
                    &mut bytes,
                    channel.topic,
                    state.seq,
                    state.changes.values(),
                    state.additions.iter(),
                );
                Outbound::Frame(Frame::from(bytes))
            };
            state.changes.clear();
            state.additions.clear();
            state.log.push_back((state.seq, outbound));
            while state.log.len() > LOG_FRAMES {
                state.log.pop_front();
            }
            self.counters.frames.fetch_add(1, Ordering::Relaxed);
        }
        built
    }

    /// Hands every subscriber the frames after its cursor (tests; the flusher sweeps in
    /// chunks, building between them).
    #[cfg(test)]
    fn sweep(&self) {
        for (channel, subscribers) in self.sweep_plan() {
            let mut log = self.log_of(channel);
            for subscriber in &subscribers {
                self.hand_over(subscriber, &mut log);
            }
        }
    }

    /// The channels with frames not swept yet, with their subscribers at this moment (the
    /// sweep then runs without holding the channels' lock).
    fn sweep_plan(&self) -> Vec<(Channel, Vec<Arc<Subscriber>>)> {
        let mut channels = lock(&self.channels);
        channels
            .iter_mut()
            .filter(|(_, state)| state.seq > state.swept)
            .map(|(channel, state)| {
                state.swept = state.seq;
                (*channel, state.subscribers.values().cloned().collect())
            })
            .collect()
    }

    /// Whether anything was published that no frame carries yet.
    fn dirty(&self) -> bool {
        lock(&self.channels).values().any(ChannelState::is_dirty)
    }

    fn log_of(&self, channel: Channel) -> SweepLog {
        let (seqs, items): (Vec<u64>, Vec<Outbound>) = lock(&self.channels)
            .get(&channel)
            .map(|state| state.log.iter().cloned().unzip())
            .unwrap_or_default();
        SweepLog {
            topic: channel.topic,
            messages: vec![None; items.len()],
            seqs,
            items,
        }
    }

    /// Hands `subscriber` what the log holds after its cursor; how many frames that was.
    fn hand_over(&self, subscriber: &Subscriber, log: &mut SweepLog) -> u64 {
        let Some(&head) = log.seqs.last() else {
            return 0;
        };
        let cursor = subscriber.cursor.load(Ordering::Relaxed);
        if cursor >= head {
            return 0;
        }
        subscriber.cursor.store(head, Ordering::Relaxed);
        let first = log.seqs.partition_point(|seq| *seq <= cursor);
        let oldest = log.seqs.first().copied().unwrap_or(0);
        let delivery = if cursor + 1 < oldest {
            // Further behind than the log reaches: it refetches the topic.
            subscriber
                .mailbox
                .deliver(&[Outbound::Resync(log.topic)], None)
        } else {
            let (items, message) = log.owed_from(first);
            subscriber.mailbox.deliver(items, message)
        };
        if delivery == Delivery::Overflowed {
            self.counters
                .mailbox_overflows
                .fetch_add(1, Ordering::Relaxed);
        }
        let handed = (log.items.len() - first) as u64;
        self.counters
            .deliveries
            .fetch_add(handed, Ordering::Relaxed);
        handed
    }
}

/// A channel's log as a sweep hands it over. Sockets the sweep reaches at the same cursor
/// are owed the same frames, so the one message carrying them is built once, at the first
/// such socket, and shared by the rest.
struct SweepLog {
    topic: Topic,
    seqs: Vec<u64>,
    items: Vec<Outbound>,
    /// At `at`: the message carrying `items[at..]` once built (`None` inside when those are
    /// not all frames).
    messages: Vec<Option<Option<bytes::Bytes>>>,
}

impl SweepLog {
    /// What a socket at `at` is owed, and the message carrying it.
    fn owed_from(&mut self, at: usize) -> (&[Outbound], Option<&bytes::Bytes>) {
        let items = &self.items[at..];
        let message = self.messages[at]
            .get_or_insert_with(|| Mailbox::as_one_message(items))
            .as_ref();
        (items, message)
    }
}

/// What waits in a mailbox: what a dirty channel sends its subscribers, or bytes already
/// encoded for the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Frame(Frame),
    /// More happened on this topic than a frame may carry: refetch it.
    Resync(Topic),
    /// WebSocket messages as they go out: the socket's own (answers, pings, closing) and the
    /// rest of one the socket took only part of, which must go on before anything else.
    Encoded(bytes::Bytes),
}

impl Outbound {
    /// What it weighs in a mailbox (a resync is a few dozen bytes of JSON).
    fn len(&self) -> usize {
        match self {
            Outbound::Frame(frame) => frame.len(),
            Outbound::Resync(_) => 48,
            Outbound::Encoded(bytes) => bytes.len(),
        }
    }
}

/// Frames a socket may have waiting, on average, before the flusher holds the next back.
const FRAMES_BEHIND: u64 = 16;
/// Frames a channel keeps for subscribers the sweep has not reached yet; one further behind
/// gets a `resync`.
const LOG_FRAMES: usize = 256;
/// Sockets handed their frames between two looks at the clock.
const SWEEP_CHUNK: usize = 256;
/// Frames built during one sweep, about: the pace of builds within a sweep follows the last
/// sweep's length, so a socket is owed a few dozen frames at most, far inside the log.
const FRAMES_PER_SWEEP: u32 = 16;

/// Sleeps until something is published, then gathers for one frame interval, builds a frame
/// per dirty channel and sweeps: each subscriber is handed the frames after its cursor,
/// written at once to an idle socket, and a socket is written at most once a sweep. Sweeps
/// begin at least one frame interval apart, so no socket gets more than one write per
/// interval.
///
/// Under load a sweep of every socket takes longer than an interval. While it runs, what was
/// published is built into frames at a quicker pace (a fifth of the interval, or a sixteenth
/// of the last sweep when that is longer) and the sockets not reached yet get it in the same
/// write: a change waits about one sweep of the sockets, not an interval on top of it, and
/// frames merge into each socket's one write instead of sockets falling behind.
///
/// Only when the sockets' own backlogs are more than [`FRAMES_BEHIND`] frames on average
/// does it keep gathering, up to ten frame intervals: changes then coalesce in the hub
/// instead of piling up in mailboxes until they overflow into resyncs.
async fn flush_loop(inner: Weak<Inner>, published: Arc<Notify>, frame: Duration) {
    let longest = frame * 10;
    let behind = || inner.upgrade().is_some_and(|inner| inner.sockets_behind());
    let mut last_build = tokio::time::Instant::now();
    let mut pace = frame / 5;
    loop {
        let Some(hub) = inner.upgrade() else {
            return;
        };
        let plan = hub.sweep_plan();
        if !plan.is_empty() {
            let began = tokio::time::Instant::now();
            for (channel, subscribers) in plan {
                let mut log = hub.log_of(channel);
                for chunk in subscribers.chunks(SWEEP_CHUNK) {
                    for subscriber in chunk {
                        hub.hand_over(subscriber, &mut log);
                    }
                    if last_build.elapsed() >= pace && !hub.sockets_behind() && hub.build() {
                        last_build = tokio::time::Instant::now();
                        log = hub.log_of(channel);
                    }
                    // The sockets' own tasks share these threads.
                    tokio::task::yield_now().await;
                }
            }
            pace = (began.elapsed() / FRAMES_PER_SWEEP).clamp(frame / 5, frame);
            drop(hub);
            // One write per socket a sweep, and sweeps an interval apart at the most.
            tokio::time::sleep_until(began + frame).await;
            continue;
        }
        if hub.dirty() {
            drop(hub);
            // The next frame is due one interval after the last; far behind, later.
            tokio::time::sleep_until(last_build + frame).await;
            while behind() && last_build.elapsed() < longest {
                tokio::time::sleep(frame / 25).await;
            }
            let Some(hub) = inner.upgrade() else {
                return;
            };
            hub.build();
            last_build = tokio::time::Instant::now();
            continue;
        }
        drop(hub);
        // Idle. The timeout only lets the loop notice that the hub is gone; once woken, a
        // burst gathers for one frame interval.
        if tokio::time::timeout(Duration::from_secs(1), published.notified())
            .await
            .is_ok()
        {
            last_build = tokio::time::Instant::now();
        }
    }
}

/// The `resync` message (JSON text, as every message but frames).
pub fn resync_message(topic: Option<Topic>) -> String {
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
            // Only what is built from now on: the page it follows was read just before.
            let subscriber = Subscriber {
                mailbox: self.mailbox.clone(),
                cursor: AtomicU64::new(state.seq),
            };
            state.subscribers.insert(self.id, Arc::new(subscriber));
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

    /// The mailbox, for what writes on the connection's behalf (the socket's protocol).
    pub fn shared_mailbox(&self) -> Arc<Mailbox> {
        self.mailbox.clone()
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
    /// Written to the socket at once.
    Written,
    Queued,
    Overflowed,
}

/// Frames waiting for one connection, bounded in bytes, and the connection's socket. A frame
/// for an idle socket is written at once; one that cannot be waits here for the connection's
/// task, which writes what waited as one message when the socket takes more. Past the bound
/// the waiting frames are thrown away and replaced by one `resync`: a slow client refetches
/// instead of falling further behind.
pub struct Mailbox {
    queue: Mutex<Queue>,
    ready: Notify,
    limit: usize,
    /// The hub's count of what is queued and not yet written.
    unsent: Arc<AtomicU64>,
    /// The socket, once the connection's task handed it over.
    wire: std::sync::OnceLock<Arc<dyn Wire>>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Outbound>,
    bytes: usize,
    resync: bool,
    /// The connection's task is writing what it took: nothing may go out before it.
    writing: bool,
}

impl Queue {
    /// Nothing waits or is being written: the socket may be written to at once.
    fn is_idle(&self) -> bool {
        !self.writing && !self.resync && self.items.is_empty()
    }
}

/// What a connection's writer takes out of its mailbox at once. Dropping it (once written)
/// tells the hub these frames are out.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Send a `resync` (for every topic) before the rest.
    pub resync: bool,
    pub items: VecDeque<Outbound>,
    taken: u64,
    unsent: Arc<AtomicU64>,
}

impl Outgoing {
    /// The WebSocket messages it makes, as they go on the wire: a `resync` first when the
    /// backlog was dropped, then frames that waited together as one binary message (frames
    /// are self-delimiting), resyncs as text, encoded bytes as they are.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.resync {
            wire::text_message(&mut out, &resync_message(None));
        }
        let mut frames: Vec<&[u8]> = Vec::new();
        for item in &self.items {
            if let Outbound::Frame(frame) = item {
                frames.push(frame.as_bytes());
                continue;
            }
            if !frames.is_empty() {
                wire::binary_message(&mut out, &frames);
                frames.clear();
            }
            match item {
                Outbound::Resync(topic) => {
                    wire::text_message(&mut out, &resync_message(Some(*topic)))
                }
                Outbound::Encoded(bytes) => out.extend_from_slice(bytes),
                Outbound::Frame(_) => {}
            }
        }
        if !frames.is_empty() {
            wire::binary_message(&mut out, &frames);
        }
        out
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        self.unsent.fetch_sub(self.taken, Ordering::Relaxed);
    }
}

impl Mailbox {
    fn new(limit: usize, unsent: Arc<AtomicU64>) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            limit,
            unsent,
            wire: std::sync::OnceLock::new(),
        }
    }

    /// Hands the hub the connection's socket: from now on frames for an idle socket are
    /// written at once, by whoever delivers them.
    pub fn attach(&self, wire: Arc<dyn Wire>) {
        let _ = self.wire.set(wire);
    }

    /// Queues `items` (in order) or, to an idle socket, writes `message` at once: the one
    /// message carrying them, when they are all frames ([`Self::as_one_message`]).
    fn deliver(&self, items: &[Outbound], message: Option<&bytes::Bytes>) -> Delivery {
        let mut queue = lock(&self.queue);
        if let Some(message) = message {
            match self.write_now(&queue, message) {
                Some(written) if written == message.len() => return Delivery::Written,
                Some(written) => {
                    self.push(&mut queue, Outbound::Encoded(message.slice(written..)));
                    drop(queue);
                    self.ready.notify_one();
                    return Delivery::Queued;
                }
                None => {}
            }
        }
        let mut delivery = Delivery::Queued;
        for item in items {
            // One frame larger than the bound still goes to an idle connection: the bound is
            // on the backlog, and frames themselves are bounded by the channel limits.
            if queue.bytes > 0 && queue.bytes + item.len() > self.limit {
                // What was begun on the wire must be finished, or the stream is broken.
                let before = queue.items.len();
                queue
                    .items
                    .retain(|item| matches!(item, Outbound::Encoded(_)));
                queue.bytes = queue.items.iter().map(Outbound::len).sum();
                queue.resync = true;
                let dropped = (before - queue.items.len()) as u64;
                self.unsent.fetch_sub(dropped, Ordering::Relaxed);
                delivery = Delivery::Overflowed;
            } else {
                self.push(&mut queue, item.clone());
            }
        }
        drop(queue);
        self.ready.notify_one();
        delivery
    }

    /// Frames only: the one message that carries them (shared when there is one).
    fn as_one_message(items: &[Outbound]) -> Option<bytes::Bytes> {
        match items {
            [] => None,
            [Outbound::Frame(frame)] => Some(frame.message.clone()),
            _ => {
                let mut payloads = Vec::with_capacity(items.len());
                for item in items {
                    let Outbound::Frame(frame) = item else {
                        return None;
                    };
                    payloads.push(frame.as_bytes());
                }
                let mut message = Vec::new();
                wire::binary_message(&mut message, &payloads);
                Some(bytes::Bytes::from(message))
            }
        }
    }

    /// Writes `message` to an idle socket: how much it took, or `None` when the socket is
    /// not attached, not idle, or took nothing (full, or gone: its task finds out).
    fn write_now(&self, queue: &Queue, message: &[u8]) -> Option<usize> {
        let wire = self.wire.get()?;
        if !queue.is_idle() {
            return None;
        }
        wire.try_write(message).ok().filter(|written| *written > 0)
    }

    fn push(&self, queue: &mut Queue, item: Outbound) {
        queue.bytes += item.len();
        queue.items.push_back(item);
        self.unsent.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends the connection's own encoded messages (answers, pings, closing) in order with
    /// the frames: at once to an idle socket, else after what waits.
    pub fn send_encoded(&self, message: &[u8]) {
        {
            let mut queue = lock(&self.queue);
            let written = self.write_now(&queue, message).unwrap_or(0);
            if written == message.len() {
                return;
            }
            let rest = bytes::Bytes::copy_from_slice(&message[written..]);
            self.push(&mut queue, Outbound::Encoded(rest));
        }
        self.ready.notify_one();
    }

    /// Whether what waits has reached the bound: the connection's own answers then wait
    /// for the peer to read before it is read from again.
    pub fn is_backlogged(&self) -> bool {
        lock(&self.queue).bytes >= self.limit
    }

    /// Waits until something is waiting to be sent.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Everything waiting, leaving the mailbox empty.
    #[cfg(test)]
    fn take(&self) -> Outgoing {
        self.drain(&mut lock(&self.queue))
    }

    fn drain(&self, queue: &mut Queue) -> Outgoing {
        queue.bytes = 0;
        let items = std::mem::take(&mut queue.items);
        Outgoing {
            resync: std::mem::take(&mut queue.resync),
            taken: items.len() as u64,
            items,
            unsent: self.unsent.clone(),
        }
    }

    /// Everything waiting, for the connection's task to write; until it asks again and
    /// nothing waits, frames queue behind it instead of being written at once. `None` when
    /// nothing waits.
    pub fn take_for_writing(&self) -> Option<Outgoing> {
        let mut queue = lock(&self.queue);
        if queue.items.is_empty() && !queue.resync {
            queue.writing = false;
            return None;
        }
        queue.writing = true;
        Some(self.drain(&mut queue))
    }
}

#[cfg(test)]
mod tests {
    use flashbulb_types::live::{frame::decode_frames, Counter, ServerMessage};

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
    fn a_resync_reads_as_the_protocol_says() {
        let resync: ServerMessage =
            serde_json::from_str(&resync_message(None)).expect("a valid resync");
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

    /// What one connection got, as protocol messages.
    fn frames(connection: &Connection) -> Vec<ServerMessage> {
        let outgoing = connection.mailbox().take();
        outgoing
            .items
            .iter()
            .flat_map(|item| match item {
                Outbound::Frame(frame) => decode_frames(frame.as_bytes()).expect("a valid frame"),
                Outbound::Resync(topic) => vec![ServerMessage::Resync {
                    topic: Some(*topic),
                }],
                Outbound::Encoded(_) => panic!("nothing was written to this connection"),
            })
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

    #[tokio::test]
    async fn sockets_at_one_cursor_share_the_message_they_are_owed() {
        let hub = Hub::new(HubConfig::default());
        let mut connection = hub.connect();
        connection.subscribe(LIBRARY).expect("one topic");
        for value in [1, 2] {
            hub.change(LIBRARY, &count(value));
            hub.inner.build();
        }
        let mut log = hub.inner.log_of(LIBRARY);
        let payloads: Vec<Vec<u8>> = log
            .items
            .iter()
            .map(|item| match item {
                Outbound::Frame(frame) => frame.as_bytes().to_vec(),
                other => panic!("a frame, not {other:?}"),
            })
            .collect();
        assert_eq!(payloads.len(), 2);
        // Behind both frames: one message carrying the two, built once.
        let (owed, first) = log.owed_from(0);
        assert_eq!(owed.len(), 2);
        let first = first.expect("frames make one message").clone();
        let mut expected = Vec::new();
        wire::binary_message(&mut expected, &[&payloads[0], &payloads[1]]);
        assert_eq!(first.as_ref(), expected.as_slice());
        let (_, again) = log.owed_from(0);
        assert_eq!(again.map(|bytes| bytes.as_ptr()), Some(first.as_ptr()));
        // Behind one: the last frame's own message.
        let (owed, last) = log.owed_from(1);
        assert_eq!(owed.len(), 1);
        let mut expected = Vec::new();
        wire::binary_message(&mut expected, &[&payloads[1]]);
        assert_eq!(last.map(|bytes| bytes.to_vec()), Some(expected));
    }

    /// A socket that notes its place in a shared list each time it is written.
    struct Turn {
        place: usize,
        order: Arc<Mutex<Vec<usize>>>,
    }

    impl Wire for Turn {
        fn try_write(&self, bytes: &[u8]) -> std::io::Result<usize> {
            lock(&self.order).push(self.place);
            Ok(bytes.len())
        }
    }

    #[tokio::test]
    async fn a_sweep_writes_sockets_in_the_order_they_connected() {
        let hub = Hub::new(HubConfig::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let open = |place: usize| {
            let mut tab = hub.connect();
            tab.subscribe(LIBRARY).expect("one topic");
            tab.mailbox().attach(Arc::new(Turn {
                place,
                order: order.clone(),
            }));
            tab
        };
        let mut tabs: Vec<Connection> = (0..3 * SWEEP_CHUNK).map(open).collect();
        // Some leave, others come: the newcomers are written after those already there.
        let left: Vec<Connection> = tabs.drain(100..200).collect();
        drop(left);
        tabs.extend((3 * SWEEP_CHUNK..3 * SWEEP_CHUNK + 10).map(open));
        hub.change(LIBRARY, &count(1));
        hub.inner.flush();
        let expected: Vec<usize> = (0..100).chain(200..3 * SWEEP_CHUNK + 10).collect();
        assert_eq!(*lock(&order), expected);
    }

    fn deliver(mailbox: &Mailbox, item: Outbound) -> Delivery {
        let items = [item];
        mailbox.deliver(&items, Mailbox::as_one_message(&items).as_ref())
    }

    #[test]
    fn a_full_mailbox_trades_its_backlog_for_one_resync() {
        let unsent = Arc::new(AtomicU64::new(0));
        let mailbox = Mailbox::new(100, unsent.clone());
        let frame = || Outbound::Frame(Frame::from(vec![b'x'; 40]));
        assert_eq!(deliver(&mailbox, frame()), Delivery::Queued);
        assert_eq!(deliver(&mailbox, frame()), Delivery::Queued);
        assert_eq!(unsent.load(Ordering::Relaxed), 2);
        assert_eq!(deliver(&mailbox, frame()), Delivery::Overflowed);
        // What was thrown away is no longer waiting to be written.
        assert_eq!(unsent.load(Ordering::Relaxed), 0);
        let outgoing = mailbox.take();
        assert!(outgoing.resync);
        assert!(outgoing.items.is_empty());
        drop(outgoing);
        // After the resync, frames flow again; they count as unsent until written.
        assert_eq!(deliver(&mailbox, frame()), Delivery::Queued);
        let outgoing = mailbox.take();
        assert!(!outgoing.resync);
        assert_eq!(outgoing.items.len(), 1);
        assert_eq!(unsent.load(Ordering::Relaxed), 1);
        drop(outgoing);
        assert_eq!(unsent.load(Ordering::Relaxed), 0);
        // A single frame above the bound still reaches an idle connection.
        assert_eq!(
            deliver(&mailbox, Outbound::Frame(Frame::from(vec![b'y'; 500]))),
            Delivery::Queued
        );
    }

    /// A hub pacing frames at `frame`, with its flusher on the test's runtime (whose clock
    /// the tests pause).
    fn flushing_hub(frame: Duration) -> (Hub, tokio::task::JoinHandle<()>) {
        let hub = Hub::new(HubConfig {
            frame,
            ..HubConfig::default()
        });
        let flusher = tokio::spawn(flush_loop(
            Arc::downgrade(&hub.inner),
            hub.inner.published.clone(),
            frame,
        ));
        (hub, flusher)
    }

    fn favourite(id: i64) -> Change {
        Change::Photo {
            id,
            status: flashbulb_types::live::PhotoStatus::Ready,
            favourite: true,
            trashed: false,
            failure: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn frames_keep_their_pace_until_sockets_fall_far_behind() {
        let frame = Duration::from_millis(50);
        let (hub, _flusher) = flushing_hub(frame);
        let mut tab = hub.connect();
        tab.subscribe(LIBRARY).expect("one topic");
        // Nobody writes, as with a socket short of CPU. Up to FRAMES_BEHIND frames behind,
        // each change still goes out in its own frame: the socket sends them as one message.
        let behind = FRAMES_BEHIND as i64;
        for id in 1..=behind + 1 {
            hub.change(LIBRARY, &favourite(id));
            tokio::time::sleep(frame * 2).await;
        }
        // Further behind, changes three frame intervals apart go out in one frame, not three.
        for id in behind + 2..=behind + 4 {
            hub.change(LIBRARY, &favourite(id));
            tokio::time::sleep(frame * 3).await;
        }
        tokio::time::sleep(frame * 10).await;
        let got = frames(&tab);
        let changed: Vec<Vec<i64>> = got
            .iter()
            .map(|message| match message {
                ServerMessage::Frame { state, .. } => state
                    .iter()
                    .filter_map(|change| match change {
                        Change::Photo { id, .. } => Some(*id),
                        _ => None,
                    })
                    .collect(),
                other => panic!("not a frame: {other:?}"),
            })
            .collect();
        let mut expected: Vec<Vec<i64>> = (1..=behind + 1).map(|id| vec![id]).collect();
        expected.push((behind + 2..=behind + 4).collect());
        assert_eq!(changed, expected);
        // Once the socket caught up, each change goes out within a few intervals again.
        for id in behind + 5..=behind + 7 {
            hub.change(LIBRARY, &favourite(id));
            tokio::time::sleep(frame * 3).await;
            assert_eq!(frames(&tab).len(), 1, "change {id} waited");
        }
    }

    /// A socket that takes every write at once, noting when each came and what it carried.
    #[derive(Default)]
    struct Recorder {
        writes: Mutex<Vec<(tokio::time::Instant, Vec<u8>)>>,
    }

    impl Wire for Recorder {
        fn try_write(&self, bytes: &[u8]) -> std::io::Result<usize> {
            lock(&self.writes).push((tokio::time::Instant::now(), bytes.to_vec()));
            Ok(bytes.len())
        }
    }

    /// The photos one write changed: binary WebSocket messages, each a run of frames.
    fn photos_in(mut write: &[u8]) -> Vec<i64> {
        let mut photos = Vec::new();
        while !write.is_empty() {
            let (start, length) = match write[1] & 0x7f {
                126 => (4, usize::from(u16::from_be_bytes([write[2], write[3]]))),
                127 => panic!("no message here is that long"),
                short => (2, usize::from(short)),
            };
            for message in decode_frames(&write[start..start + length]).expect("valid frames") {
                let ServerMessage::Frame { state, .. } = message else {
                    panic!("not a frame: {message:?}");
                };
                photos.extend(state.iter().filter_map(|change| match change {
                    Change::Photo { id, .. } => Some(*id),
                    _ => None,
                }));
            }
            write = &write[start + length..];
        }
        photos
    }

    #[tokio::test(start_paused = true)]
    async fn under_load_a_change_waits_one_sweep_and_a_socket_one_interval() {
        let frame = Duration::from_millis(50);
        let (hub, _flusher) = flushing_hub(frame);
        // The sweep's chunks of sockets cost time on the paused clock, so one sweep of these
        // 4,096 sockets takes about 80 ms: longer than a frame interval, as under load.
        let _clock = tokio::spawn(async {
            loop {
                tokio::time::advance(Duration::from_millis(10)).await;
                tokio::task::yield_now().await;
            }
        });
        let mut tabs = Vec::new();
        for _ in 0..16 * SWEEP_CHUNK {
            let mut tab = hub.connect();
            tab.subscribe(LIBRARY).expect("one topic");
            let socket = Arc::new(Recorder::default());
            tab.mailbox().attach(socket.clone());
            tabs.push((tab, socket));
        }
        // A distinct photo every 10 ms for 1.2 s, as a steady stream of favourites.
        let mut published = HashMap::new();
        for id in 1..=120 {
            hub.change(LIBRARY, &favourite(id));
            published.insert(id, tokio::time::Instant::now());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(frame * 10).await;

        let mut slowest = Duration::ZERO;
        let mut longest_between_writes = Duration::ZERO;
        for (_, socket) in &tabs {
            let writes = lock(&socket.writes);
            for pair in writes.windows(2) {
                let between = pair[1].0 - pair[0].0;
                assert!(
                    between >= frame,
                    "a socket was written twice within one frame interval"
                );
                longest_between_writes = longest_between_writes.max(between);
            }
            let mut got = Vec::new();
            for (at, write) in writes.iter() {
                for id in photos_in(write) {
                    got.push(id);
                    // The first changes gather for an interval after the quiet before them.
                    if id > 20 {
                        slowest = slowest.max(*at - published[&id]);
                    }
                }
            }
            assert_eq!(
                got,
                (1..=120).collect::<Vec<_>>(),
                "each change once, in order"
            );
        }
        // Sweeps ran back to back, each longer than an interval.
        assert!(longest_between_writes > frame);
        // A change waits for a build (at a fifth of the interval during a sweep) and for the
        // sweep to reach its socket again: not for a whole interval on top of that.
        assert!(
            slowest <= longest_between_writes + frame / 2,
            "a change took {slowest:?} to reach a socket written every {longest_between_writes:?}"
        );
    }
}
