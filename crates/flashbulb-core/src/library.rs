//! The server's implementation of the pages' [`Library`] seam, backed by the database.

use flashbulb_store::Pool;
use flashbulb_types::{
    library::Library,
    model::{
        AlbumId, AlbumSummary, AlbumView, Cursor, PhotoDetail, PhotoId, PhotoPage, SearchFacets,
        SearchQuery, SearchResults, TimelineFirstScreen, TrashView, UserId, UserSummary,
    },
    ApiError,
};

use crate::{
    files::FileStore,
    live::LiveEvents,
    media::{MediaSigner, SignMedia},
    photos, CoreError,
};

pub struct DbLibrary {
    pool: Pool,
    /// Where originals live, for the files an emptied trash leaves behind.
    files: FileStore,
    /// Every change made here is also published to the live pages.
    events: LiveEvents,
    /// Photos leave here with their media keys signed for their owner.
    media: MediaSigner,
    /// Days emptied photos stay restorable.
    trash_grace_days: u32,
}

impl DbLibrary {
    pub fn new(
        pool: Pool,
        files: FileStore,
        events: LiveEvents,
        media: MediaSigner,
        trash_grace_days: u32,
    ) -> Self {
        Self {
            pool,
            files,
            events,
            media,
            trash_grace_days,
        }
    }

    /// `value` with its photos' media paths signed for `owner`.
    async fn signed<T: SignMedia>(&self, owner: UserId, mut value: T) -> Result<T, ApiError> {
        value.sign_media(&self.media.access(owner).await?);
        Ok(value)
    }
}

#[async_trait::async_trait]
impl Library for DbLibrary {
    async fn timeline_first_screen(
        &self,
        owner: UserId,
        limit: u32,
    ) -> Result<TimelineFirstScreen, ApiError> {
        let (buckets, photos) = tokio::try_join!(
            flashbulb_store::timeline::month_buckets(&self.pool, owner),
            flashbulb_store::timeline::newest_photos(&self.pool, owner, limit),
        )
        .map_err(CoreError::from)?;
        let total = buckets.iter().map(|bucket| bucket.count).sum();
        let screen = TimelineFirstScreen {
            buckets,
            photos,
            total,
            owner_name: None,
            media_access: String::new(),
        };
        self.signed(owner, screen).await
    }

    async fn favourites(
        &self,
        owner: UserId,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<PhotoPage, ApiError> {
        let page = flashbulb_store::photos::favourites(&self.pool, owner, after, limit).await?;
        self.signed(owner, page).await
    }

    async fn set_favourite(
        &self,
        owner: UserId,
        photo: PhotoId,
        favourite: bool,
    ) -> Result<bool, ApiError> {
        let stored =
            flashbulb_store::photos::set_favourite(&self.pool, owner, photo, favourite).await?;
        let favourite = stored.is_favourite;
        self.events.favourite_changed(photo, stored).await;
        Ok(favourite)
    }

    async fn photo(&self, owner: UserId, photo: PhotoId) -> Result<PhotoDetail, ApiError> {
        let detail = photos::detail(&self.pool, &self.files, owner, photo).await?;
        self.signed(owner, detail).await
    }

    async fn set_trashed(
        &self,
        owner: UserId,
        photo: PhotoId,
        trashed: bool,
    ) -> Result<(), ApiError> {
        flashbulb_store::photos::set_trashed(&self.pool, owner, photo, trashed).await?;
        // Restored, the photo is back in the timeline: an addition as well as a change.
        self.events.photo_changed(photo, !trashed).await;
        // The albums holding it count it only outside the trash. Like every publication, a
        // failure here is logged and never fails the change that was made.
        match flashbulb_store::albums::holding(&self.pool, owner, photo).await {
            Ok(holding) => {
                for album in holding {
                    self.events.album_changed(owner, album).await;
                }
            }
            Err(error) => tracing::warn!(%error, photo, "could not tell its albums of a photo"),
        }
        Ok(())
    }

    async fn trash(
        &self,
        owner: UserId,
        emptied: bool,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<TrashView, ApiError> {
        use flashbulb_store::photos::TrashList;
        let (list, other) = if emptied {
            (TrashList::Emptied, TrashList::InTrash)
        } else {
            (TrashList::InTrash, TrashList::Emptied)
        };
        let (page, other_count) = tokio::try_join!(
            flashbulb_store::photos::trash(&self.pool, owner, list, after, limit),
            flashbulb_store::photos::trash_count(&self.pool, owner, other),
        )?;
        let (in_trash, recently_emptied) = if emptied {
            (other_count, page.total)
        } else {
            (page.total, other_count)
        };
        let page = self.signed(owner, page).await?;
        Ok(TrashView {
            page,
            emptied,
            in_trash,
            recently_emptied,
            grace_days: self.trash_grace_days,
        })
    }

    async fn empty_trash(&self, owner: UserId) -> Result<u64, ApiError> {
        let emptied =
            photos::empty_trash(&self.pool, &self.files, owner, self.trash_grace_days).await?;
        self.events.library_changed(owner).await;
        Ok(emptied)
    }

    async fn albums(&self, owner: UserId) -> Result<Vec<AlbumSummary>, ApiError> {
        let albums = flashbulb_store::albums::list(&self.pool, owner).await?;
        self.signed(owner, albums).await
    }

    async fn create_album(&self, owner: UserId, title: &str) -> Result<AlbumId, ApiError> {
        let album = flashbulb_store::albums::create(&self.pool, owner, title).await?;
        self.events.album_changed(owner, album).await;
        Ok(album)
    }

    async fn rename_album(
        &self,
        owner: UserId,
        album: AlbumId,
        title: &str,
    ) -> Result<(), ApiError> {
        flashbulb_store::albums::rename(&self.pool, owner, album, title).await?;
        self.events.album_changed(owner, album).await;
        Ok(())
    }

    async fn delete_album(&self, owner: UserId, album: AlbumId) -> Result<(), ApiError> {
        flashbulb_store::albums::delete(&self.pool, owner, album).await?;
        self.events.album_changed(owner, album).await;
        Ok(())
    }

    async fn album(
        &self,
        owner: UserId,
        album: AlbumId,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<AlbumView, ApiError> {
        let view = flashbulb_store::albums::view(&self.pool, owner, album, after, limit).await?;
        self.signed(owner, view).await
    }

    async fn set_in_album(
        &self,
        owner: UserId,
        album: AlbumId,
        photo: PhotoId,
        member: bool,
    ) -> Result<(), ApiError> {
        flashbulb_store::albums::set_member(&self.pool, owner, album, photo, member).await?;
        self.events.album_changed(owner, album).await;
        Ok(())
    }

    async fn set_album_cover(
        &self,
        owner: UserId,
        album: AlbumId,
        photo: PhotoId,
    ) -> Result<(), ApiError> {
        flashbulb_store::albums::set_cover(&self.pool, owner, album, photo).await?;
        self.events.album_changed(owner, album).await;
        Ok(())
    }

    async fn share_album(
        &self,
        owner: UserId,
        album: AlbumId,
        shared: bool,
    ) -> Result<Option<String>, ApiError> {
        let secret = flashbulb_store::albums::share(&self.pool, owner, album, shared).await?;
        // The album's page shows whether it is shared: its followers hear of it, and its share
        // link's cached pages go with the owner's.
        self.events.album_changed(owner, album).await;
        Ok(secret)
    }

    async fn shared_album(
        &self,
        token: &str,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<AlbumView, ApiError> {
        let view = flashbulb_store::albums::shared_view(&self.pool, token, after, limit).await?;
        let owner = flashbulb_store::albums::owner_of(&self.pool, view.album.id).await?;
        self.signed(owner, view).await
    }

    async fn search(
        &self,
        owner: UserId,
        query: &SearchQuery,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<SearchResults, ApiError> {
        let results =
            flashbulb_store::search::search(&self.pool, owner, query, after, limit).await?;
        self.signed(owner, results).await
    }

    async fn search_facets(&self, owner: UserId) -> Result<SearchFacets, ApiError> {
        Ok(flashbulb_store::search::facets(&self.pool, owner).await?)
    }

    async fn users(&self) -> Result<Vec<UserSummary>, ApiError> {
        Ok(flashbulb_store::users::list(&self.pool).await?)
    }
}
