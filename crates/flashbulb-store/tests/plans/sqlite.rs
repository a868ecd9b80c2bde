//! SQLite's plans, read with `EXPLAIN QUERY PLAN` on the statements as sent (placeholders
//! unbound, as SQLite plans a prepared statement).

use flashbulb_store::{
    export::BATCH_SQL,
    photos::{favourites_page_sql, TrashList, COUNTERS_SQL},
    search::{count_sql, next_value_sql, page_sql, Drive},
    timeline::{newest_sql, BUCKET_SQL, MONTHS_SQL},
    Backend,
};
use flashbulb_types::model::SearchQuery;

use super::Library;

async fn library(photos: u64) -> Library {
    let folder = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", folder.path().join("plans.db").display());
    Library::open(url, Some(folder), photos).await
}

/// SQLite's plan for `sql`, one step a line.
async fn plan(library: &Library, sql: &str) -> String {
    let steps: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(&library.pool)
        .await
        .unwrap_or_else(|error| panic!("explaining {sql}: {error}"));
    steps
        .into_iter()
        .map(|step| step.3)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_timeline_walks_its_covering_index_without_sorting() {
    let library = library(50).await;
    let newest = plan(&library, &newest_sql()).await;
    assert!(newest.contains("photos_timeline"), "newest:\n{newest}");
    assert!(!newest.contains("TEMP B-TREE"), "newest sorts:\n{newest}");
    let bucket = plan(&library, BUCKET_SQL).await;
    assert!(
        bucket.contains("COVERING INDEX photos_timeline"),
        "a bucket visits the table or another index:\n{bucket}"
    );
    assert!(!bucket.contains("TEMP B-TREE"), "a bucket sorts:\n{bucket}");
    let months = plan(&library, MONTHS_SQL).await;
    assert!(months.contains("PRIMARY KEY"), "months:\n{months}");
    assert!(!months.contains("TEMP B-TREE"), "months sort:\n{months}");
}

#[tokio::test]
async fn favourites_walk_their_covering_index() {
    let library = library(50).await;
    let plan = plan(&library, &favourites_page_sql()).await;
    assert!(plan.contains("COVERING INDEX photos_favourites"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[tokio::test]
async fn each_trash_list_walks_its_index() {
    let library = library(20).await;
    for (list, index) in [
        (TrashList::InTrash, "photos_trash"),
        (TrashList::Emptied, "photos_emptied"),
    ] {
        let plan = plan(&library, &list.page_sql()).await;
        assert!(plan.contains(index), "{list:?}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{list:?}: {plan}");
    }
}

#[tokio::test]
async fn each_search_criterion_starts_from_its_index() {
    let library = library(50).await;
    let text = || SearchQuery {
        text: Some("IMG_1".into()),
        ..Default::default()
    };
    let names = plan(
        &library,
        &page_sql(Backend::Sqlite, &text(), Drive::NameIndex),
    )
    .await;
    assert!(names.contains("VIRTUAL TABLE INDEX"), "file name: {names}");
    assert!(
        names.contains("SEARCH p USING INTEGER PRIMARY KEY"),
        "file name: {names}"
    );
    assert!(
        names.find("VIRTUAL TABLE") < names.find("SEARCH p"),
        "file name: the timeline drives the search: {names}"
    );

    // A broad text walks the timeline in order and looks each photo up by id in the names.
    let broad = plan(
        &library,
        &page_sql(Backend::Sqlite, &text(), Drive::Timeline),
    )
    .await;
    assert!(
        broad.contains("photos_timeline"),
        "broad file name: {broad}"
    );
    assert!(!broad.contains("TEMP B-TREE"), "broad file name: {broad}");
    assert!(
        broad.contains("VIRTUAL TABLE INDEX 0:="),
        "broad file name: {broad}"
    );

    for (column, index) in [("camera", "photos_camera"), ("lens", "photos_lens")] {
        let mut query = SearchQuery::default();
        if column == "camera" {
            query.camera = Some("X-T5".into());
        } else {
            query.lens = Some("FE 35mm F1.8".into());
        }
        let plan = plan(
            &library,
            &page_sql(Backend::Sqlite, &query, Drive::Timeline),
        )
        .await;
        assert!(plan.contains(index), "{column}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{column}: {plan}");
    }

    let days = SearchQuery {
        from: Some(0),
        to: Some(86_400),
        ..Default::default()
    };
    let days = plan(&library, &page_sql(Backend::Sqlite, &days, Drive::Timeline)).await;
    assert!(days.contains("photos_timeline"), "days: {days}");
    assert!(!days.contains("TEMP B-TREE"), "days: {days}");

    let album = SearchQuery {
        album: Some(1),
        ..Default::default()
    };
    let album = plan(&library, &page_sql(Backend::Sqlite, &album, Drive::Album)).await;
    assert!(
        album.contains("SEARCH ap USING PRIMARY KEY"),
        "album: {album}"
    );
    assert!(
        album.contains("SEARCH p USING INTEGER PRIMARY KEY"),
        "album: {album}"
    );

    // The form's camera and lens lists hop through their indexes instead of scanning.
    for (column, index) in [("camera_model", "photos_camera"), ("lens", "photos_lens")] {
        let plan = plan(&library, &next_value_sql(column)).await;
        assert!(plan.contains(index), "{column}: {plan}");
    }
}

#[tokio::test]
async fn counting_a_camera_and_lens_search_stays_in_its_index() {
    let library = library(50).await;
    let query = SearchQuery {
        camera: Some("ILCE-7M4".into()),
        lens: Some("FE 35mm F1.8".into()),
        ..Default::default()
    };
    let plan = plan(&library, &count_sql(Backend::Sqlite, &query)).await;
    assert!(
        plan.contains("COVERING INDEX photos_camera")
            || plan.contains("COVERING INDEX photos_lens"),
        "{plan}"
    );
}

#[tokio::test]
async fn the_live_counters_walk_the_queue_not_the_library() {
    let library = library(50).await;
    let plan = plan(&library, COUNTERS_SQL).await;
    assert!(plan.contains("SCAN j USING INDEX jobs_next"), "{plan}");
    assert!(
        plan.contains("SEARCH p USING INTEGER PRIMARY KEY"),
        "{plan}"
    );
    sqlx::query(
        "INSERT INTO jobs (kind, photo_id, run_at, created_at) VALUES ('make_derivatives', 1, 0, 0)",
    )
    .execute(&library.pool)
    .await
    .expect("a job");
    let counted = flashbulb_store::photos::counters(&library.pool, 1)
        .await
        .expect("counters");
    assert_eq!(counted, (50, 1));
}

#[tokio::test]
async fn export_batches_walk_the_primary_key_without_sorting() {
    let library = library(100).await;
    let plan = plan(&library, BATCH_SQL).await;
    assert!(
        plan.contains("USING INTEGER PRIMARY KEY (rowid>?)"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}
