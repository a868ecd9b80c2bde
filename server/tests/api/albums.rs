//! Albums: photos and covers, bad titles and other owners, share links and ZIP downloads.

use super::*;

#[tokio::test]
async fn albums_collect_photos_with_a_cover_and_keep_them_on_delete() {
    let app = TestApp::new().await.with_photos(10).await;
    let album = create_album(&app, "Lisbon%202026").await;
    assert_eq!(
        app.scalar("SELECT count(*) FROM albums WHERE title = 'Lisbon 2026'")
            .await,
        1
    );
    for photo in [2, 4, 6, 4] {
        assert_eq!(add_to_album(&app, album, photo).await, StatusCode::OK);
    }
    assert_eq!(app.scalar("SELECT count(*) FROM album_photos").await, 3);

    let (status, html) = app.get(&format!("/albums/{album}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Lisbon 2026") && html.contains("3 photos"),
        "{html}"
    );
    assert_eq!(html.matches("data-photo-id=").count(), 3);
    let (_, list) = app.get("/albums").await;
    assert!(list.contains(&format!("data-album-id=\"{album}\"")) && list.contains("3 photos"));

    let (status, _) = app
        .post_form(
            "/api/set_album_cover",
            &format!("album_id={album}&photo_id=6"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_form(
            "/api/set_album_cover",
            &format!("album_id={album}&photo_id=7"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a photo outside the album became its cover"
    );
    app.post_form(
        "/api/set_in_album",
        &format!("album_id={album}&photo_id=6&member=false"),
    )
    .await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM albums WHERE id = {album} AND cover_photo_id IS NULL"
        ))
        .await,
        1,
        "removing the cover photo left a dangling cover"
    );

    // A trashed member leaves the album's count and pages while it is in the trash.
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 2")
        .await;
    let (_, html) = app.get(&format!("/albums/{album}")).await;
    assert!(html.contains("1 photo"), "{html}");

    let (status, _) = app
        .post_form(
            "/api/rename_album",
            &format!("album_id={album}&title=Porto"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_form("/api/delete_album", &format!("album_id={album}"))
        .await;
    assert!(status == StatusCode::OK || status.is_redirection());
    assert_eq!(app.scalar("SELECT count(*) FROM albums").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM album_photos").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM photos").await, 10);
}

#[tokio::test]
async fn albums_refuse_bad_titles_and_other_owners() {
    let app = TestApp::new().await.with_photos(3).await;
    app.seed_other_owner(3).await;
    let album = create_album(&app, "Mine").await;
    let long = "x".repeat(201);
    for hostile in [
        "",
        "title=",
        "title=%20%20",
        &format!("title={long}"),
        "title=a%00b",
    ] {
        let (status, body) = app.post_form("/api/create_album", hostile).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hostile:?}: {body}");
    }
    let (status, _) = app
        .post_form(
            "/api/rename_album",
            &format!("album_id={album}&title={long}"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.scalar("SELECT count(*) FROM albums").await, 1);

    // Photo 4 is someone else's; album 999 does not exist.
    assert_eq!(add_to_album(&app, album, 4).await, StatusCode::NOT_FOUND);
    assert_eq!(add_to_album(&app, 999, 1).await, StatusCode::NOT_FOUND);
    let other_album: i64 = sqlx::query_scalar(
        "INSERT INTO albums (owner_id, title, created_at) VALUES (2, 'Theirs', 0) RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("album of another owner");
    assert_eq!(
        add_to_album(&app, other_album, 1).await,
        StatusCode::NOT_FOUND
    );
    for path in [
        format!("/albums/{other_album}"),
        "/albums/abc".to_string(),
        "/albums/999".to_string(),
    ] {
        let (status, _) = app.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app
        .post_form("/api/delete_album", &format!("album_id={other_album}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post_form(
            "/api/share_album",
            &format!("album_id={other_album}&shared=true"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.scalar("SELECT count(*) FROM album_photos").await, 0);
    assert_eq!(
        app.scalar("SELECT count(*) FROM albums WHERE share_token IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn a_share_link_shows_one_album_read_only_until_sharing_stops() {
    let app = TestApp::new().await.with_photos(6).await;
    let album = create_album(&app, "Shared").await;
    add_to_album(&app, album, 3).await;
    let (status, body) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token: String = serde_json::from_str::<Option<String>>(&body)
        .expect("token json")
        .expect("a token");
    assert_eq!(token.len(), 32);
    let (_, again) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    assert!(again.contains(&token), "sharing again changed the link");

    let (status, html) = app.get(&format!("/s/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Shared") && html.contains("data-photo-id=\"3\""));
    assert!(
        !html.contains("fav-form"),
        "visitors got the owner's controls"
    );
    assert!(
        !html.contains("href=\"/p/3\""),
        "visitors got links to the owner's photo pages"
    );
    assert!(html.contains("noindex"));

    for bad in [
        "nope",
        &"0".repeat(32),
        &token.to_uppercase(),
        "%2e%2e%2fetc",
    ] {
        let (status, _) = app.get(&format!("/s/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    app.post_form(
        "/api/share_album",
        &format!("album_id={album}&shared=false"),
    )
    .await;
    let (status, page) = app.get(&format!("/s/{token}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old link still works");
    assert!(
        page.contains("The owner stopped sharing this album") && !page.contains("not_found"),
        "a stopped link explains itself: {page}"
    );
    let (status, _, _) = app
        .request_bytes(
            Request::get(format!("/api/shared/{token}/zip"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_album_downloads_as_a_valid_zip_of_its_originals() {
    let app = TestApp::new().await.with_photos(5).await;
    let album = create_album(&app, "Trip").await;
    // Photos 1 and 2 share a file name; photo 3 has no original on disk; 4 is trashed.
    app.execute("UPDATE photos SET file_name = 'IMG_0001.JPG' WHERE id IN (1, 2)")
        .await;
    app.execute("UPDATE photos SET file_name = '../../escape.jpg' WHERE id = 5")
        .await;
    let mut expected = Vec::new();
    for photo in [1, 2, 3, 4, 5] {
        add_to_album(&app, album, photo).await;
        let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = $1")
            .bind(photo)
            .fetch_one(&app.pool)
            .await
            .expect("sha");
        if photo != 3 {
            // Large enough to span several chunks of the stream.
            let bytes: Vec<u8> = (0..200_000u32)
                .map(|i| (i * photo as u32 % 251) as u8)
                .collect();
            write_original(&app, &sha, &bytes);
            if photo != 4 {
                expected.push(bytes);
            }
        }
    }
    app.execute("UPDATE photos SET trashed_at = 1 WHERE id = 4")
        .await;

    let (status, headers, bytes) = app
        .request_bytes(
            Request::get(format!("/api/albums/{album}/zip"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/zip");
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii")
        .contains("filename=\"Trip.zip\""));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid ZIP");
    let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".._.._escape.jpg",
            "IMG_0001 (2).JPG",
            "IMG_0001.JPG",
            "missing.txt"
        ]
    );
    let mut contents = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("entry");
        assert!(
            entry.enclosed_name().is_some(),
            "{} escapes its folder",
            entry.name()
        );
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("entry data (CRC checked)");
        if entry.name() == "missing.txt" {
            let text = String::from_utf8(data).expect("utf-8");
            assert!(text.contains("IMG_"), "{text}");
        } else {
            contents.push(data);
        }
    }
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected);

    // The same archive through the share link; none for other albums or bad ids.
    let (_, body) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    let token: String = serde_json::from_str::<Option<String>>(&body)
        .ok()
        .flatten()
        .expect("token");
    let (status, _, shared) = app
        .request_bytes(
            Request::get(format!("/api/shared/{token}/zip"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        zip::ZipArchive::new(std::io::Cursor::new(shared))
            .expect("valid")
            .len(),
        4
    );
    // Through the compression layer, as browsers ask: photos are not compressed twice.
    let (status, headers, compressed) = app
        .request_bytes(
            Request::get(format!("/api/shared/{token}/zip"))
                .header(header::ACCEPT_ENCODING, "br, gzip")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "{headers:?}"
    );
    let archive = zip::ZipArchive::new(std::io::Cursor::new(compressed)).expect("valid");
    assert_eq!(archive.len(), 4);
    for path in [
        "/api/albums/999/zip",
        "/api/albums/x/zip",
        "/api/shared/abc/zip",
    ] {
        let (status, _) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
