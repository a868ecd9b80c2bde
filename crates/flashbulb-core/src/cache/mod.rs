//! The cache behind one interface: L1 in this process (moka: bounded by bytes, W-TinyLFU),
//! L2 in Redis when configured. Concurrent misses of one key cause one load. Every entry
//! belongs to an owner; invalidating an owner moves them to a new generation, which every
//! instance learns through Redis, so entries of older generations are never read again.
//! In this process an entry is kept under its name alone, tagged with its generation, so a
//! new rendering replaces the stale one instead of piling up beside it until evicted.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::Bytes;
use flashbulb_types::model::UserId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    redis_link::{Delivery, RedisLink, INVALIDATIONS},
    sync::lock,
};

/// Figures for `/metrics` and the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub l1_hits: u64,
    pub l2_hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub invalidations: u64,
    pub entries: u64,
    pub bytes: u64,
    pub redis_configured: bool,
    pub redis_up: bool,
    pub redis_subscribed: bool,
    pub redis_failures: u64,
}

impl CacheStats {
    /// Hits (either level) per lookup, `None` before the first lookup.
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.l1_hits + self.l2_hits + self.misses;
        (lookups > 0).then(|| (self.l1_hits + self.l2_hits) as f64 / lookups as f64)
    }
}

/// Cheap to clone; every clone shares the entries.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    l1: moka::future::Cache<Arc<str>, Stored>,
    /// The generation each owner's entries are stored under; absent means not yet read.
    generations: Mutex<HashMap<UserId, u64>>,
    redis: Option<RedisLink>,
    ttl: Duration,
    l1_hits: AtomicU64,
    l2_hits: AtomicU64,
    misses: AtomicU64,
    evictions: Arc<AtomicU64>,
    invalidations: AtomicU64,
    /// Random per process: [`Cache::library_tag`]s of two processes never coincide.
    epoch: u64,
}

/// An entry in this process: the bytes and the owner's generation they were made in.
#[derive(Clone)]
struct Stored {
    generation: u64,
    bytes: Bytes,
}

/// What instances tell each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Invalidation {
    /// Everything of `owner` below `generation` is stale.
    Owner { owner: UserId, generation: u64 },
    /// One entry of `owner` is stale.
    Key { owner: UserId, name: String },
}

/// A load that failed, shared by every request that waited for it.
pub type LoadError<E> = Arc<E>;

impl Cache {
    /// A cache of at most `capacity_bytes` in this process, entries living at most `ttl`;
    /// with `redis`, also the shared second level, whose invalidations [`Cache::start`]
    /// follows.
    pub fn new(capacity_bytes: u64, ttl: Duration, redis: Option<RedisLink>) -> Self {
        let evictions = Arc::new(AtomicU64::new(0));
        let counted = evictions.clone();
        let l1 = moka::future::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &Arc<str>, value: &Stored| {
                u32::try_from(key.len() + value.bytes.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl)
            .eviction_listener(move |_key, _value, cause| {
                if cause == moka::notification::RemovalCause::Size {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        Self {
            inner: Arc::new(Inner {
                l1,
                generations: Mutex::default(),
                redis,
                ttl,
                l1_hits: AtomicU64::new(0),
                l2_hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                evictions,
                invalidations: AtomicU64::new(0),
                epoch: rand::random(),
            }),
        }
    }

    /// With Redis, starts following what other instances invalidate; the follower ends when
    /// the last clone of the cache is dropped.
    pub fn start(&self) -> Option<tokio::task::JoinHandle<()>> {
        let redis = self.inner.redis.as_ref()?;
        Some(tokio::spawn(follow_invalidations(
            Arc::downgrade(&self.inner),
            redis.deliveries(),
        )))
    }

    /// The entry `name` of `owner`: from this process, else from Redis, else from `load`,
    /// which runs once however many requests miss at the same time. A failed load is handed
    /// to all of them and not stored.
    pub async fn get_or_load<E, F, Fut>(
        &self,
        owner: UserId,
        name: &str,
        load: F,
    ) -> Result<Bytes, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        self.load_through(owner, name, true, load).await
    }

    /// As [`Cache::get_or_load`], for entries that every instance reads as cheaply from its
    /// own files as from Redis (a photo's derivatives): kept in this process only, never sent
    /// to Redis, and dropped with the owner's other entries at the next write.
    pub async fn get_or_load_here<E, F, Fut>(
        &self,
        owner: UserId,
        name: &str,
        load: F,
    ) -> Result<Bytes, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        self.load_through(owner, name, false, load).await
    }

    async fn load_through<E, F, Fut>(
        &self,
        owner: UserId,
        name: &str,
        shared: bool,
        load: F,
    ) -> Result<Bytes, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let generation = self.generation(owner).await;
        let key: Arc<str> = l1_key(owner, name).into();
        let inner = &self.inner;
        // Hits take the plain lookup; the entry API below, which coalesces loads, only misses.
        match inner.l1.get(&key).await {
            Some(stored) if stored.generation == generation => {
                inner.l1_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(stored.bytes);
            }
            // Of an older generation: make way for the new rendering.
            Some(_) => inner.l1.invalidate(&key).await,
            None => {}
        }
        let l2 = l2_key(&entry_key(owner, generation, name));
        let entry = inner
            .l1
            .entry(key)
            .or_try_insert_with(async move {
                let redis = inner.redis.as_ref().filter(|_| shared);
                if let Some(redis) = redis {
                    if let Some(bytes) = redis.get(&l2).await {
                        inner.l2_hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(Stored { generation, bytes });
                    }
                }
                inner.misses.fetch_add(1, Ordering::Relaxed);
                let bytes = load().await?;
                if let Some(redis) = redis {
                    redis.set(&l2, &bytes, inner.ttl).await;
                }
                Ok(Stored { generation, bytes })
            })
            .await?;
        if !entry.is_fresh() {
            inner.l1_hits.fetch_add(1, Ordering::Relaxed);
        }
        // Another request may have stored an older rendering in between: it is replaced at
        // the next lookup, which sees its generation.
        Ok(entry.into_value().bytes)
    }

    /// The entry `name` of `owner` if this process holds it for the owner's current
    /// generation: never loaded, never asked of Redis, no single-flight. For answering hits
    /// before anything else runs; a `None` goes the way of [`Cache::get_or_load`].
    pub async fn peek(&self, owner: UserId, name: &str) -> Option<Bytes> {
        let generation = self.generation(owner).await;
        let stored = self.inner.l1.get(l1_key(owner, name).as_str()).await?;
        (stored.generation == generation).then(|| {
            self.inner.l1_hits.fetch_add(1, Ordering::Relaxed);
            stored.bytes
        })
    }

    /// A tag that changes whenever `owner`'s library may have: at each invalidation of the
    /// owner, and with the process (a generation only rises within one process, and the tag
    /// names the process). Answers too large to store, such as an export, are tagged with it
    /// for `ETag`s; read it before reading what it tags, so a write in between changes it.
    pub async fn library_tag(&self, owner: UserId) -> String {
        format!("{:016x}-{}", self.inner.epoch, self.generation(owner).await)
    }

    /// Everything cached for `owner` is stale, here and on every instance.
    pub async fn invalidate_owner(&self, owner: UserId) {
        let inner = &self.inner;
        inner.invalidations.fetch_add(1, Ordering::Relaxed);
        let local = self.generation(owner).await;
        let Some(redis) = &inner.redis else {
            raise(&inner.generations, owner, local + 1);
            return;
        };
        // The shared counter decides, so two instances invalidating at once never pick the
        // same generation; without Redis this process moves on alone.
        let generation = redis
            .raise(&generation_key(owner), local + 1)
            .await
            .unwrap_or(local + 1);
        raise(&inner.generations, owner, generation);
        publish(redis, &Invalidation::Owner { owner, generation }).await;
    }

    /// The entry `name` of `owner` is stale, here and on every instance.
    pub async fn invalidate(&self, owner: UserId, name: &str) {
        let inner = &self.inner;
        inner.invalidations.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation(owner).await;
        inner.l1.invalidate(l1_key(owner, name).as_str()).await;
        if let Some(redis) = &inner.redis {
            redis
                .delete(&l2_key(&entry_key(owner, generation, name)))
                .await;
            let name = name.to_string();
            publish(redis, &Invalidation::Key { owner, name }).await;
        }
    }

    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        let redis = inner.redis.as_ref();
        CacheStats {
            l1_hits: inner.l1_hits.load(Ordering::Relaxed),
            l2_hits: inner.l2_hits.load(Ordering::Relaxed),
            misses: inner.misses.load(Ordering::Relaxed),
            evictions: inner.evictions.load(Ordering::Relaxed),
            invalidations: inner.invalidations.load(Ordering::Relaxed),
            entries: inner.l1.entry_count(),
            bytes: inner.l1.weighted_size(),
            redis_configured: redis.is_some(),
            redis_up: redis.is_some_and(RedisLink::is_up),
            redis_subscribed: redis.is_some_and(RedisLink::is_subscribed),
            redis_failures: redis.map_or(0, RedisLink::failures),
        }
    }

    /// Applies pending housekeeping (evictions, counts); for tests and the metrics.
    pub async fn settle(&self) {
        self.inner.l1.run_pending_tasks().await;
    }

    /// The generation `owner`'s entries live under, read from Redis the first time.
    async fn generation(&self, owner: UserId) -> u64 {
        if let Some(generation) = lock(&self.inner.generations).get(&owner) {
            return *generation;
        }
        let shared = match &self.inner.redis {
            Some(redis) => redis
                .get_u64(&generation_key(owner))
                .await
                .flatten()
                .unwrap_or(0),
            None => 0,
        };
        *lock(&self.inner.generations).entry(owner).or_insert(shared)
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn l1_key(owner: UserId, name: &str) -> String {
    format!("{owner}/{name}")
}

/// The name of an entry in Redis, which keeps every generation until it expires.
fn entry_key(owner: UserId, generation: u64, name: &str) -> String {
    format!("{owner}/{generation}/{name}")
}

fn l2_key(entry: &str) -> String {
    format!("cache/{entry}")
}

fn generation_key(owner: UserId) -> String {
    format!("generation/{owner}")
}

/// Generations only move forward: a late message never brings back stale entries.
fn raise(generations: &Mutex<HashMap<UserId, u64>>, owner: UserId, generation: u64) {
    let mut generations = lock(generations);
    let current = generations.entry(owner).or_insert(generation);
    *current = (*current).max(generation);
}

async fn publish(redis: &RedisLink, invalidation: &Invalidation) {
    // Serializing a plain enum of numbers and a string cannot fail.
    let payload = serde_json::to_vec(invalidation).unwrap_or_default();
    if !redis.publish(INVALIDATIONS, &payload).await {
        tracing::warn!(
            ?invalidation,
            "could not tell other instances of an invalidation"
        );
    }
}

/// Applies what other instances invalidated. After a gap (Redis was away, or this process
/// fell behind its messages) anything may have changed: everything here is dropped,
/// and every owner this process knows moves to a new generation everywhere, since writes
/// made here meanwhile never reached Redis and older entries there may predate them.
async fn follow_invalidations(
    cache: std::sync::Weak<Inner>,
    mut deliveries: tokio::sync::broadcast::Receiver<Delivery>,
) {
    loop {
        let delivery = deliveries.recv().await;
        let Some(inner) = cache.upgrade() else {
            return;
        };
        match delivery {
            Err(RecvError::Closed) => return,
            Err(RecvError::Lagged(_)) | Ok(Delivery::Subscribed | Delivery::Reconnected) => {
                inner.l1.invalidate_all();
                let owners: Vec<UserId> = lock(&inner.generations).keys().copied().collect();
                let cache = Cache { inner };
                for owner in owners {
                    cache.invalidate_owner(owner).await;
                }
            }
            Ok(Delivery::Message { channel, payload }) if channel == INVALIDATIONS => {
                match serde_json::from_slice::<Invalidation>(&payload) {
                    Ok(Invalidation::Owner { owner, generation }) => {
                        raise(&inner.generations, owner, generation);
                    }
                    Ok(Invalidation::Key { owner, name }) => {
                        inner.l1.invalidate(l1_key(owner, &name).as_str()).await;
                    }
                    Err(error) => tracing::warn!(%error, "ignored a malformed invalidation"),
                }
            }
            Ok(Delivery::Message { .. }) => {}
        }
    }
}
