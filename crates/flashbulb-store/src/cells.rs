//! Photos as lists show them: which photos the library shows at all, the columns a grid cell
//! needs, and the row they are read into.

use flashbulb_types::{
    codec::thumbhash_rgb,
    format::hex,
    model::{Cursor, PhotoCell, PhotoId, PhotoPage},
};

/// The condition of a photo the library shows: processed, and not in the trash. Every list,
/// count and search of visible photos says it with this, and nowhere else: `visible!()` for the
/// `photos` table read without an alias, `visible!("p")` for one named `p`. A macro, so that
/// statements fixed at compile time can `concat!` it.
#[macro_export]
macro_rules! visible {
    () => {
        "status = 'ready' AND trashed_at IS NULL"
    };
    ($alias:literal) => {
        concat!(
            $alias,
            ".status = 'ready' AND ",
            $alias,
            ".trashed_at IS NULL"
        )
    };
}

/// The columns a grid cell needs, as every photo-list query selects them (from `photos` read
/// without an alias).
pub const CELL_COLUMNS: &str =
    "id, file_name, taken_at, width, height, is_favourite, thumbhash, media_key";

/// One photo as [`CELL_COLUMNS`] read it.
#[derive(Debug, sqlx::FromRow)]
pub struct PhotoRow {
    id: i64,
    file_name: String,
    pub taken_at: i64,
    width: i64,
    height: i64,
    #[sqlx(try_from = "crate::Flag")]
    is_favourite: bool,
    thumbhash: Option<Vec<u8>>,
    media_key: Option<Vec<u8>>,
}

impl From<PhotoRow> for PhotoCell {
    fn from(row: PhotoRow) -> Self {
        row.into_cell()
    }
}

impl PhotoRow {
    pub fn id(&self) -> PhotoId {
        self.id
    }

    pub fn into_cell(self) -> PhotoCell {
        PhotoCell {
            id: self.id,
            file_name: self.file_name,
            taken_at: self.taken_at,
            width: clamp_u32(self.width),
            height: clamp_u32(self.height),
            favourite: self.is_favourite,
            placeholder_rgb: self
                .thumbhash
                .as_deref()
                .and_then(thumbhash_rgb)
                .unwrap_or([128, 128, 128]),
            media: self.media_key.as_deref().and_then(media_key),
        }
    }
}

/// A page from `limit + 1` fetched photos: the extra one only says that more follow, and
/// `cursor_of` turns the last shown photo into the position the next page starts after.
pub fn into_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    total: i64,
    cursor_of: impl Fn(&T) -> Cursor,
) -> PhotoPage
where
    T: Into<PhotoCell>,
{
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    PhotoPage {
        photos: rows.into_iter().map(Into::into).collect(),
        next,
        total: total.max(0) as u64,
    }
}

/// A stored dimension as the model's: negative is none, and nothing is wider than `u32`.
pub fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// A stored media key as its URL form; anything but 8 bytes is no key.
pub fn media_key(bytes: &[u8]) -> Option<String> {
    (bytes.len() == 8).then(|| hex(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_visible_condition_reads_alike_with_and_without_an_alias() {
        assert_eq!(visible!(), "status = 'ready' AND trashed_at IS NULL");
        assert_eq!(visible!("p"), "p.status = 'ready' AND p.trashed_at IS NULL");
    }

    #[test]
    fn media_keys_are_eight_bytes_or_none() {
        assert_eq!(
            super::media_key(&[0xab; 8]).as_deref(),
            Some("abababababababab")
        );
        assert_eq!(super::media_key(&[0xab; 7]), None);
        assert_eq!(super::clamp_u32(-4), 0);
        assert_eq!(super::clamp_u32(i64::MAX), u32::MAX);
    }
}
