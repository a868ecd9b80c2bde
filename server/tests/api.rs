//! Flashbulb's server against a real SQLite database: migrations, seed, timeline, favourites.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    Router,
};
use flashbulb::{config::Config, db, seed, AppState};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A fresh database in its own temporary folder, migrated, with the router built on it.
struct TestApp {
    _dir: tempfile::TempDir,
    pool: db::Pool,
    router: Router,
}

impl TestApp {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let pool = db::connect(&config).await.expect("open database");
        db::migrate(&pool).await.expect("migrate");
        let router = flashbulb::build_app(AppState::new(config, pool.clone()));
        Self {
            _dir: dir,
            pool,
            router,
        }
    }

    async fn with_photos(self, count: u64) -> Self {
        seed::run(&self.pool, &seed_args("demo", count))
            .await
            .expect("seed");
        self
    }

    async fn request(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.request(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    async fn post_form(&self, path: &str, form: &str) -> (StatusCode, String) {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(form.to_string()))
            .expect("request");
        self.request(request).await
    }

    /// Photos of a second user, "someone-else" (user 2 when seeded after the first).
    async fn seed_other_owner(&self, photos: u64) {
        seed::run(&self.pool, &seed_args("someone-else", photos))
            .await
            .expect("seed another owner");
    }

    async fn execute(&self, sql: &str) {
        sqlx::query(sql).execute(&self.pool).await.expect(sql);
    }

    /// SQLite's plan for `sql`, one step a line.
    async fn query_plan(&self, sql: &str) -> String {
        let steps: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&self.pool)
                .await
                .expect("query plan");
        steps
            .into_iter()
            .map(|step| step.3)
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }
}

fn seed_args(owner: &str, photos: u64) -> seed::SeedArgs {
    seed::SeedArgs {
        photos,
        owner: owner.to_string(),
        years: 3,
        random_seed: 7,
        only_if_empty: false,
    }
}

#[tokio::test]
async fn migrations_create_the_schema_and_rerun_as_a_no_op() {
    let app = TestApp::new().await;
    for table in ["users", "photos", "albums", "album_photos"] {
        let found = app
            .scalar(&format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ))
            .await;
        assert_eq!(found, 1, "table {table} missing");
    }
    let version = db::migrate(&app.pool).await.expect("second run");
    let newest = db::MIGRATOR.iter().map(|migration| migration.version).max();
    assert_eq!(Some(version), newest);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&app.pool)
        .await
        .expect("pragma");
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn the_schema_rejects_rows_that_break_its_rules() {
    let app = TestApp::new().await.with_photos(1).await;
    let short_hash = sqlx::query(
        "INSERT INTO photos (owner_id, file_name, taken_at, sha256, created_at)
         VALUES (1, 'a.jpg', 0, x'00', 0)",
    )
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

#[tokio::test]
async fn timeline_query_uses_the_visible_timeline_index() {
    let app = TestApp::new().await.with_photos(50).await;
    let plan = app
        .query_plan(
            "SELECT id FROM photos
         WHERE owner_id = 1 AND status = 'ready' AND trashed_at IS NULL
         ORDER BY taken_at DESC, id DESC LIMIT 120",
        )
        .await;
    assert!(
        plan.contains("photos_timeline"),
        "plan does not use the index:\n{plan}"
    );
    assert!(
        !plan.contains("TEMP B-TREE"),
        "plan sorts instead of walking the index:\n{plan}"
    );
}

#[tokio::test]
async fn timeline_shows_only_the_owners_visible_photos_newest_first() {
    let app = TestApp::new().await.with_photos(300).await;
    app.seed_other_owner(200).await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE owner_id = 1 AND id % 10 = 0")
        .await;
    app.execute("UPDATE photos SET status = 'pending' WHERE owner_id = 1 AND id % 10 = 1")
        .await;

    let photos = flashbulb::timeline::newest_photos(&app.pool, 1, 1000)
        .await
        .expect("photos");
    assert_eq!(photos.len(), 240);
    assert!(photos
        .windows(2)
        .all(|pair| { (pair[0].taken_at, pair[0].id) > (pair[1].taken_at, pair[1].id) }));
    let owned: i64 = app
        .scalar("SELECT max(id) FROM photos WHERE owner_id = 1")
        .await;
    assert!(photos
        .iter()
        .all(|photo| photo.id <= owned && photo.id % 10 > 1));

    let buckets = flashbulb::timeline::month_buckets(&app.pool, 1)
        .await
        .expect("buckets");
    assert_eq!(buckets.iter().map(|bucket| bucket.count).sum::<u64>(), 240);
    assert!(buckets
        .windows(2)
        .all(|pair| (pair[0].year, pair[0].month) > (pair[1].year, pair[1].month)));
    for photo in &photos {
        let (year, month, _) = app::format::civil_date(photo.taken_at);
        assert!(buckets
            .iter()
            .any(|bucket| bucket.year == year && bucket.month == month));
    }
}

#[tokio::test]
async fn the_timeline_page_is_server_rendered_with_a_grid() {
    let app = TestApp::new().await.with_photos(200).await;
    let (status, html) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<ul class=\"grid\">"), "no grid in:\n{html}");
    assert_eq!(html.matches("data-photo-id=").count(), 120);
    assert!(html.contains("demo’s library"));
    assert!(html.contains("200 photos"));
    assert!(html.contains("/pkg/flashbulb.css"));
    assert!(
        html.contains("<leptos-island") && html.contains("VirtualTimeline"),
        "the timeline island is not marked for hydration"
    );
}

#[tokio::test]
async fn an_empty_library_explains_how_to_fill_it() {
    let app = TestApp::new().await;
    let (status, html) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your library is empty"));
    assert!(html.contains("flashbulb seed"));
}

#[tokio::test]
async fn set_favourite_persists_and_reports_the_stored_value() {
    let app = TestApp::new().await.with_photos(5).await;
    let (status, body) = app
        .post_form("/api/set_favourite", "photo_id=3&favourite=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "true");
    assert_eq!(
        app.scalar("SELECT is_favourite FROM photos WHERE id = 3")
            .await,
        1
    );
    let (status, body) = app
        .post_form("/api/set_favourite", "photo_id=3&favourite=false")
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "false"));
    assert_eq!(
        app.scalar("SELECT is_favourite FROM photos WHERE id = 3")
            .await,
        0
    );
}

#[tokio::test]
async fn set_favourite_refuses_photos_of_other_owners_and_bad_input() {
    let app = TestApp::new().await.with_photos(5).await;
    app.seed_other_owner(5).await;

    let (status, body) = app
        .post_form("/api/set_favourite", "photo_id=8&favourite=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("not_found"), "{body}");
    assert_eq!(
        app.scalar("SELECT is_favourite FROM photos WHERE id = 8")
            .await,
        0
    );

    for hostile in [
        "",
        "photo_id=abc&favourite=true",
        "photo_id=1&favourite=maybe",
        "photo_id=99999999999999999999999&favourite=true",
        "photo_id=1",
        "%%%%",
    ] {
        let (status, body) = app.post_form("/api/set_favourite", hostile).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{hostile:?} gave {status}: {body}"
        );
    }
    let (status, _) = app
        .post_form("/api/set_favourite", "photo_id=424242&favourite=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE is_favourite = 1")
            .await,
        0
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_reaching_a_handler() {
    let app = TestApp::new().await.with_photos(1).await;
    let huge = format!(
        "photo_id=1&favourite=true&pad={}",
        "x".repeat(2 * 1024 * 1024)
    );
    let declared = Request::post("/api/set_favourite")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, huge.len())
        .body(Body::from(huge.clone()))
        .expect("request");
    let (status, _) = app.request(declared).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a length up front, the limit trips while streaming: still a client error.
    let (status, body) = app.post_form("/api/set_favourite", &huge).await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE is_favourite = 1")
            .await,
        0
    );
}

#[tokio::test]
async fn unknown_pages_are_404_with_a_way_back() {
    let app = TestApp::new().await;
    let (status, html) = app.get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Back to the timeline"), "{html}");
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

async fn insert_photo(app: &TestApp, owner: i64, taken_at: i64, status: &str) -> i64 {
    let sha: Vec<u8> = (0..32).map(|_| rand_byte()).collect();
    sqlx::query_scalar(
        "INSERT INTO photos (owner_id, file_name, taken_at, sha256, status, created_at, width, height)
         VALUES (?, 'x.jpg', ?, ?, ?, 0, 4000, 3000) RETURNING id",
    )
    .bind(owner)
    .bind(taken_at)
    .bind(sha)
    .bind(status)
    .fetch_one(&app.pool)
    .await
    .expect("insert photo")
}

fn rand_byte() -> u8 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    (x >> 56) as u8
}

/// The month counts the triggers keep, next to the truth counted from scratch.
async fn month_counts(app: &TestApp) -> (Vec<(i64, i64, i64)>, Vec<(i64, i64, i64)>) {
    let kept = sqlx::query_as(
        "SELECT owner_id, month, photo_count FROM photo_months WHERE photo_count > 0 ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .expect("kept");
    let truth = sqlx::query_as(
        "SELECT owner_id,
                CAST(strftime('%Y', taken_at, 'unixepoch') AS INTEGER) * 12
                  + CAST(strftime('%m', taken_at, 'unixepoch') AS INTEGER) - 1 AS month,
                count(*)
         FROM photos WHERE status = 'ready' AND trashed_at IS NULL
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
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

#[tokio::test]
async fn bucket_segments_hold_exactly_their_month_in_timeline_order() {
    use app::{codec::Segment, format::month_start};
    let app = TestApp::new().await;
    let owner = flashbulb::users::find_or_create(&app.pool, "edge", true)
        .await
        .expect("user");
    let other = flashbulb::users::find_or_create(&app.pool, "other", false)
        .await
        .expect("user");
    let november = month_start(2026, 11);
    let december = month_start(2026, 12);
    let first_second = insert_photo(&app, owner, november, "ready").await;
    let last_second = insert_photo(&app, owner, december - 1, "ready").await;
    let same_time_a = insert_photo(&app, owner, november + 3600, "ready").await;
    let same_time_b = insert_photo(&app, owner, november + 3600, "ready").await;
    insert_photo(&app, owner, november - 1, "ready").await; // October
    insert_photo(&app, owner, december, "ready").await; // December
    insert_photo(&app, owner, november + 60, "pending").await; // not processed
    insert_photo(&app, other, november + 60, "ready").await; // someone else's

    let request = |path: &str| Request::get(path).body(Body::empty()).expect("request");
    let response = app
        .router
        .clone()
        .oneshot(request("/api/timeline/buckets/2026-11"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        flashbulb::timeline::SEGMENT_CONTENT_TYPE
    );
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let segment = Segment::decode(&bytes).expect("decodes");
    assert_eq!(
        segment.ids,
        vec![last_second, same_time_b, same_time_a, first_second]
    );
    assert_eq!(segment.aspect_milli, vec![1333; 4]);

    // Pages of one concatenate to the whole.
    let mut paged = Vec::new();
    for offset in 0..4 {
        let response = app
            .router
            .clone()
            .oneshot(request(&format!(
                "/api/timeline/buckets/2026-11?offset={offset}&limit=1"
            )))
            .await
            .expect("response");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        paged.extend(Segment::decode(&bytes).expect("decodes").ids);
    }
    assert_eq!(paged, segment.ids);

    let empty = app
        .router
        .clone()
        .oneshot(request("/api/timeline/buckets/1999-01"))
        .await
        .expect("response");
    let bytes = empty.into_body().collect().await.expect("body").to_bytes();
    assert!(Segment::decode(&bytes).expect("decodes").is_empty());
}

#[tokio::test]
async fn bucket_requests_with_bad_months_or_limits_are_400() {
    let app = TestApp::new().await.with_photos(10).await;
    for path in [
        "/api/timeline/buckets/2026-13",
        "/api/timeline/buckets/2026-1",
        "/api/timeline/buckets/garbage",
        "/api/timeline/buckets/%00%01",
        "/api/timeline/buckets/2026-11?limit=0",
        "/api/timeline/buckets/2026-11?limit=5001",
        "/api/timeline/buckets/2026-11?limit=-1",
        "/api/timeline/buckets/2026-11?offset=abc",
        "/api/timeline/buckets/2026-11?offset=99999999999999999999",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.contains("bad_request"), "{path}: {body}");
    }
}

#[tokio::test]
async fn bucket_queries_walk_their_indexes() {
    let app = TestApp::new().await.with_photos(50).await;
    for (sql, index) in [
        (
            "SELECT id FROM photos
             WHERE owner_id = 1 AND status = 'ready' AND trashed_at IS NULL
               AND taken_at >= 0 AND taken_at < 100
             ORDER BY taken_at DESC, id DESC LIMIT 500 OFFSET 0",
            "photos_timeline",
        ),
        (
            "SELECT month, photo_count FROM photo_months
             WHERE owner_id = 1 AND photo_count > 0 ORDER BY month DESC",
            "PRIMARY KEY",
        ),
    ] {
        let plan = app.query_plan(sql).await;
        assert!(plan.contains(index), "{sql}\ndoes not use {index}:\n{plan}");
        if index == "photos_timeline" {
            assert!(
                plan.contains("COVERING INDEX"),
                "{sql}\nvisits the table:\n{plan}"
            );
        }
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\nsorts:\n{plan}");
    }
}

#[tokio::test]
async fn favourites_list_only_the_owners_favourites_newest_first_page_by_page() {
    let app = TestApp::new().await.with_photos(600).await;
    app.seed_other_owner(100).await;
    app.execute("UPDATE photos SET is_favourite = 1 WHERE id % 3 = 0")
        .await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id % 9 = 0")
        .await;
    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM photos WHERE owner_id = 1 AND id % 3 = 0 AND id % 9 != 0
         ORDER BY taken_at DESC, id DESC",
    )
    .fetch_all(&app.pool)
    .await
    .expect("expected");
    assert_eq!(expected.len(), 134);

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = flashbulb::photos::favourites(&app.pool, 1, after, 50)
            .await
            .expect("page");
        assert_eq!(page.total, 134);
        seen.extend(page.photos.iter().map(|photo| photo.id));
        match page.next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_favourites_page_renders_with_pages_and_refuses_bad_cursors() {
    let app = TestApp::new().await.with_photos(300).await;
    app.execute("UPDATE photos SET is_favourite = 1").await;
    let (status, html) = app.get("/favourites").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("data-photo-id=").count(), 120);
    assert!(html.contains("300 photos"));
    let next = html
        .split("href=\"/favourites?after=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older favourites");
    let (status, second) = app.get(&format!("/favourites?after={next}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.matches("data-photo-id=").count(), 120);

    let (status, body) = app.post_form("/api/favourites", "after=not-a-cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, html) = app.get("/favourites?after=%3Cscript%3E").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("bad_request"),
        "the page does not explain the bad position"
    );
    assert!(!html.contains("<script>"), "input echoed unescaped");
}

#[tokio::test]
async fn the_favourites_query_walks_its_index() {
    let app = TestApp::new().await.with_photos(50).await;
    let plan = app
        .query_plan(
            "SELECT id, file_name, taken_at, width, height, is_favourite, thumbhash FROM photos
         WHERE owner_id = 1 AND is_favourite = 1 AND status = 'ready' AND trashed_at IS NULL
           AND (taken_at, id) < (1, 2)
         ORDER BY taken_at DESC, id DESC LIMIT 121",
        )
        .await;
    assert!(plan.contains("COVERING INDEX photos_favourites"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}
