//! Files in S3-compatible object storage (`storage_url`), against a real S3-protocol server of
//! the drill's own: seeding, uploads, derivatives, media and originals (with byte ranges),
//! album downloads and emptying the trash all go through the bucket, nothing of a photo lands
//! in the data folder, and a store that goes away turns uploads into a clear 503 while pages
//! keep answering, until it is back.

use std::time::Duration;

use crate::harness::{distinct_photo, get, post_form, send, upload, Flashbulb, ObjectStore};
use crate::{files_below, until_ready};
use axum::http::Request;
use bytes::Bytes;
use http_body_util::Full;

const PHOTO: &str = "photos/test1.jpg";

/// `GET path` with the session and an optional `Range`: status, body, `Content-Range`.
async fn fetch(
    site: &flashbulb_tools::load::Site,
    path: &str,
    range: Option<&str>,
) -> (Option<u16>, Vec<u8>, Option<String>) {
    let mut request = Request::get(format!("{}{path}", site.base)).header("cookie", site.cookie());
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let answer = send(request.body(Full::new(Bytes::new())).expect("a request")).await;
    let content_range = answer
        .headers
        .get("content-range")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (answer.status, answer.body.to_vec(), content_range)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_object_storage_photos_live_in_the_bucket_and_an_absent_store_is_a_clear_503() {
    let folder = tempfile::tempdir().expect("a folder");
    let mut store = ObjectStore::start().await;
    let data = folder.path().join("data");
    let mut env = store.env("library");
    env.push(("FLASHBULB_TRASH_GRACE_DAYS", "0".to_string()));
    let mut server = Flashbulb::new(&data, &env);
    server.prepare(20);
    let seeded = store.names("library/derivatives/").await;
    assert!(
        seeded.iter().any(|name| name.ends_with("/thumb.webp")),
        "the demo pictures' derivatives are in the bucket: {seeded:?}"
    );
    server.start().await;
    let site = server.sign_in().await;

    let bytes = distinct_photo(PHOTO, 1);
    let answer = upload(&site, &[("one.jpg".to_string(), bytes.clone())]).await;
    assert_eq!(answer.status, Some(201), "{}", answer.text());
    let id = answer.json()["files"][0]["photo_id"]
        .as_i64()
        .expect("a photo id");
    let pool = server.sqlite().await;
    until_ready(&pool, id).await;
    let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("its hash");
    let hex = flashbulb_core::storage::hex(&sha);
    let names = store.names("library/").await;
    assert!(
        names.contains(&format!("library/originals/{}/{hex}", &hex[..2])),
        "the original is in the bucket: {names:?}"
    );
    for variant in ["thumb.webp", "preview.webp", "preview.jpg"] {
        let name = format!("library/derivatives/{}/{hex}/{variant}", &hex[..2]);
        assert!(names.contains(&name), "{name} is in the bucket");
    }
    let local: Vec<String> = files_below(&data)
        .into_iter()
        .filter(|file| file.starts_with("originals/") || file.starts_with("derivatives/"))
        .collect();
    assert!(
        local.is_empty(),
        "photo files in the data folder: {local:?}"
    );

    // The original, whole and in part.
    let original = format!("/api/photos/{id}/original");
    let (status, body, _) = fetch(&site, &original, None).await;
    assert_eq!(status, Some(200));
    assert!(body == bytes, "the original comes back byte for byte");
    let (status, body, range) = fetch(&site, &original, Some("bytes=100-199")).await;
    assert_eq!(status, Some(206));
    assert_eq!(body, bytes[100..200]);
    assert_eq!(range, Some(format!("bytes 100-199/{}", bytes.len())));
    let (status, _, range) =
        fetch(&site, &original, Some(&format!("bytes={}-", bytes.len()))).await;
    assert_eq!(status, Some(416));
    assert_eq!(range, Some(format!("bytes */{}", bytes.len())));

    // Media, by the URL the photo page names, from memory once read, and a range of it.
    let page = get(&site.base, &format!("/p/{id}"), Some(&site))
        .await
        .text();
    let media = page
        .split(['"', ' ', ','])
        .find(|part| part.starts_with("/media/") && part.ends_with("/preview.webp"))
        .expect("the photo page names its preview")
        .to_string();
    let (status, preview, _) = fetch(&site, &media, None).await;
    assert_eq!(status, Some(200));
    let (status, again, _) = fetch(&site, &media, None).await;
    assert_eq!((status, &again), (Some(200), &preview));
    let (status, tail, range) = fetch(&site, &media, Some("bytes=-10")).await;
    assert_eq!(status, Some(206));
    assert_eq!(tail, preview[preview.len() - 10..]);
    assert_eq!(
        range,
        Some(format!(
            "bytes {}-{}/{}",
            preview.len() - 10,
            preview.len() - 1,
            preview.len()
        ))
    );

    // Emptied from the trash: its original leaves the bucket.
    let trashed = post_form(
        &site,
        "/api/set_trashed",
        &format!("photo_id={id}&trashed=true"),
    )
    .await;
    assert_eq!(trashed.status, Some(200), "{}", trashed.text());
    let emptied = post_form(&site, "/api/empty_trash", "").await;
    assert_eq!(emptied.status, Some(200), "{}", emptied.text());
    let names = store.names("library/originals/").await;
    assert!(
        !names.iter().any(|name| name.ends_with(&hex)),
        "the emptied photo's original is gone: {names:?}"
    );

    // The store goes away: uploads are refused clearly, nothing is half-kept, pages answer.
    store.stop();
    let refused = upload(&site, &[("two.jpg".to_string(), distinct_photo(PHOTO, 2))]).await;
    assert_eq!(refused.status, Some(503), "{}", refused.text());
    assert!(
        refused.text().contains("unavailable"),
        "the refusal says so: {}",
        refused.text()
    );
    assert_eq!(get(&site.base, "/", Some(&site)).await.status, Some(200));
    let readiness = get(&site.base, "/readyz", None).await;
    assert_eq!(readiness.status, Some(200), "degraded, not unready");
    assert_eq!(
        readiness.json()["status"],
        "degraded",
        "{}",
        readiness.text()
    );
    assert_eq!(
        readiness.json()["storage"]["ok"],
        false,
        "{}",
        readiness.text()
    );
    let scratch = files_below(&data.join("tmp"));
    assert!(
        scratch.is_empty(),
        "a refused upload leaves nothing: {scratch:?}"
    );

    // Back (empty, as this server keeps nothing): uploads work again, with no restart.
    store.resume().await;
    let readiness = get(&site.base, "/readyz", None).await;
    assert_eq!(
        readiness.json()["storage"]["ok"],
        true,
        "{}",
        readiness.text()
    );
    let answer = upload(
        &site,
        &[("three.jpg".to_string(), distinct_photo(PHOTO, 3))],
    )
    .await;
    assert_eq!(answer.status, Some(201), "{}", answer.text());
    let id = answer.json()["files"][0]["photo_id"]
        .as_i64()
        .expect("a photo id");
    until_ready(&pool, id).await;
    server.terminate();
    server.wait_exit(Duration::from_secs(30)).await;
}
