//! Types that cross the wire between the server and the pages.

use serde::{Deserialize, Serialize};

/// Identifies a user; every photo belongs to exactly one.
pub type UserId = i64;
pub type PhotoId = i64;

/// One month of the library: the unit the timeline is divided into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthBucket {
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
    pub count: u64,
}

impl MonthBucket {
    /// `2026-11`: stable, sortable, usable as an HTML id suffix.
    pub fn key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// What a grid cell needs: enough to lay out and paint a placeholder before any image loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoCell {
    pub id: PhotoId,
    pub file_name: String,
    /// Seconds since the Unix epoch, UTC.
    pub taken_at: i64,
    pub width: u32,
    pub height: u32,
    pub favourite: bool,
    /// Average colour of the photo (from its thumbhash), painted while nothing else is loaded.
    pub placeholder_rgb: [u8; 3],
}

/// The server-rendered first screen of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TimelineFirstScreen {
    /// Every month of the library, newest first.
    pub buckets: Vec<MonthBucket>,
    /// The newest photos, newest first.
    pub photos: Vec<PhotoCell>,
    pub total: u64,
    /// The signed-in library's owner, `None` while the library has no user at all.
    pub owner_name: Option<String>,
}
