//! Reliability drills (SPEC §5): each starts real Flashbulb processes (and, where the drill
//! needs them, a Redis or PostgreSQL of its own), does what goes wrong in production to
//! them — kill -9, SIGTERM, an outage, a full disk, a long steady load — and asserts that
//! nothing was lost. `scripts/drills` runs them (short versions; `--full` by hand).

#[path = "../support/files.rs"]
mod files;
mod harness;
#[path = "../support/nginx.rs"]
mod nginx;
mod object_storage;
mod roles;
mod soak;
mod two_hosts;

use std::{path::Path, sync::Arc, time::Duration};

use app::live::{Change, ServerMessage, Topic};
use flashbulb_core::pipeline;
use flashbulb_tools::load::{self, Site};
use harness::{
    distinct_photo, eventually, get, pick, post_form, read_continuously, reading_paths, served,
    upload, Flashbulb, Postgres, Redis, Tally,
};

/// A photograph large enough that making its derivatives takes a while.
const LARGE: &str = "photos/IMG_20200124_231153.jpg";

/// Uploads `count` distinct copies of `fixture` in requests of `per_request`; their ids.
async fn upload_copies(
    site: &Site,
    fixture: &str,
    first: u64,
    count: u64,
    per_request: u64,
) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut n = first;
    while n < first + count {
        let batch: Vec<(String, Vec<u8>)> = (n..(n + per_request).min(first + count))
            .map(|copy| (format!("copy-{copy}.jpg"), distinct_photo(fixture, copy)))
            .collect();
        n += batch.len() as u64;
        let answer = upload(site, &batch).await;
        assert!(
            matches!(answer.status, Some(200 | 201)),
            "upload: {:?} {}",
            answer.status,
            answer.text()
        );
        for file in answer.json()["files"].as_array().expect("files") {
            assert_eq!(file["status"], "added", "{file}");
            ids.push(file["photo_id"].as_i64().expect("photo id"));
        }
    }
    ids
}

async fn count(pool: &flashbulb_store::Pool, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|error| panic!("{query}: {error}"))
}

/// Waits until photo `id` is ready (derived by whichever worker).
async fn until_ready(pool: &flashbulb_store::Pool, id: i64) {
    let query = format!("SELECT count(*) FROM photos WHERE id = {id} AND status = 'ready'");
    eventually("the photo is derived", Duration::from_secs(60), || async {
        count(pool, &query).await == 1
    })
    .await;
}

/// Waits until a worker of the host named `host` runs a job (the lease's holder names it).
async fn until_host_runs_jobs(pool: &flashbulb_store::Pool, host: &str) {
    let query =
        format!("SELECT count(*) FROM jobs WHERE state = 'running' AND leased_by LIKE '{host}-%'");
    eventually(
        &format!("{host} runs jobs"),
        Duration::from_secs(120),
        || async { count(pool, &query).await >= 1 },
    )
    .await;
}

/// Every file below `folder`, relative to it.
fn files_below(folder: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(folder) {
                files.push(relative.display().to_string());
            }
        }
    }
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_job_loses_nothing_and_repeats_nothing() {
    let folder = tempfile::tempdir().expect("a folder");
    let photos = pick(12, 60);
    // A lease far longer than the drill: only the restart's reclaim can bring the killed
    // process's jobs back in time.
    let mut server = Flashbulb::new(
        &folder.path().join("data"),
        &[
            ("FLASHBULB_DERIVATIVE_WORKERS", "2".into()),
            ("FLASHBULB_JOB_LEASE_SECS", "3600".into()),
        ],
    );
    server.prepare(0);
    server.start().await;
    let site = server.sign_in().await;
    let ids = upload_copies(&site, LARGE, 0, photos, 4).await;
    let pool = server.sqlite().await;
    eventually(
        "some photos are ready while others are being made",
        Duration::from_secs(300),
        || async {
            count(&pool, "SELECT count(*) FROM photos WHERE status = 'ready'").await >= 1
                && count(&pool, "SELECT count(*) FROM jobs WHERE state = 'running'").await >= 1
        },
    )
    .await;
    let killed_pid = server.pid();
    server.kill_hard();
    let held = count(&pool, "SELECT count(*) FROM jobs WHERE state = 'running'").await;
    let ready = count(&pool, "SELECT count(*) FROM photos WHERE status = 'ready'").await;
    assert!(held >= 1, "no job was running at the kill");
    assert!(
        ready < photos as i64,
        "every job had finished before the kill"
    );
    eprintln!("killed with {held} jobs running and {ready} of {photos} photos ready");

    server.start().await;
    let took = eventually(
        "the restarted server finishes every job",
        Duration::from_secs(pick(300, 1200)),
        || async { count(&pool, "SELECT count(*) FROM jobs").await == 0 },
    )
    .await;
    eprintln!(
        "the queue was empty {:.1} s after the restart",
        took.as_secs_f64()
    );
    assert!(
        server
            .log()
            .contains("took back the jobs of stopped processes"),
        "the restart reclaimed the killed process's leases"
    );

    // Every photo is ready, with exactly its four derivatives, byte for byte those a clean
    // run makes of the same picture.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM photos WHERE status = 'ready'").await,
        ids.len() as i64
    );
    let reference = tokio::task::spawn_blocking(|| {
        pipeline::derive_all(
            &distinct_photo(LARGE, 0),
            pipeline::derive::Limits::default(),
        )
        .expect("the photograph derives")
    })
    .await
    .expect("reference");
    let data = &server.data;
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sha256 FROM photos ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("hashes");
    let mut expected_files = Vec::new();
    for sha in &hashes {
        let hex = flashbulb_core::storage::hex(sha);
        expected_files.push(format!("originals/{}/{hex}", &hex[..2]));
        for (variant, bytes) in &reference.files {
            let name = format!("derivatives/{}/{hex}/{variant}", &hex[..2]);
            let stored = server
                .read_stored(&name)
                .await
                .unwrap_or_else(|| panic!("{name} is missing"));
            assert!(stored == *bytes, "{name} differs from a clean run's");
            expected_files.push(name);
        }
    }
    expected_files.sort();
    let mut stored = server.stored("originals").await;
    stored.extend(server.stored("derivatives").await);
    stored.sort();
    assert_eq!(
        stored, expected_files,
        "no stray, partial or duplicate file"
    );
    let scratch = files_below(&data.join("tmp"));
    assert!(
        scratch.is_empty(),
        "what the killed process half-wrote is swept: {scratch:?}"
    );
    assert!(
        !data
            .join("tmp")
            .join(format!("{}-{killed_pid}", flashbulb_core::instance::host()))
            .exists(),
        "the killed process's scratch folder is gone"
    );
}

/// An upload sent over a raw connection, so the drill decides when each part of the body
/// leaves.
struct SlowUpload {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

impl SlowUpload {
    /// Sends the head and the first half of a one-file upload.
    async fn begin(site: &Site, name: &str, bytes: &[u8]) -> Self {
        use tokio::io::AsyncWriteExt;
        let (content_type, body) = crate::files::multipart(&[(name, bytes)]);
        let address = site.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let head = format!(
            "POST /api/upload HTTP/1.1\r\nHost: {address}\r\nCookie: {}\r\nOrigin: {}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            site.cookie(),
            site.base,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        let half = body.len() / 2;
        stream.write_all(&body[..half]).await.expect("first half");
        stream.flush().await.expect("flush");
        Self {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest and reads the answer's status line.
    async fn finish(mut self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.rest).await.expect("the rest");
        let mut answer = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            self.stream.read_to_end(&mut answer),
        )
        .await
        .expect("an answer within 30 s")
        .expect("read");
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_what_is_in_flight_and_leaves_nothing_half_done() {
    let folder = tempfile::tempdir().expect("a folder");
    let mut server = Flashbulb::new(
        &folder.path().join("data"),
        &[
            ("FLASHBULB_DERIVATIVE_WORKERS", "1".into()),
            ("FLASHBULB_SHUTDOWN_GRACE_SECS", "5".into()),
        ],
    );
    server.prepare(50);
    server.start().await;
    let site = server.sign_in().await;
    // A queue that one worker cannot finish before the stop.
    let queued = upload_copies(&site, LARGE, 0, pick(6, 20), 3).await;
    let pool = server.sqlite().await;
    eventually("a job is running", Duration::from_secs(60), || async {
        count(&pool, "SELECT count(*) FROM jobs WHERE state = 'running'").await >= 1
    })
    .await;

    let finished = SlowUpload::begin(&site, "finished.jpg", &distinct_photo(LARGE, 1000)).await;
    let abandoned = SlowUpload::begin(&site, "abandoned.jpg", &distinct_photo(LARGE, 1001)).await;
    let scratch = server.data.join("tmp");
    eventually(
        "both uploads are arriving",
        Duration::from_secs(10),
        || async {
            files_below(&scratch)
                .iter()
                .filter(|file| file.contains("upload-"))
                .count()
                == 2
        },
    )
    .await;
    server.terminate();
    // A page view in flight at the signal, and the listener closed after it.
    let reading = tokio::spawn({
        let site = site.clone();
        async move { get(&site.base, "/", Some(&site)).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = get(&site.base, "/healthz", None).await;
    assert_eq!(late.status, None, "no new connection after SIGTERM");
    let status_line = finished.finish().await;
    assert!(
        status_line.contains(" 201 "),
        "the upload in flight at SIGTERM completes: {status_line:?}"
    );
    drop(abandoned);
    let read = reading.await.expect("reader");
    assert!(
        read.status == Some(200) || read.status.is_none(),
        "a request in flight finishes or was never taken: {:?}",
        read.status
    );
    let exit = server.wait_exit(Duration::from_secs(30)).await;
    assert!(exit.success(), "a clean exit: {exit}");
    let log = server.log();
    assert!(log.contains("stopped cleanly"), "{}", server.log_tail());

    // The finished upload is stored whole; the abandoned one left nothing, anywhere.
    let finished_rows = count(
        &pool,
        "SELECT count(*) FROM photos WHERE file_name = 'finished.jpg'",
    )
    .await;
    assert_eq!(finished_rows, 1);
    let abandoned_rows = count(
        &pool,
        "SELECT count(*) FROM photos WHERE file_name = 'abandoned.jpg'",
    )
    .await;
    assert_eq!(abandoned_rows, 0);
    let leftovers = files_below(&scratch);
    assert!(leftovers.is_empty(), "no half-written file: {leftovers:?}");
    let originals = server.stored("originals").await.len() as i64;
    assert_eq!(
        originals,
        count(
            &pool,
            "SELECT count(*) FROM photos WHERE file_name LIKE 'copy-%' OR file_name = 'finished.jpg'",
        )
        .await,
        "one original per uploaded photo"
    );
    // Unfinished jobs are back in the queue, none held by the stopped process.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM jobs WHERE state <> 'queued'").await,
        0
    );
    let pending = count(
        &pool,
        "SELECT count(*) FROM photos WHERE status = 'pending'",
    )
    .await;
    assert_eq!(
        pending,
        count(&pool, "SELECT count(*) FROM jobs").await,
        "every pending photo has its job"
    );
    eprintln!(
        "stopped with {pending} of {} jobs handed back",
        queued.len() + 1
    );

    server.start().await;
    eventually(
        "the next start finishes the handed-back jobs",
        Duration::from_secs(pick(300, 900)),
        || async { count(&pool, "SELECT count(*) FROM jobs").await == 0 },
    )
    .await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM photos WHERE status <> 'ready'").await,
        0
    );
}

/// A tmpfs of `megabytes` mounted at `path` until dropped.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, megabytes: u32) -> Self {
        std::fs::create_dir_all(path).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m")])
            .arg("tmpfs")
            .arg(path)
            .output()
            .expect("mount runs");
        assert!(
            mounted.status.success(),
            "mounting a small tmpfs needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        Self {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Writes a file at `path` until the disk refuses more.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let block = vec![0x5a; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(count) => written += count as u64,
        }
    }
    let _ = file.sync_all();
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_uploads_clearly_and_corrupts_nothing() {
    let folder = tempfile::tempdir().expect("a folder");
    let disk = SmallDisk::mount(&folder.path().join("disk"), 48);
    let data = disk.path.join("data");
    let mut server = Flashbulb::new(&data, &[("FLASHBULB_DERIVATIVE_WORKERS", "1".into())]);
    server.prepare(200);
    server.start().await;
    let site = server.sign_in().await;
    let before = upload_copies(&site, "photos/test1.jpg", 0, 3, 3).await;
    let pool = server.sqlite().await;
    eventually(
        "the first photos are ready",
        Duration::from_secs(60),
        || async { count(&pool, "SELECT count(*) FROM jobs").await == 0 },
    )
    .await;
    let rows_before = count(&pool, "SELECT count(*) FROM photos").await;
    let originals_before = server.stored("originals").await;

    let filler = data.join("filler");
    let filled = fill(&filler);
    eprintln!("filled the disk with {} MB", filled / 1_000_000);
    let refused = upload(
        &site,
        &[(
            "too-much.jpg".into(),
            distinct_photo("photos/IMG_1054.JPG", 1),
        )],
    )
    .await;
    assert_eq!(refused.status, Some(507), "{}", refused.text());
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "storage_full", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|message| message.contains("full")),
        "the message says the disk is full: {error}"
    );
    // Reading goes on.
    assert_eq!(get(&site.base, "/", Some(&site)).await.status, Some(200));
    assert_eq!(
        get(&site.base, &format!("/p/{}", before[0]), Some(&site))
            .await
            .status,
        Some(200)
    );
    // Nothing half-stored, nothing damaged.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM photos").await,
        rows_before
    );
    assert!(
        files_below(&data.join("tmp")).is_empty(),
        "no scratch file left"
    );
    assert_eq!(server.stored("originals").await, originals_before);
    for original in &originals_before {
        use sha2::Digest;
        let bytes = server.read_stored(original).await.expect("original");
        let name = Path::new(original)
            .file_name()
            .expect("name")
            .to_string_lossy();
        assert_eq!(
            flashbulb_core::storage::hex(&sha2::Sha256::digest(&bytes)),
            name
        );
    }
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .expect("integrity check");
    assert_eq!(integrity, "ok");

    // Room again: the same upload succeeds without a restart.
    std::fs::remove_file(&filler).expect("remove the filler");
    let again = upload(
        &site,
        &[(
            "too-much.jpg".into(),
            distinct_photo("photos/IMG_1054.JPG", 1),
        )],
    )
    .await;
    assert_eq!(again.status, Some(201), "{}", again.text());
    drop(server);
    drop(pool);
}

/// True when the photo page of `photo` shows it as a favourite.
async fn page_shows_favourite(site: &Site, photo: i64) -> bool {
    let page = get(&site.base, &format!("/p/{photo}"), Some(site)).await;
    page.text().contains("aria-pressed=\"true\"")
}

async fn favourite(site: &Site, photo: i64) {
    let answer = post_form(
        site,
        "/api/set_favourite",
        &format!("photo_id={photo}&favourite=true"),
    )
    .await;
    assert_eq!(answer.status, Some(200), "{}", answer.text());
}

async fn readiness(base: &str) -> String {
    get(base, "/readyz", None).await.json()["status"]
        .as_str()
        .unwrap_or("no answer")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_away_for_a_while_degrades_reads_never_fail_and_all_resumes() {
    let folder = tempfile::tempdir().expect("a folder");
    let mut redis = Redis::start().await;
    let data = folder.path().join("data");
    let env = [
        ("FLASHBULB_REDIS_URL", redis.url()),
        ("FLASHBULB_LIVE_FRAME_MS", "20".to_string()),
    ];
    // Two instances on one data folder and database, bridged by Redis.
    let mut a = Flashbulb::new(&data, &env);
    let mut b = Flashbulb::new(&data, &env);
    a.prepare(300);
    a.start().await;
    b.start().await;
    let site_a = a.sign_in().await;
    let site_b = Site {
        base: b.base.clone(),
        session: site_a.session.clone(),
    };
    for base in [&a.base, &b.base] {
        eventually("ready with Redis", Duration::from_secs(15), || async {
            readiness(base).await == "ready"
        })
        .await;
    }
    let pool = a.sqlite().await;
    let paths = reading_paths(&pool).await;
    let photos: Vec<i64> = sqlx::query_scalar("SELECT id FROM photos ORDER BY id DESC LIMIT 3")
        .fetch_all(&pool)
        .await
        .expect("photos");
    let tally = Arc::new(Tally::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut readers = read_continuously(&site_a, 2, paths.clone(), tally.clone(), stopped.clone());
    let mut more = read_continuously(&site_b, 2, paths, tally.clone(), stopped);
    // B caches the page of a photo A will change while Redis is away.
    assert!(!page_shows_favourite(&site_b, photos[1]).await);
    tokio::time::sleep(Duration::from_secs(2)).await;

    redis.stop();
    let outage = pick(10, 60);
    for base in [&a.base, &b.base] {
        eventually(
            "readiness says degraded",
            Duration::from_secs(10),
            || async { readiness(base).await == "degraded" },
        )
        .await;
    }
    favourite(&site_a, photos[1]).await;
    assert!(
        page_shows_favourite(&site_a, photos[1]).await,
        "A's own cache follows A's change without Redis"
    );
    tokio::time::sleep(Duration::from_secs(outage)).await;

    redis.resume().await;
    for base in [&a.base, &b.base] {
        let took = eventually(
            "ready again once Redis is back",
            Duration::from_secs(20),
            || async { readiness(base).await == "ready" },
        )
        .await;
        eprintln!(
            "{base} ready {:.1} s after Redis returned",
            took.as_secs_f64()
        );
    }
    // What B cached while it could not hear A is dropped at the reconnection.
    eventually(
        "B forgets the page it cached before the outage",
        Duration::from_secs(10),
        || page_shows_favourite(&site_b, photos[1]),
    )
    .await;
    // Live updates cross instances again: a change through A reaches a socket on B, and
    // B's cache is invalidated by it.
    let mut on_b = load::follow(site_b.clone(), vec![Topic::Library]);
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), on_b.recv())
            .await
            .expect("B's hub greets within 10 s")
            .expect("following");
        if matches!(message, ServerMessage::Subscribed { .. }) {
            break;
        }
    }
    assert!(!page_shows_favourite(&site_b, photos[2]).await);
    favourite(&site_a, photos[2]).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = on_b.recv().await {
            if let ServerMessage::Frame { state, .. } = message {
                if state.iter().any(|change| {
                    matches!(change, Change::Photo { id, favourite: true, .. } if *id == photos[2])
                }) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(heard, Ok(true), "B's socket hears A's change");
    eventually(
        "B's cache follows A's change",
        Duration::from_secs(5),
        || page_shows_favourite(&site_b, photos[2]),
    )
    .await;

    stop.send(true).expect("stop");
    while readers.join_next().await.is_some() {}
    while more.join_next().await.is_some() {}
    let samples = tally.samples();
    let failed: Vec<_> = samples
        .iter()
        .filter(|sample| {
            sample
                .status
                .is_none_or(|status| !(200..300).contains(&status))
        })
        .collect();
    eprintln!("reads: {:?}", Tally::counts(&samples));
    assert!(samples.len() > 100, "the readers were busy");
    assert!(
        failed.is_empty(),
        "every read was served: {:?}",
        Tally::counts(&samples)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_restarted_fails_fast_then_recovers_by_itself() {
    let folder = tempfile::tempdir().expect("a folder");
    let postgres = Postgres::start().await;
    let mut server = Flashbulb::new(
        &folder.path().join("data"),
        &[("FLASHBULB_DATABASE_URL", postgres.url())],
    );
    server.prepare(300);
    server.start().await;
    let pid = server.pid();
    let site = server.sign_in().await;
    let pool = flashbulb::Config {
        database_url: Some(postgres.url()),
        ..flashbulb::Config::default()
    }
    .connect()
    .await
    .expect("the drill's own connection");
    let paths = reading_paths(&pool).await;
    pool.close().await;
    let tally = Arc::new(Tally::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut readers = read_continuously(&site, 4, paths, tally.clone(), stopped);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let down = std::time::Instant::now();
    postgres.stop();
    let outage = Duration::from_secs(pick(8, 30));
    tokio::time::sleep(outage).await;
    eventually(
        "readiness says the database is away",
        Duration::from_secs(5),
        || async { get(&server.base, "/readyz", None).await.status == Some(503) },
    )
    .await;
    let back = std::time::Instant::now();
    postgres.resume().await;
    let recovered = eventually("reads succeed again", Duration::from_secs(10), || async {
        served(&get(&site.base, "/albums", Some(&site)).await)
    })
    .await;
    eprintln!(
        "reads succeed {:.2} s after PostgreSQL was back",
        recovered.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).expect("stop");
    while readers.join_next().await.is_some() {}
    assert_eq!(server.pid(), pid, "the same process throughout");

    let samples = tally.samples();
    eprintln!("reads: {:?}", Tally::counts(&samples));
    let during: Vec<_> = samples
        .iter()
        .filter(|sample| sample.at >= down && sample.at + sample.took <= back)
        .collect();
    let refused: Vec<_> = during
        .iter()
        .filter(|sample| sample.status == Some(503))
        .collect();
    assert!(
        during
            .iter()
            .all(|sample| matches!(sample.status, Some(200..=299 | 503))),
        "during the outage reads are served (from cache) or 503, never another error: {:?}",
        Tally::counts(
            &during
                .iter()
                .map(|sample| (*sample).clone())
                .collect::<Vec<_>>()
        )
    );
    assert!(
        refused.len() > 10,
        "the outage was seen: {} refusals",
        refused.len()
    );
    let first_refusal = refused
        .iter()
        .map(|sample| sample.at + sample.took - down)
        .min()
        .expect("a refusal");
    // Requests in flight when it went would wait out the pool's acquire timeout (5 s); a
    // read slower than half a second makes the gate check the database, and when it is away
    // the waiting reads and everything after them are answered 503 at once.
    let slowest = during
        .iter()
        .map(|sample| sample.took)
        .max()
        .unwrap_or_default();
    let mut took: Vec<Duration> = refused.iter().map(|sample| sample.took).collect();
    took.sort();
    let median = took[took.len() / 2];
    eprintln!(
        "the first 503 came {:.2} s after PostgreSQL stopped; {} refusals, median {:.1} ms; \
         the slowest read during the outage took {:.2} s",
        first_refusal.as_secs_f64(),
        took.len(),
        median.as_secs_f64() * 1e3,
        slowest.as_secs_f64()
    );
    assert!(first_refusal < Duration::from_secs(3), "{first_refusal:?}");
    assert!(median < Duration::from_millis(100), "fast: {median:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "no read waits out a timeout: {slowest:?}"
    );
    let after: Vec<_> = samples
        .iter()
        .filter(|sample| sample.at >= settled)
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|sample| sample
            .status
            .is_some_and(|status| (200..300).contains(&status))),
        "all reads succeed after recovery"
    );
}
