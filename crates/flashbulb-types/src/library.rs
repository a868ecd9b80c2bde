//! The seam between pages and storage: the server implements [`Library`] (and
//! [`Operations`] for the console), pages call it.

use std::sync::Arc;

use crate::{
    error::ApiError,
    model::{
        AlbumId, AlbumSummary, AlbumView, Cursor, PhotoDetail, PhotoId, PhotoPage, SearchFacets,
        SearchQuery, SearchResults, TimelineFirstScreen, TrashView, UserId, UserSummary,
    },
};

#[async_trait::async_trait]
pub trait Library: Send + Sync + 'static {
    /// Every month bucket of `owner` and the newest `limit` photos.
    async fn timeline_first_screen(
        &self,
        owner: UserId,
        limit: u32,
    ) -> Result<TimelineFirstScreen, ApiError>;

    /// `owner`'s visible favourites, newest first, `limit` after `after`.
    async fn favourites(
        &self,
        owner: UserId,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<PhotoPage, ApiError>;

    /// Marks or unmarks a photo of `owner` as favourite; returns the stored value.
    async fn set_favourite(
        &self,
        owner: UserId,
        photo: PhotoId,
        favourite: bool,
    ) -> Result<bool, ApiError>;

    /// One of `owner`'s photos, in the library or in the trash.
    async fn photo(&self, owner: UserId, photo: PhotoId) -> Result<PhotoDetail, ApiError>;

    /// Moves a photo of `owner` to the trash (`true`) or back into the library (`false`).
    async fn set_trashed(
        &self,
        owner: UserId,
        photo: PhotoId,
        trashed: bool,
    ) -> Result<(), ApiError>;

    /// `owner`'s trash, most recently trashed first; with `emptied`, the photos emptied from it
    /// that can still be restored, most recently emptied first.
    async fn trash(
        &self,
        owner: UserId,
        emptied: bool,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<TrashView, ApiError>;

    /// Empties `owner`'s trash: its photos stay restorable for the grace period, then go for
    /// good (at once without one); returns how many.
    async fn empty_trash(&self, owner: UserId) -> Result<u64, ApiError>;

    /// `owner`'s albums, newest first.
    async fn albums(&self, owner: UserId) -> Result<Vec<AlbumSummary>, ApiError>;

    async fn create_album(&self, owner: UserId, title: &str) -> Result<AlbumId, ApiError>;

    async fn rename_album(
        &self,
        owner: UserId,
        album: AlbumId,
        title: &str,
    ) -> Result<(), ApiError>;

    async fn delete_album(&self, owner: UserId, album: AlbumId) -> Result<(), ApiError>;

    /// One album of `owner` with a page of its photos, newest first.
    async fn album(
        &self,
        owner: UserId,
        album: AlbumId,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<AlbumView, ApiError>;

    /// Adds (`true`) or removes (`false`) one of `owner`'s photos to or from one of their albums.
    async fn set_in_album(
        &self,
        owner: UserId,
        album: AlbumId,
        photo: PhotoId,
        member: bool,
    ) -> Result<(), ApiError>;

    async fn set_album_cover(
        &self,
        owner: UserId,
        album: AlbumId,
        photo: PhotoId,
    ) -> Result<(), ApiError>;

    /// Shares an album (a new secret link) or stops sharing it; returns the link's secret.
    async fn share_album(
        &self,
        owner: UserId,
        album: AlbumId,
        shared: bool,
    ) -> Result<Option<String>, ApiError>;

    /// The album behind a share link, for visitors: read-only, no owner needed.
    async fn shared_album(
        &self,
        token: &str,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<AlbumView, ApiError>;

    /// `owner`'s photos matching `query`, newest first.
    async fn search(
        &self,
        owner: UserId,
        query: &SearchQuery,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<SearchResults, ApiError>;

    /// The cameras, lenses and albums of `owner`'s library, for the search form.
    async fn search_facets(&self, owner: UserId) -> Result<SearchFacets, ApiError>;

    /// Every account, for the administrators' list.
    async fn users(&self) -> Result<Vec<UserSummary>, ApiError>;
}

pub type SharedLibrary = Arc<dyn Library>;

/// The server's account of itself, for the operations console.
#[async_trait::async_trait]
pub trait Operations: Send + Sync + 'static {
    /// The console's figures as of now.
    async fn snapshot(&self) -> Result<crate::ops::OpsSnapshot, ApiError>;

    async fn diagnostics(&self) -> Result<crate::ops::Diagnostics, ApiError>;
}

pub type SharedOperations = Arc<dyn Operations>;
