//! The seam between pages and storage: the server implements [`Library`], pages call it.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::{
    error::ApiError,
    model::{Cursor, PhotoId, PhotoPage, TimelineFirstScreen, UserId},
};

#[async_trait::async_trait]
pub trait Library: Send + Sync + 'static {
    /// The user whose library this request sees, `None` when there is no user yet.
    async fn viewer(&self) -> Result<Option<(UserId, String)>, ApiError>;

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
}

pub type SharedLibrary = Arc<dyn Library>;

/// The library the server provided for this request.
pub fn library() -> Result<SharedLibrary, ApiError> {
    use_context::<SharedLibrary>().ok_or(ApiError::Internal)
}
