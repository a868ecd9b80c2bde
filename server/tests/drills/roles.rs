//! Web and workers apart, as on several machines: a web-only `serve --no-workers` and
//! `flashbulb worker` processes sharing PostgreSQL, Redis and the data folder, each worker
//! under a host name of its own. An upload through the web instance is derived by a worker
//! and reaches the web instance's live socket; a worker killed mid-job is replaced by one on
//! another "host", which takes the dead one's jobs once its heartbeat has stopped, and every
//! photo ends ready once, with its derivatives.

use std::time::Duration;

use app::live::{Addition, ServerMessage, Topic};
use flashbulb_tools::load;

use super::{count, until_host_runs_jobs, upload_copies, LARGE};
use crate::harness::{eventually, get, pick, Flashbulb, Postgres, Redis};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_only_instances_leave_jobs_to_workers_that_take_over_from_each_other() {
    let folder = tempfile::tempdir().expect("a folder");
    let postgres = Postgres::start().await;
    let redis = Redis::start().await;
    let data = folder.path().join("data");
    let shared = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("DATABASE_URL", postgres.url()),
            ("FLASHBULB_REDIS_URL", redis.url()),
            ("FLASHBULB_LIVE_FRAME_MS", "20".to_string()),
            // Three heartbeats a lease: a dead worker's jobs come back within 3 s.
            ("FLASHBULB_JOB_LEASE_SECS", "3".to_string()),
        ];
        env.extend(extra.iter().cloned());
        env
    };
    let mut web = Flashbulb::new(&data, &shared(&[]));
    web.prepare(0);
    web.start_as(&["serve", "--no-workers"], None).await;
    assert!(
        web.log().contains("web only"),
        "the web instance says it runs no workers:\n{}",
        web.log_tail()
    );
    let workers_env = shared(&[("FLASHBULB_DERIVATIVE_WORKERS", "2".to_string())]);
    let mut first = Flashbulb::new(&data, &workers_env);
    first.start_as(&["worker"], Some("worker-one")).await;

    // The worker's port answers probes and metrics, and nothing else.
    assert_eq!(get(&first.base, "/readyz", None).await.status, Some(200));
    let metrics = get(&first.base, "/metrics", None).await;
    assert_eq!(metrics.status, Some(200));
    assert!(
        metrics.text().contains("flashbulb_jobs_queued"),
        "{}",
        metrics.text()
    );
    assert_eq!(get(&first.base, "/", None).await.status, Some(404));

    let site = web.sign_in().await;
    let mut socket = load::follow(site.clone(), vec![Topic::Library]);
    let photos = pick(8, 30);
    let ids = upload_copies(&site, LARGE, 0, photos, 4).await;
    // The web instance makes nothing; the worker does, and the web's socket hears of it.
    let appeared = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match socket.recv().await {
                Some(ServerMessage::Frame { added, .. }) => {
                    if let Some(Addition::Photo(cell)) = added.first() {
                        return cell.id;
                    }
                }
                Some(_) => {}
                None => panic!("the live socket closed"),
            }
        }
    })
    .await
    .expect("a photo derived by the worker appears on the web instance's socket");
    assert!(ids.contains(&appeared));

    let pool = flashbulb::Config {
        database_url: Some(postgres.url()),
        data_dir: data.clone(),
        ..flashbulb::Config::default()
    }
    .connect()
    .await
    .expect("the database");
    until_host_runs_jobs(&pool, "worker-one").await;
    first.kill_hard();
    let held = count(&pool, "SELECT count(*) FROM jobs WHERE state = 'running'").await;
    eprintln!("killed the first worker holding {held} jobs");
    assert!(held >= 1, "no job was running at the kill");

    // Another host: it cannot tell the first worker is gone, only that its leases ran out.
    let mut second = Flashbulb::new(&data, &workers_env);
    second.start_as(&["worker"], Some("worker-two")).await;
    let took = eventually(
        "the second worker finishes every job",
        Duration::from_secs(pick(240, 900)),
        || async { count(&pool, "SELECT count(*) FROM jobs").await == 0 },
    )
    .await;
    eprintln!("the queue was empty {:.1} s later", took.as_secs_f64());
    assert!(
        !second
            .log()
            .contains("took back the jobs of stopped processes"),
        "another host's jobs came back by their leases, not by its process's death"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM photos WHERE status = 'ready'").await,
        ids.len() as i64,
        "every photo is ready"
    );
    for file in ["thumb.webp", "preview.webp", "preview.jpg"] {
        let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sha256 FROM photos")
            .fetch_all(&pool)
            .await
            .expect("hashes");
        for sha in hashes {
            let path = flashbulb_core::storage::derivative_path(&data, &sha, file);
            assert!(path.exists(), "{} is missing", path.display());
        }
    }
    second.terminate();
    second.wait_exit(Duration::from_secs(30)).await;
    web.terminate();
    web.wait_exit(Duration::from_secs(30)).await;
}
