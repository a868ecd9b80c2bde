//! What the library tells the hub: photos entering the timeline, photos changing, albums
//! changing, and the counters, recomputed at most once per frame however much happens.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use app::{
    live::{Addition, Change, Counter, PhotoStatus, Topic},
    model::{AlbumId, PhotoId, UserId},
};
use flashbulb_store::{
    cells::{PhotoRow, CELL_COLUMNS},
    visible,
};
use tokio::sync::Notify;

use super::{
    bridge::Relay,
    hub::{lock, Channel, Hub},
};
use crate::{
    cache::Cache,
    db::Pool,
    photos::signing::{MediaSigner, SignMedia},
    ServerResult,
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

#[derive(sqlx::FromRow)]
struct PhotoState {
    owner_id: i64,
    status: String,
    #[sqlx(try_from = "crate::db::Flag")]
    is_favourite: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    trashed: bool,
    failure: Option<String>,
}

impl LiveEvents {
    /// Starts the counter refresher on the current runtime; it ends with the last clone.
    pub fn new(relay: Relay, pool: Pool, cache: Cache, media: MediaSigner) -> Self {
        let events = Self {
            relay,
            pool,
            cache,
            media,
            stale_counters: Arc::default(),
            counters_changed: Arc::default(),
        };
        tokio::spawn(refresh_counters(
            events.relay.clone(),
            events.pool.clone(),
            Arc::downgrade(&events.stale_counters),
            events.counters_changed.clone(),
        ));
        events
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
        if let Err(error) = self.publish_photo(photo, appeared).await {
            tracing::warn!(%error, photo, "could not publish a photo's change");
        }
    }

    async fn publish_photo(&self, photo: PhotoId, appeared: bool) -> ServerResult<()> {
        let state: Option<PhotoState> = sqlx::query_as(
            "SELECT p.owner_id, p.status, p.is_favourite, p.trashed_at IS NOT NULL AS trashed,
                    (SELECT last_error FROM jobs WHERE photo_id = p.id AND state = 'failed'
                     ORDER BY id DESC LIMIT 1) AS failure
             FROM photos p WHERE p.id = $1",
        )
        .bind(photo)
        .fetch_optional(&self.pool)
        .await?;
        let Some(state) = state else {
            return Ok(());
        };
        let channel = library(state.owner_id);
        self.cache.invalidate_owner(state.owner_id).await;
        self.counters_changed(state.owner_id);
        if !self.relay.is_watched(channel) {
            return Ok(());
        }
        let status = match state.status.as_str() {
            "ready" => PhotoStatus::Ready,
            "failed" => PhotoStatus::Failed,
            _ => PhotoStatus::Pending,
        };
        if appeared && status == PhotoStatus::Ready && !state.trashed {
            let row: Option<PhotoRow> =
                sqlx::query_as(&format!("SELECT {CELL_COLUMNS} FROM photos WHERE id = $1"))
                    .bind(photo)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(row) = row {
                let mut cell = row.into_cell();
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
        let summary: Result<Option<(String, i64)>, sqlx::Error> = sqlx::query_as(concat!(
            "SELECT a.title,
                    (SELECT count(*) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id
                     WHERE ap.album_id = a.id AND ",
            visible!("p"),
            ") FROM albums a WHERE a.id = $1 AND a.owner_id = $2"
        ))
        .bind(album)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await;
        let change = match summary {
            Ok(Some((title, photos))) => Change::Album {
                id: album,
                title,
                photos: photos.max(0) as u64,
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

/// Recomputes the counters of owners marked stale, at most once per frame interval: a burst
/// of a thousand uploads costs a few count queries, not a thousand.
async fn refresh_counters(
    relay: Relay,
    pool: Pool,
    stale: std::sync::Weak<Mutex<HashSet<UserId>>>,
    changed: Arc<Notify>,
) {
    let frame = relay.hub().config().frame;
    loop {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), changed.notified()).await;
        let Some(stale) = stale.upgrade() else {
            return;
        };
        let owners: Vec<UserId> = lock(&stale).drain().collect();
        drop(stale);
        for owner in owners {
            match counters(&pool, owner).await {
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

/// An owner's photo count and queued jobs. The queue is walked first (CROSS JOIN fixes the
/// order in SQLite): it holds a handful of jobs, while starting from the owner's photos read
/// all of them, 130 ms a frame at a million. (PostgreSQL's sum of integers is a numeric,
/// hence the cast.)
pub const COUNTERS_SQL: &str =
    "SELECT (SELECT CAST(coalesce(sum(photo_count), 0) AS BIGINT) FROM photo_months WHERE owner_id = $1),
            (SELECT count(*) FROM jobs j CROSS JOIN photos p
             WHERE p.id = j.photo_id AND p.owner_id = $2 AND j.state IN ('queued', 'running'))";

async fn counters(pool: &Pool, owner: UserId) -> ServerResult<(u64, u64)> {
    let (photos, queued): (i64, i64) = sqlx::query_as(COUNTERS_SQL)
        .bind(owner)
        .bind(owner)
        .fetch_one(pool)
        .await?;
    Ok((photos.max(0) as u64, queued.max(0) as u64))
}
