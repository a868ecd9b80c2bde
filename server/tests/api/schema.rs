//! Migrations, the schema's rules, the month counts its triggers keep, and seeding.

use super::*;

#[tokio::test]
async fn migrations_create_the_schema_and_rerun_as_a_no_op() {
    let app = TestApp::new().await;
    for table in [
        "users",
        "photos",
        "albums",
        "album_photos",
        "jobs",
        "photo_months",
    ] {
        assert_eq!(
            app.scalar(&format!("SELECT count(*) FROM {table}")).await,
            0,
            "table {table} missing or not empty"
        );
    }
    let version = flashbulb_store::migrate(&app.pool)
        .await
        .expect("second run");
    let newest = app
        .backend()
        .migrator()
        .iter()
        .map(|migration| migration.version)
        .max();
    assert_eq!(Some(version), newest);
    if app.backend() == flashbulb_store::Backend::Sqlite {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&app.pool)
            .await
            .expect("pragma");
        assert_eq!(journal, "wal");
    }
}

#[tokio::test]
async fn the_schema_rejects_rows_that_break_its_rules() {
    let app = TestApp::new().await.with_photos(1).await;
    let short_hash = sqlx::query(
        "INSERT INTO photos (owner_id, file_name, taken_at, sha256, created_at)
         VALUES (1, 'a.jpg', 0, $1, 0)",
    )
    .bind(vec![0u8])
    .execute(&app.pool)
    .await;
    assert!(short_hash.is_err(), "a 1-byte sha256 was accepted");
    let duplicate = sqlx::query(
        "INSERT INTO photos (owner_id, file_name, taken_at, sha256, created_at)
         SELECT owner_id, 'copy.jpg', 0, sha256, 0 FROM photos LIMIT 1",
    )
    .execute(&app.pool)
    .await;
    assert!(
        duplicate.is_err(),
        "the same content twice for one owner was accepted"
    );
}

#[tokio::test]
async fn a_demo_library_shows_pictures_whose_files_its_rows_share() {
    let app = TestApp::new().await;
    let args = seed::SeedArgs {
        without_pictures: false,
        ..seed_args("demo", 300)
    };
    seed::run_with_pictures(&app.pool, &args, &app.state.settings.files)
        .await
        .expect("seed");
    // Every row shows a picture: its own media key, a shared picture's files.
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE media_key IS NULL OR derivatives_of IS NULL")
            .await,
        0
    );
    let pictures = app
        .scalar("SELECT count(DISTINCT derivatives_of) FROM photos")
        .await;
    assert!(pictures > 12, "{pictures} pictures");
    let (_, page) = app.get("/").await;
    let thumbnails = page.matches("/thumb.webp\"").count();
    assert!(
        thumbnails >= 100,
        "{thumbnails} thumbnails on the first screen"
    );

    let (id, key, shared): (i64, Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT id, media_key, derivatives_of FROM photos ORDER BY id LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .expect("a row");
    let owner = app
        .scalar(&format!("SELECT owner_id FROM photos WHERE id = {id}"))
        .await;
    let access = app.state.media.access(owner).await.expect("access");
    for variant in ["thumb.webp", "preview.jpg"] {
        let (status, headers, bytes) = app
            .request_bytes(
                Request::get(format!(
                    "/media/{access}/{}/{variant}",
                    app::format::hex(&key)
                ))
                .body(Body::empty())
                .expect("request"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{variant}");
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ASCII")
            .starts_with("image/"));
        let stored = std::fs::read(flashbulb_core::storage::derivative_path(
            app.dir.path(),
            &shared,
            variant,
        ))
        .expect("the shared file");
        assert_eq!(bytes, stored, "{variant}");
    }
}

#[tokio::test]
async fn seed_adds_exactly_the_requested_photos_and_can_skip_a_full_library() {
    let app = TestApp::new().await;
    let report = seed::run(&app.pool, &seed_args("demo", 4_321))
        .await
        .expect("seed");
    assert_eq!(report.inserted, 4_321);
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 4_321);
    assert_eq!(
        app.scalar("SELECT count(DISTINCT sha256) FROM photos")
            .await,
        4_321
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE thumbhash IS NULL")
            .await,
        0
    );

    let again = seed::SeedArgs {
        only_if_empty: true,
        ..seed_args("demo", 10)
    };
    let report = seed::run(&app.pool, &again).await.expect("seed again");
    assert!(report.skipped_because_not_empty);
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 4_321);

    let more = seed::run(&app.pool, &seed_args("demo", 10))
        .await
        .expect("seed more");
    assert_eq!(more.inserted, 10);
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 4_331);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
}

/// The month counts the triggers keep, next to the truth counted from scratch.
async fn month_counts(app: &TestApp) -> (Vec<(i64, i64, i64)>, Vec<(i64, i64, i64)>) {
    let kept = sqlx::query_as(
        "SELECT owner_id, month, photo_count FROM photo_months WHERE photo_count > 0 ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .expect("kept");
    let month = match app.backend() {
        flashbulb_store::Backend::Sqlite => {
            "CAST(strftime('%Y', taken_at, 'unixepoch') AS INTEGER) * 12
             + CAST(strftime('%m', taken_at, 'unixepoch') AS INTEGER) - 1"
        }
        flashbulb_store::Backend::Postgres => {
            "CAST(EXTRACT(YEAR FROM to_timestamp(taken_at) AT TIME ZONE 'UTC') AS BIGINT) * 12
             + CAST(EXTRACT(MONTH FROM to_timestamp(taken_at) AT TIME ZONE 'UTC') AS BIGINT) - 1"
        }
    };
    let truth = sqlx::query_as(&format!(
        "SELECT owner_id, {month} AS month, count(*)
         FROM photos WHERE status = 'ready' AND trashed_at IS NULL
         GROUP BY 1, 2 ORDER BY 1, 2"
    ))
    .fetch_all(&app.pool)
    .await
    .expect("truth");
    (kept, truth)
}

#[tokio::test]
async fn month_counts_follow_every_insert_update_and_delete() {
    let app = TestApp::new().await.with_photos(2_000).await;
    app.seed_other_owner(500).await;
    let (kept, truth) = month_counts(&app).await;
    assert_eq!(kept, truth);
    for statement in [
        "UPDATE photos SET trashed_at = 1 WHERE id % 7 = 0",
        "UPDATE photos SET status = 'pending' WHERE id % 11 = 0",
        "UPDATE photos SET taken_at = taken_at - 40 * 86400 WHERE id % 13 = 0",
        "UPDATE photos SET owner_id = 2 WHERE owner_id = 1 AND id % 17 = 0",
        "UPDATE photos SET trashed_at = NULL WHERE id % 14 = 0",
        "UPDATE photos SET status = 'ready' WHERE id % 22 = 0",
        "DELETE FROM photos WHERE id % 5 = 0",
    ] {
        sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect(statement);
        let (kept, truth) = month_counts(&app).await;
        assert_eq!(kept, truth, "after {statement}");
    }
    let zero: i64 = app
        .scalar("SELECT count(*) FROM photo_months WHERE photo_count <= 0")
        .await;
    assert_eq!(zero, 0, "empty months are left behind");
}
