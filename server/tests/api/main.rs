//! Flashbulb's server against a real SQLite database (and PostgreSQL with Redis when the suite
//! runs there): the test app every feature's tests share, one module per feature.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    Router,
};
use flashbulb::config::Config;
use flashbulb_tools::seed;
use flashbulb_types::ApiError;
use flashbulb_web::AppState;
use http_body_util::BodyExt;
use tower::ServiceExt;

mod albums;
mod cache;
mod encodings;
mod export;
mod favourites;
#[path = "../support/files.rs"]
mod files;
mod health;
#[path = "../support/hostile.rs"]
#[allow(dead_code)] // this binary takes one crafted file of the set
mod hostile;
mod live;
#[path = "../support/nginx.rs"]
mod nginx;
mod observability;
mod photos;
mod pipeline;
mod postgres;
mod rendering;
mod scale_out;
mod schema;
mod search;
mod security;
mod timeline;
mod trash;
mod writers;

/// A fresh database in its own temporary folder (SQLite) or schema (PostgreSQL), migrated,
/// with the router built on it.
struct TestApp {
    dir: tempfile::TempDir,
    pool: flashbulb_store::Pool,
    router: Router,
    config: Config,
    state: AppState,
    /// The session of the library's owner, made at the first request that needs it.
    owner_session: tokio::sync::OnceCell<String>,
    /// The state's tasks (hub, Redis link, cache follower, counters), stopped with the app.
    _background: flashbulb_core::background::Background,
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
            Ok(_) => flashbulb_store::Backend::Postgres,
            Err(_) => flashbulb_store::Backend::Sqlite,
        };
        Self::on(backend, config).await
    }

    /// A test app on SQLite whatever the suite runs on: for SQLite's own query plans.
    async fn on_sqlite() -> Self {
        Self::on(flashbulb_store::Backend::Sqlite, Config::default()).await
    }

    async fn on(backend: flashbulb_store::Backend, config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..config
        };
        if backend == flashbulb_store::Backend::Postgres && config.database_url.is_none() {
            config.database_url = Some(postgres::fresh_schema().await);
        }
        // The whole suite runs once more with Redis: the cache's second level and the hubs'
        // bridge then carry every page and live update.
        if let (None, Ok(url)) = (&config.redis_url, std::env::var(cache::SUITE_REDIS)) {
            config.redis_url = Some(url);
            config.redis_prefix = cache::unique_prefix();
        }
        let pool = config.connect().await.expect("open database");
        flashbulb_store::migrate(&pool).await.expect("migrate");
        let state = AppState::new(config.core(), config.web(), pool.clone());
        let background = state.start();
        if let Some(redis) = &state.redis {
            cache::wait_until("Redis answers and the instance is subscribed", || {
                redis.is_up() && redis.is_subscribed()
            })
            .await;
        }
        let router = flashbulb_web::build_app(state.clone());
        Self {
            dir,
            pool,
            router,
            config,
            state,
            owner_session: tokio::sync::OnceCell::new(),
            _background: background,
        }
    }

    fn backend(&self) -> flashbulb_store::Backend {
        flashbulb_store::backend(&self.pool)
    }

    /// `count` photos of "demo", who can sign in with `DEMO_PASSWORD`.
    async fn with_photos(self, count: u64) -> Self {
        seed::run(&self.pool, &seed_args("demo", count))
            .await
            .expect("seed");
        match flashbulb_core::users::add(&self.pool, "demo", DEMO_PASSWORD, true).await {
            Ok(_) | Err(flashbulb_core::CoreError::Refused(ApiError::Conflict(_))) => {}
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
                    None => flashbulb_core::users::find_or_create(&self.pool, "owner", true)
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

fn write_original(app: &TestApp, sha: &[u8], bytes: &[u8]) {
    let path = flashbulb_core::storage::original_path(app.dir.path(), sha);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
    std::fs::write(path, bytes).expect("original");
}
