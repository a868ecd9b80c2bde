//! Databases for tests, never for the server: a fresh PostgreSQL schema per test on the shared
//! server the test machines run (the suites of several crates share it), and the clean-up of
//! schemas whose test process is gone.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

/// Set to a PostgreSQL URL, the whole suite runs on PostgreSQL (`scripts/test` does).
pub const SUITE_POSTGRES: &str = "FLASHBULB_TEST_POSTGRES";

/// The PostgreSQL every machine that runs the tests has; tests fail when it does not answer.
pub fn shared_postgres_url() -> String {
    std::env::var(SUITE_POSTGRES)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Schemas of this suite are named `flashbulb_test_<process>_<n>`.
const SCHEMA_PREFIX: &str = "flashbulb_test_";

/// A URL of the shared server whose connections work in a new, empty schema of their own.
/// The first call also drops the schemas that suites no longer running left behind.
pub async fn fresh_schema() -> String {
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
