//! One photo: its page with metadata and neighbours, and its original's download.

use super::*;

#[tokio::test]
async fn the_photo_page_shows_metadata_and_its_neighbours() {
    let app = TestApp::new().await;
    let owner = 1;
    flashbulb_core::users::find_or_create(&app.pool, "demo", true)
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
