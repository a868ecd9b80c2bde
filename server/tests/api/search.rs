//! Search: criteria combined, bad criteria explained, and each criterion's index.

use super::*;

async fn search(app: &TestApp, query: &str) -> (StatusCode, String) {
    app.get(&format!("/search?{query}")).await
}

fn result_count(html: &str) -> usize {
    html.matches("data-photo-id=").count()
}

#[tokio::test]
async fn search_combines_file_name_camera_lens_days_and_album() {
    let app = TestApp::new().await.with_photos(300).await;
    app.seed_other_owner(50).await;
    let truth = |sql: &str| format!("SELECT count(*) FROM photos WHERE owner_id = 1 AND {sql}");

    // File name: any part, any case; another owner's IMG_0000301… never shows.
    let (status, html) = search(&app, "q=img_00001").await;
    assert_eq!(status, StatusCode::OK);
    let expected = app.scalar(&truth("file_name LIKE '%IMG_00001%'")).await;
    assert_eq!(result_count(&html) as i64, expected.min(120));
    assert!(
        html.contains(&format!("{expected} photos")),
        "{expected}: {html}"
    );

    let (_, html) = search(&app, "camera=X-T5").await;
    let expected = app.scalar(&truth("camera_model = 'X-T5'")).await;
    assert!(expected > 0);
    assert!(html.contains(&format!("{expected} photos")));

    let (_, html) = search(&app, "lens=FE%2035mm%20F1.8&camera=ILCE-7M4").await;
    let expected = app
        .scalar(&truth(
            "lens = 'FE 35mm F1.8' AND camera_model = 'ILCE-7M4'",
        ))
        .await;
    assert!(html.contains(&format!("{expected} photos")));

    // A single day, inclusive of its last second.
    let taken: i64 = app
        .scalar("SELECT taken_at FROM photos WHERE id = 10")
        .await;
    let day = app::format::iso_day(taken);
    let start = app::format::parse_day(&day).expect("day");
    app.execute(&format!(
        "UPDATE photos SET taken_at = {} WHERE id = 11",
        start + 86_399
    ))
    .await;
    let (_, html) = search(&app, &format!("from={day}&to={day}")).await;
    let expected = app
        .scalar(&truth(&format!(
            "taken_at >= {start} AND taken_at < {}",
            start + 86_400
        )))
        .await;
    assert!(expected >= 2);
    assert_eq!(result_count(&html) as i64, expected);

    let album = create_album(&app, "Picks").await;
    for photo in [7, 8, 9] {
        add_to_album(&app, album, photo).await;
    }
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 9")
        .await;
    let (_, html) = search(&app, &format!("album={album}")).await;
    assert_eq!(
        result_count(&html),
        2,
        "trashed photos are not search results"
    );
    let (_, html) = search(&app, &format!("album={album}&q=IMG_0000007")).await;
    assert_eq!(result_count(&html), 1);

    // Broad searches page through every match exactly once.
    let (_, first) = search(&app, "q=IMG").await;
    assert_eq!(result_count(&first), 120);
    let next = first
        .split("after=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page");
    let (_, second) = search(&app, &format!("q=IMG&after={next}")).await;
    assert_eq!(result_count(&second), 120);
    let ids = |html: &str| -> Vec<String> {
        html.split("data-photo-id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    };
    let first_ids = ids(&first);
    assert!(
        ids(&second).iter().all(|id| !first_ids.contains(id)),
        "pages overlap"
    );
}

#[tokio::test]
async fn search_explains_bad_criteria_and_treats_text_literally() {
    let app = TestApp::new().await.with_photos(30).await;
    for (query, needle) in [
        ("q=ab", "at least 3"),
        ("from=2026-02-30", "not a day"),
        ("from=2026-03-02&to=2026-03-01", "comes after"),
        ("album=seven", "not an album"),
        ("q=IMG&after=%3Cscript%3E", "bad_request"),
    ] {
        let (status, html) = search(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains(needle), "{query}: {needle:?} missing");
        assert!(!html.contains("<script>"), "input echoed unescaped");
    }
    // Query syntax of the full-text index is just text here.
    for hostile in [
        "q=%22%20OR%20%22",
        "q=IMG*%20NEAR(a)",
        "q=%27%3B%20DROP%20TABLE%20photos%3B--",
        "q=%E2%80%94%E2%80%94%E2%80%94",
        "camera=%00%00%00",
    ] {
        let (status, html) = search(&app, hostile).await;
        assert_eq!(status, StatusCode::OK, "{hostile}: {html}");
        assert_eq!(result_count(&html), 0, "{hostile}");
    }
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 30);
    let (status, html) = search(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Combine as many as you like"));
    assert!(html.contains("X-T5"), "the camera list is missing");
}

#[tokio::test]
async fn narrow_and_broad_file_name_searches_find_the_same_photos_as_a_full_scan() {
    let app = TestApp::new()
        .await
        .with_photos(flashbulb_store::search::BROAD_TEXT as u64 + 100)
        .await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id % 7 = 0")
        .await;
    let ids = |html: &str| -> Vec<i64> {
        html.split("data-photo-id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    };
    // IMG_0001xxx: a thousand names (narrow); IMG_000: every name (broad).
    for fragment in ["img_0001", "IMG_000"] {
        let truth: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM photos WHERE owner_id = 1 AND status = 'ready' AND trashed_at IS NULL
             AND lower(file_name) LIKE '%{}%' ORDER BY taken_at DESC, id DESC",
            fragment.to_lowercase()
        ))
        .fetch_all(&app.pool)
        .await
        .expect("truth");
        let (status, html) = search(&app, &format!("q={fragment}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&html), truth[..120], "{fragment}");
        let shown = if truth.len() > 10_000 {
            "More than 10,000 photos".to_string()
        } else {
            format!("{} photos", app::format::thousands(truth.len() as u64))
        };
        assert!(html.contains(&shown), "{fragment}: {shown:?} missing");
    }
}
