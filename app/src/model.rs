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

/// Where a page of photos continues: the last photo's `taken_at` and id, as `1790000000.42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub taken_at: i64,
    pub id: PhotoId,
}

impl Cursor {
    pub fn after(photo: &PhotoCell) -> Self {
        Cursor {
            taken_at: photo.taken_at,
            id: photo.id,
        }
    }

    /// Parses the `after=` form; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (taken_at, id) = text.split_once('.')?;
        let strict = |part: &str| !part.is_empty() && part.len() <= 20;
        if !strict(taken_at) || !strict(id) {
            return None;
        }
        Some(Cursor {
            taken_at: taken_at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.taken_at, self.id)
    }
}

/// One page of a photo list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PhotoPage {
    pub photos: Vec<PhotoCell>,
    /// Present when more photos follow.
    pub next: Option<Cursor>,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            taken_at: -86_400,
            id: 42,
        };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1",
            "a.b",
            "1.2.3",
            "99999999999999999999999.1",
            "1 .2",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?} accepted");
        }
    }
}
