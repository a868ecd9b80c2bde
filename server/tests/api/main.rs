//! Flashbulb's server against a real SQLite database: migrations, seed, timeline, favourites.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    Router,
};
use flashbulb::{config::Config, db, seed, AppState};
use flashbulb_store::photos::TrashList;
use http_body_util::BodyExt;
use tower::ServiceExt;

mod cache;
mod encodings;
#[path = "../support/files.rs"]
mod files;
#[path = "../support/hostile.rs"]
#[allow(dead_code)] // this binary takes one crafted file of the set
mod hostile;
mod live;
mod observability;
mod pipeline;
mod postgres;
mod rendering;
mod scale_out;
mod security;
mod writers;

/// A fresh database in its own temporary folder (SQLite) or schema (PostgreSQL), migrated,
/// with the router built on it.
struct TestApp {
    dir: tempfile::TempDir,
    pool: db::Pool,
    router: Router,
    config: Config,
    state: AppState,
    /// The session of the library's owner, made at the first request that needs it.
    owner_session: tokio::sync::OnceCell<String>,
}

/// The password `TestApp::with_photos` gives the seeded user "demo".
const DEMO_PASSWORD: &str = "demo password";

/// The Host the test requests are addressed to; writes carry it as their Origin.
const TEST_HOST: &str = "flashbulb.test";

impl TestApp {
    /// A test app on the suite's database: SQLite, or PostgreSQL when the suite runs there.
    async fn new() -> Self {
        Self::with_config(Config::default()).await
    }

    /// A test app with `config`, its data folder replaced by a fresh temporary one.
    async fn with_config(config: Config) -> Self {
        let backend = match std::env::var(postgres::SUITE_POSTGRES) {
            Ok(_) => db::Backend::Postgres,
            Err(_) => db::Backend::Sqlite,
        };
        Self::on(backend, config).await
    }

    /// A test app on SQLite whatever the suite runs on: for SQLite's own query plans.
    async fn on_sqlite() -> Self {
        Self::on(db::Backend::Sqlite, Config::default()).await
    }

    async fn on(backend: db::Backend, config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..config
        };
        if backend == db::Backend::Postgres && config.database_url.is_none() {
            config.database_url = Some(postgres::fresh_schema().await);
        }
        // The whole suite runs once more with Redis: the cache's second level and the hubs'
        // bridge then carry every page and live update.
        if let (None, Ok(url)) = (&config.redis_url, std::env::var(cache::SUITE_REDIS)) {
            config.redis_url = Some(url);
            config.redis_prefix = cache::unique_prefix();
        }
        let pool = db::connect(&config).await.expect("open database");
        db::migrate(&pool).await.expect("migrate");
        let state = AppState::new(config.clone(), pool.clone());
        if let Some(redis) = &state.redis {
            cache::wait_until("Redis answers and the instance is subscribed", || {
                redis.is_up() && redis.is_subscribed()
            })
            .await;
        }
        let router = flashbulb::build_app(state.clone());
        Self {
            dir,
            pool,
            router,
            config,
            state,
            owner_session: tokio::sync::OnceCell::new(),
        }
    }

    fn backend(&self) -> db::Backend {
        db::backend(&self.pool)
    }

    /// `count` photos of "demo", who can sign in with `DEMO_PASSWORD`.
    async fn with_photos(self, count: u64) -> Self {
        seed::run(&self.pool, &seed_args("demo", count))
            .await
            .expect("seed");
        match flashbulb::users::add(&self.pool, "demo", DEMO_PASSWORD, true).await {
            Ok(_) | Err(flashbulb::ServerError::Conflict(_)) => {}
            Err(error) => panic!("demo's password: {error}"),
        }
        self
    }

    async fn request(&self, request: Request<Body>) -> (StatusCode, String) {
        let (status, _, bytes) = self.request_bytes(request).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The library owner's session: the first user's (seeded users are administrators), or a
    /// new administrator "owner" when there is none yet.
    async fn owner_session(&self) -> String {
        self.owner_session
            .get_or_init(|| async {
                let first: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM users ORDER BY id LIMIT 1")
                        .fetch_optional(&self.pool)
                        .await
                        .expect("first user");
                let owner = match first {
                    Some(owner) => owner,
                    None => flashbulb::users::find_or_create(&self.pool, "owner", true)
                        .await
                        .expect("owner"),
                };
                self.session_of(owner).await
            })
            .await
            .clone()
    }

    /// A new session of `user`.
    async fn session_of(&self, user: i64) -> String {
        self.state
            .access
            .sessions
            .start(user)
            .await
            .expect("session")
    }

    /// `request` as the library's owner sends it from a page of the site.
    async fn request_bytes(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let session = self.owner_session().await;
        self.send(request, Some(&session)).await
    }

    /// `request` from a page of the site, with `session`'s cookie unless it has cookies of its
    /// own (None: a visitor who is not signed in).
    async fn send(
        &self,
        mut request: Request<Body>,
        session: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let headers = request.headers_mut();
        if !headers.contains_key(header::HOST) {
            headers.insert(header::HOST, TEST_HOST.parse().expect("host"));
        }
        if let (Some(session), false) = (session, headers.contains_key(header::COOKIE)) {
            headers.insert(
                header::COOKIE,
                format!("flashbulb_session={session}")
                    .parse()
                    .expect("cookie"),
            );
        }
        let writes = !matches!(
            *request.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        if writes && !request.headers().contains_key(header::ORIGIN) {
            request.headers_mut().insert(
                header::ORIGIN,
                format!("http://{TEST_HOST}").parse().expect("origin"),
            );
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, bytes.to_vec())
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
        assert_eq!(
            self.backend(),
            db::Backend::Sqlite,
            "SQLite plans need TestApp::on_sqlite"
        );
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
        without_pictures: true,
    }
}

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
    let version = db::migrate(&app.pool).await.expect("second run");
    let newest = app
        .backend()
        .migrator()
        .iter()
        .map(|migration| migration.version)
        .max();
    assert_eq!(Some(version), newest);
    if app.backend() == db::Backend::Sqlite {
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
    seed::run_with_pictures(&app.pool, &args, app.dir.path())
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
        let stored = std::fs::read(flashbulb::storage::derivative_path(
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

#[tokio::test]
async fn timeline_query_uses_the_visible_timeline_index() {
    let app = TestApp::on_sqlite().await.with_photos(50).await;
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

    let photos = flashbulb_store::timeline::newest_photos(&app.pool, 1, 1000)
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

    let buckets = flashbulb_store::timeline::month_buckets(&app.pool, 1)
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
async fn only_pages_with_islands_load_the_webassembly_and_none_carries_its_resources() {
    let app = TestApp::new().await.with_photos(20).await;
    let (_, timeline) = app.get("/").await;
    assert!(
        timeline.contains("<script type=\"module\"") && timeline.contains(".wasm"),
        "the timeline does not load its hydration script:\n{timeline}"
    );
    // The first screen's thumbnails come first: the script fetches its code when idle, and no
    // hint asks for it earlier at high priority.
    assert!(
        !timeline.contains("rel=\"modulepreload\"") && !timeline.contains("rel=\"preload\""),
        "the timeline preloads its code ahead of its pictures:\n{timeline}"
    );
    for path in ["/albums", "/search", "/favourites", "/trash", "/users"] {
        let (status, html) = app.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains("<leptos-island"), "{path} shows an island");
        assert!(
            !html.contains("<script type=\"module\"") && !html.contains(".wasm"),
            "{path} has no island, yet loads the WebAssembly:\n{html}"
        );
        // Islands take props, never the page's resources: their data is in the HTML once.
        assert!(
            !html.contains("__RESOLVED_RESOURCES["),
            "{path} writes its resources again as a script:\n{html}"
        );
    }
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
         VALUES ($1, 'x.jpg', $2, $3, $4, 0, 4000, 3000) RETURNING id",
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
    let month = match app.backend() {
        db::Backend::Sqlite => {
            "CAST(strftime('%Y', taken_at, 'unixepoch') AS INTEGER) * 12
             + CAST(strftime('%m', taken_at, 'unixepoch') AS INTEGER) - 1"
        }
        db::Backend::Postgres => {
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
    let (status, headers, bytes) = app
        .request_bytes(request("/api/timeline/buckets/2026-11"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        flashbulb::timeline::SEGMENT_CONTENT_TYPE
    );
    let segment = Segment::decode(&bytes).expect("decodes");
    assert_eq!(
        segment.ids,
        vec![last_second, same_time_b, same_time_a, first_second]
    );
    assert_eq!(segment.aspect_milli, vec![1333; 4]);

    // Pages of one concatenate to the whole.
    let mut paged = Vec::new();
    for offset in 0..4 {
        let (_, _, bytes) = app
            .request_bytes(request(&format!(
                "/api/timeline/buckets/2026-11?offset={offset}&limit=1"
            )))
            .await;
        paged.extend(Segment::decode(&bytes).expect("decodes").ids);
    }
    assert_eq!(paged, segment.ids);

    let (_, _, bytes) = app
        .request_bytes(request("/api/timeline/buckets/1999-01"))
        .await;
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
    let app = TestApp::on_sqlite().await.with_photos(50).await;
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
        let page = flashbulb_store::photos::favourites(&app.pool, 1, after, 50)
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
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("bad_request"),
        "the page does not explain the bad position"
    );
    assert!(!html.contains("<script>"), "input echoed unescaped");
}

#[tokio::test]
async fn the_favourites_query_walks_its_index() {
    let app = TestApp::on_sqlite().await.with_photos(50).await;
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

// ---------------------------------------------------------------------------------------------
// The photo page and the trash

#[tokio::test]
async fn the_photo_page_shows_metadata_and_its_neighbours() {
    let app = TestApp::new().await;
    let owner = 1;
    flashbulb::users::find_or_create(&app.pool, "demo", true)
        .await
        .expect("user");
    let older = insert_photo(&app, owner, 1_000, "ready").await;
    let middle = insert_photo(&app, owner, 2_000, "ready").await;
    let newer = insert_photo(&app, owner, 3_000, "ready").await;
    app.execute(&format!(
        "UPDATE photos SET camera_make = 'FUJIFILM', camera_model = 'X-T5', lens = 'XF16-80mm',
         aperture = 4.0, exposure_time = '1/250', iso = 200, focal_length_mm = 35
         WHERE id = {middle}"
    ))
    .await;
    let (status, html) = app.get(&format!("/p/{middle}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for expected in [
        "FUJIFILM X-T5",
        "XF16-80mm",
        "1/250 s · f/4.0 · 35 mm · ISO 200",
        &format!("href=\"/p/{newer}\" rel=\"prev\""),
        &format!("href=\"/p/{older}\" rel=\"next\""),
        "4000\u{a0}×\u{a0}3000",
    ] {
        assert!(html.contains(expected), "{expected:?} missing");
    }
    let (_, html) = app.get(&format!("/p/{newer}")).await;
    assert!(
        !html.contains("rel=\"prev\""),
        "the newest photo has no newer one"
    );

    for missing in ["/p/999", "/p/abc", "/p/-1", "/p/99999999999999999999999"] {
        let (status, html) = app.get(missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(html.contains("Not found"), "{missing}");
    }
}

#[tokio::test]
async fn the_trash_takes_photos_out_of_every_list_and_gives_them_back() {
    let app = TestApp::new().await.with_photos(20).await;
    app.seed_other_owner(3).await;
    app.execute("UPDATE photos SET is_favourite = 1 WHERE id = 5")
        .await;
    let visible =
        "SELECT CAST(coalesce(sum(photo_count), 0) AS BIGINT) FROM photo_months WHERE owner_id = 1";
    assert_eq!(app.scalar(visible).await, 20);

    let (status, body) = app
        .post_form("/api/set_trashed", "photo_id=5&trashed=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.scalar(visible).await, 19);
    let first_time = app
        .scalar("SELECT trashed_at FROM photos WHERE id = 5")
        .await;
    app.post_form("/api/set_trashed", "photo_id=5&trashed=true")
        .await;
    assert_eq!(
        app.scalar("SELECT trashed_at FROM photos WHERE id = 5")
            .await,
        first_time,
        "trashing twice moved the photo in the trash"
    );
    let (_, favourites) = app.get("/favourites").await;
    assert!(!favourites.contains("data-photo-id=\"5\""));
    let (_, trash) = app.get("/trash").await;
    assert!(
        trash.contains("data-photo-id=\"5\""),
        "trashed photo not in the trash"
    );
    assert!(trash.contains("1 photo"));
    let (_, page) = app.get("/p/5").await;
    assert!(page.contains("In the trash since"));
    assert!(page.contains("Restore to the library"));

    let (status, _) = app
        .post_form("/api/set_trashed", "photo_id=5&trashed=false")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.scalar(visible).await, 20);
    let (_, favourites) = app.get("/favourites").await;
    assert!(
        favourites.contains("data-photo-id=\"5\""),
        "restored favourite lost its heart"
    );

    // Another owner's photo, and malformed requests.
    let (status, _) = app
        .post_form("/api/set_trashed", "photo_id=21&trashed=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE trashed_at IS NOT NULL")
            .await,
        0
    );
    for hostile in [
        "",
        "photo_id=x&trashed=true",
        "photo_id=1&trashed=2",
        "trashed=true",
    ] {
        let (status, body) = app.post_form("/api/set_trashed", hostile).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hostile:?}: {body}");
    }
    let (status, _) = app.get("/trash?after=junk").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn emptying_the_trash_keeps_its_photos_restorable_then_deletes_them_and_unshared_originals() {
    let app = TestApp::new().await.with_photos(4).await;
    let originals: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT id, sha256 FROM photos ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .expect("photos");
    for (_, sha) in &originals {
        write_original(&app, sha, b"jpeg bytes");
    }
    // A second owner holds the same content as photo 2: its file must survive.
    flashbulb::users::find_or_create(&app.pool, "friend", false)
        .await
        .expect("user");
    sqlx::query(
        "INSERT INTO photos (owner_id, file_name, taken_at, sha256, status, created_at)
         VALUES (2, 'same.jpg', 0, $1, 'ready', 0)",
    )
    .bind(&originals[1].1)
    .execute(&app.pool)
    .await
    .expect("shared content");
    app.execute("UPDATE photos SET trashed_at = 1 WHERE owner_id = 1 AND id IN (1, 2, 3)")
        .await;

    // Emptied, the photos leave the trash for "Recently emptied", where each can be restored.
    let (status, body) = app.post_form("/api/empty_trash", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
    let (_, trash) = app.get("/trash").await;
    assert!(trash.contains("The trash is empty"), "{trash}");
    assert!(trash.contains("Recently emptied"), "{trash}");
    let (_, emptied) = app.get("/trash?list=emptied").await;
    for id in [1, 2, 3] {
        assert!(
            emptied.contains(&format!("data-photo-id=\"{id}\"")),
            "{emptied}"
        );
    }
    assert!(
        emptied.contains("deleted for good 30 days after"),
        "{emptied}"
    );
    let (status, _) = app
        .post_form("/api/set_trashed", "photo_id=3&trashed=false")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE id = 3 AND trashed_at IS NULL AND emptied_at IS NULL")
            .await,
        1,
        "a restored photo is back in the library"
    );
    let path =
        |index: usize| flashbulb::storage::original_path(app.dir.path(), &originals[index].1);
    assert!(
        path(0).exists() && path(1).exists(),
        "emptying deleted files at once"
    );

    // Within the grace period nothing goes; after it, the photos and unshared originals do.
    let now = flashbulb::db::now();
    let purged = flashbulb::photos::purge_emptied(&app.pool, app.dir.path(), now - 86_400)
        .await
        .expect("purge");
    assert!(purged.is_empty(), "{purged:?}");
    let purged = flashbulb::photos::purge_emptied(&app.pool, app.dir.path(), now + 1)
        .await
        .expect("purge");
    assert_eq!(purged.into_iter().collect::<Vec<_>>(), [(1, 2)]);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE owner_id = 1")
            .await,
        2
    );
    assert!(!path(0).exists(), "an unshared original was kept");
    assert!(
        path(1).exists(),
        "an original another photo uses was deleted"
    );
    assert!(path(2).exists() && path(3).exists());
    let (_, trash) = app.get("/trash").await;
    assert!(!trash.contains("Recently emptied"), "{trash}");
}

#[tokio::test]
async fn without_a_grace_period_emptying_the_trash_deletes_at_once() {
    let config = Config {
        trash_grace_days: 0,
        ..Config::default()
    };
    let app = TestApp::with_config(config).await.with_photos(3).await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 2")
        .await;
    let (_, confirm) = app.get("/trash?confirm=empty").await;
    assert!(confirm.contains("This cannot be undone"), "{confirm}");
    let (status, body) = app.post_form("/api/empty_trash", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 2);
}

#[tokio::test]
async fn destructive_buttons_ask_first_and_change_nothing_until_confirmed() {
    let app = TestApp::new().await.with_photos(3).await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 2")
        .await;
    let album = create_album(&app, "Keep").await;

    // The first step is a link to a page that asks; only its form posts.
    let (_, trash) = app.get("/trash").await;
    assert!(trash.contains(r#"href="/trash?confirm=empty""#), "{trash}");
    assert!(!trash.contains("/api/empty_trash"), "{trash}");
    let (status, confirm) = app.get("/trash?confirm=empty").await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("Empty the trash?"), "{confirm}");
    assert!(
        confirm.contains(r#"action="/api/empty_trash""#),
        "{confirm}"
    );
    assert!(
        confirm.contains("1 photo will leave the trash"),
        "{confirm}"
    );

    let (_, page) = app.get(&format!("/albums/{album}")).await;
    assert!(
        page.contains(&format!(r#"href="/albums/{album}?confirm=delete""#)),
        "{page}"
    );
    assert!(!page.contains("/api/delete_album"), "{page}");
    let (_, confirm) = app.get(&format!("/albums/{album}?confirm=delete")).await;
    assert!(confirm.contains("Delete the album “Keep”?"), "{confirm}");
    assert!(
        confirm.contains(r#"action="/api/delete_album""#),
        "{confirm}"
    );

    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM photos WHERE trashed_at IS NOT NULL AND emptied_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT count(*) FROM albums").await, 1);
}

fn write_original(app: &TestApp, sha: &[u8], bytes: &[u8]) {
    let path = flashbulb::storage::original_path(app.dir.path(), sha);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
    std::fs::write(path, bytes).expect("original");
}

#[tokio::test]
async fn the_trash_query_walks_its_index() {
    let app = TestApp::on_sqlite().await.with_photos(20).await;
    for (list, index) in [
        (TrashList::InTrash, "photos_trash"),
        (TrashList::Emptied, "photos_emptied"),
    ] {
        let plan = app
            .query_plan(
                &list
                    .page_sql()
                    .replace("$1", "1")
                    .replace("$2", "1")
                    .replace("$3", "2")
                    .replace("$4", "121"),
            )
            .await;
        assert!(plan.contains(index), "{list:?}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{list:?}: {plan}");
    }
}

// ---------------------------------------------------------------------------------------------
// Albums

/// Creates an album through its server function and returns its id.
async fn create_album(app: &TestApp, title: &str) -> i64 {
    let (status, body) = app
        .post_form("/api/create_album", &format!("title={title}"))
        .await;
    assert!(
        status == StatusCode::OK || status.is_redirection(),
        "{status}: {body}"
    );
    app.scalar("SELECT max(id) FROM albums").await
}

async fn add_to_album(app: &TestApp, album: i64, photo: i64) -> StatusCode {
    app.post_form(
        "/api/set_in_album",
        &format!("album_id={album}&photo_id={photo}&member=true"),
    )
    .await
    .0
}

#[tokio::test]
async fn albums_collect_photos_with_a_cover_and_keep_them_on_delete() {
    let app = TestApp::new().await.with_photos(10).await;
    let album = create_album(&app, "Lisbon%202026").await;
    assert_eq!(
        app.scalar("SELECT count(*) FROM albums WHERE title = 'Lisbon 2026'")
            .await,
        1
    );
    for photo in [2, 4, 6, 4] {
        assert_eq!(add_to_album(&app, album, photo).await, StatusCode::OK);
    }
    assert_eq!(app.scalar("SELECT count(*) FROM album_photos").await, 3);

    let (status, html) = app.get(&format!("/albums/{album}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Lisbon 2026") && html.contains("3 photos"),
        "{html}"
    );
    assert_eq!(html.matches("data-photo-id=").count(), 3);
    let (_, list) = app.get("/albums").await;
    assert!(list.contains(&format!("data-album-id=\"{album}\"")) && list.contains("3 photos"));

    let (status, _) = app
        .post_form(
            "/api/set_album_cover",
            &format!("album_id={album}&photo_id=6"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_form(
            "/api/set_album_cover",
            &format!("album_id={album}&photo_id=7"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a photo outside the album became its cover"
    );
    app.post_form(
        "/api/set_in_album",
        &format!("album_id={album}&photo_id=6&member=false"),
    )
    .await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM albums WHERE id = {album} AND cover_photo_id IS NULL"
        ))
        .await,
        1,
        "removing the cover photo left a dangling cover"
    );

    // A trashed member leaves the album's count and pages while it is in the trash.
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 2")
        .await;
    let (_, html) = app.get(&format!("/albums/{album}")).await;
    assert!(html.contains("1 photo"), "{html}");

    let (status, _) = app
        .post_form(
            "/api/rename_album",
            &format!("album_id={album}&title=Porto"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_form("/api/delete_album", &format!("album_id={album}"))
        .await;
    assert!(status == StatusCode::OK || status.is_redirection());
    assert_eq!(app.scalar("SELECT count(*) FROM albums").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM album_photos").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 10);
}

#[tokio::test]
async fn albums_refuse_bad_titles_and_other_owners() {
    let app = TestApp::new().await.with_photos(3).await;
    app.seed_other_owner(3).await;
    let album = create_album(&app, "Mine").await;
    let long = "x".repeat(201);
    for hostile in [
        "",
        "title=",
        "title=%20%20",
        &format!("title={long}"),
        "title=a%00b",
    ] {
        let (status, body) = app.post_form("/api/create_album", hostile).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hostile:?}: {body}");
    }
    let (status, _) = app
        .post_form(
            "/api/rename_album",
            &format!("album_id={album}&title={long}"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.scalar("SELECT count(*) FROM albums").await, 1);

    // Photo 4 is someone else's; album 999 does not exist.
    assert_eq!(add_to_album(&app, album, 4).await, StatusCode::NOT_FOUND);
    assert_eq!(add_to_album(&app, 999, 1).await, StatusCode::NOT_FOUND);
    let other_album: i64 = sqlx::query_scalar(
        "INSERT INTO albums (owner_id, title, created_at) VALUES (2, 'Theirs', 0) RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("album of another owner");
    assert_eq!(
        add_to_album(&app, other_album, 1).await,
        StatusCode::NOT_FOUND
    );
    for path in [
        format!("/albums/{other_album}"),
        "/albums/abc".to_string(),
        "/albums/999".to_string(),
    ] {
        let (status, _) = app.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app
        .post_form("/api/delete_album", &format!("album_id={other_album}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post_form(
            "/api/share_album",
            &format!("album_id={other_album}&shared=true"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.scalar("SELECT count(*) FROM album_photos").await, 0);
    assert_eq!(
        app.scalar("SELECT count(*) FROM albums WHERE share_token IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn a_share_link_shows_one_album_read_only_until_sharing_stops() {
    let app = TestApp::new().await.with_photos(6).await;
    let album = create_album(&app, "Shared").await;
    add_to_album(&app, album, 3).await;
    let (status, body) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token: String = serde_json::from_str::<Option<String>>(&body)
        .expect("token json")
        .expect("a token");
    assert_eq!(token.len(), 32);
    let (_, again) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    assert!(again.contains(&token), "sharing again changed the link");

    let (status, html) = app.get(&format!("/s/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Shared") && html.contains("data-photo-id=\"3\""));
    assert!(
        !html.contains("fav-form"),
        "visitors got the owner's controls"
    );
    assert!(
        !html.contains("href=\"/p/3\""),
        "visitors got links to the owner's photo pages"
    );
    assert!(html.contains("noindex"));

    for bad in [
        "nope",
        &"0".repeat(32),
        &token.to_uppercase(),
        "%2e%2e%2fetc",
    ] {
        let (status, _) = app.get(&format!("/s/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    app.post_form(
        "/api/share_album",
        &format!("album_id={album}&shared=false"),
    )
    .await;
    let (status, page) = app.get(&format!("/s/{token}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old link still works");
    assert!(
        page.contains("The owner stopped sharing this album") && !page.contains("not_found"),
        "a stopped link explains itself: {page}"
    );
    let (status, _, _) = app
        .request_bytes(
            Request::get(format!("/api/shared/{token}/zip"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_album_downloads_as_a_valid_zip_of_its_originals() {
    let app = TestApp::new().await.with_photos(5).await;
    let album = create_album(&app, "Trip").await;
    // Photos 1 and 2 share a file name; photo 3 has no original on disk; 4 is trashed.
    app.execute("UPDATE photos SET file_name = 'IMG_0001.JPG' WHERE id IN (1, 2)")
        .await;
    app.execute("UPDATE photos SET file_name = '../../escape.jpg' WHERE id = 5")
        .await;
    let mut expected = Vec::new();
    for photo in [1, 2, 3, 4, 5] {
        add_to_album(&app, album, photo).await;
        let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = $1")
            .bind(photo)
            .fetch_one(&app.pool)
            .await
            .expect("sha");
        if photo != 3 {
            // Large enough to span several chunks of the stream.
            let bytes: Vec<u8> = (0..200_000u32)
                .map(|i| (i * photo as u32 % 251) as u8)
                .collect();
            write_original(&app, &sha, &bytes);
            if photo != 4 {
                expected.push(bytes);
            }
        }
    }
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 4")
        .await;

    let (status, headers, bytes) = app
        .request_bytes(
            Request::get(format!("/api/albums/{album}/zip"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/zip");
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii")
        .contains("filename=\"Trip.zip\""));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid ZIP");
    let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".._.._escape.jpg",
            "IMG_0001 (2).JPG",
            "IMG_0001.JPG",
            "missing.txt"
        ]
    );
    let mut contents = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("entry");
        assert!(
            entry.enclosed_name().is_some(),
            "{} escapes its folder",
            entry.name()
        );
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("entry data (CRC checked)");
        if entry.name() == "missing.txt" {
            let text = String::from_utf8(data).expect("utf-8");
            assert!(text.contains("IMG_"), "{text}");
        } else {
            contents.push(data);
        }
    }
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected);

    // The same archive through the share link; none for other albums or bad ids.
    let (_, body) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    let token: String = serde_json::from_str::<Option<String>>(&body)
        .ok()
        .flatten()
        .expect("token");
    let (status, _, shared) = app
        .request_bytes(
            Request::get(format!("/api/shared/{token}/zip"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        zip::ZipArchive::new(std::io::Cursor::new(shared))
            .expect("valid")
            .len(),
        4
    );
    // Through the compression layer, as browsers ask: photos are not compressed twice.
    let (status, headers, compressed) = app
        .request_bytes(
            Request::get(format!("/api/shared/{token}/zip"))
                .header(header::ACCEPT_ENCODING, "br, gzip")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "{headers:?}"
    );
    let archive = zip::ZipArchive::new(std::io::Cursor::new(compressed)).expect("valid");
    assert_eq!(archive.len(), 4);
    for path in [
        "/api/albums/999/zip",
        "/api/albums/x/zip",
        "/api/shared/abc/zip",
    ] {
        let (status, _) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Search

async fn search(app: &TestApp, query: &str) -> (StatusCode, String) {
    app.get(&format!("/search?{query}")).await
}

fn result_count(html: &str) -> usize {
    html.matches("data-photo-id=").count()
}

#[tokio::test]
async fn search_combines_file_name_camera_lens_days_and_album() {
    let app = TestApp::new().await.with_photos(300).await;
    app.seed_other_owner(50).await;
    let truth = |sql: &str| format!("SELECT count(*) FROM photos WHERE owner_id = 1 AND {sql}");

    // File name: any part, any case; another owner's IMG_0000301… never shows.
    let (status, html) = search(&app, "q=img_00001").await;
    assert_eq!(status, StatusCode::OK);
    let expected = app.scalar(&truth("file_name LIKE '%IMG_00001%'")).await;
    assert_eq!(result_count(&html) as i64, expected.min(120));
    assert!(
        html.contains(&format!("{expected} photos")),
        "{expected}: {html}"
    );

    let (_, html) = search(&app, "camera=X-T5").await;
    let expected = app.scalar(&truth("camera_model = 'X-T5'")).await;
    assert!(expected > 0);
    assert!(html.contains(&format!("{expected} photos")));

    let (_, html) = search(&app, "lens=FE%2035mm%20F1.8&camera=ILCE-7M4").await;
    let expected = app
        .scalar(&truth(
            "lens = 'FE 35mm F1.8' AND camera_model = 'ILCE-7M4'",
        ))
        .await;
    assert!(html.contains(&format!("{expected} photos")));

    // A single day, inclusive of its last second.
    let taken: i64 = app
        .scalar("SELECT taken_at FROM photos WHERE id = 10")
        .await;
    let day = app::format::iso_day(taken);
    let start = app::format::parse_day(&day).expect("day");
    app.execute(&format!(
        "UPDATE photos SET taken_at = {} WHERE id = 11",
        start + 86_399
    ))
    .await;
    let (_, html) = search(&app, &format!("from={day}&to={day}")).await;
    let expected = app
        .scalar(&truth(&format!(
            "taken_at >= {start} AND taken_at < {}",
            start + 86_400
        )))
        .await;
    assert!(expected >= 2);
    assert_eq!(result_count(&html) as i64, expected);

    let album = create_album(&app, "Picks").await;
    for photo in [7, 8, 9] {
        add_to_album(&app, album, photo).await;
    }
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 9")
        .await;
    let (_, html) = search(&app, &format!("album={album}")).await;
    assert_eq!(
        result_count(&html),
        2,
        "trashed photos are not search results"
    );
    let (_, html) = search(&app, &format!("album={album}&q=IMG_0000007")).await;
    assert_eq!(result_count(&html), 1);

    // Broad searches page through every match exactly once.
    let (_, first) = search(&app, "q=IMG").await;
    assert_eq!(result_count(&first), 120);
    let next = first
        .split("after=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page");
    let (_, second) = search(&app, &format!("q=IMG&after={next}")).await;
    assert_eq!(result_count(&second), 120);
    let ids = |html: &str| -> Vec<String> {
        html.split("data-photo-id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    };
    let first_ids = ids(&first);
    assert!(
        ids(&second).iter().all(|id| !first_ids.contains(id)),
        "pages overlap"
    );
}

#[tokio::test]
async fn search_explains_bad_criteria_and_treats_text_literally() {
    let app = TestApp::new().await.with_photos(30).await;
    for (query, needle) in [
        ("q=ab", "at least 3"),
        ("from=2026-02-30", "not a day"),
        ("from=2026-03-02&to=2026-03-01", "comes after"),
        ("album=seven", "not an album"),
        ("q=IMG&after=%3Cscript%3E", "bad_request"),
    ] {
        let (status, html) = search(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains(needle), "{query}: {needle:?} missing");
        assert!(!html.contains("<script>"), "input echoed unescaped");
    }
    // Query syntax of the full-text index is just text here.
    for hostile in [
        "q=%22%20OR%20%22",
        "q=IMG*%20NEAR(a)",
        "q=%27%3B%20DROP%20TABLE%20photos%3B--",
        "q=%E2%80%94%E2%80%94%E2%80%94",
        "camera=%00%00%00",
    ] {
        let (status, html) = search(&app, hostile).await;
        assert_eq!(status, StatusCode::OK, "{hostile}: {html}");
        assert_eq!(result_count(&html), 0, "{hostile}");
    }
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 30);
    let (status, html) = search(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Combine as many as you like"));
    assert!(html.contains("X-T5"), "the camera list is missing");
}

#[tokio::test]
async fn search_queries_use_their_indexes() {
    use app::model::SearchQuery;
    use flashbulb_store::{
        search::{page_sql, Drive},
        Backend,
    };
    let app = TestApp::on_sqlite().await.with_photos(50).await;
    let text = || SearchQuery {
        text: Some("IMG_1".into()),
        ..Default::default()
    };
    let plan = app
        .query_plan(&page_sql(Backend::Sqlite, &text(), Drive::NameIndex))
        .await;
    assert!(plan.contains("VIRTUAL TABLE INDEX"), "file name: {plan}");
    assert!(
        plan.contains("SEARCH p USING INTEGER PRIMARY KEY"),
        "file name: {plan}"
    );
    let index_first = plan.find("VIRTUAL TABLE") < plan.find("SEARCH p");
    assert!(
        index_first,
        "file name: the timeline drives the search: {plan}"
    );

    // A broad text walks the timeline in order and looks each photo up by id in the names.
    let plan = app
        .query_plan(&page_sql(Backend::Sqlite, &text(), Drive::Timeline))
        .await;
    assert!(plan.contains("photos_timeline"), "broad file name: {plan}");
    assert!(!plan.contains("TEMP B-TREE"), "broad file name: {plan}");
    assert!(
        plan.contains("VIRTUAL TABLE INDEX 0:="),
        "broad file name: {plan}"
    );

    for (column, index) in [("camera", "photos_camera"), ("lens", "photos_lens")] {
        let mut query = SearchQuery::default();
        if column == "camera" {
            query.camera = Some("X-T5".into());
        } else {
            query.lens = Some("FE 35mm F1.8".into());
        }
        let plan = app
            .query_plan(&page_sql(Backend::Sqlite, &query, Drive::Timeline))
            .await;
        assert!(plan.contains(index), "{column}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{column}: {plan}");
    }

    let days = SearchQuery {
        from: Some(0),
        to: Some(86_400),
        ..Default::default()
    };
    let plan = app
        .query_plan(&page_sql(Backend::Sqlite, &days, Drive::Timeline))
        .await;
    assert!(plan.contains("photos_timeline"), "days: {plan}");
    assert!(!plan.contains("TEMP B-TREE"), "days: {plan}");

    let album = SearchQuery {
        album: Some(1),
        ..Default::default()
    };
    let plan = app
        .query_plan(&page_sql(Backend::Sqlite, &album, Drive::Album))
        .await;
    assert!(
        plan.contains("SEARCH ap USING PRIMARY KEY"),
        "album: {plan}"
    );
    assert!(
        plan.contains("SEARCH p USING INTEGER PRIMARY KEY"),
        "album: {plan}"
    );

    // The form's camera and lens lists hop through their indexes instead of scanning.
    for (column, index) in [("camera_model", "photos_camera"), ("lens", "photos_lens")] {
        let plan = app
            .query_plan(&format!(
                "SELECT min({column}) FROM photos WHERE owner_id = 1 AND status = 'ready'
                 AND trashed_at IS NULL AND {column} > 'A'"
            ))
            .await;
        assert!(plan.contains(index), "{column}: {plan}");
    }
}

#[tokio::test]
async fn narrow_and_broad_file_name_searches_find_the_same_photos_as_a_full_scan() {
    let app = TestApp::new()
        .await
        .with_photos(flashbulb_store::search::BROAD_TEXT as u64 + 100)
        .await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id % 7 = 0")
        .await;
    let ids = |html: &str| -> Vec<i64> {
        html.split("data-photo-id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    };
    // IMG_0001xxx: a thousand names (narrow); IMG_000: every name (broad).
    for fragment in ["img_0001", "IMG_000"] {
        let truth: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM photos WHERE owner_id = 1 AND status = 'ready' AND trashed_at IS NULL
             AND lower(file_name) LIKE '%{}%' ORDER BY taken_at DESC, id DESC",
            fragment.to_lowercase()
        ))
        .fetch_all(&app.pool)
        .await
        .expect("truth");
        let (status, html) = search(&app, &format!("q={fragment}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&html), truth[..120], "{fragment}");
        let shown = if truth.len() > 10_000 {
            "More than 10,000 photos".to_string()
        } else {
            format!("{} photos", app::format::thousands(truth.len() as u64))
        };
        assert!(html.contains(&shown), "{fragment}: {shown:?} missing");
    }
}

#[tokio::test]
async fn originals_download_for_their_owner_with_ranges_and_a_clear_error_when_absent() {
    let app = TestApp::new().await.with_photos(3).await;
    app.seed_other_owner(1).await;
    let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = 2")
        .fetch_one(&app.pool)
        .await
        .expect("sha");
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 256) as u8).collect();
    write_original(&app, &sha, &bytes);

    let (_, page) = app.get("/p/2").await;
    assert!(
        page.contains("Download original"),
        "no download for a stored original"
    );
    let (_, page) = app.get("/p/1").await;
    assert!(page.contains("not stored on this server") && !page.contains("Download original"));

    let (status, headers, body) = app
        .request_bytes(
            Request::get("/api/photos/2/original")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, bytes);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    let disposition = headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii");
    assert!(
        disposition.starts_with("attachment; filename=\"IMG_"),
        "{disposition}"
    );

    let (status, _, part) = app
        .request_bytes(
            Request::get("/api/photos/2/original")
                .header(header::RANGE, "bytes=100-199")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, bytes[100..200]);

    let (status, body) = app.get("/api/photos/1/original").await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(body.contains("not stored on this server"), "{body}");
    for path in [
        "/api/photos/4/original",
        "/api/photos/999/original",
        "/api/photos/x/original",
    ] {
        let (status, _) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn counting_a_camera_and_lens_search_stays_in_its_index() {
    let app = TestApp::on_sqlite().await.with_photos(50).await;
    let plan = app
        .query_plan(
            "SELECT count(*) FROM (SELECT 1 FROM photos p
             WHERE p.owner_id = 1 AND p.status = 'ready' AND p.trashed_at IS NULL
               AND p.camera_model = 'ILCE-7M4' AND p.lens = 'FE 35mm F1.8' LIMIT 10001)",
        )
        .await;
    assert!(
        plan.contains("COVERING INDEX photos_camera")
            || plan.contains("COVERING INDEX photos_lens"),
        "{plan}"
    );
}

#[tokio::test]
async fn the_live_counters_walk_the_queue_not_the_library() {
    let app = TestApp::on_sqlite().await.with_photos(50).await;
    let plan = app
        .query_plan(
            &flashbulb_store::photos::COUNTERS_SQL
                .replace("$1", "1")
                .replace("$2", "1"),
        )
        .await;
    assert!(plan.contains("SCAN j USING INDEX jobs_next"), "{plan}");
    assert!(
        plan.contains("SEARCH p USING INTEGER PRIMARY KEY"),
        "{plan}"
    );
    sqlx::query(
        "INSERT INTO jobs (kind, photo_id, run_at, created_at) VALUES ('make_derivatives', 1, 0, 0)",
    )
    .execute(&app.pool)
    .await
    .expect("a job");
    let (photos, queued): (i64, i64) = sqlx::query_as(flashbulb_store::photos::COUNTERS_SQL)
        .bind(1)
        .bind(1)
        .fetch_one(&app.pool)
        .await
        .expect("counters");
    assert_eq!((photos, queued), (50, 1));
}

#[tokio::test]
async fn readiness_reports_each_dependency_and_goes_unready_without_the_database() {
    let app = TestApp::new().await.with_photos(1).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["status"], "ready", "{report}");
    for check in ["database", "disk", "queue"] {
        assert_eq!(report[check]["ok"], true, "{check}: {report}");
    }

    // A job waiting for far longer than workers ever need: serving, but degraded.
    sqlx::query(
        "INSERT INTO jobs (kind, photo_id, run_at, created_at) VALUES ('make_derivatives', 1, 0, 0)",
    )
    .execute(&app.pool)
    .await
    .expect("stale job");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"degraded\""), "{body}");

    app.pool.close().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["status"], "unready");
    assert_eq!(report["database"]["ok"], false);
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "the process itself is alive");
}

#[tokio::test]
async fn while_the_database_gate_is_shut_requests_get_503_at_once_until_a_probe_opens_it() {
    let app = TestApp::new().await.with_photos(3).await;
    let session = app.owner_session().await;
    app.state.database_gate.shut();
    let page = Request::get("/")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = app.send(page, Some(&session)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "2");
    assert!(body.contains("cannot reach its database"), "{body}");
    let api = Request::get("/api/photos/status?ids=1")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = app.send(api, Some(&session)).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["error"]["code"], "unavailable");
    // Probes, metrics and the site's files do not need the database.
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    let (status, metrics) = app.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("flashbulb_db_outages_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flashbulb_db_refused_requests_total 2"),
        "{metrics}"
    );

    // The database answers, so the probe opens the gate within a few of its rounds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !app.state.database_gate.is_open() {
        assert!(std::time::Instant::now() < deadline, "the gate stays shut");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let api = Request::get("/api/photos/status?ids=1")
        .body(Body::empty())
        .expect("request");
    let (status, _, _) = app.send(api, Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.state.database_gate.outages(), 1);
}

/// The export as parsed CSV: its header and records.
async fn export_csv(app: &TestApp) -> (Vec<String>, Vec<csv::StringRecord>) {
    let (status, headers, body) = app
        .request_bytes(
            Request::get("/api/export/photos.csv")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("the header of the content disposition is text")
        .starts_with("attachment"));
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("every record parses");
    (header, records)
}

#[tokio::test]
async fn the_csv_export_lists_every_photo_of_the_owner_once_across_batches() {
    let app = TestApp::new().await.with_photos(4_000).await;
    app.seed_other_owner(25).await;

    // Exactly two full batches: the end is found without a duplicate header or a lost row.
    let (header, records) = export_csv(&app).await;
    assert_eq!(header[..4], ["id", "file_name", "taken_at", "status"]);
    assert_eq!(header.len(), 20);
    assert_eq!(records.len(), 4_000);
    let ids: Vec<i64> = records
        .iter()
        .map(|r| r[0].parse().expect("ids are numbers"))
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids ascend, none twice"
    );
    let owner_ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM photos WHERE owner_id = 1 ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .expect("owner ids");
    assert_eq!(ids, owner_ids, "only the owner's photos, all of them");

    // Text that CSV must quote survives the round trip; trash and favourites are told.
    let odd = insert_photo(&app, 1, 1_793_491_200 + 2 * 86_400 + 50_709, "ready").await;
    sqlx::query(
        "UPDATE photos SET file_name = $1, is_favourite = 1, trashed_at = 0,
                           taken_offset_minutes = 330 WHERE id = $2",
    )
    .bind("comma, \"quote\"\nnew line.jpg")
    .bind(odd)
    .execute(&app.pool)
    .await
    .expect("rename a photo");
    let (_, records) = export_csv(&app).await;
    assert_eq!(records.len(), 4_001);
    let last = records.last().expect("at least one record");
    assert_eq!(last[0].parse::<i64>().expect("the id is a number"), odd);
    assert_eq!(&last[1], "comma, \"quote\"\nnew line.jpg");
    // Taken by the place's clock, with the offset its camera recorded.
    assert_eq!(&last[2], "2026-11-03T14:05:09+05:30");
    assert_eq!(&last[17], "true");
    assert_eq!(&last[18], "1970-01-01T00:00:00Z");
    assert_eq!(last[19].len(), 64, "the content hash in hex");
}

#[tokio::test]
async fn the_csv_export_of_an_empty_library_is_its_header_and_without_a_session_401() {
    let app = TestApp::new().await;
    let (status, _, _) = app
        .send(
            Request::get("/api/export/photos.csv")
                .body(Body::empty())
                .expect("request"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nobody signed in");
    let (header, records) = export_csv(&app).await;
    assert_eq!(header.len(), 20);
    assert!(records.is_empty());
}

#[tokio::test]
async fn export_batches_walk_the_primary_key_without_sorting() {
    let app = TestApp::on_sqlite().await.with_photos(100).await;
    let plan = app
        .query_plan(
            &flashbulb_store::export::BATCH_SQL
                .replacen('?', "1", 1)
                .replacen('?', "0", 1)
                .replacen('?', "2000", 1),
        )
        .await;
    assert!(
        plan.contains("USING INTEGER PRIMARY KEY (rowid>?)"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}
