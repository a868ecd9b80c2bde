//! Search: one owner's photos by file name, camera, lens, days and album, newest first.

use app::model::{Cursor, PhotoPage, SearchFacets, SearchQuery, SearchResults, UserId};
use sqlx::{QueryBuilder, Sqlite};

use crate::{db::Pool, error::ServerResult, photos::into_page, timeline::PhotoRow};

/// Which rows a search starts from; the rest of the criteria filter them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    /// The names matching the text, from the trigram index: cost grows with the matches.
    NameIndex,
    /// The album's membership rows: cost grows with the album.
    Album,
    /// The owner's photos in timeline order (through the camera, lens or timeline index),
    /// stopping once the page is full: best when many photos match.
    Timeline,
}

/// Above this many names matching the text, walking the timeline and checking each photo's
/// name finds a page sooner than sorting every match.
pub const BROAD_TEXT: i64 = 5_000;

/// `owner`'s photos matching every part of `query`, newest first, after `after`.
///
/// Each criterion has its index: file names the `photo_names` trigram index, cameras and
/// lenses `photos_camera` / `photos_lens` (already in timeline order), days the timeline
/// index, albums the album's membership rows.
pub async fn search(
    pool: &Pool,
    owner: UserId,
    query: &SearchQuery,
    after: Option<Cursor>,
    limit: u32,
) -> ServerResult<SearchResults> {
    let drive = choose_drive(pool, query).await?;
    let mut select = select_page(owner, query, drive, after.unwrap_or(Cursor::START), limit);
    let rows: Vec<PhotoRow> = select.build_query_as().fetch_all(pool).await?;

    // Counting stops one past the limit: a broad search over millions stays cheap. Order does
    // not matter to a count, so it always starts from the narrowest index: checking 10,001
    // names by id beats looking 10,001 photos up in the name index.
    let cap = SearchResults::COUNT_LIMIT as i64;
    let count_drive = match (&query.text, query.album) {
        (Some(_), _) => Drive::NameIndex,
        (None, Some(_)) => Drive::Album,
        (None, None) => Drive::Timeline,
    };
    let mut count = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM (SELECT 1 ");
    push_matches(&mut count, owner, query, count_drive);
    count.push(" LIMIT ").push_bind(cap + 1).push(")");
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;

    let cells: Vec<_> = rows.into_iter().map(PhotoRow::into_cell).collect();
    let page: PhotoPage = into_page(cells, limit, total.min(cap), Cursor::after);
    Ok(SearchResults {
        page,
        total_is_lower_bound: total > cap,
    })
}

/// Starts from the narrowest criterion whose size is known cheaply.
async fn choose_drive(pool: &Pool, query: &SearchQuery) -> ServerResult<Drive> {
    if let Some(text) = &query.text {
        // Counting at most BROAD_TEXT names reads a prefix of one index entry list.
        let matches: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM photo_names WHERE photo_names MATCH ? LIMIT ?)",
        )
        .bind(fts_phrase(text))
        .bind(BROAD_TEXT)
        .fetch_one(pool)
        .await?;
        if matches < BROAD_TEXT {
            return Ok(Drive::NameIndex);
        }
    }
    if query.album.is_some() {
        return Ok(Drive::Album);
    }
    Ok(Drive::Timeline)
}

/// The statement of one page of results: `limit + 1` rows, to know whether more follow.
fn select_page(
    owner: UserId,
    query: &SearchQuery,
    drive: Drive,
    after: Cursor,
    limit: u32,
) -> QueryBuilder<'static, Sqlite> {
    let mut select = QueryBuilder::<Sqlite>::new(
        "SELECT p.id, p.file_name, p.taken_at, p.width, p.height, p.is_favourite, p.thumbhash, p.media_key ",
    );
    push_matches(&mut select, owner, query, drive);
    select
        .push(" AND (p.taken_at, p.id) < (")
        .push_bind(after.key)
        .push(", ")
        .push_bind(after.id)
        .push(") ORDER BY p.taken_at DESC, p.id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    select
}

/// The SQL a search runs when started from `drive`, with `?` for its values: for checking
/// query plans.
pub fn page_sql(query: &SearchQuery, drive: Drive) -> String {
    select_page(0, query, drive, Cursor::START, 1)
        .sql()
        .to_string()
}

/// `FROM … WHERE …` of a search: the owner's visible photos and every given criterion.
///
/// CROSS JOIN fixes the join order in SQLite: the table on its left is the outer loop.
fn push_matches(
    builder: &mut QueryBuilder<'_, Sqlite>,
    owner: UserId,
    query: &SearchQuery,
    drive: Drive,
) {
    let text = query.text.as_ref().map(|text| fts_phrase(text));
    match (drive, &text, query.album) {
        (Drive::NameIndex, Some(phrase), _) => {
            builder
                .push("FROM photo_names CROSS JOIN photos p ON p.id = photo_names.rowid WHERE photo_names MATCH ")
                .push_bind(phrase.clone())
                .push(" AND ");
        }
        (Drive::Album, _, Some(album)) => {
            builder
                .push("FROM album_photos ap CROSS JOIN photos p ON p.id = ap.photo_id WHERE ap.album_id = ")
                .push_bind(album)
                .push(" AND ");
        }
        _ => {
            builder.push("FROM photos p WHERE ");
        }
    }
    builder
        .push("p.owner_id = ")
        .push_bind(owner)
        .push(" AND p.status = 'ready' AND p.trashed_at IS NULL");
    if let Some(phrase) = text.filter(|_| drive != Drive::NameIndex) {
        // One lookup of this photo in the name index, with the text to match.
        builder
            .push(" AND EXISTS (SELECT 1 FROM photo_names WHERE photo_names.rowid = p.id AND photo_names MATCH ")
            .push_bind(phrase)
            .push(")");
    }
    if let Some(camera) = &query.camera {
        builder
            .push(" AND p.camera_model = ")
            .push_bind(camera.clone());
    }
    if let Some(lens) = &query.lens {
        builder.push(" AND p.lens = ").push_bind(lens.clone());
    }
    if let Some(from) = query.from {
        builder.push(" AND p.taken_at >= ").push_bind(from);
    }
    if let Some(to) = query.to {
        // `to` is a day: everything up to its last second.
        builder
            .push(" AND p.taken_at < ")
            .push_bind(to.saturating_add(86_400));
    }
    if let Some(album) = query.album.filter(|_| drive != Drive::Album) {
        builder
            .push(" AND EXISTS (SELECT 1 FROM album_photos WHERE album_id = ")
            .push_bind(album)
            .push(" AND photo_id = p.id)");
    }
}

/// The user's text as one FTS5 phrase: quotes doubled, so no character is query syntax.
pub fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The cameras, lenses and albums of `owner`'s library, for the search form.
pub async fn facets(pool: &Pool, owner: UserId) -> ServerResult<SearchFacets> {
    let (cameras, lenses, albums) = tokio::try_join!(
        distinct_values(pool, owner, "camera_model"),
        distinct_values(pool, owner, "lens"),
        crate::albums::album_refs(pool, owner),
    )?;
    Ok(SearchFacets {
        cameras,
        lenses,
        albums,
    })
}

/// The distinct values of an indexed column, found by hopping from one value to the next in
/// the index (one seek each) rather than reading a million entries.
async fn distinct_values(
    pool: &Pool,
    owner: UserId,
    column: &'static str,
) -> Result<Vec<String>, sqlx::Error> {
    let visible = "owner_id = ?1 AND status = 'ready' AND trashed_at IS NULL";
    sqlx::query_scalar(&format!(
        "WITH RECURSIVE next_value (value) AS (
             SELECT min({column}) FROM photos WHERE {visible} AND {column} IS NOT NULL
             UNION ALL
             SELECT (SELECT min({column}) FROM photos WHERE {visible} AND {column} > next_value.value)
             FROM next_value WHERE next_value.value IS NOT NULL
             LIMIT 1000
         )
         SELECT value FROM next_value WHERE value IS NOT NULL"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_one_literal_phrase() {
        assert_eq!(fts_phrase("IMG_1"), "\"IMG_1\"");
        assert_eq!(fts_phrase("a\" OR \"b"), "\"a\"\" OR \"\"b\"");
        assert_eq!(fts_phrase("NEAR(x y)*"), "\"NEAR(x y)*\"");
    }
}
