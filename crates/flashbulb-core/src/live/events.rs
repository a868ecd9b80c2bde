//! What the library tells the hub: photos entering the timeline, photos changing, albums
//! changing, and the counters, recomputed at most once a second per owner however much
//! happens.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use flashbulb_store::Pool;
use flashbulb_store::{albums, photos};
use flashbulb_types::{
    live::{Addition, Change, Counter, PhotoStatus, Topic},
    model::{AlbumId, PhotoId, UserId},
};
use tokio::sync::Notify;

use super::{
    bridge::Relay,
    hub::{Channel, Hub},
};
use crate::{
    cache::Cache,
    media::{MediaSigner, SignMedia},
    sync::lock,
    CoreResult,
};

/// The library's publisher: cheap to clone, shared by request handlers and job workers.
#[derive(Clone)]
pub struct LiveEvents {
    relay: Relay,
    pool: Pool,
    /// Every change also makes the owner's cached pages stale.
    cache: Cache,
    /// New photos are sent with their thumbnails' signed paths.
    media: MediaSigner,
    /// Owners whose counters changed since they were last sent.
    stale_counters: Arc<Mutex<HashSet<UserId>>>,
    counters_changed: Arc<Notify>,
}

impl LiveEvents {
    /// Publishes through `relay`; the counters are sent once [`LiveEvents::start`] ran.
    pub fn new(relay: Relay, pool: Pool, cache: Cache, media: MediaSigner) -> Self {
        Self {
            relay,
            pool,
            cache,
            media,
            stale_counters: Arc::default(),
            counters_changed: Arc::default(),
        }
    }

    /// Starts the counter refresher on the current runtime; it ends with the last clone.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(refresh_counters(
            self.relay.clone(),
            self.pool.clone(),
            Arc::downgrade(&self.stale_counters),
            self.counters_changed.clone(),
        ))
    }

    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    pub fn hub(&self) -> &Hub {
        self.relay.hub()
    }

    /// A photo's derivatives are ready: it enters the timeline of its owner.
    pub async fn photo_ready(&self, photo: PhotoId) {
        self.photo_changed(photo, true).await;
    }

    /// A photo changed (processed, failed, favourite, trashed or restored); `appeared` when it
    /// has just entered the timeline. Publishing never fails the change itself: a lost update
    /// is logged, and the page catches up at its next resync.
    pub async fn photo_changed(&self, photo: PhotoId, appeared: bool) {
        self.publish_photo(photo, appeared, true).await;
    }

    /// A photo became a favourite or stopped being one, now in `state` (as the write read
    /// it back): no counter moves, so nothing is recounted and nothing read again.
    pub async fn favourite_changed(&self, photo: PhotoId, state: photos::PhotoState) {
        if let Err(error) = self.publish_state(photo, state, false, false).await {
            tracing::warn!(%error, photo, "could not publish a photo's change");
        }
    }

    async fn publish_photo(&self, photo: PhotoId, appeared: bool, recount: bool) {
        let published = match photos::state(&self.pool, photo).await {
            Ok(Some(state)) => self.publish_state(photo, state, appeared, recount).await,
            Ok(None) => Ok(()),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = published {
            tracing::warn!(%error, photo, "could not publish a photo's change");
        }
    }

    async fn publish_state(
        &self,
        photo: PhotoId,
        state: photos::PhotoState,
        appeared: bool,
        recount: bool,
    ) -> CoreResult<()> {
        let channel = library(state.owner_id);
        self.cache.invalidate_owner(state.owner_id).await;
        if recount {
            self.counters_changed(state.owner_id);
        }
        if !self.relay.is_watched(channel) {
            return Ok(());
        }
        let status = match state.status.as_str() {
            "ready" => PhotoStatus::Ready,
            "failed" => PhotoStatus::Failed,
            _ => PhotoStatus::Pending,
        };
        if appeared && status == PhotoStatus::Ready && !state.trashed {
            if let Some(mut cell) = photos::cell(&self.pool, photo).await? {
                cell.sign_media(&self.media.access(state.owner_id).await?);
                self.relay.add(channel, &Addition::Photo(cell)).await;
            }
        }
        self.relay
            .change(
                channel,
                &Change::Photo {
                    id: photo,
                    status,
                    favourite: state.is_favourite,
                    trashed: state.trashed,
                    failure: state.failure.filter(|_| status == PhotoStatus::Failed),
                },
            )
            .await;
        Ok(())
    }

    /// Something changed an album of `owner` (title, photos, cover) or deleted it.
    pub async fn album_changed(&self, owner: UserId, album: AlbumId) {
        let channel = Channel {
            owner,
            topic: Topic::Album(album),
        };
        self.cache.invalidate_owner(owner).await;
        if !self.relay.is_watched(channel) {
            return;
        }
        let summary = albums::title_and_count(&self.pool, owner, album).await;
        let change = match summary {
            Ok(Some((title, photos))) => Change::Album {
                id: album,
                title,
                photos,
                deleted: false,
            },
            Ok(None) => Change::Album {
                id: album,
                title: String::new(),
                photos: 0,
                deleted: true,
            },
            Err(error) => {
                tracing::warn!(%error, album, "could not publish an album's change");
                return;
            }
        };
        self.relay.change(channel, &change).await;
    }

    /// Something of `owner`'s library changed that no open page follows photo by photo (the
    /// trash was emptied): their cached pages go, and the library's followers get its counters.
    pub async fn library_changed(&self, owner: UserId) {
        self.cache.invalidate_owner(owner).await;
        self.counters_changed(owner);
    }

    /// The counters of `owner`'s library changed (photos added or trashed, jobs queued or
    /// done); they are recomputed and sent with the next frame.
    pub fn counters_changed(&self, owner: UserId) {
        if !self.relay.is_watched(library(owner)) {
            return;
        }
        lock(&self.stale_counters).insert(owner);
        self.counters_changed.notify_one();
    }
}

fn library(owner: UserId) -> Channel {
    Channel {
        owner,
        topic: Topic::Library,
    }
}

/// How often one owner's counters are counted at most: the first change after a quiet
/// second goes out with the next frame, a burst is counted once a second, not once a frame.
const RECOUNT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Recomputes the counters of owners marked stale, each at most once per
/// [`RECOUNT_INTERVAL`]: a burst of a thousand uploads costs one count query a second, not
/// twenty (one a frame) or a thousand.
async fn refresh_counters(
    relay: Relay,
    pool: Pool,
    stale: std::sync::Weak<Mutex<HashSet<UserId>>>,
    changed: Arc<Notify>,
) {
    let frame = relay.hub().config().frame;
    let mut counted_at: HashMap<UserId, tokio::time::Instant> = HashMap::new();
    loop {
        // Wakes for a change, or to count what waited for its interval.
        let _ = tokio::time::timeout(RECOUNT_INTERVAL, changed.notified()).await;
        let Some(stale) = stale.upgrade() else {
            return;
        };
        let now = tokio::time::Instant::now();
        counted_at.retain(|_, at| now.duration_since(*at) < RECOUNT_INTERVAL);
        let owners: Vec<UserId> = lock(&stale)
            .extract_if(|owner| !counted_at.contains_key(owner))
            .collect();
        drop(stale);
        for owner in owners {
            counted_at.insert(owner, now);
            match photos::counters(&pool, owner).await {
                Ok((photos, queued)) => {
                    for (counter, value) in [(Counter::Photos, photos), (Counter::Queued, queued)] {
                        relay
                            .change(library(owner), &Change::Count { counter, value })
                            .await;
                    }
                }
                Err(error) => tracing::warn!(%error, owner, "could not count for live updates"),
            }
        }
        tokio::time::sleep(frame).await;
    }
}
