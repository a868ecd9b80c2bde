//! The timeline: its first screen, its page, bucket segments and their query plans.

use super::*;

#[tokio::test]
async fn timeline_shows_only_the_owners_visible_photos_newest_first() {
    let app = TestApp::new().await.with_photos(300).await;
    app.seed_other_owner(200).await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE owner_id = 1 AND id % 10 = 0")
        .await;
    app.execute("UPDATE photos SET status = 'pending' WHERE owner_id = 1 AND id % 10 = 1")
        .await;

    let photos = flashbulb_store::timeline::newest_photos(&app.pool, 1, 1000)
        .await
        .expect("photos");
    assert_eq!(photos.len(), 240);
    assert!(photos
        .windows(2)
        .all(|pair| { (pair[0].taken_at, pair[0].id) > (pair[1].taken_at, pair[1].id) }));
    let owned: i64 = app
        .scalar("SELECT max(id) FROM photos WHERE owner_id = 1")
        .await;
    assert!(photos
        .iter()
        .all(|photo| photo.id <= owned && photo.id % 10 > 1));

    let buckets = flashbulb_store::timeline::month_buckets(&app.pool, 1)
        .await
        .expect("buckets");
    assert_eq!(buckets.iter().map(|bucket| bucket.count).sum::<u64>(), 240);
    assert!(buckets
        .windows(2)
        .all(|pair| (pair[0].year, pair[0].month) > (pair[1].year, pair[1].month)));
    for photo in &photos {
        let (year, month, _) = app::format::civil_date(photo.taken_at);
        assert!(buckets
            .iter()
            .any(|bucket| bucket.year == year && bucket.month == month));
    }
}

#[tokio::test]
async fn the_timeline_page_is_server_rendered_with_a_grid() {
    let app = TestApp::new().await.with_photos(200).await;
    let (status, html) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<ul class=\"grid\">"), "no grid in:\n{html}");
    assert_eq!(html.matches("data-photo-id=").count(), 120);
    assert!(html.contains("demo’s library"));
    assert!(html.contains("200 photos"));
    assert!(html.contains("/pkg/flashbulb.css"));
    assert!(
        html.contains("<leptos-island") && html.contains("VirtualTimeline"),
        "the timeline island is not marked for hydration"
    );
}

#[tokio::test]
async fn only_pages_with_islands_load_the_webassembly_and_none_carries_its_resources() {
    let app = TestApp::new().await.with_photos(20).await;
    let (_, timeline) = app.get("/").await;
    assert!(
        timeline.contains("<script type=\"module\"") && timeline.contains(".wasm"),
        "the timeline does not load its hydration script:\n{timeline}"
    );
    // The first screen's thumbnails come first: the script fetches its code when idle, and no
    // hint asks for it earlier at high priority.
    assert!(
        !timeline.contains("rel=\"modulepreload\"") && !timeline.contains("rel=\"preload\""),
        "the timeline preloads its code ahead of its pictures:\n{timeline}"
    );
    for path in ["/albums", "/search", "/favourites", "/trash", "/users"] {
        let (status, html) = app.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains("<leptos-island"), "{path} shows an island");
        assert!(
            !html.contains("<script type=\"module\"") && !html.contains(".wasm"),
            "{path} has no island, yet loads the WebAssembly:\n{html}"
        );
        // Islands take props, never the page's resources: their data is in the HTML once.
        assert!(
            !html.contains("__RESOLVED_RESOURCES["),
            "{path} writes its resources again as a script:\n{html}"
        );
    }
}

#[tokio::test]
async fn an_empty_library_explains_how_to_fill_it() {
    let app = TestApp::new().await;
    let (status, html) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your library is empty"));
    assert!(html.contains("flashbulb seed"));
}

#[tokio::test]
async fn bucket_segments_hold_exactly_their_month_in_timeline_order() {
    use app::{codec::Segment, format::month_start};
    let app = TestApp::new().await;
    let owner = flashbulb_core::users::find_or_create(&app.pool, "edge", true)
        .await
        .expect("user");
    let other = flashbulb_core::users::find_or_create(&app.pool, "other", false)
        .await
        .expect("user");
    let november = month_start(2026, 11);
    let december = month_start(2026, 12);
    let first_second = insert_photo(&app, owner, november, "ready").await;
    let last_second = insert_photo(&app, owner, december - 1, "ready").await;
    let same_time_a = insert_photo(&app, owner, november + 3600, "ready").await;
    let same_time_b = insert_photo(&app, owner, november + 3600, "ready").await;
    insert_photo(&app, owner, november - 1, "ready").await; // October
    insert_photo(&app, owner, december, "ready").await; // December
    insert_photo(&app, owner, november + 60, "pending").await; // not processed
    insert_photo(&app, other, november + 60, "ready").await; // someone else's

    let request = |path: &str| Request::get(path).body(Body::empty()).expect("request");
    let (status, headers, bytes) = app
        .request_bytes(request("/api/timeline/buckets/2026-11"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        flashbulb_web::timeline::SEGMENT_CONTENT_TYPE
    );
    let segment = Segment::decode(&bytes).expect("decodes");
    assert_eq!(
        segment.ids,
        vec![last_second, same_time_b, same_time_a, first_second]
    );
    assert_eq!(segment.aspect_milli, vec![1333; 4]);

    // Pages of one concatenate to the whole.
    let mut paged = Vec::new();
    for offset in 0..4 {
        let (_, _, bytes) = app
            .request_bytes(request(&format!(
                "/api/timeline/buckets/2026-11?offset={offset}&limit=1"
            )))
            .await;
        paged.extend(Segment::decode(&bytes).expect("decodes").ids);
    }
    assert_eq!(paged, segment.ids);

    let (_, _, bytes) = app
        .request_bytes(request("/api/timeline/buckets/1999-01"))
        .await;
    assert!(Segment::decode(&bytes).expect("decodes").is_empty());
}

#[tokio::test]
async fn bucket_requests_with_bad_months_or_limits_are_400() {
    let app = TestApp::new().await.with_photos(10).await;
    for path in [
        "/api/timeline/buckets/2026-13",
        "/api/timeline/buckets/2026-1",
        "/api/timeline/buckets/garbage",
        "/api/timeline/buckets/%00%01",
        "/api/timeline/buckets/2026-11?limit=0",
        "/api/timeline/buckets/2026-11?limit=5001",
        "/api/timeline/buckets/2026-11?limit=-1",
        "/api/timeline/buckets/2026-11?offset=abc",
        "/api/timeline/buckets/2026-11?offset=99999999999999999999",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.contains("bad_request"), "{path}: {body}");
    }
}
