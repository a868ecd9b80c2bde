//! The link to Redis that the cache and the live hubs share: one multiplexed connection for
//! commands and one subscriber, each reconnecting by itself. While Redis is away every command
//! answers `None` at once, so callers fall back to what this process has.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::StreamExt;
use redis::{aio::MultiplexedConnection, AsyncConnectionConfig, Client};
use tokio::sync::{broadcast, Notify};

use crate::sync::lock;

/// How long one command or connection attempt may take before Redis counts as away: a page
/// must never wait on a cache that does not answer.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// Reconnection backoff: from the first to the last, doubling, with jitter.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);
/// Messages a slow subscriber of this process may fall behind before it misses some (it is
/// then told, as after a reconnection).
const MESSAGE_BACKLOG: usize = 4096;

/// What the subscriber hands to the rest of the process.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A message published on one of our channels (the name without the prefix).
    Message { channel: String, payload: Bytes },
    /// The first subscription of this link: from now on what any instance publishes arrives.
    Subscribed,
    /// The subscription or the command connection was established again after a loss:
    /// anything published meanwhile was missed, and what this process could not write to
    /// Redis is not there.
    Reconnected,
}

/// Cheap to clone; every clone shares the connections.
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Prepended to every key and channel, so several installations (or tests) share a server.
    prefix: String,
    connection: Mutex<Option<MultiplexedConnection>>,
    /// Wakes the connector when a command found the connection broken.
    broken: Arc<Notify>,
    subscribed: AtomicBool,
    deliveries: broadcast::Sender<Delivery>,
    reconnections: AtomicU64,
    failures: AtomicU64,
}

/// The channel the caches' invalidations travel on between instances.
pub const INVALIDATIONS: &str = "invalidate";

/// The channel the live hubs share updates on.
pub const BRIDGE: &str = "live";

/// The channel that tells every process's idle workers a job was queued (no payload).
pub const JOBS: &str = "jobs";

/// The channels every instance listens on. The link owns their names, so it depends on
/// neither the cache nor the hub that speak on them.
pub const CHANNELS: [&str; 3] = [INVALIDATIONS, BRIDGE, JOBS];

impl RedisLink {
    /// Parses `url`; [`RedisLink::start`] connects. A Redis that is down is not an error, only
    /// an invalid URL is.
    /// What is wrong with a Redis URL, if anything (the configuration checks it when read).
    pub fn url_problem(url: &str) -> Option<String> {
        Client::open(url)
            .err()
            .map(|error| error.category().to_string())
    }

    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = Client::open(url)
            .map_err(|error| anyhow::anyhow!("invalid Redis URL: {}", error.category()))?;
        let (deliveries, _) = broadcast::channel(MESSAGE_BACKLOG);
        let link = Self {
            inner: Arc::new(Inner {
                client,
                prefix: prefix.to_string(),
                connection: Mutex::new(None),
                broken: Arc::new(Notify::new()),
                subscribed: AtomicBool::new(false),
                deliveries,
                reconnections: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        };
        Ok(link)
    }

    /// Starts keeping a connection and a subscription, each reconnecting after a failure; both
    /// end when the last clone of the link is dropped.
    pub fn start(&self) -> [tokio::task::JoinHandle<()>; 2] {
        [
            tokio::spawn(keep_connected(Arc::downgrade(&self.inner))),
            tokio::spawn(keep_subscribed(Arc::downgrade(&self.inner))),
        ]
    }

    /// True while commands can reach Redis.
    pub fn is_up(&self) -> bool {
        lock(&self.inner.connection).is_some()
    }

    /// True while this process receives what other instances publish.
    pub fn is_subscribed(&self) -> bool {
        self.inner.subscribed.load(Ordering::Relaxed)
    }

    /// Connections (commands and subscriber) established after the first.
    pub fn reconnections(&self) -> u64 {
        self.inner.reconnections.load(Ordering::Relaxed)
    }

    /// Commands that failed (timed out, connection lost) and fell back.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Every delivery from now on.
    pub fn deliveries(&self) -> broadcast::Receiver<Delivery> {
        self.inner.deliveries.subscribe()
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.inner.prefix)
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let value: Option<Vec<u8>> = self.run(redis::cmd("GET").arg(self.key(key))).await?;
        value.map(Bytes::from)
    }

    /// Stores `value` under `key` for `ttl`; `false` when Redis is away.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let command = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .to_owned();
        self.run::<()>(&command).await.is_some()
    }

    pub async fn get_u64(&self, key: &str) -> Option<Option<u64>> {
        self.run(redis::cmd("GET").arg(self.key(key))).await
    }

    /// Raises the counter at `key` to at least `at_least`, atomically; returns its new value.
    pub async fn raise(&self, key: &str, at_least: u64) -> Option<u64> {
        // INCR, then lift to `at_least` when Redis lost the counter (it keeps nothing on disk).
        let script = redis::Script::new(
            "local v = redis.call('INCR', KEYS[1])
             if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]); v = tonumber(ARGV[1]) end
             return v",
        );
        let mut connection = self.connection()?;
        let result = tokio::time::timeout(
            COMMAND_TIMEOUT,
            script
                .key(self.key(key))
                .arg(at_least)
                .invoke_async::<u64>(&mut connection),
        )
        .await;
        self.settle(result)
    }

    pub async fn delete(&self, key: &str) -> bool {
        self.run::<()>(redis::cmd("DEL").arg(self.key(key)))
            .await
            .is_some()
    }

    /// Publishes on one of [`CHANNELS`]; `false` when Redis is away (the message is lost).
    pub async fn publish(&self, channel: &str, payload: &[u8]) -> bool {
        self.run::<()>(redis::cmd("PUBLISH").arg(self.key(channel)).arg(payload))
            .await
            .is_some()
    }

    fn connection(&self) -> Option<MultiplexedConnection> {
        lock(&self.inner.connection).clone()
    }

    async fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Option<T> {
        let mut connection = self.connection()?;
        let result =
            tokio::time::timeout(COMMAND_TIMEOUT, command.query_async::<T>(&mut connection)).await;
        self.settle(result)
    }

    /// A command's outcome; a failure drops the connection and wakes the connector.
    fn settle<T>(
        &self,
        result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Option<T> {
        match result {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error))
                if !error.is_io_error()
                    && !error.is_connection_dropped()
                    && !error.is_timeout() =>
            {
                // Redis answered with an error (a wrong type, say): the link itself is fine.
                self.inner.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "Redis refused a command");
                None
            }
            failed => {
                self.inner.failures.fetch_add(1, Ordering::Relaxed);
                if lock(&self.inner.connection).take().is_some() {
                    match failed {
                        Ok(Err(error)) => tracing::warn!(%error, "lost the connection to Redis"),
                        _ => tracing::warn!("Redis did not answer in time; reconnecting"),
                    }
                }
                self.inner.broken.notify_one();
                None
            }
        }
    }
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("up", &self.is_up())
            .field("subscribed", &self.is_subscribed())
            .finish_non_exhaustive()
    }
}

fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
}

/// The next wait: doubled, capped, with up to a quarter of jitter so instances do not
/// reconnect in step.
fn backoff(previous: Duration) -> Duration {
    let doubled = (previous * 2).clamp(FIRST_RETRY, LAST_RETRY);
    let jitter = rand::random_range(0..=doubled.as_millis() as u64 / 4);
    doubled + Duration::from_millis(jitter)
}

/// Keeps the command connection open for as long as the link lives.
async fn keep_connected(link: std::sync::Weak<Inner>) {
    let mut wait = FIRST_RETRY / 2;
    let mut ever_connected = false;
    let mut reported_down = false;
    loop {
        let Some(inner) = link.upgrade() else {
            return;
        };
        if lock(&inner.connection).is_some() {
            let broken = inner.broken.clone();
            drop(inner);
            // Looks again now and then, so a dropped link ends this task.
            let _ = tokio::time::timeout(Duration::from_secs(1), broken.notified()).await;
            continue;
        }
        match inner
            .client
            .get_multiplexed_async_connection_with_config(&connection_config())
            .await
        {
            Ok(connection) => {
                *lock(&inner.connection) = Some(connection);
                if ever_connected {
                    inner.reconnections.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("reconnected to Redis");
                    let _ = inner.deliveries.send(Delivery::Reconnected);
                }
                ever_connected = true;
                reported_down = false;
                wait = FIRST_RETRY / 2;
            }
            Err(error) => {
                if !reported_down {
                    tracing::warn!(%error, "Redis is unreachable; serving from this process");
                    reported_down = true;
                }
                drop(inner);
                wait = backoff(wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Keeps the subscription to [`CHANNELS`] for as long as the link lives, and hands on what
/// arrives.
async fn keep_subscribed(link: std::sync::Weak<Inner>) {
    let mut wait = FIRST_RETRY / 2;
    let mut ever_subscribed = false;
    loop {
        let Some(inner) = link.upgrade() else {
            return;
        };
        let client = inner.client.clone();
        let prefix = inner.prefix.clone();
        drop(inner);
        let subscribed = tokio::time::timeout(COMMAND_TIMEOUT * 4, async {
            let mut pubsub = client.get_async_pubsub().await?;
            for channel in CHANNELS {
                pubsub.subscribe(format!("{prefix}{channel}")).await?;
            }
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        let mut pubsub = match subscribed {
            Ok(Ok(pubsub)) => pubsub,
            _ => {
                wait = backoff(wait);
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        wait = FIRST_RETRY / 2;
        {
            let Some(inner) = link.upgrade() else {
                return;
            };
            inner.subscribed.store(true, Ordering::Relaxed);
            let delivery = if ever_subscribed {
                inner.reconnections.fetch_add(1, Ordering::Relaxed);
                tracing::info!("subscribed to Redis again");
                Delivery::Reconnected
            } else {
                Delivery::Subscribed
            };
            ever_subscribed = true;
            let _ = inner.deliveries.send(delivery);
        }
        let mut messages = pubsub.on_message();
        loop {
            // Looks at the link now and then, so a dropped link ends this task.
            let next = tokio::time::timeout(Duration::from_secs(1), messages.next()).await;
            let Some(inner) = link.upgrade() else {
                return;
            };
            match next {
                Err(_) => continue,
                Ok(None) => {
                    inner.subscribed.store(false, Ordering::Relaxed);
                    tracing::warn!("lost the Redis subscription; resubscribing");
                    break;
                }
                Ok(Some(message)) => {
                    let channel = message.get_channel_name();
                    let channel = channel.strip_prefix(&prefix).unwrap_or(channel).to_string();
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    let _ = inner
                        .deliveries
                        .send(Delivery::Message { channel, payload });
                }
            }
        }
    }
}
