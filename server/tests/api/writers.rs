//! Many writers at once, on SQLite (the embedded default) and PostgreSQL: favourites, album edits, uploads, the trash
//! and Web Vitals beacons sent from concurrent tasks, with the workers deriving the uploads,
//! take turns at SQLite's one write lock. None is answered 5xx, and every write is kept.

use std::io::Cursor;

use axum::{
    body::Body,
    http::{header, Request},
};
use flashbulb::config::Config;
use futures_util::future::join_all;

use super::{create_album, pipeline, TestApp};

/// Tasks per kind of writer, and writes each task makes.
const TASKS_PER_KIND: usize = 8;
const ROUNDS: usize = 6;

/// A small PNG, different for every `(task, round)`, so no upload is a duplicate of another.
fn distinct_png(task: usize, round: usize) -> Vec<u8> {
    let image = image::RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(task * 31) as u8, (round * 41) as u8, (x * 7 + y * 3) as u8])
    });
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode a PNG");
    png
}

fn vitals_beacon(page: usize, round: usize) -> String {
    // A value in a new bucket each round, so the page view's earlier count is read and moved:
    // a transaction that reads before it writes.
    let lcp = 500 + round * 900;
    format!(
        r#"{{"page":"{page:032x}","route":"/","nav":"navigate","metrics":[{{"name":"LCP","value":{lcp}}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_take_turns_and_none_is_answered_5xx() {
    // Beacons from this one address beyond the default allowance would be refused 429.
    let config = Config {
        vitals_per_minute: 1_000,
        ..Config::default()
    };
    let app = TestApp::with_config(config).await.with_photos(400).await;
    let album = create_album(&app, "Busy").await;
    let app = &app;

    let favourites = (0..TASKS_PER_KIND).map(|task| async move {
        let mut statuses = Vec::new();
        for round in 0..ROUNDS {
            let photo = 1 + task * ROUNDS + round;
            let form = format!("photo_id={photo}&favourite=true");
            statuses.push((
                "favourite",
                app.post_form("/api/set_favourite", &form).await.0,
            ));
        }
        statuses
    });
    let album_edits = (0..TASKS_PER_KIND).map(|task| async move {
        let mut statuses = Vec::new();
        for round in 0..ROUNDS {
            let photo = 100 + task * ROUNDS + round;
            for member in [true, false, true] {
                let form = format!("album_id={album}&photo_id={photo}&member={member}");
                statuses.push(("album", app.post_form("/api/set_in_album", &form).await.0));
            }
            let form = format!("album_id={album}&title=Busy%20{task}%20{round}");
            statuses.push(("rename", app.post_form("/api/rename_album", &form).await.0));
        }
        statuses
    });
    let uploads = (0..TASKS_PER_KIND).map(|task| async move {
        let mut statuses = Vec::new();
        for round in 0..ROUNDS {
            let png = distinct_png(task, round);
            let name = format!("busy-{task}-{round}.png");
            let (status, json) = pipeline::upload(app, &[(&name, &png)]).await;
            assert!(status.is_success() || status.is_client_error(), "{json}");
            statuses.push(("upload", status));
        }
        statuses
    });
    let trash = (0..TASKS_PER_KIND).map(|task| async move {
        let mut statuses = Vec::new();
        for round in 0..ROUNDS {
            let photo = 200 + task * ROUNDS + round;
            for trashed in [true, false] {
                let form = format!("photo_id={photo}&trashed={trashed}");
                statuses.push(("trash", app.post_form("/api/set_trashed", &form).await.0));
            }
        }
        statuses
    });
    let beacons = (0..TASKS_PER_KIND).map(|task| async move {
        let mut statuses = Vec::new();
        for round in 0..ROUNDS {
            let request = Request::post("/api/vitals")
                .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
                .body(Body::from(vitals_beacon(task % 2, round)))
                .expect("request");
            statuses.push(("vitals", app.request(request).await.0));
        }
        statuses
    });
    let workers = pipeline::run_jobs_while(app, async {
        let (favourites, album_edits, uploads, trash, beacons) = tokio::join!(
            join_all(favourites),
            join_all(album_edits),
            join_all(uploads),
            join_all(trash),
            join_all(beacons),
        );
        [favourites, album_edits, uploads, trash, beacons]
            .into_iter()
            .flatten()
            .flatten()
            .collect::<Vec<_>>()
    });
    let statuses = workers.await;

    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, status)| !status.is_success())
        .collect();
    assert!(failed.is_empty(), "writes that failed: {failed:?}");
    let writes = TASKS_PER_KIND * ROUNDS;
    assert_eq!(statuses.len(), writes * (1 + 4 + 1 + 2 + 1));

    // Every write was kept: nothing was answered 200 and then lost.
    let favourite_count = app
        .scalar("SELECT count(*) FROM photos WHERE is_favourite = 1")
        .await;
    assert_eq!(favourite_count, writes as i64);
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM album_photos WHERE album_id = {album}"
        ))
        .await,
        writes as i64
    );
    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM photos WHERE file_name LIKE 'busy-%' AND status = 'ready'"
        )
        .await,
        writes as i64
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE trashed_at IS NOT NULL")
            .await,
        0
    );
    // Two page views, each counted once whatever its bucket moved through.
    assert_eq!(
        app.scalar("SELECT CAST(sum(count) AS BIGINT) FROM vital_counts")
            .await,
        2
    );
}

/// A write whose caller goes away while it begins (a browser closing mid-request) must not
/// leave its transaction open on a pooled connection: that would hold SQLite's write lock for
/// good, and later writes on that connection would never be committed.
#[tokio::test]
async fn a_write_abandoned_while_it_begins_leaves_no_transaction_open() {
    let app = TestApp::on_sqlite().await.with_photos(3).await;
    for attempt in 0..1_000u64 {
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_micros(attempt % 100 * 5),
            flashbulb_store::begin_write(&app.pool),
        )
        .await;
        drop(abandoned);
    }
    // Every connection of the pool writes, and commits, at once.
    let writes = (0..32).map(|round| {
        let pool = app.pool.clone();
        async move {
            sqlx::query("UPDATE photos SET is_favourite = $1 WHERE id = 1")
                .bind(round % 2)
                .execute(&pool)
                .await
        }
    });
    let answered = tokio::time::timeout(std::time::Duration::from_secs(3), join_all(writes))
        .await
        .expect("a connection still holds the write lock");
    assert!(answered.iter().all(Result::is_ok), "{answered:?}");
    let mut tx = flashbulb_store::begin_write(&app.pool)
        .await
        .expect("begin");
    sqlx::query("UPDATE photos SET file_name = 'kept.jpg' WHERE id = 2")
        .execute(&mut *tx)
        .await
        .expect("write");
    tx.commit().await.expect("commit");
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM photos WHERE file_name = 'kept.jpg'")
        .fetch_one(&app.pool)
        .await
        .expect("read");
    assert_eq!(kept, 1);
}
