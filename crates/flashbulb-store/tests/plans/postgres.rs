//! PostgreSQL's plans, with sequential scans priced out so that the small test tables show the
//! index the planner would take on a large library.

use flashbulb_store::{
    photos::{favourites_page_sql, TrashList},
    search::{page_sql, Drive},
    timeline::{BUCKET_SQL, MONTHS_SQL},
    Backend,
};
use flashbulb_types::model::SearchQuery;

use super::Library;

async fn library(photos: u64) -> Library {
    Library::open(flashbulb_test_db::fresh_schema().await, None, photos).await
}

/// `sql` with its placeholders `$1 …` replaced by `values`: PostgreSQL explains statements
/// with values only. The highest numbers go first, so `$1` never eats the start of `$10`.
fn with_values(sql: &str, values: &[&str]) -> String {
    let mut sql = sql.to_string();
    for (index, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", index + 1), value);
    }
    sql
}

/// PostgreSQL's plan for `sql` as text.
async fn plan(library: &Library, sql: &str) -> String {
    let mut connection = library.pool.acquire().await.expect("a connection");
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *connection)
        .await
        .expect("price out sequential scans");
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .fetch_all(&mut *connection)
        .await
        .unwrap_or_else(|error| panic!("explaining {sql}: {error}"));
    sqlx::query("RESET enable_seqscan")
        .execute(&mut *connection)
        .await
        .expect("reset");
    lines.join("\n")
}

#[tokio::test]
async fn postgres_serves_the_timeline_and_its_lists_from_their_indexes_without_sorting() {
    let library = library(2_000).await;
    sqlx::query("ANALYZE photos")
        .execute(&library.pool)
        .await
        .expect("analyze");
    let end = "9223372036854775807";
    let camera = SearchQuery {
        camera: Some("X-T5".into()),
        ..Default::default()
    };
    for (sql, index) in [
        (
            with_values(BUCKET_SQL, &["1", "0", "2000000000", "500", "100"]),
            "photos_timeline",
        ),
        (
            with_values(&favourites_page_sql(), &["1", "2000000000", "0", "61"]),
            "photos_favourites",
        ),
        (
            with_values(&TrashList::InTrash.page_sql(), &["1", end, end, "61"]),
            "photos_trash",
        ),
        (
            with_values(&TrashList::Emptied.page_sql(), &["1", end, end, "61"]),
            "photos_emptied",
        ),
        (
            with_values(
                &page_sql(Backend::Postgres, &camera, Drive::Timeline),
                &["1", "'X-T5'", end, end, "61"],
            ),
            "photos_camera",
        ),
    ] {
        let plan = plan(&library, &sql).await;
        assert!(plan.contains(index), "{sql}\ndoes not use {index}:\n{plan}");
        assert!(!plan.contains("Sort"), "{sql}\nsorts:\n{plan}");
    }
    let months = plan(&library, &with_values(MONTHS_SQL, &["1"])).await;
    assert!(months.contains("photo_months_pkey"), "{months}");
}

#[tokio::test]
async fn postgres_finds_file_names_through_the_trigram_index() {
    let library = library(500).await;
    // A GIN index takes new entries into a pending list first; VACUUM files them, as
    // autovacuum does on a live server.
    sqlx::query("VACUUM ANALYZE photos")
        .execute(&library.pool)
        .await
        .expect("vacuum");
    let query = SearchQuery {
        text: Some("IMG_00001".into()),
        ..Default::default()
    };
    let sql = page_sql(Backend::Postgres, &query, Drive::NameIndex);
    assert!(sql.contains("p.file_name ILIKE $2"), "{sql}");
    // With a page limit the planner may rather walk the timeline and filter; the name
    // predicate alone must be answerable from the trigram index.
    let sql =
        "SELECT p.id FROM photos p WHERE p.owner_id = 1 AND p.file_name ILIKE '%IMG\\_00001%'";
    let plan = plan(&library, sql).await;
    assert!(plan.contains("photos_file_name_trgm"), "{sql}\n{plan}");
}
