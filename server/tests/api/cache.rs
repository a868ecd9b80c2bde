//! The cache against real Redis: single-flight loads, invalidation by owner and by key, two
//! instances sharing Redis, Redis stopped and started again under a running app; and pages
//! with ETags, 304s, stored encodings and invalidation by writes.

use std::{
    convert::Infallible,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use app::live::{Change, ServerMessage, Topic};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use bytes::Bytes;
use flashbulb::config::Config;
use flashbulb_core::{cache::Cache, redis_link::RedisLink};

use super::{
    live::{following, next, Served},
    TestApp,
};

/// Set to a Redis URL, the whole suite runs with Redis (`scripts/test` does).
pub(super) const SUITE_REDIS: &str = "FLASHBULB_TEST_REDIS";

/// The Redis every machine that runs the tests has; the suite fails when it does not answer.
pub(super) fn shared_redis_url() -> String {
    std::env::var(SUITE_REDIS).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// Keys and channels of their own for each test, so tests never see each other's entries.
pub(super) fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "flashbulb-test-{}-{}-{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand_suffix()
    )
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64 % 1_000_000_007)
}

/// Waits up to 10 s for `condition`, failing the test with `what` otherwise.
pub(super) async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A link to `url` that is up and subscribed, or a loud failure.
async fn connected(url: &str, prefix: &str) -> RedisLink {
    let link = RedisLink::new(url, prefix).expect("a valid Redis URL");
    // The tasks end with the link: their handles need not be kept.
    let _ = link.start();
    wait_until(&format!("Redis at {url} answers"), || {
        link.is_up() && link.is_subscribed()
    })
    .await;
    link
}

fn cache(redis: Option<RedisLink>) -> Cache {
    let cache = Cache::new(16 * 1024 * 1024, Duration::from_secs(300), redis);
    // The follower ends with the cache: its handle need not be kept.
    let _ = cache.start();
    cache
}

/// Counts its calls and answers `value` after a pause long enough for others to pile up.
async fn counted(loads: &AtomicUsize, value: &'static str) -> Result<Bytes, Infallible> {
    loads.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(Bytes::from_static(value.as_bytes()))
}

async fn load(cache: &Cache, owner: i64, name: &str, loads: &AtomicUsize, value: &'static str) {
    let got = cache
        .get_or_load(owner, name, || counted(loads, value))
        .await
        .expect("an infallible load");
    assert_eq!(got, value.as_bytes(), "{name} of owner {owner}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_misses_cause_one_load() {
    let redis = connected(&shared_redis_url(), &unique_prefix()).await;
    for (level, cache) in [("L1 only", cache(None)), ("L1 + Redis", cache(Some(redis)))] {
        let loads = Arc::new(AtomicUsize::new(0));
        let requests: Vec<_> = (0..100)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load(1, "page /", || counted(&loads, "rendered"))
                        .await
                        .expect("an infallible load")
                })
            })
            .collect();
        for request in requests {
            assert_eq!(request.await.expect("a request"), "rendered");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "{level}");
        let stats = cache.stats();
        assert_eq!((stats.misses, stats.l1_hits), (1, 99), "{level}: {stats:?}");
    }
}

#[tokio::test]
async fn a_failed_load_reaches_every_waiter_and_is_not_stored() {
    let cache = cache(None);
    let loads = AtomicUsize::new(0);
    let failing = || async {
        loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<Bytes, _>("database down")
    };
    let (first, second) = tokio::join!(
        cache.get_or_load(1, "page /", failing),
        cache.get_or_load(1, "page /", failing)
    );
    assert_eq!(*first.expect_err("failed"), "database down");
    assert_eq!(*second.expect_err("failed"), "database down");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    load(&cache, 1, "page /", &loads, "recovered").await;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "the failure was not stored"
    );
}

#[tokio::test]
async fn invalidating_an_owner_or_a_key_reloads_only_what_it_names() {
    for redis in [
        None,
        Some(connected(&shared_redis_url(), &unique_prefix()).await),
    ] {
        let cache = cache(redis);
        let loads = AtomicUsize::new(0);
        load(&cache, 1, "page /", &loads, "one").await;
        load(&cache, 1, "page /albums", &loads, "albums").await;
        load(&cache, 2, "page /", &loads, "two").await;
        assert_eq!(loads.load(Ordering::SeqCst), 3);

        cache.invalidate_owner(1).await;
        load(&cache, 1, "page /", &loads, "one, changed").await;
        load(&cache, 1, "page /albums", &loads, "albums, changed").await;
        load(&cache, 2, "page /", &loads, "two").await;
        assert_eq!(loads.load(Ordering::SeqCst), 5, "owner 2 kept its entry");

        cache.invalidate(1, "page /albums").await;
        load(&cache, 1, "page /albums", &loads, "albums, again").await;
        load(&cache, 1, "page /", &loads, "one, changed").await;
        assert_eq!(loads.load(Ordering::SeqCst), 6, "only the key was dropped");
    }
}

#[tokio::test]
async fn instances_share_entries_through_redis_and_hear_each_others_invalidations() {
    let url = shared_redis_url();
    let prefix = unique_prefix();
    let a = cache(Some(connected(&url, &prefix).await));
    let b = cache(Some(connected(&url, &prefix).await));
    let loads = AtomicUsize::new(0);
    load(&a, 1, "page /", &loads, "v1").await;
    load(&b, 1, "page /", &loads, "v1").await;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "B found A's entry in Redis"
    );
    assert_eq!(b.stats().l2_hits, 1);

    // A write through A: B's own copy must go too, not only Redis'.
    a.invalidate_owner(1).await;
    eventually_loads(&b, "page /", "v2").await;
    load(&a, 1, "page /", &loads, "v2").await;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "A found B's new entry in Redis"
    );

    // One key, through B this time.
    b.invalidate(1, "page /").await;
    eventually_loads(&a, "page /", "v3").await;
}

/// Asks `cache` for owner 1's `name` until its loader runs and gives `value`: another
/// instance's invalidation arrives asynchronously.
async fn eventually_loads(cache: &Cache, name: &str, value: &'static str) {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = cache
            .get_or_load(1, name, || async {
                Ok::<_, Infallible>(Bytes::from_static(value.as_bytes()))
            })
            .await
            .expect("an infallible load");
        if got == value {
            return;
        }
        seen.push(got);
        assert!(std::time::Instant::now() < deadline, "kept {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Redis server of this test's own, on a free port, that it can stop and start.
struct OwnRedis {
    port: u16,
    process: Option<tokio::process::Child>,
}

impl OwnRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Self {
            port,
            process: None,
        };
        redis.resume().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn resume(&mut self) {
        let process = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (Debian's redis-server package) runs");
        self.process = Some(process);
        let address = format!("127.0.0.1:{}", self.port);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(&address).await.is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `kill SIGNAL` to the server, e.g. `-STOP` to freeze it.
    fn signal(&self, signal: &str) {
        let pid = self
            .process
            .as_ref()
            .and_then(tokio::process::Child::id)
            .expect("redis-server runs");
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().await.expect("stop redis-server");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_made_while_redis_stood_still_reach_the_other_instance_when_it_answers_again() {
    let redis = OwnRedis::start().await;
    let prefix = unique_prefix();
    let a = cache(Some(connected(&redis.url(), &prefix).await));
    let b_link = connected(&redis.url(), &prefix).await;
    let b = cache(Some(b_link.clone()));
    let loads = AtomicUsize::new(0);
    load(&a, 1, "page /", &loads, "v1").await;
    load(&b, 1, "page /", &loads, "v1").await;
    assert_eq!(loads.load(Ordering::SeqCst), 1);

    // Redis hangs (a stalled host, not a crash: it keeps its data and B's subscription).
    redis.signal("-STOP");
    a.invalidate_owner(1).await;
    load(&a, 1, "page /", &loads, "v2").await;
    assert_eq!(loads.load(Ordering::SeqCst), 2, "A moved on by itself");
    redis.signal("-CONT");

    // B heard nothing while Redis stood still; once A is back it must learn of the write,
    // and neither may take Redis' entry from before it.
    eventually_loads(&b, "page /", "v3").await;
    assert!(b_link.is_up());
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    app.request_bytes(
        Request::get(path)
            .header(header::ACCEPT_ENCODING, "gzip, br")
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

async fn readiness(app: &TestApp) -> serde_json::Value {
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("a JSON report")
}

/// The next change of photo `id` on `socket`, as (favourite) — skipping anything else.
async fn favourite_change(socket: &mut super::live::Follower, id: i64) -> bool {
    loop {
        if let ServerMessage::Frame { state, .. } = next(socket).await {
            for change in state {
                if let Change::Photo {
                    id: changed,
                    favourite,
                    ..
                } = change
                {
                    if changed == id {
                        return favourite;
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_stopped_pages_keep_answering_and_both_instances_recover_by_themselves() {
    let mut redis = OwnRedis::start().await;
    let prefix = unique_prefix();
    let config = Config {
        redis_url: Some(redis.url()),
        redis_prefix: prefix.clone(),
        live_frame_ms: 20,
        ..Config::default()
    };
    let a = TestApp::with_config(config.clone())
        .await
        .with_photos(30)
        .await;
    // B: another instance on the same database (the same file) and Redis.
    let b_config = Config {
        data_dir: a.config.data_dir.clone(),
        ..config
    };
    let b_state = flashbulb_web::AppState::new(b_config.core(), b_config.web(), a.pool.clone());
    let _b_background = b_state.start();
    let b_redis = b_state.redis.clone().expect("B has Redis");
    wait_until("B is subscribed", || {
        b_redis.is_up() && b_redis.is_subscribed()
    })
    .await;
    let served_b = Served::on(
        &b_state,
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    )
    .await;
    let mut follower = following(&served_b.site, Topic::Library).await;

    // Bridged: a favourite set through A reaches a tab on B.
    let (status, body) = a
        .post_form("/api/set_favourite", "photo_id=3&favourite=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(favourite_change(&mut follower, 3).await);
    assert_eq!(readiness(&a).await["status"], "ready");

    redis.stop().await;
    for _ in 0..20 {
        let (status, _, body) = get(&a, "/").await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    let (status, body) = a
        .post_form("/api/set_favourite", "photo_id=4&favourite=true")
        .await;
    assert_eq!(status, StatusCode::OK, "writes go on without Redis: {body}");
    let a_redis = a.state.redis.clone().expect("A has Redis");
    wait_until("A notices Redis is gone", || !a_redis.is_subscribed()).await;
    let report = readiness(&a).await;
    assert_eq!(report["status"], "degraded", "{report}");
    assert_eq!(report["redis"]["ok"], false, "{report}");
    let (status, _, _) = get(&a, "/p/4").await;
    assert_eq!(status, StatusCode::OK);

    redis.resume().await;
    wait_until("A reconnects", || {
        a_redis.is_up() && a_redis.is_subscribed()
    })
    .await;
    wait_until("B reconnects", || {
        b_redis.is_up() && b_redis.is_subscribed()
    })
    .await;
    // B's tab missed photo 4's favourite (bridged nowhere while Redis was away): it is told
    // to refetch rather than left showing what no longer holds.
    while !matches!(next(&mut follower).await, ServerMessage::Resync { .. }) {}
    assert_eq!(readiness(&a).await["status"], "ready");
    let (status, body) = a
        .post_form("/api/set_favourite", "photo_id=5&favourite=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        favourite_change(&mut follower, 5).await,
        "live updates between instances resumed"
    );
    assert!(a_redis.reconnections() >= 1);
    served_b.stop().await;
}

#[tokio::test]
async fn pages_carry_etags_answer_304_and_change_with_every_write() {
    let app = TestApp::new().await.with_photos(40).await;
    let (status, headers, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_ENCODING],
        "br",
        "stored brotli served as is"
    );
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-cache");
    let etag = headers[header::ETAG].clone();
    assert!(
        etag.to_str().expect("ASCII").starts_with("W/\""),
        "{etag:?}"
    );
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut plain).expect("valid brotli");
    let html = String::from_utf8(plain).expect("UTF-8");
    assert!(html.contains("<!DOCTYPE html>"), "{html:.200}");

    // The same page again, plain for a client that takes no encoding, same ETag.
    let (status, headers, plain_body) = app
        .request_bytes(Request::get("/").body(Body::empty()).expect("request"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(headers[header::ETAG], etag);
    assert_eq!(String::from_utf8(plain_body).expect("UTF-8"), html);

    let conditional = |tag: &str| {
        Request::get("/")
            .header(header::IF_NONE_MATCH, tag)
            .body(Body::empty())
            .expect("request")
    };
    let (status, headers, body) = app
        .request_bytes(conditional(etag.to_str().expect("ASCII")))
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG], etag);
    let (status, _, _) = app.request_bytes(conditional("W/\"something-else\"")).await;
    assert_eq!(status, StatusCode::OK);

    // A write invalidates: the page is rendered anew and the old ETag no longer matches.
    let stats = app.state.cache.stats();
    let newest: i64 = app
        .scalar("SELECT id FROM photos ORDER BY taken_at DESC, id DESC LIMIT 1")
        .await;
    let (status, body) = app
        .post_form(
            "/api/set_favourite",
            &format!("photo_id={newest}&favourite=true"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, _) = app
        .request_bytes(conditional(etag.to_str().expect("ASCII")))
        .await;
    assert_eq!(status, StatusCode::OK, "a changed page is sent whole");
    assert_ne!(headers[header::ETAG], etag);
    assert_eq!(app.state.cache.stats().misses, stats.misses + 1);

    // Timeline segments are cached the same way.
    let month = match app.backend() {
        flashbulb_store::Backend::Sqlite => "strftime('%Y-%m', taken_at, 'unixepoch')",
        flashbulb_store::Backend::Postgres => {
            "to_char(to_timestamp(taken_at) AT TIME ZONE 'UTC', 'YYYY-MM')"
        }
    };
    let month: String = sqlx::query_scalar(&format!(
        "SELECT {month} FROM photos ORDER BY taken_at DESC LIMIT 1"
    ))
    .fetch_one(&app.pool)
    .await
    .expect("a month");
    let path = format!("/api/timeline/buckets/{month}");
    let (status, first, body) = get(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.is_empty());
    let (status, second, _) = get(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first[header::ETAG], second[header::ETAG]);

    // What is not a page of the library is neither stored nor tagged.
    for path in ["/ops", "/metrics", "/readyz", "/p/999999"] {
        let (_, headers, _) = get(&app, path).await;
        assert!(!headers.contains_key(header::ETAG), "{path}");
    }
}

#[tokio::test]
async fn precompressed_site_files_are_sent_as_they_are_while_fresh() {
    let site = tempfile::tempdir().expect("a site folder");
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg folder");
    let script = "console.log('hydrate');".repeat(200);
    std::fs::write(pkg.join("app.js"), &script).expect("script");
    // Stand-ins for the compressed forms: which one arrives is plain to see.
    std::fs::write(pkg.join("app.js.br"), "BROTLI FORM").expect("brotli form");
    std::fs::write(pkg.join("app.js.gz"), "GZIP FORM").expect("gzip form");
    let app = TestApp::with_config(Config {
        site_root: site.path().to_path_buf(),
        ..Config::default()
    })
    .await;
    let fetch = |accept: &'static str| {
        let mut request = Request::get("/pkg/app.js");
        if !accept.is_empty() {
            request = request.header(header::ACCEPT_ENCODING, accept);
        }
        app.request_bytes(request.body(Body::empty()).expect("request"))
    };

    let (status, headers, body) = fetch("gzip, deflate, br").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(body, b"BROTLI FORM");
    let (_, headers, body) = fetch("gzip").await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(body, b"GZIP FORM");
    let (_, headers, body) = fetch("").await;
    assert!(!headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(body, script.as_bytes());

    // Rebuilt after it was compressed: the old forms are never sent.
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(pkg.join("app.js"))
        .and_then(|file| file.set_modified(later))
        .expect("touch the script");
    let (status, headers, body) = fetch("br").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(body, b"BROTLI FORM");
    assert_eq!(
        headers[header::CONTENT_ENCODING],
        "br",
        "compressed on the way instead"
    );

    for hostile in [
        "/pkg/../Cargo.toml",
        "/pkg/%2e%2e/%2e%2e/etc/passwd",
        "/pkg/missing.js",
    ] {
        let (status, _, _) = app
            .request_bytes(Request::get(hostile).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{hostile}");
    }
}

#[tokio::test]
async fn content_named_site_files_are_answered_from_memory_once_read() {
    let site = tempfile::tempdir().expect("a site folder");
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg folder");
    let name = "app.DMF1ucDxtqgxw5niaXcmYQ.js";
    let script = "console.log('hydrate');".repeat(200);
    std::fs::write(pkg.join(name), &script).expect("script");
    std::fs::write(pkg.join(format!("{name}.br")), "BROTLI FORM").expect("brotli form");
    let wasm = "app.kutf_uauL-w61xx3dTFXjw.wasm";
    std::fs::write(pkg.join(wasm), b"\0asm wasm bytes").expect("wasm");
    let app = TestApp::with_config(Config {
        site_root: site.path().to_path_buf(),
        ..Config::default()
    })
    .await;
    let fetch = |file: &str, accept: &'static str, etag: Option<header::HeaderValue>| {
        let mut request = Request::get(format!("/pkg/{file}"));
        if !accept.is_empty() {
            request = request.header(header::ACCEPT_ENCODING, accept);
        }
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        app.send(request.body(Body::empty()).expect("request"), None)
    };
    let (status, brotli, body) = fetch(name, "gzip, br", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"BROTLI FORM");
    let (status, plain, body) = fetch(name, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, script.as_bytes());
    let (status, headers, body) = fetch(wasm, "br", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
    assert!(!headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(body, b"\0asm wasm bytes");

    // Gone from disk, they are still sent: from memory, with the same headers.
    for file in [name.to_string(), format!("{name}.br"), wasm.to_string()] {
        std::fs::remove_file(pkg.join(file)).expect("remove");
    }
    let (status, headers, body) = fetch(name, "br", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"BROTLI FORM");
    assert_eq!(
        headers, brotli,
        "answered before routing as the router answered"
    );
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_ne!(
        brotli[header::ETAG],
        plain[header::ETAG],
        "one tag per encoding"
    );
    let (_, _, body) = fetch(name, "", None).await;
    assert_eq!(body, script.as_bytes());
    let (status, headers, body) = fetch(name, "br", Some(brotli[header::ETAG].clone())).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG], brotli[header::ETAG]);
    assert!(body.is_empty());
    // An encoding never read was never kept.
    let (status, _, _) = fetch(name, "gzip", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `path` as `get` asks for it, naming `etag` in `If-None-Match`.
async fn get_if_changed(
    app: &TestApp,
    path: &str,
    etag: &header::HeaderValue,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    app.request_bytes(
        Request::get(path)
            .header(header::ACCEPT_ENCODING, "gzip, br")
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn api_answers_carry_etags_and_are_304_while_unchanged() {
    let app = TestApp::new().await.with_photos(5).await;
    let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = 1")
        .fetch_one(&app.pool)
        .await
        .expect("a photo");
    super::write_original(&app, &sha, b"the original bytes");
    let album = super::create_album(&app, "Tagged").await;
    assert_eq!(super::add_to_album(&app, album, 1).await, StatusCode::OK);
    let zip = format!("/api/albums/{album}/zip");
    let paths = [
        "/api/photos/status?ids=1,2,3",
        "/api/export/photos.csv",
        "/api/photos/1/original",
        zip.as_str(),
    ];
    let mut tags = Vec::new();
    for path in paths {
        let (status, headers, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.is_empty(), "{path}");
        let etag = headers
            .get(header::ETAG)
            .unwrap_or_else(|| panic!("{path} has no ETag"))
            .clone();
        let (status, again, body) = get_if_changed(&app, path, &etag).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again[header::ETAG], etag, "{path}");
        assert!(body.is_empty(), "{path}");
        tags.push(etag);
    }
    // The original is named by its content: its tag is its SHA-256.
    assert_eq!(tags[2], format!("\"{}\"", app::format::hex(&sha)));

    // A write: the library's answers are sent whole again, under new tags; the original,
    // whose bytes cannot change, keeps its tag.
    let (status, _) = app
        .post_form("/api/set_favourite", "photo_id=2&favourite=true")
        .await;
    assert_eq!(status, StatusCode::OK);
    for (path, etag) in paths.iter().zip(&tags) {
        let (status, headers, _) = get_if_changed(&app, path, etag).await;
        if path.ends_with("/original") {
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
            continue;
        }
        if path.starts_with("/api/photos/status") {
            // Statuses are tagged by content, which a favourite does not change.
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_ne!(&headers[header::ETAG], etag, "{path}");
    }
    // A status that changes is sent whole.
    app.execute("UPDATE photos SET status = 'failed', failure = 'broken' WHERE id = 3")
        .await;
    let (status, _, body) = get_if_changed(&app, paths[0], &tags[0]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("broken"));
}

#[tokio::test]
async fn stored_pages_answered_before_routing_are_the_routed_answers() {
    let app = TestApp::new().await.with_photos(20).await;
    for path in ["/", "/p/3", "/albums"] {
        for accept in ["", "gzip", "gzip, br"] {
            let fetch = || {
                let mut request = Request::get(path);
                if !accept.is_empty() {
                    request = request.header(header::ACCEPT_ENCODING, accept);
                }
                app.request_bytes(request.body(Body::empty()).expect("request"))
            };
            // The first may render; the second is a hit of the cache, answered before routing.
            let (status, first, first_body) = fetch().await;
            let hits = app.state.cache.stats().l1_hits;
            let (again, second, second_body) = fetch().await;
            assert_eq!(app.state.cache.stats().l1_hits, hits + 1, "{path}: a hit");
            assert_eq!(
                (status, &first_body),
                (again, &second_body),
                "{path} {accept}"
            );
            assert_eq!(first, second, "{path} {accept}: the same headers");
            assert_eq!(second[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(second[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(second[header::REFERRER_POLICY], "same-origin");
        }
    }
    // Counted under their routes, as routed requests are.
    let (_, metrics) = app.get("/metrics").await;
    for series in [
        r#"flashbulb_http_requests_total{method="GET",route="/",status="200"} 6"#,
        r#"flashbulb_http_requests_total{method="GET",route="/p/{id}",status="200"} 6"#,
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    // Without a session the router answers: the sign-in page, never a stored page.
    let (status, headers, _) = app
        .send(
            Request::get("/").body(Body::empty()).expect("request"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/signin");
    // Another owner's session finds nothing of the first owner's.
    let other = flashbulb_core::users::add(&app.pool, "other", "other password", false)
        .await
        .expect("another user");
    let session = app.session_of(other).await;
    let (status, _, body) = app
        .send(
            Request::get("/p/3").body(Body::empty()).expect("request"),
            Some(&session),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );
}
