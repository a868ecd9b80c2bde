//! The server's implementation of the pages' [`Library`] seam, backed by the database.

use app::{
    backend::Library,
    model::{Cursor, PhotoId, PhotoPage, TimelineFirstScreen, UserId},
    ApiError,
};

use crate::{db::Pool, photos, timeline, users};

pub struct DbLibrary {
    pool: Pool,
}

impl DbLibrary {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl Library for DbLibrary {
    async fn viewer(&self) -> Result<Option<(UserId, String)>, ApiError> {
        Ok(users::library_owner(&self.pool).await?)
    }

    async fn timeline_first_screen(
        &self,
        owner: UserId,
        limit: u32,
    ) -> Result<TimelineFirstScreen, ApiError> {
        let (buckets, photos) = tokio::try_join!(
            timeline::month_buckets(&self.pool, owner),
            timeline::newest_photos(&self.pool, owner, limit),
        )?;
        let total = buckets.iter().map(|bucket| bucket.count).sum();
        Ok(TimelineFirstScreen {
            buckets,
            photos,
            total,
            owner_name: None,
        })
    }

    async fn favourites(
        &self,
        owner: UserId,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<PhotoPage, ApiError> {
        Ok(photos::favourites(&self.pool, owner, after, limit).await?)
    }

    async fn set_favourite(
        &self,
        owner: UserId,
        photo: PhotoId,
        favourite: bool,
    ) -> Result<bool, ApiError> {
        Ok(photos::set_favourite(&self.pool, owner, photo, favourite).await?)
    }
}
