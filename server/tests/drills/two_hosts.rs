//! Several machines for real: two web-only `flashbulb serve --no-workers` and a `flashbulb
//! worker`, each in a network namespace of its own (its own address and host name) with its
//! own empty data folder, sharing PostgreSQL, Redis and an S3-protocol object store on this
//! machine, behind the shipped `deploy/nginx.conf`. An upload through host A is derived by
//! the worker and served through host B, whose live socket sees it arrive; a favourite
//! through B reaches A's cached page; a worker killed mid-job is replaced and every job ends
//! once; with the store away uploads are refused clearly while the edge keeps serving what it
//! holds, and all resumes with the store; an expired signed URL is refused at the edge.

use std::time::Duration;

use app::live::{Addition, ServerMessage, Topic};
use flashbulb_tools::load::{self, Site};

use crate::harness::{
    distinct_photo, eventually, get, post_form, upload, Flashbulb, Host, ObjectStore, Postgres,
    Redis,
};
use crate::nginx::Nginx;
use crate::{count, until_host_runs_jobs, upload_copies, LARGE};

/// The photo's preview URL as the photo page on `site` names it.
async fn preview_url(site: &Site, photo: i64) -> String {
    let page = get(&site.base, &format!("/p/{photo}"), Some(site))
        .await
        .text();
    page.split(['"', ' ', ','])
        .find(|part| part.starts_with("/media/") && part.ends_with("/preview.webp"))
        .unwrap_or_else(|| panic!("the photo page names its preview: {page:.400}"))
        .to_string()
}

fn header(answer: &crate::harness::Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_web_hosts_and_a_worker_host_share_one_library_behind_nginx() {
    let folder = tempfile::tempdir().expect("a folder");
    let postgres = Postgres::start_on("*", Some("10.77.0.0/16")).await;
    let redis = Redis::start_on("0.0.0.0").await;
    let mut store = ObjectStore::start_on("0.0.0.0").await;
    let (host_a, host_b, host_w) = (
        Host::create("a", 1),
        Host::create("b", 2),
        Host::create("w", 3),
    );
    // Each host reaches the shared services at this machine's address on its own link.
    let env = |host: &Host, extra: &[(&'static str, String)]| {
        let mut env = vec![
            (
                "DATABASE_URL",
                format!(
                    "postgres://postgres@{}:{}/postgres",
                    host.gateway, postgres.port
                ),
            ),
            (
                "FLASHBULB_REDIS_URL",
                format!("redis://{}:{}", host.gateway, redis.port),
            ),
            ("FLASHBULB_LIVE_FRAME_MS", "20".to_string()),
            ("FLASHBULB_MEDIA_URL_WINDOW_SECS", "60".to_string()),
            ("FLASHBULB_JOB_LEASE_SECS", "3".to_string()),
        ];
        env.extend(store.env_via(&host.gateway, "library"));
        env.extend(extra.iter().cloned());
        env
    };
    let web_only = [("FLASHBULB_DERIVATIVE_WORKERS", "0".to_string())];
    let mut a = Flashbulb::on_host(&folder.path().join("a"), &env(&host_a, &web_only), &host_a);
    let mut b = Flashbulb::on_host(&folder.path().join("b"), &env(&host_b, &web_only), &host_b);
    let workers = [("FLASHBULB_DERIVATIVE_WORKERS", "2".to_string())];
    let worker_data = folder.path().join("w");
    let mut worker = Flashbulb::on_host(&worker_data, &env(&host_w, &workers), &host_w);
    a.prepare(0);
    a.start_as(&["serve", "--no-workers"], Some("host-a")).await;
    b.start_as(&["serve", "--no-workers"], Some("host-b")).await;
    worker.start_as(&["worker"], Some("worker-one")).await;
    let upstreams = [&a.base, &b.base].map(|base| base.trim_start_matches("http://").to_string());
    let nginx = Nginx::start(folder.path(), upstreams).await;
    let site_a = a.sign_in().await;
    let site_b = Site {
        base: b.base.clone(),
        session: site_a.session.clone(),
    };
    let edge = Site {
        base: nginx.base.clone(),
        session: site_a.session.clone(),
    };
    let pool = flashbulb::Config {
        database_url: Some(postgres.url()),
        ..flashbulb::Config::default()
    }
    .connect()
    .await
    .expect("the shared database");

    // An upload through A, derived by the worker, arrives on B's socket and is served by B.
    let mut on_b = load::follow(site_b.clone(), vec![Topic::Library]);
    let answer = upload(
        &site_a,
        &[("one.jpg".to_string(), distinct_photo("photos/test1.jpg", 1))],
    )
    .await;
    assert_eq!(answer.status, Some(201), "{}", answer.text());
    let id = answer.json()["files"][0]["photo_id"]
        .as_i64()
        .expect("a photo id");
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match on_b.recv().await {
                Some(ServerMessage::Frame { added, .. })
                    if added.iter().any(|Addition::Photo(cell)| cell.id == id) =>
                {
                    return
                }
                Some(_) => {}
                None => panic!("B's socket closed"),
            }
        }
    })
    .await
    .expect("B's live socket sees the photo the worker derived");
    let preview = preview_url(&site_b, id).await;
    let thumb = preview.replace("/preview.webp", "/thumb.webp");
    let served = get(&site_b.base, &thumb, None).await;
    assert_eq!(served.status, Some(200), "B serves the thumbnail");
    let first = get(&edge.base, &thumb, None).await;
    let second = get(&edge.base, &thumb, None).await;
    assert_eq!(
        [&first, &second].map(|answer| (answer.status, header(answer, "x-edge-cache"))),
        [
            (Some(200), Some("MISS".into())),
            (Some(200), Some("HIT".into()))
        ]
    );
    let access_expiry: i64 = thumb
        .split('/')
        .nth(2)
        .and_then(|access| access.split('-').nth(1))
        .and_then(|expiry| expiry.parse().ok())
        .expect("the URL names its expiry");

    // A favourite through B reaches the page A has cached.
    let page = format!("/p/{id}");
    let before = header(&get(&site_a.base, &page, Some(&site_a)).await, "etag");
    assert_eq!(
        header(&get(&site_a.base, &page, Some(&site_a)).await, "etag"),
        before,
        "A answers from its cache"
    );
    let favoured = post_form(
        &site_b,
        "/api/set_favourite",
        &format!("photo_id={id}&favourite=true"),
    )
    .await;
    assert_eq!(favoured.status, Some(200), "{}", favoured.text());
    eventually(
        "A's page shows B's change",
        Duration::from_secs(10),
        || async { header(&get(&site_a.base, &page, Some(&site_a)).await, "etag") != before },
    )
    .await;

    // The worker dies mid-job; a replacement (another host name) finishes every job once.
    let copies = upload_copies(&site_a, LARGE, 10, 6, 3).await;
    until_host_runs_jobs(&pool, "worker-one").await;
    worker.kill_hard();
    let mut replacement = Flashbulb::on_host(&worker_data, &env(&host_w, &workers), &host_w);
    replacement.start_as(&["worker"], Some("worker-two")).await;
    eventually(
        "the replacement finishes every job",
        Duration::from_secs(240),
        || async { count(&pool, "SELECT count(*) FROM jobs").await == 0 },
    )
    .await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM photos WHERE status = 'ready'").await,
        copies.len() as i64 + 1,
        "every photo is ready"
    );
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sha256 FROM photos")
        .fetch_all(&pool)
        .await
        .expect("hashes");
    let names = store.names("library/derivatives/").await;
    for sha in &hashes {
        let hex = flashbulb_core::storage::hex(sha);
        let thumb = format!("library/derivatives/{}/{hex}/thumb.webp", &hex[..2]);
        assert!(names.contains(&thumb), "{thumb} is in the bucket");
    }
    for data in [
        folder.path().join("a"),
        folder.path().join("b"),
        worker_data,
    ] {
        assert!(
            !data.join("originals").exists() && !data.join("derivatives").exists(),
            "no photo file in {}",
            data.display()
        );
    }

    // The store goes away: uploads are refused clearly; the edge serves what it holds.
    store.stop();
    let refused = upload(
        &site_a,
        &[("two.jpg".to_string(), distinct_photo("photos/test1.jpg", 2))],
    )
    .await;
    assert_eq!(refused.status, Some(503), "{}", refused.text());
    assert!(refused.text().contains("unavailable"), "{}", refused.text());
    let kept = get(&edge.base, &thumb, None).await;
    assert_eq!(
        (kept.status, header(&kept, "x-edge-cache")),
        (Some(200), Some("HIT".into()))
    );
    store.resume().await;
    let resumed = upload(
        &site_a,
        &[(
            "three.jpg".to_string(),
            distinct_photo("photos/test1.jpg", 3),
        )],
    )
    .await;
    assert_eq!(resumed.status, Some(201), "{}", resumed.text());

    // Past its expiry the edge asks again, and the signed URL is refused.
    while now() <= access_expiry {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let expired = get(&edge.base, &thumb, None).await;
    assert_eq!(
        (expired.status, header(&expired, "x-edge-cache")),
        (Some(403), Some("EXPIRED".into())),
        "{}",
        expired.text()
    );

    drop(nginx);
    for process in [&a, &b, &replacement] {
        process.terminate();
    }
    for process in [&mut a, &mut b, &mut replacement] {
        process.wait_exit(Duration::from_secs(30)).await;
    }
}
