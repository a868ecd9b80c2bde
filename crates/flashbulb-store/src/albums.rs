//! Albums: per-owner collections of photos, their covers and share links.

use flashbulb_types::model::{
    AlbumId, AlbumRef, AlbumSummary, AlbumView, Cursor, PhotoCell, PhotoId, PhotoPage, UserId,
};
use rand::Rng;

use crate::{
    cells::{into_page, PhotoRow, CELL_COLUMNS},
    visible, Pool, StoreError, StoreResult,
};

/// Every album of `owner` as a name, sorted for a menu.
pub async fn album_refs(pool: &Pool, owner: UserId) -> StoreResult<Vec<AlbumRef>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, title FROM albums WHERE owner_id = $1 ORDER BY lower(title), id",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(names(rows))
}

/// Albums' ids and titles as the names menus show.
fn names(rows: Vec<(AlbumId, String)>) -> Vec<AlbumRef> {
    rows.into_iter()
        .map(|(id, title)| AlbumRef { id, title })
        .collect()
}

/// The albums of `owner` that hold `photo`, as names sorted for a menu.
pub async fn refs_holding(
    pool: &Pool,
    owner: UserId,
    photo: PhotoId,
) -> StoreResult<Vec<AlbumRef>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT a.id, a.title FROM album_photos ap JOIN albums a ON a.id = ap.album_id
         WHERE ap.photo_id = $1 AND a.owner_id = $2
         ORDER BY lower(a.title), a.id",
    )
    .bind(photo)
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(names(rows))
}

/// The albums of `owner` that hold `photo`: their counts change when it leaves or returns.
pub async fn holding(pool: &Pool, owner: UserId, photo: PhotoId) -> StoreResult<Vec<AlbumId>> {
    Ok(sqlx::query_scalar(
        "SELECT a.id FROM album_photos ap JOIN albums a ON a.id = ap.album_id
         WHERE ap.photo_id = $1 AND a.owner_id = $2",
    )
    .bind(photo)
    .bind(owner)
    .fetch_all(pool)
    .await?)
}

/// An album's title and how many photos it shows, if `owner` has it.
pub async fn title_and_count(
    pool: &Pool,
    owner: UserId,
    album: AlbumId,
) -> StoreResult<Option<(String, u64)>> {
    let row: Option<(String, i64)> = sqlx::query_as(concat!(
        "SELECT a.title,
                (SELECT count(*) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id
                 WHERE ap.album_id = a.id AND ",
        visible!("p"),
        ") FROM albums a WHERE a.id = $1 AND a.owner_id = $2"
    ))
    .bind(album)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(title, count)| (title, count.max(0) as u64)))
}

/// The id and title of `owner`'s album `album`, if they have it.
pub async fn titled(
    pool: &Pool,
    owner: UserId,
    album: AlbumId,
) -> StoreResult<Option<(AlbumId, String)>> {
    Ok(
        sqlx::query_as("SELECT id, title FROM albums WHERE id = $1 AND owner_id = $2")
            .bind(album)
            .bind(owner)
            .fetch_optional(pool)
            .await?,
    )
}

/// The id and title of the album shared with `token`, if any; `token` must be shaped like a
/// share token ([`is_share_token`]).
pub async fn titled_by_token(pool: &Pool, token: &str) -> StoreResult<Option<(AlbumId, String)>> {
    Ok(
        sqlx::query_as("SELECT id, title FROM albums WHERE share_token = $1")
            .bind(token)
            .fetch_optional(pool)
            .await?,
    )
}

/// One photo of an album's download.
#[derive(Debug, sqlx::FromRow)]
pub struct ArchiveEntry {
    pub id: PhotoId,
    pub file_name: String,
    pub taken_at: i64,
    pub sha256: Vec<u8>,
}

/// Up to `limit` of the album's visible photos after photo id `after`, by id: the download
/// walks the album in these batches, so any size of album costs one batch of memory.
pub async fn archive_entries(
    pool: &Pool,
    album: AlbumId,
    after: PhotoId,
    limit: i64,
) -> StoreResult<Vec<ArchiveEntry>> {
    Ok(sqlx::query_as(concat!(
        "SELECT p.id, p.file_name, p.taken_at, p.sha256
         FROM album_photos ap JOIN photos p ON p.id = ap.photo_id
         WHERE ap.album_id = $1 AND ap.photo_id > $2 AND ",
        visible!("p"),
        " ORDER BY ap.photo_id LIMIT $3"
    ))
    .bind(album)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

#[derive(sqlx::FromRow)]
struct AlbumRow {
    id: i64,
    title: String,
    share_token: Option<String>,
    created_at: i64,
    cover_photo_id: Option<i64>,
    count: i64,
}

const ALBUM_COLUMNS: &str = concat!(
    "a.id, a.title, a.share_token, a.created_at, a.cover_photo_id,
    (SELECT count(*) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id
     WHERE ap.album_id = a.id AND ",
    visible!("p"),
    ") AS count"
);

/// `owner`'s albums, newest first, each with its count and cover.
pub async fn list(pool: &Pool, owner: UserId) -> StoreResult<Vec<AlbumSummary>> {
    let rows: Vec<AlbumRow> = sqlx::query_as(&format!(
        "SELECT {ALBUM_COLUMNS} FROM albums a WHERE a.owner_id = $1
         ORDER BY a.created_at DESC, a.id DESC"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await?;
    let mut albums = Vec::with_capacity(rows.len());
    for row in rows {
        albums.push(summary(pool, row).await?);
    }
    Ok(albums)
}

async fn summary(pool: &Pool, row: AlbumRow) -> StoreResult<AlbumSummary> {
    Ok(AlbumSummary {
        cover: cover(pool, row.id, row.cover_photo_id).await?,
        id: row.id,
        title: row.title,
        count: row.count.max(0) as u64,
        share_token: row.share_token,
        created_at: row.created_at,
    })
}

/// The chosen cover while it is visible, else the album's newest visible photo.
async fn cover(
    pool: &Pool,
    album: AlbumId,
    chosen: Option<PhotoId>,
) -> StoreResult<Option<PhotoCell>> {
    let row: Option<PhotoRow> = sqlx::query_as(&format!(
        "SELECT {CELL_COLUMNS} FROM (
             SELECT p.*, p.id = $1 AS chosen FROM album_photos ap JOIN photos p ON p.id = ap.photo_id
             WHERE ap.album_id = $2 AND {}
         ) AS members
         ORDER BY chosen DESC, taken_at DESC, id DESC
         LIMIT 1",
        // Photos an album shows: in it, and visible in the library (trashed ones wait in the
        // trash).
        visible!("p")
    ))
    .bind(chosen.unwrap_or(-1))
    .bind(album)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(PhotoRow::into_cell))
}

pub async fn create(pool: &Pool, owner: UserId, title: &str) -> StoreResult<AlbumId> {
    Ok(sqlx::query_scalar(
        "INSERT INTO albums (owner_id, title, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(owner)
    .bind(title)
    .bind(crate::now())
    .fetch_one(pool)
    .await?)
}

pub async fn rename(pool: &Pool, owner: UserId, album: AlbumId, title: &str) -> StoreResult<()> {
    let updated = sqlx::query("UPDATE albums SET title = $1 WHERE id = $2 AND owner_id = $3")
        .bind(title)
        .bind(album)
        .bind(owner)
        .execute(pool)
        .await?
        .rows_affected();
    crate::found(updated)
}

/// Deletes the album and its memberships; the photos stay in the library.
pub async fn delete(pool: &Pool, owner: UserId, album: AlbumId) -> StoreResult<()> {
    let deleted = sqlx::query("DELETE FROM albums WHERE id = $1 AND owner_id = $2")
        .bind(album)
        .bind(owner)
        .execute(pool)
        .await?
        .rows_affected();
    crate::found(deleted)
}

/// Whether `album` is one of `owner`'s albums.
pub async fn exists(pool: &Pool, owner: UserId, album: AlbumId) -> StoreResult<bool> {
    let found: crate::Flag =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM albums WHERE id = $1 AND owner_id = $2)")
            .bind(album)
            .bind(owner)
            .fetch_one(pool)
            .await?;
    Ok(found.0)
}

/// One page of an album's visible photos, newest first.
pub async fn page(
    pool: &Pool,
    album: AlbumId,
    count: i64,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<PhotoPage> {
    let after = after.unwrap_or(Cursor::START);
    let rows: Vec<PhotoRow> = sqlx::query_as(&format!(
        "SELECT p.id, p.file_name, p.taken_at, p.width, p.height, p.is_favourite, p.thumbhash, p.media_key
         FROM album_photos ap JOIN photos p ON p.id = ap.photo_id
         WHERE ap.album_id = $1 AND {} AND (p.taken_at, p.id) < ($2, $3)
         ORDER BY p.taken_at DESC, p.id DESC
         LIMIT $4",
        visible!("p")
    ))
    .bind(album)
    .bind(after.key)
    .bind(after.id)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let cells: Vec<PhotoCell> = rows.into_iter().map(PhotoRow::into_cell).collect();
    Ok(into_page(cells, limit, count, Cursor::after))
}

/// One album of `owner` and a page of its photos.
pub async fn view(
    pool: &Pool,
    owner: UserId,
    album: AlbumId,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<AlbumView> {
    let row: Option<AlbumRow> = sqlx::query_as(&format!(
        "SELECT {ALBUM_COLUMNS} FROM albums a WHERE a.id = $1 AND a.owner_id = $2"
    ))
    .bind(album)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    view_of(pool, row, after, limit).await
}

async fn view_of(
    pool: &Pool,
    row: Option<AlbumRow>,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<AlbumView> {
    let row = row.ok_or(StoreError::NotFound)?;
    let page = page(pool, row.id, row.count, after, limit).await?;
    Ok(AlbumView {
        album: summary(pool, row).await?,
        page,
    })
}

/// A share link's secret: 128 random bits as 32 lower-case hex digits.
pub fn new_share_token() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// True for text shaped like a share token; anything else is not looked up at all.
pub fn is_share_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whose album `album` is.
pub async fn owner_of(pool: &Pool, album: AlbumId) -> StoreResult<UserId> {
    sqlx::query_scalar("SELECT owner_id FROM albums WHERE id = $1")
        .bind(album)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The album behind a share link, read-only.
pub async fn shared_view(
    pool: &Pool,
    token: &str,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<AlbumView> {
    if !is_share_token(token) {
        return Err(StoreError::NotFound);
    }
    let row: Option<AlbumRow> = sqlx::query_as(&format!(
        "SELECT {ALBUM_COLUMNS} FROM albums a WHERE a.share_token = $1"
    ))
    .bind(token)
    .fetch_optional(pool)
    .await?;
    view_of(pool, row, after, limit).await
}

/// Shares an album (keeping its link if it is already shared) or stops sharing it.
pub async fn share(
    pool: &Pool,
    owner: UserId,
    album: AlbumId,
    shared: bool,
) -> StoreResult<Option<String>> {
    let token: Option<Option<String>> = sqlx::query_scalar(
        "UPDATE albums SET share_token = CASE WHEN $1 THEN coalesce(share_token, $2) ELSE NULL END
         WHERE id = $3 AND owner_id = $4
         RETURNING share_token",
    )
    .bind(shared)
    .bind(new_share_token())
    .bind(album)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    token.ok_or(StoreError::NotFound)
}

/// Adds or removes one of `owner`'s photos in one of their albums; repeating either is harmless.
pub async fn set_member(
    pool: &Pool,
    owner: UserId,
    album: AlbumId,
    photo: PhotoId,
    member: bool,
) -> StoreResult<()> {
    let both_owned: crate::Flag = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM albums WHERE id = $1 AND owner_id = $2)
            AND EXISTS (SELECT 1 FROM photos WHERE id = $3 AND owner_id = $4)",
    )
    .bind(album)
    .bind(owner)
    .bind(photo)
    .bind(owner)
    .fetch_one(pool)
    .await?;
    if !both_owned.0 {
        return Err(StoreError::NotFound);
    }
    if member {
        sqlx::query(
            "INSERT INTO album_photos (album_id, photo_id, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (album_id, photo_id) DO NOTHING",
        )
        .bind(album)
        .bind(photo)
        .bind(crate::now())
        .execute(pool)
        .await?;
    } else {
        let mut tx = crate::begin_write(pool).await?;
        sqlx::query("DELETE FROM album_photos WHERE album_id = $1 AND photo_id = $2")
            .bind(album)
            .bind(photo)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE albums SET cover_photo_id = NULL WHERE id = $1 AND cover_photo_id = $2",
        )
        .bind(album)
        .bind(photo)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Makes a photo of the album its cover; a photo outside the album is "not found".
pub async fn set_cover(
    pool: &Pool,
    owner: UserId,
    album: AlbumId,
    photo: PhotoId,
) -> StoreResult<()> {
    let updated = sqlx::query(
        "UPDATE albums SET cover_photo_id = $1
         WHERE id = $2 AND owner_id = $3
           AND EXISTS (SELECT 1 FROM album_photos WHERE album_id = $4 AND photo_id = $5)",
    )
    .bind(photo)
    .bind(album)
    .bind(owner)
    .bind(album)
    .bind(photo)
    .execute(pool)
    .await?
    .rows_affected();
    crate::found(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_tokens_are_128_bit_hex_and_checked_strictly() {
        let token = new_share_token();
        assert!(is_share_token(&token), "{token}");
        assert_ne!(token, new_share_token());
        for bad in [
            "",
            "abc",
            &"A".repeat(32),
            &"g".repeat(32),
            &"0".repeat(33),
            "../../etc/passwd",
        ] {
            assert!(!is_share_token(bad), "{bad:?} accepted");
        }
    }
}
