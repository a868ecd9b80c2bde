//! Search: one owner's photos by file name, camera, lens, days and album, newest first.

use flashbulb_types::model::{Cursor, PhotoPage, SearchFacets, SearchQuery, SearchResults, UserId};

use crate::{
    backend,
    cells::{into_page, PhotoRow},
    visible, Backend, Pool, Statement, StoreError, StoreResult,
};

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
/// Each criterion has its index: file names the trigram index (`photo_names` in SQLite,
/// `photos_file_name_trgm` in PostgreSQL), cameras and lenses `photos_camera` /
/// `photos_lens` (already in timeline order), days the timeline index, albums the album's
/// membership rows. SQLite is told which to start from; PostgreSQL's planner chooses.
pub async fn search(
    pool: &Pool,
    owner: UserId,
    query: &SearchQuery,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<SearchResults> {
    // No stored name, camera or lens holds a NUL character, and PostgreSQL refuses to be
    // asked about one: such a search finds nothing, on either backend.
    let criteria = [&query.text, &query.camera, &query.lens];
    if criteria
        .iter()
        .any(|criterion| criterion.as_deref().is_some_and(|text| text.contains('\0')))
    {
        return Ok(SearchResults {
            page: PhotoPage {
                photos: Vec::new(),
                next: None,
                total: 0,
            },
            total_is_lower_bound: false,
        });
    }
    let backend = backend(pool);
    let drive = choose_drive(pool, backend, query).await?;
    let after = after.unwrap_or(Cursor::START);
    let mut select = select_page(backend, owner, query, drive, after, limit);
    let rows: Vec<PhotoRow> = select.query_as()?.fetch_all(pool).await?;

    // Counting stops one past the limit: a broad search over millions stays cheap. Order does
    // not matter to a count, so it always starts from the narrowest index: checking 10,001
    // names by id beats looking 10,001 photos up in the name index.
    let cap = SearchResults::COUNT_LIMIT as i64;
    let total: i64 = select_count(backend, owner, query, cap + 1)
        .query_scalar()?
        .fetch_one(pool)
        .await?;

    let cells: Vec<_> = rows.into_iter().map(PhotoRow::into_cell).collect();
    let page: PhotoPage = into_page(cells, limit, total.min(cap), Cursor::after);
    Ok(SearchResults {
        page,
        total_is_lower_bound: total > cap,
    })
}

/// Starts from the narrowest criterion whose size is known cheaply.
async fn choose_drive(pool: &Pool, backend: Backend, query: &SearchQuery) -> StoreResult<Drive> {
    if let (Some(text), Backend::Sqlite) = (&query.text, backend) {
        // Counting at most BROAD_TEXT names reads a prefix of one index entry list.
        let matches: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM photo_names WHERE photo_names MATCH $1 LIMIT $2) AS names",
        )
        .bind(fts_phrase(text))
        .bind(BROAD_TEXT)
        .fetch_one(pool)
        .await?;
        if matches < BROAD_TEXT {
            return Ok(Drive::NameIndex);
        }
    } else if query.text.is_some() {
        return Ok(Drive::NameIndex);
    }
    if query.album.is_some() {
        return Ok(Drive::Album);
    }
    Ok(Drive::Timeline)
}

/// The statement of one page of results: `limit + 1` rows, to know whether more follow.
fn select_page(
    backend: Backend,
    owner: UserId,
    query: &SearchQuery,
    drive: Drive,
    after: Cursor,
    limit: u32,
) -> Statement {
    let mut select = Statement::new(
        backend,
        "SELECT p.id, p.file_name, p.taken_at, p.width, p.height, p.is_favourite, p.thumbhash, p.media_key ",
    );
    push_matches(&mut select, backend, owner, query, drive);
    select
        .push(" AND (p.taken_at, p.id) < (")
        .push_bind(after.key)
        .push(", ")
        .push_bind(after.id)
        .push(") ORDER BY p.taken_at DESC, p.id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    select
}

/// The SQL a search runs on `backend` when started from `drive`, with placeholders for its values:
/// for checking query plans.
pub fn page_sql(backend: Backend, query: &SearchQuery, drive: Drive) -> String {
    select_page(backend, 0, query, drive, Cursor::START, 1)
        .sql()
        .to_string()
}

/// The statement counting a search's matches, up to `limit`. Order does not matter to a count,
/// so it always starts from the narrowest index: checking 10,001 names by id beats looking
/// 10,001 photos up in the name index.
fn select_count(backend: Backend, owner: UserId, query: &SearchQuery, limit: i64) -> Statement {
    let drive = match (&query.text, query.album) {
        (Some(_), _) => Drive::NameIndex,
        (None, Some(_)) => Drive::Album,
        (None, None) => Drive::Timeline,
    };
    let mut count = Statement::new(backend, "SELECT count(*) FROM (SELECT 1 ");
    push_matches(&mut count, backend, owner, query, drive);
    count.push(" LIMIT ").push_bind(limit).push(") AS matches");
    count
}

/// The SQL counting a search's matches on `backend`, with placeholders: for checking plans.
pub fn count_sql(backend: Backend, query: &SearchQuery) -> String {
    select_count(backend, 0, query, 1).sql().to_string()
}

/// The statement that finds the next distinct value of `column` among `$1`'s visible photos
/// after a given one; the search form's camera and lens lists walk their index with it.
pub fn next_value_sql(column: &str) -> String {
    format!(
        "SELECT min({column}) FROM photos WHERE owner_id = $1 AND {} AND {column} > $2",
        visible!()
    )
}

/// `FROM … WHERE …` of a search: the owner's visible photos and every given criterion.
///
/// CROSS JOIN fixes the join order in SQLite: the table on its left is the outer loop.
/// PostgreSQL has no such hint (nor FTS5): there the name is matched with `ILIKE`, which its
/// trigram index serves, and the planner orders the joins.
fn push_matches(
    builder: &mut Statement,
    backend: Backend,
    owner: UserId,
    query: &SearchQuery,
    drive: Drive,
) {
    if backend == Backend::Postgres {
        return push_matches_postgres(builder, owner, query);
    }
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
        .push(concat!(" AND ", visible!("p")));
    if let Some(phrase) = text.filter(|_| drive != Drive::NameIndex) {
        // One lookup of this photo in the name index, with the text to match.
        builder
            .push(" AND EXISTS (SELECT 1 FROM photo_names WHERE photo_names.rowid = p.id AND photo_names MATCH ")
            .push_bind(phrase)
            .push(")");
    }
    push_photo_criteria(builder, query);
    if let Some(album) = query.album.filter(|_| drive != Drive::Album) {
        push_album_member(builder, album);
    }
}

/// Camera, lens and days: conditions on the photo's own columns, the same on both backends.
fn push_photo_criteria(builder: &mut Statement, query: &SearchQuery) {
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
}

/// The photo is in `album`: one lookup in the membership's primary key.
fn push_album_member(builder: &mut Statement, album: flashbulb_types::model::AlbumId) {
    builder
        .push(" AND EXISTS (SELECT 1 FROM album_photos WHERE album_id = ")
        .push_bind(album)
        .push(" AND photo_id = p.id)");
}

/// [`push_matches`] in PostgreSQL's words.
fn push_matches_postgres(builder: &mut Statement, owner: UserId, query: &SearchQuery) {
    builder
        .push("FROM photos p WHERE p.owner_id = ")
        .push_bind(owner)
        .push(concat!(" AND ", visible!("p")));
    if let Some(text) = &query.text {
        builder
            .push(" AND p.file_name ILIKE ")
            .push_bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
    push_photo_criteria(builder, query);
    if let Some(album) = query.album {
        push_album_member(builder, album);
    }
}

/// The user's text as a `LIKE` pattern for "contains": wildcards and the escape character
/// taken literally.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// The user's text as one FTS5 phrase: quotes doubled, so no character is query syntax.
pub fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The cameras, lenses and albums of `owner`'s library, for the search form.
pub async fn facets(pool: &Pool, owner: UserId) -> StoreResult<SearchFacets> {
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
) -> Result<Vec<String>, StoreError> {
    let visible = concat!("owner_id = $1 AND ", visible!());
    // PostgreSQL refuses LIMIT inside a recursive query but evaluates it lazily, so the
    // outer LIMIT stops the walk there; SQLite needs it inside.
    let (inner_limit, outer_limit) = match backend(pool) {
        Backend::Sqlite => ("LIMIT 1000", ""),
        Backend::Postgres => ("", "LIMIT 1000"),
    };
    sqlx::query_scalar(&format!(
        "WITH RECURSIVE next_value (value) AS (
             SELECT min({column}) FROM photos WHERE {visible} AND {column} IS NOT NULL
             UNION ALL
             SELECT (SELECT min({column}) FROM photos WHERE {visible} AND {column} > next_value.value)
             FROM next_value WHERE next_value.value IS NOT NULL
             {inner_limit}
         )
         SELECT value FROM next_value WHERE value IS NOT NULL {outer_limit}"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await
    .map_err(Into::into)
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

    #[test]
    fn user_text_is_a_literal_like_pattern() {
        assert_eq!(like_pattern("IMG_1"), "%IMG\\_1%");
        assert_eq!(like_pattern("100%"), "%100\\%%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
        assert_eq!(like_pattern(""), "%%");
    }
}
