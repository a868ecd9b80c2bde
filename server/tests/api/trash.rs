//! The trash: taking photos out and back, emptying with and without a grace period, the confirmations, and its query plan.

use super::*;

#[tokio::test]
async fn the_trash_takes_photos_out_of_every_list_and_gives_them_back() {
    let app = TestApp::new().await.with_photos(20).await;
    app.seed_other_owner(3).await;
    app.execute("UPDATE photos SET is_favourite = 1 WHERE id = 5")
        .await;
    let visible =
        "SELECT CAST(coalesce(sum(photo_count), 0) AS BIGINT) FROM photo_months WHERE owner_id = 1";
    assert_eq!(app.scalar(visible).await, 20);

    let (status, body) = app
        .post_form("/api/set_trashed", "photo_id=5&trashed=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.scalar(visible).await, 19);
    let first_time = app
        .scalar("SELECT trashed_at FROM photos WHERE id = 5")
        .await;
    app.post_form("/api/set_trashed", "photo_id=5&trashed=true")
        .await;
    assert_eq!(
        app.scalar("SELECT trashed_at FROM photos WHERE id = 5")
            .await,
        first_time,
        "trashing twice moved the photo in the trash"
    );
    let (_, favourites) = app.get("/favourites").await;
    assert!(!favourites.contains("data-photo-id=\"5\""));
    let (_, trash) = app.get("/trash").await;
    assert!(
        trash.contains("data-photo-id=\"5\""),
        "trashed photo not in the trash"
    );
    assert!(trash.contains("1 photo"));
    let (_, page) = app.get("/p/5").await;
    assert!(page.contains("In the trash since"));
    assert!(page.contains("Restore to the library"));

    let (status, _) = app
        .post_form("/api/set_trashed", "photo_id=5&trashed=false")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.scalar(visible).await, 20);
    let (_, favourites) = app.get("/favourites").await;
    assert!(
        favourites.contains("data-photo-id=\"5\""),
        "restored favourite lost its heart"
    );

    // Another owner's photo, and malformed requests.
    let (status, _) = app
        .post_form("/api/set_trashed", "photo_id=21&trashed=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE trashed_at IS NOT NULL")
            .await,
        0
    );
    for hostile in [
        "",
        "photo_id=x&trashed=true",
        "photo_id=1&trashed=2",
        "trashed=true",
    ] {
        let (status, body) = app.post_form("/api/set_trashed", hostile).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hostile:?}: {body}");
    }
    let (status, _) = app.get("/trash?after=junk").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn emptying_the_trash_keeps_its_photos_restorable_then_deletes_them_and_unshared_originals() {
    let app = TestApp::new().await.with_photos(4).await;
    let originals: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT id, sha256 FROM photos ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .expect("photos");
    for (_, sha) in &originals {
        write_original(&app, sha, b"jpeg bytes");
    }
    // A second owner holds the same content as photo 2: its file must survive.
    flashbulb_core::users::find_or_create(&app.pool, "friend", false)
        .await
        .expect("user");
    sqlx::query(
        "INSERT INTO photos (owner_id, file_name, taken_at, sha256, status, created_at)
         VALUES (2, 'same.jpg', 0, $1, 'ready', 0)",
    )
    .bind(&originals[1].1)
    .execute(&app.pool)
    .await
    .expect("shared content");
    app.execute("UPDATE photos SET trashed_at = 1 WHERE owner_id = 1 AND id IN (1, 2, 3)")
        .await;

    // Emptied, the photos leave the trash for "Recently emptied", where each can be restored.
    let (status, body) = app.post_form("/api/empty_trash", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
    let (_, trash) = app.get("/trash").await;
    assert!(trash.contains("The trash is empty"), "{trash}");
    assert!(trash.contains("Recently emptied"), "{trash}");
    let (_, emptied) = app.get("/trash?list=emptied").await;
    for id in [1, 2, 3] {
        assert!(
            emptied.contains(&format!("data-photo-id=\"{id}\"")),
            "{emptied}"
        );
    }
    assert!(
        emptied.contains("deleted for good 30 days after"),
        "{emptied}"
    );
    let (status, _) = app
        .post_form("/api/set_trashed", "photo_id=3&trashed=false")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE id = 3 AND trashed_at IS NULL AND emptied_at IS NULL")
            .await,
        1,
        "a restored photo is back in the library"
    );
    let path =
        |index: usize| flashbulb_core::storage::original_path(app.dir.path(), &originals[index].1);
    assert!(
        path(0).exists() && path(1).exists(),
        "emptying deleted files at once"
    );

    // Within the grace period nothing goes; after it, the photos and unshared originals do.
    let now = flashbulb_store::now();
    let purged =
        flashbulb_core::photos::purge_emptied(&app.pool, &app.state.settings.files, now - 86_400)
            .await
            .expect("purge");
    assert!(purged.is_empty(), "{purged:?}");
    let purged =
        flashbulb_core::photos::purge_emptied(&app.pool, &app.state.settings.files, now + 1)
            .await
            .expect("purge");
    assert_eq!(purged.into_iter().collect::<Vec<_>>(), [(1, 2)]);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE owner_id = 1")
            .await,
        2
    );
    assert!(!path(0).exists(), "an unshared original was kept");
    assert!(
        path(1).exists(),
        "an original another photo uses was deleted"
    );
    assert!(path(2).exists() && path(3).exists());
    let (_, trash) = app.get("/trash").await;
    assert!(!trash.contains("Recently emptied"), "{trash}");
}

#[tokio::test]
async fn without_a_grace_period_emptying_the_trash_deletes_at_once() {
    let config = Config {
        trash_grace_days: 0,
        ..Config::default()
    };
    let app = TestApp::with_config(config).await.with_photos(3).await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 2")
        .await;
    let (_, confirm) = app.get("/trash?confirm=empty").await;
    assert!(confirm.contains("This cannot be undone"), "{confirm}");
    let (status, body) = app.post_form("/api/empty_trash", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 2);
}

#[tokio::test]
async fn destructive_buttons_ask_first_and_change_nothing_until_confirmed() {
    let app = TestApp::new().await.with_photos(3).await;
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 2")
        .await;
    let album = create_album(&app, "Keep").await;

    // The first step is a link to a page that asks; only its form posts.
    let (_, trash) = app.get("/trash").await;
    assert!(trash.contains(r#"href="/trash?confirm=empty""#), "{trash}");
    assert!(!trash.contains("/api/empty_trash"), "{trash}");
    let (status, confirm) = app.get("/trash?confirm=empty").await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("Empty the trash?"), "{confirm}");
    assert!(
        confirm.contains(r#"action="/api/empty_trash""#),
        "{confirm}"
    );
    assert!(
        confirm.contains("1 photo will leave the trash"),
        "{confirm}"
    );

    let (_, page) = app.get(&format!("/albums/{album}")).await;
    assert!(
        page.contains(&format!(r#"href="/albums/{album}?confirm=delete""#)),
        "{page}"
    );
    assert!(!page.contains("/api/delete_album"), "{page}");
    let (_, confirm) = app.get(&format!("/albums/{album}?confirm=delete")).await;
    assert!(confirm.contains("Delete the album “Keep”?"), "{confirm}");
    assert!(
        confirm.contains(r#"action="/api/delete_album""#),
        "{confirm}"
    );

    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM photos WHERE trashed_at IS NOT NULL AND emptied_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT count(*) FROM albums").await, 1);
}
