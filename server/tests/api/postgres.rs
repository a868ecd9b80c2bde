//! PostgreSQL for the suite: a schema of its own for each test, and the plans PostgreSQL
//! chooses for the queries that must stay fast at a million photos.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

use super::{seed_args, TestApp};
use flashbulb::{config::Config, db, seed};

/// Set to a PostgreSQL URL, the whole suite runs on PostgreSQL (`scripts/test` does).
pub(super) const SUITE_POSTGRES: &str = "FLASHBULB_TEST_POSTGRES";

/// The PostgreSQL every machine that runs the tests has; tests fail when it does not answer.
pub(super) fn shared_postgres_url() -> String {
    std::env::var(SUITE_POSTGRES)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Schemas of this suite are named `flashbulb_test_<process>_<n>`.
const SCHEMA_PREFIX: &str = "flashbulb_test_";

/// A URL of the shared server whose connections work in a new, empty schema of their own.
/// The first call also drops the schemas that suites no longer running left behind.
pub(super) async fn fresh_schema() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    sqlx::any::install_default_drivers();
    let url = shared_postgres_url();
    let mut connection = sqlx::AnyConnection::connect(&url)
        .await
        .unwrap_or_else(|error| panic!("PostgreSQL at {url} does not answer: {error}"));
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    if number == 0 {
        drop_abandoned_schemas(&mut connection).await;
    }
    let schema = format!("{SCHEMA_PREFIX}{}_{number}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut connection)
        .await
        .expect("drop an old schema of the same name");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .expect("create the test's schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
}

async fn drop_abandoned_schemas(connection: &mut sqlx::AnyConnection) {
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(nspname AS TEXT) FROM pg_namespace WHERE nspname LIKE 'flashbulb\\_test\\_%'",
    )
    .fetch_all(&mut *connection)
    .await
    .expect("list test schemas");
    for schema in schemas {
        let owner = schema
            .trim_start_matches(SCHEMA_PREFIX)
            .split('_')
            .next()
            .unwrap_or_default();
        if std::path::Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut *connection)
            .await
            .expect("drop an abandoned test schema");
    }
}

/// A test app on PostgreSQL whatever the suite runs on.
pub(super) async fn app(config: Config) -> TestApp {
    TestApp::on(db::Backend::Postgres, config).await
}

/// PostgreSQL's plan for `sql` as text, with sequential scans priced out so that the tiny
/// test tables show the index the planner would take on a large library.
async fn plan(app: &TestApp, sql: &str) -> String {
    let mut connection = app.pool.acquire().await.expect("a connection");
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *connection)
        .await
        .expect("price out sequential scans");
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .fetch_all(&mut *connection)
        .await
        .expect("explain");
    sqlx::query("RESET enable_seqscan")
        .execute(&mut *connection)
        .await
        .expect("reset");
    lines.join("\n")
}

#[tokio::test]
async fn postgres_serves_the_timeline_from_its_indexes_without_sorting() {
    let app = app(Config::default()).await;
    seed::run(&app.pool, &seed_args("demo", 2_000))
        .await
        .expect("seed");
    sqlx::query("ANALYZE photos")
        .execute(&app.pool)
        .await
        .expect("analyze");
    let visible = "owner_id = 1 AND status = 'ready' AND trashed_at IS NULL";
    for (sql, index) in [
        (
            format!(
                "SELECT id, taken_at, width, height, is_favourite, thumbhash, media_key FROM photos
                 WHERE {visible} AND taken_at >= 0 AND taken_at < 2000000000
                 ORDER BY taken_at DESC, id DESC LIMIT 500 OFFSET 100"
            ),
            "photos_timeline",
        ),
        (
            format!(
                "SELECT id FROM photos WHERE {visible} AND is_favourite = 1
                 AND (taken_at, id) < (2000000000, 0) ORDER BY taken_at DESC, id DESC LIMIT 61"
            ),
            "photos_favourites",
        ),
        (
            flashbulb_store::photos::TrashList::InTrash
                .page_sql()
                .replace("$1", "1")
                .replace("$2", "9223372036854775807")
                .replace("$3", "9223372036854775807")
                .replace("$4", "61"),
            "photos_trash",
        ),
        (
            flashbulb_store::photos::TrashList::Emptied
                .page_sql()
                .replace("$1", "1")
                .replace("$2", "9223372036854775807")
                .replace("$3", "9223372036854775807")
                .replace("$4", "61"),
            "photos_emptied",
        ),
        (
            format!(
                "SELECT id FROM photos WHERE {visible} AND camera_model = 'X-T5'
                 ORDER BY taken_at DESC, id DESC LIMIT 61"
            ),
            "photos_camera",
        ),
    ] {
        let plan = plan(&app, &sql).await;
        assert!(plan.contains(index), "{sql}\ndoes not use {index}:\n{plan}");
        assert!(!plan.contains("Sort"), "{sql}\nsorts:\n{plan}");
    }
    let months = plan(
        &app,
        "SELECT month, photo_count FROM photo_months WHERE owner_id = 1 AND photo_count > 0
         ORDER BY month DESC",
    )
    .await;
    assert!(months.contains("photo_months_pkey"), "{months}");
}

#[tokio::test]
async fn postgres_finds_file_names_through_the_trigram_index() {
    let app = app(Config::default()).await;
    seed::run(&app.pool, &seed_args("demo", 500))
        .await
        .expect("seed");
    // A GIN index takes new entries into a pending list first; VACUUM files them, as
    // autovacuum does on a live server.
    sqlx::query("VACUUM ANALYZE photos")
        .execute(&app.pool)
        .await
        .expect("vacuum");
    let sql = flashbulb_store::search::page_sql(
        db::Backend::Postgres,
        &app::model::SearchQuery {
            text: Some("IMG_00001".into()),
            ..Default::default()
        },
        flashbulb_store::search::Drive::NameIndex,
    );
    assert!(sql.contains("p.file_name ILIKE $2"), "{sql}");
    // With a page limit the planner may rather walk the timeline and filter; the name
    // predicate alone must be answerable from the trigram index.
    let sql =
        "SELECT p.id FROM photos p WHERE p.owner_id = 1 AND p.file_name ILIKE '%IMG\\_00001%'";
    let plan = plan(&app, sql).await;
    assert!(plan.contains("photos_file_name_trgm"), "{sql}\n{plan}");
}
