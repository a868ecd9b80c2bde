//! Favourites: setting them, their list and page, and its query plan.

use super::*;

#[tokio::test]
async fn set_favourite_persists_and_reports_the_stored_value() {
    let app = TestApp::new().await.with_photos(5).await;
    let (status, body) = app
        .post_form("/api/set_favourite", "photo_id=3&favourite=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "true");
    assert_eq!(
        app.scalar("SELECT is_favourite FROM photos WHERE id = 3")
            .await,
        1
    );
    let (status, body) = app
        .post_form("/api/set_favourite", "photo_id=3&favourite=false")
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "false"));
    assert_eq!(
        app.scalar("SELECT is_favourite FROM photos WHERE id = 3")
            .await,
        0
    );
}

#[tokio::test]
async fn set_favourite_refuses_photos_of_other_owners_and_bad_input() {
    let app = TestApp::new().await.with_photos(5).await;
    app.seed_other_owner(5).await;

    let (status, body) = app
        .post_form("/api/set_favourite", "photo_id=8&favourite=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("not_found"), "{body}");
    assert_eq!(
        app.scalar("SELECT is_favourite FROM photos WHERE id = 8")
            .await,
        0
    );

    for hostile in [
        "",
        "photo_id=abc&favourite=true",
        "photo_id=1&favourite=maybe",
        "photo_id=99999999999999999999999&favourite=true",
        "photo_id=1",
        "%%%%",
    ] {
        let (status, body) = app.post_form("/api/set_favourite", hostile).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{hostile:?} gave {status}: {body}"
        );
    }
    let (status, _) = app
        .post_form("/api/set_favourite", "photo_id=424242&favourite=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE is_favourite = 1")
            .await,
        0
    );
}

#[tokio::test]
async fn favourites_list_only_the_owners_favourites_newest_first_page_by_page() {
    let app = TestApp::new().await.with_photos(600).await;
    app.seed_other_owner(100).await;
    app.execute("UPDATE photos SET is_favourite = 1 WHERE id % 3 = 0")
        .await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id % 9 = 0")
        .await;
    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM photos WHERE owner_id = 1 AND id % 3 = 0 AND id % 9 != 0
         ORDER BY taken_at DESC, id DESC",
    )
    .fetch_all(&app.pool)
    .await
    .expect("expected");
    assert_eq!(expected.len(), 134);

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = flashbulb_store::photos::favourites(&app.pool, 1, after, 50)
            .await
            .expect("page");
        assert_eq!(page.total, 134);
        seen.extend(page.photos.iter().map(|photo| photo.id));
        match page.next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_favourites_page_renders_with_pages_and_refuses_bad_cursors() {
    let app = TestApp::new().await.with_photos(300).await;
    app.execute("UPDATE photos SET is_favourite = 1").await;
    let (status, html) = app.get("/favourites").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("data-photo-id=").count(), 120);
    assert!(html.contains("300 photos"));
    let next = html
        .split("href=\"/favourites?after=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older favourites");
    let (status, second) = app.get(&format!("/favourites?after={next}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.matches("data-photo-id=").count(), 120);

    let (status, body) = app.post_form("/api/favourites", "after=not-a-cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, html) = app.get("/favourites?after=%3Cscript%3E").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("bad_request"),
        "the page does not explain the bad position"
    );
    assert!(!html.contains("<script>"), "input echoed unescaped");
}
