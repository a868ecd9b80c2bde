//! Timeline benchmark at library scale: server time of the timeline page (cold and warm), of
//! bucket-segment fetches, and of the library pages (photo, album, search), on a seeded library,
//! measured in process (no network).
//!
//! `cargo bench -p flashbulb --bench timeline` (or `scripts/bench`). Environment:
//! `BENCH_PHOTOS` (default 1000000), `BENCH_REQUESTS` (default 2000), `BENCH_OUT` (JSON path),
//! `BENCH_DATABASE_URL` (an empty PostgreSQL database or schema; default a new SQLite file).
//! A trivial route measured in the same run is the reference that absorbs machine noise.

use std::time::{Duration, Instant};

use axum::{body::Body, http::Request, Router};
use flashbulb::config::Config;
use flashbulb_tools::seed;
use flashbulb_web::AppState;
use http_body_util::BodyExt;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use tower::ServiceExt;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The session of the library's owner, signed in once after seeding: pages are measured as
/// that user sees them, the session lookup included.
static SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn time_request(router: &Router, path: &str) -> Duration {
    let cookie = format!(
        "flashbulb_session={}",
        SESSION.get().map_or("", String::as_str)
    );
    let started = Instant::now();
    let response = router
        .clone()
        .oneshot(
            Request::get(path)
                .header("cookie", cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    // The body is part of the work: the page streams, the segment is encoded.
    response.into_body().collect().await.expect("body");
    started.elapsed()
}

struct Summary {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    Summary {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

async fn open(config: &Config) -> (flashbulb_store::Pool, Router) {
    let pool = config.connect().await.expect("open database");
    flashbulb_store::migrate(&pool).await.expect("migrate");
    let state = AppState::new(config.core(), config.web(), pool.clone());
    // Pages and segments need none of the state's tasks; the hub and counters stay idle.
    let router = flashbulb_web::build_app(state);
    (pool, router)
}

#[tokio::main]
async fn main() {
    let photos = env_number("BENCH_PHOTOS", 1_000_000);
    let requests = env_number("BENCH_REQUESTS", 2_000) as usize;
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: std::env::var("BENCH_DATABASE_URL").ok(),
        ..Config::default()
    };

    let (pool, _) = open(&config).await;
    let seeded = seed::run(
        &pool,
        &seed::SeedArgs {
            photos,
            owner: "bench".into(),
            years: 12,
            random_seed: 1,
            only_if_empty: false,
            without_pictures: true,
        },
    )
    .await
    .expect("seed");
    eprintln!("{seeded}");
    let backend = flashbulb_store::backend(&pool);
    if backend == flashbulb_store::Backend::Postgres {
        // What autovacuum does after a bulk load: statistics for the planner, and the
        // trigram index's pending entries filed.
        sqlx::query("VACUUM ANALYZE photos")
            .execute(&pool)
            .await
            .expect("vacuum");
    }
    let buckets = flashbulb_store::timeline::month_buckets(&pool, 1)
        .await
        .expect("buckets");
    let session = flashbulb_core::users::sessions::Sessions::new(pool.clone(), 1)
        .start(1)
        .await
        .expect("a session of the owner");
    SESSION.set(session).expect("one session");
    pool.close().await;

    // Cold: a fresh pool and process-level caches empty; the first request of each pool.
    let mut cold = Vec::new();
    for _ in 0..5 {
        let (pool, router) = open(&config).await;
        cold.push(time_request(&router, "/").await);
        pool.close().await;
    }

    let (_pool, router) = open(&config).await;
    for _ in 0..50 {
        time_request(&router, "/").await;
    }
    let mut reference = Vec::with_capacity(requests);
    let mut page = Vec::with_capacity(requests / 4);
    let mut segments = Vec::with_capacity(requests);
    let mut rng = SmallRng::seed_from_u64(7);
    for round in 0..requests {
        reference.push(time_request(&router, "/healthz").await);
        if round % 4 == 0 {
            page.push(time_request(&router, "/").await);
        }
        let bucket = buckets[rng.random_range(0..buckets.len())];
        let offset = rng.random_range(0..bucket.count.max(1)) / 500 * 500;
        segments.push(
            time_request(
                &router,
                &format!(
                    "/api/timeline/buckets/{}?offset={offset}&limit=500",
                    bucket.key()
                ),
            )
            .await,
        );
    }

    let library = library_pages(&pool_for_library(&config).await, &router, requests / 4).await;

    let (cold, page, segments, reference) = (
        summarize(cold),
        summarize(page),
        summarize(segments),
        summarize(reference),
    );
    let json = serde_json::json!({
        "benchmark": "timeline",
        "backend": backend.to_string(),
        "photos": photos,
        "seed_seconds": seeded.millis as f64 / 1000.0,
        "requests": requests,
        "timeline_page_cold_ms": { "p50": cold.p50_ms, "p99": cold.p99_ms, "max": cold.max_ms },
        "timeline_page_warm_ms": { "p50": page.p50_ms, "p99": page.p99_ms, "max": page.max_ms },
        "bucket_segment_500_ms": { "p50": segments.p50_ms, "p99": segments.p99_ms, "max": segments.max_ms },
        "reference_healthz_ms": { "p50": reference.p50_ms, "p99": reference.p99_ms },
        "library_pages_ms": library,
        "budgets_ms": { "timeline_page_warm_p99": 20.0, "timeline_page_cold_p99": 100.0, "bucket_segment_p99": 10.0 },
    });
    let text = serde_json::to_string_pretty(&json).expect("json");
    println!("{text}");
    if let Ok(path) = std::env::var("BENCH_OUT") {
        std::fs::write(&path, text).expect("write results");
    }
}

async fn pool_for_library(config: &Config) -> flashbulb_store::Pool {
    config.connect().await.expect("open database")
}

/// Makes the path of the next request of a series.
type PathMaker = Box<dyn Fn(&mut SmallRng) -> String>;

/// Server time of the photo page, an album of 1,000 photos and each kind of search, as
/// `{ name: { p50, p99, max } }`.
async fn library_pages(
    pool: &flashbulb_store::Pool,
    router: &Router,
    rounds: usize,
) -> serde_json::Value {
    sqlx::query("INSERT INTO albums (owner_id, title, created_at) VALUES (1, 'Bench', 0)")
        .execute(pool)
        .await
        .expect("album");
    sqlx::query(
        "INSERT INTO album_photos (album_id, photo_id, added_at)
         SELECT 1, id, 0 FROM photos WHERE owner_id = 1 ORDER BY random() LIMIT 1000",
    )
    .execute(pool)
    .await
    .expect("album photos");
    let newest: i64 = sqlx::query_scalar("SELECT max(taken_at) FROM photos")
        .fetch_one(pool)
        .await
        .expect("newest");
    let (year, month, _) = app::format::civil_date(newest);
    let month_from = format!("{year:04}-{month:02}-01");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM photos")
        .fetch_one(pool)
        .await
        .expect("count");
    let mut rng = SmallRng::seed_from_u64(11);
    let series: Vec<(&str, PathMaker)> = vec![
        (
            "photo page",
            Box::new(move |rng| format!("/p/{}", rng.random_range(1..=total))),
        ),
        ("album of 1,000 photos", Box::new(|_| "/albums/1".into())),
        (
            "search form (cameras, lenses, albums)",
            Box::new(|_| "/search".into()),
        ),
        (
            "search: file name, 10 matches",
            Box::new(move |rng| format!("/search?q=IMG_{:06}", rng.random_range(0..total / 10))),
        ),
        (
            "search: file name, ~1,000 matches",
            Box::new(move |rng| format!("/search?q=IMG_{:04}", rng.random_range(0..total / 1000))),
        ),
        (
            "search: file name matching everything",
            Box::new(|_| "/search?q=IMG".into()),
        ),
        ("search: camera", Box::new(|_| "/search?camera=X-T5".into())),
        (
            "search: camera and lens",
            Box::new(|_| "/search?camera=ILCE-7M4&lens=FE%2035mm%20F1.8".into()),
        ),
        (
            "search: one month of days",
            Box::new(move |_| format!("/search?from={month_from}")),
        ),
        ("search: album", Box::new(|_| "/search?album=1".into())),
    ];
    let mut results = serde_json::Map::new();
    for (name, path) in series {
        for _ in 0..5 {
            time_request(router, &path(&mut rng)).await;
        }
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds.max(20) {
            samples.push(time_request(router, &path(&mut rng)).await);
        }
        let summary = summarize(samples);
        eprintln!(
            "{name}: p50 {:.2} ms, p99 {:.2} ms",
            summary.p50_ms, summary.p99_ms
        );
        results.insert(
            name.to_string(),
            serde_json::json!({ "p50": summary.p50_ms, "p99": summary.p99_ms, "max": summary.max_ms }),
        );
    }
    serde_json::Value::Object(results)
}
