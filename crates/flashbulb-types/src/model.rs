//! Types that cross the wire between the server and the pages.

use serde::{Deserialize, Serialize};

/// Identifies a user; every photo belongs to exactly one.
pub type UserId = i64;

/// The signed-in user a request is made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub id: UserId,
    pub name: String,
    /// Administrators add users and see the operations console.
    pub admin: bool,
}

/// One account, as the administrators' list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: UserId,
    pub name: String,
    pub admin: bool,
    /// False for users made by `seed` that have never been given a password.
    pub can_sign_in: bool,
    pub photos: i64,
}
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
    /// Where its derivatives are below `/media/`, once they exist: `{access}/{key}`, the
    /// signed access of the owner's media (see [`media_url`]) and the content key.
    pub media: Option<String>,
}

/// Every photo of the library with its details, as CSV (served by the server's export).
pub const PHOTO_EXPORT_PATH: &str = "/api/export/photos.csv";

/// Longest edges of the previews made of a photo, smallest first. Every photo has the middle
/// one ([`PREVIEW_EDGE`], `preview.webp`, `preview.jpg`); the others only when the original can
/// fill them (see [`preview_edges`]), so no preview is ever enlarged.
pub const PREVIEW_EDGES: [u32; 3] = [720, PREVIEW_EDGE, 2560];
/// The preview every photo has, in every format.
pub const PREVIEW_EDGE: u32 = 1440;
/// Side of the grid's square thumbnail; the high-density one is twice that.
pub const THUMBNAIL_SIDE: u32 = 256;
/// The grid's thumbnail for high-density screens, twice [`THUMBNAIL_SIDE`].
pub const THUMB_2X: &str = "thumb-512.webp";

/// `width` × `height` scaled to fit inside `edge` × `edge`, never enlarged: the size a preview
/// is made at, and the width its `srcset` names.
pub fn fitted(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= edge {
        return (width, height);
    }
    let scale = f64::from(edge) / f64::from(longest);
    let side = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    (side(width), side(height))
}

/// The preview edges made of a `width` × `height` photo, smallest first (see [`PREVIEW_EDGES`]):
/// a smaller one when the original is larger than it, a larger one when the original is larger
/// than the edge below it. Each is then a different size.
pub fn preview_edges(width: u32, height: u32) -> impl Iterator<Item = u32> {
    let longest = width.max(height);
    let mut below = 0;
    PREVIEW_EDGES.into_iter().filter(move |&edge| {
        let made = match edge.cmp(&PREVIEW_EDGE) {
            std::cmp::Ordering::Less => longest > edge,
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Greater => longest > below,
        };
        below = edge;
        made
    })
}

/// The file name of the preview at `edge` in `extension` (`webp`, `jpg`, `avif`):
/// `preview.webp` at [`PREVIEW_EDGE`], `preview-720.webp` at the others.
pub fn preview_variant(edge: u32, extension: &str) -> String {
    if edge == PREVIEW_EDGE {
        format!("preview.{extension}")
    } else {
        format!("preview-{edge}.{extension}")
    }
}

/// The URL of one derivative of a photo: `thumb.webp`, `thumb-512.webp`, `preview.jpg`,
/// `preview-2560.avif`, … (the pipeline's `VARIANTS`).
/// `media` is a [`PhotoCell::media`]: `{owner}-{expiry}-{signature}/{key}`. The server signs the
/// owner and an expiry rounded to a window, so the URL needs no cookie (a CDN can serve it) and
/// stays the same, cacheable, for the whole window.
pub fn media_url(media: &str, variant: &str) -> String {
    format!("/media/{media}/{variant}")
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
    /// The signed access to the owner's media, for thumbnails the grid fetches later.
    pub media_access: String,
}

/// Where a page of photos continues: the last photo's sort key (when it was taken, or for the
/// trash when it was trashed) and its id, as `1790000000.42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub key: i64,
    pub id: PhotoId,
}

impl Cursor {
    /// The position after `photo` in a list ordered by when photos were taken.
    pub fn after(photo: &PhotoCell) -> Self {
        Cursor {
            key: photo.taken_at,
            id: photo.id,
        }
    }

    /// The start of a list ordered newest first.
    pub const START: Cursor = Cursor {
        key: i64::MAX,
        id: i64::MAX,
    };

    /// Parses an optional `after=` argument; a malformed one is a 400 naming the expected form.
    pub fn parse_argument(text: Option<&str>) -> Result<Option<Self>, crate::ApiError> {
        match text {
            None | Some("") => Ok(None),
            Some(text) => Self::parse(text).map(Some).ok_or_else(|| {
                crate::ApiError::BadRequest(format!(
                    "{text:?} is not a position like 1790000000.42"
                ))
            }),
        }
    }

    /// Parses the `after=` form; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (key, id) = text.split_once('.')?;
        let strict = |part: &str| !part.is_empty() && part.len() <= 20;
        if !strict(key) || !strict(id) {
            return None;
        }
        Some(Cursor {
            key: key.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.key, self.id)
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

/// The trash page: one of its two lists, and how many photos each holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TrashView {
    /// Photos in the trash, or (`emptied`) those emptied from it and still restorable.
    pub page: PhotoPage,
    pub emptied: bool,
    pub in_trash: u64,
    pub recently_emptied: u64,
    /// Days an emptied photo stays restorable; 0 when emptying deletes at once.
    pub grace_days: u32,
}

pub type AlbumId = i64;

/// Everything the photo page shows about one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoDetail {
    pub cell: PhotoCell,
    pub byte_size: u64,
    pub mime_type: Option<String>,
    /// Maker and model, e.g. `FUJIFILM X-T5`.
    pub camera: Option<String>,
    pub lens: Option<String>,
    pub focal_length_mm: Option<f64>,
    pub aperture: Option<f64>,
    pub exposure_time: Option<String>,
    pub iso: Option<i64>,
    /// How far the clock of the place where it was taken (`cell.taken_at`) was from UTC, in
    /// minutes east, when the camera recorded it.
    pub taken_offset_minutes: Option<i32>,
    /// When the photo was moved to the trash; `None` while it is in the library.
    pub trashed_at: Option<i64>,
    /// Whether this server stores the original file (demo photos have none).
    pub has_original: bool,
    /// Whether its previews exist at every width its size allows and in AVIF: photos derived
    /// before those existed have one preview, in WebP and JPEG.
    pub responsive: bool,
    /// `pending` while its derivatives are made, `ready`, or `failed`.
    pub status: String,
    /// Why the photo could not be read, when it failed.
    pub failure: Option<String>,
    /// The neighbours in the timeline, for keyboard and link navigation.
    pub newer: Option<PhotoId>,
    pub older: Option<PhotoId>,
    /// Albums that hold this photo.
    pub albums: Vec<AlbumRef>,
    /// Every album of the owner, to add the photo to one.
    pub all_albums: Vec<AlbumRef>,
}

/// An album named in a list or a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlbumRef {
    pub id: AlbumId,
    pub title: String,
}

/// An album as the album list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlbumSummary {
    pub id: AlbumId,
    pub title: String,
    /// Photos in the library (not trashed) that the album holds.
    pub count: u64,
    /// The chosen cover, else the newest photo.
    pub cover: Option<PhotoCell>,
    /// The secret of the share link, present while the album is shared.
    pub share_token: Option<String>,
    pub created_at: i64,
}

/// One album and one page of its photos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlbumView {
    pub album: AlbumSummary,
    pub page: PhotoPage,
}

/// What a search asks for; every part is optional and the parts combine with AND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SearchQuery {
    /// Part of a file name, at least [`SearchQuery::MIN_TEXT`] characters.
    pub text: Option<String>,
    /// Exact camera model, as offered by [`SearchFacets::cameras`].
    pub camera: Option<String>,
    pub lens: Option<String>,
    /// First and last day, inclusive, as Unix seconds at 00:00 UTC.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub album: Option<AlbumId>,
}

impl SearchQuery {
    /// Shorter file-name fragments match too much to be useful (and the index needs three).
    pub const MIN_TEXT: usize = 3;
    pub const MAX_TEXT: usize = 200;

    pub fn is_empty(&self) -> bool {
        self == &SearchQuery::default()
    }
}

/// The values the search form offers: the cameras, lenses and albums of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SearchFacets {
    pub cameras: Vec<String>,
    pub lenses: Vec<String>,
    pub albums: Vec<AlbumRef>,
}

/// A page of search results; `total` counts at most [`SearchResults::COUNT_LIMIT`] matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SearchResults {
    pub page: PhotoPage,
    /// True when more than `COUNT_LIMIT` photos match: the total is a lower bound.
    pub total_is_lower_bound: bool,
}

impl SearchResults {
    /// Counting every match of a broad search over millions of photos is not worth the wait.
    pub const COUNT_LIMIT: u64 = 10_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_made_at_each_edge_the_original_can_fill() {
        let edges = |width, height| preview_edges(width, height).collect::<Vec<_>>();
        assert_eq!(edges(6000, 4000), [720, 1440, 2560]);
        assert_eq!(edges(3024, 4032), [720, 1440, 2560]);
        assert_eq!(edges(1600, 1200), [720, 1440, 2560]);
        assert_eq!(edges(1440, 960), [720, 1440]);
        assert_eq!(edges(721, 10), [720, 1440]);
        assert_eq!(edges(720, 480), [1440]);
        assert_eq!(edges(29, 100), [1440]);
        assert_eq!(fitted(6000, 4000, 2560), (2560, 1707));
        assert_eq!(fitted(3024, 4032, 720), (540, 720));
        assert_eq!(fitted(1600, 1200, 2560), (1600, 1200));
        assert_eq!(fitted(100_000, 1, 720), (720, 1));
        assert_eq!(preview_variant(1440, "jpg"), "preview.jpg");
        assert_eq!(preview_variant(2560, "avif"), "preview-2560.avif");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            key: -86_400,
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
