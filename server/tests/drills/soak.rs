//! The soak: a steady mixed load — page views, timeline buckets, uploads, favourites and live
//! sockets — for minutes on one server. Zero 5xx, live sockets never dropped, and resident
//! memory flat after the warm-up. Its figures go to a JSON report the benchmark suite
//! includes.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use app::live::{ServerMessage, Topic};
use flashbulb_tools::load;
use serde_json::json;

use super::harness::{
    distinct_photo, get, pick, post_form, reading_paths, upload, Flashbulb, Sample, Tally,
};

/// Where the report goes: `FLASHBULB_DRILL_REPORT`, else `target/drills/soak.json`.
fn report_path() -> PathBuf {
    std::env::var_os("FLASHBULB_DRILL_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/drills/soak.json")
        })
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn percentile_ms(samples: &[&Sample], fraction: f64) -> f64 {
    let mut took: Vec<Duration> = samples.iter().map(|sample| sample.took).collect();
    took.sort();
    let index = ((took.len() as f64 * fraction) as usize).min(took.len().saturating_sub(1));
    took.get(index).map_or(0.0, |took| took.as_secs_f64() * 1e3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_steady_mixed_load_for_minutes_gives_no_5xx_and_flat_memory() {
    // The short warm-up still sees the allocator and SQLite's page caches settle (about 2 %
    // in the minute after 30 s, under 1 % after 45 s). The release build with its growing
    // library settles by 4 minutes (measured: +6 % from 2 to 4 minutes, flat for the 8 after).
    let warm_up = Duration::from_secs(pick(45, 240));
    let measured = Duration::from_secs(pick(60, 600));
    let folder = tempfile::tempdir().expect("a folder");
    let mut server = Flashbulb::new(
        &folder.path().join("data"),
        &[("FLASHBULB_DERIVATIVE_WORKERS", "1".into())],
    );
    let library = pick(2_000, 20_000);
    server.prepare(library);
    server.start().await;
    let site = server.sign_in().await;
    let pool = server.sqlite().await;
    let paths = reading_paths(&pool).await;
    let seeded: Vec<i64> = sqlx::query_scalar("SELECT id FROM photos ORDER BY id LIMIT 200")
        .fetch_all(&pool)
        .await
        .expect("photos");
    drop(pool);

    let tally = Arc::new(Tally::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    // Readers at a steady pace: page views and bucket fetches.
    for reader in 0..3usize {
        let (site, paths, tally, stopped) =
            (site.clone(), paths.clone(), tally.clone(), stopped.clone());
        tasks.spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(40));
            let mut next = reader;
            while !*stopped.borrow() {
                pace.tick().await;
                let (kind, path) = &paths[next % paths.len()];
                next += 1;
                tally.record(kind, &get(&site.base, path, Some(&site)).await);
            }
        });
    }
    // An upload every two seconds, each a photo of its own.
    {
        let (site, tally, stopped) = (site.clone(), tally.clone(), stopped.clone());
        tasks.spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_secs(2));
            let fixtures = ["photos/test1.jpg", "photos/test2.jpg", "photos/test3.jpg"];
            let mut n = 0u64;
            while !*stopped.borrow() {
                pace.tick().await;
                let photo = distinct_photo(fixtures[(n % 3) as usize], n);
                let answer = upload(&site, &[(format!("soak-{n}.jpg"), photo)]).await;
                tally.record("upload", &answer);
                n += 1;
            }
        });
    }
    // A favourite set or cleared every second: writes, invalidations, live frames.
    {
        let (site, tally, stopped) = (site.clone(), tally.clone(), stopped.clone());
        tasks.spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_secs(1));
            let mut n = 0usize;
            while !*stopped.borrow() {
                pace.tick().await;
                let photo = seeded[n % seeded.len()];
                let on = (n / seeded.len()).is_multiple_of(2);
                let answer = post_form(
                    &site,
                    "/api/set_favourite",
                    &format!("photo_id={photo}&favourite={on}"),
                )
                .await;
                tally.record("favourite", &answer);
                n += 1;
            }
        });
    }
    // Live sockets, as open tabs: frames counted, and any reconnection (a resync) noted.
    let sockets = pick(20, 50);
    let frames = Arc::new(AtomicU64::new(0));
    let resyncs = Arc::new(AtomicU64::new(0));
    for _ in 0..sockets {
        let mut messages = load::follow(site.clone(), vec![Topic::Library]);
        let (frames, resyncs, stopped) = (frames.clone(), resyncs.clone(), stopped.clone());
        tasks.spawn(async move {
            while !*stopped.borrow() {
                match tokio::time::timeout(Duration::from_millis(500), messages.recv()).await {
                    Ok(Some(ServerMessage::Frame { .. })) => {
                        frames.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(ServerMessage::Resync { topic: None })) => {
                        resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => return,
                    _ => {}
                }
            }
        });
    }

    let started = Instant::now();
    let mut rss: Vec<(Duration, u64)> = Vec::new();
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    while started.elapsed() < warm_up + measured {
        every_second.tick().await;
        rss.push((started.elapsed(), server.rss_kib()));
    }
    stop.send(true).expect("stop");
    while tasks.join_next().await.is_some() {}

    // Memory: the median of the first ten seconds after the warm-up against that of the
    // last ten.
    let window = Duration::from_secs(10);
    let mut after_warm_up: Vec<u64> = rss
        .iter()
        .filter(|(at, _)| *at >= warm_up && *at < warm_up + window)
        .map(|(_, kib)| *kib)
        .collect();
    let mut at_end: Vec<u64> = rss
        .iter()
        .filter(|(at, _)| *at >= warm_up + measured - window)
        .map(|(_, kib)| *kib)
        .collect();
    let (start_kib, end_kib) = (median(&mut after_warm_up), median(&mut at_end));
    let growth = (end_kib as f64 / start_kib.max(1) as f64 - 1.0) * 100.0;
    let peak_kib = rss.iter().map(|(_, kib)| *kib).max().unwrap_or_default();

    let samples = tally.samples();
    let counts = Tally::counts(&samples);
    let server_errors = samples
        .iter()
        .filter(|sample| sample.status.is_none_or(|status| status >= 500))
        .count();
    let mut kinds = serde_json::Map::new();
    for kind in ["page", "bucket", "status", "upload", "favourite"] {
        let of_kind: Vec<&Sample> = samples
            .iter()
            .filter(|sample| sample.kind == kind)
            .collect();
        kinds.insert(
            kind.to_string(),
            json!({
                "requests": of_kind.len(),
                "p50_ms": percentile_ms(&of_kind, 0.5),
                "p99_ms": percentile_ms(&of_kind, 0.99),
            }),
        );
    }
    let report = json!({
        "mode": if super::harness::full() { "full" } else { "short" },
        "binary": super::harness::binary().display().to_string(),
        "library_photos": library,
        "warm_up_s": warm_up.as_secs(),
        "measured_s": measured.as_secs(),
        "requests": samples.len(),
        "by_kind": kinds,
        "statuses": counts,
        "server_errors": server_errors,
        "live_sockets": sockets,
        "live_frames": frames.load(Ordering::Relaxed),
        "live_reconnections": resyncs.load(Ordering::Relaxed),
        "rss_after_warm_up_kib": start_kib,
        "rss_at_end_kib": end_kib,
        "rss_peak_kib": peak_kib,
        "rss_growth_percent": (growth * 100.0).round() / 100.0,
        "rss_kib_by_second": rss.iter().map(|(at, kib)| json!([at.as_secs(), kib])).collect::<Vec<_>>(),
    });
    let path = report_path();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the report's folder");
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&report).expect("json")).expect("report");
    eprintln!(
        "soak: {} requests {counts:?}; RSS {start_kib} → {end_kib} KiB ({growth:+.2} %), \
         peak {peak_kib} KiB; {} frames on {sockets} sockets; report in {}",
        samples.len(),
        frames.load(Ordering::Relaxed),
        path.display()
    );

    assert_eq!(
        server_errors, 0,
        "no 5xx and no request unanswered: {counts:?}"
    );
    assert!(
        samples
            .iter()
            .filter(|sample| sample.kind == "upload")
            .all(|sample| sample.status == Some(201)),
        "every upload was added: {counts:?}"
    );
    assert!(
        samples
            .iter()
            .all(|sample| sample.status.is_some_and(|status| status < 400)),
        "every request succeeded: {counts:?}"
    );
    assert_eq!(
        resyncs.load(Ordering::Relaxed),
        0,
        "no live socket was dropped"
    );
    assert!(
        frames.load(Ordering::Relaxed) > 0,
        "the sockets heard the changes"
    );
    assert!(
        growth < 5.0,
        "resident memory grew {growth:.2} % after the warm-up ({start_kib} → {end_kib} KiB)"
    );
}
