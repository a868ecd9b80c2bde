//! Accounts and security over the real router: user B never reads or changes user A's photos,
//! derivatives, albums, search results or live events; share-link visitors see one album;
//! sign-in, set-up and sign-out; cross-site writes refused; the CSP's nonces and digests; rate
//! limits.

use std::time::Duration;

use app::live::{ClientMessage, ServerMessage, Topic};
use axum::{
    body::Body,
    http::{header, HeaderMap, Method, Request, StatusCode},
};
use flashbulb::config::Config;
use flashbulb_tools::load;

use super::{
    live::{following, next, Served},
    pipeline, TestApp, DEMO_PASSWORD,
};

const B_PASSWORD: &str = "bea's password";

/// A's library (demo, user 1, an administrator) beside B's (bea, a plain user), with what each
/// test needs to find of A's.
struct TwoLibraries {
    app: TestApp,
    a_session: String,
    b_session: String,
    a_photo: i64,
    a_album: i64,
    a_trashed: i64,
    b_photo: i64,
    b_album: i64,
}

const A_ALBUM_TITLE: &str = "Secret of A";
const A_FILE_NAME: &str = "needle-of-a.jpg";

async fn two_libraries(config: Config) -> TwoLibraries {
    let app = TestApp::with_config(config).await.with_photos(20).await;
    let b = flashbulb_core::users::add(&app.pool, "bea", B_PASSWORD, false)
        .await
        .expect("B");
    flashbulb_tools::seed::run(&app.pool, &super::seed_args("bea", 10))
        .await
        .expect("B's photos");
    let first_of = |owner: i64| {
        format!(
            "SELECT id FROM photos WHERE owner_id = {owner} AND status = 'ready' \
             AND trashed_at IS NULL ORDER BY id LIMIT 1"
        )
    };
    // A's photo with derivatives (an upload), so its media can be tried too.
    let (status, json) = pipeline::upload(
        &app,
        &[(
            "a.jpg",
            &pipeline::fixture("photos/IMG-20191006-WA0002.jpg"),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let a_photo = json["files"][0]["photo_id"].as_i64().expect("id");
    pipeline::run_jobs(&app).await;
    let b_photo = app.scalar(&first_of(b)).await;
    app.execute(&format!(
        "UPDATE photos SET file_name = '{A_FILE_NAME}' WHERE id = {a_photo}"
    ))
    .await;
    let a_trashed = app
        .scalar(&format!(
            "SELECT id FROM photos WHERE owner_id = 1 AND id <> {a_photo} ORDER BY id DESC LIMIT 1"
        ))
        .await;
    app.execute(&format!(
        "UPDATE photos SET trashed_at = 1 WHERE id = {a_trashed}"
    ))
    .await;
    let a_album = app
        .scalar(&format!(
            "INSERT INTO albums (owner_id, title, created_at) VALUES (1, '{A_ALBUM_TITLE}', 0) \
             RETURNING id"
        ))
        .await;
    app.execute(&format!(
        "INSERT INTO album_photos (album_id, photo_id, added_at) VALUES ({a_album}, {a_photo}, 0)"
    ))
    .await;
    let b_album = app
        .scalar(&format!(
            "INSERT INTO albums (owner_id, title, created_at) VALUES ({b}, 'B trip', 0) \
             RETURNING id"
        ))
        .await;
    let a_session = app.owner_session().await;
    let b_session = app.session_of(b).await;
    TwoLibraries {
        app,
        a_session,
        b_session,
        a_photo,
        a_album,
        a_trashed,
        b_photo,
        b_album,
    }
}

impl TwoLibraries {
    async fn as_b(&self, method: Method, path: &str, form: &str) -> (StatusCode, String) {
        send(&self.app, Some(&self.b_session), method, path, form).await
    }

    async fn as_a(&self, method: Method, path: &str, form: &str) -> (StatusCode, String) {
        send(&self.app, Some(&self.a_session), method, path, form).await
    }
}

async fn send(
    app: &TestApp,
    session: Option<&str>,
    method: Method,
    path: &str,
    form: &str,
) -> (StatusCode, String) {
    let (status, _, body) = send_full(app, session, method, path, form).await;
    (status, body)
}

async fn send_full(
    app: &TestApp,
    session: Option<&str>,
    method: Method,
    path: &str,
    form: &str,
) -> (StatusCode, HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(form.to_string()))
        .expect("request");
    let (status, headers, body) = app.send(request, session).await;
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn user_b_never_reads_or_changes_user_a_s_library() {
    let world = two_libraries(Config::default()).await;
    let (a_photo, a_album, a_trashed) = (world.a_photo, world.a_album, world.a_trashed);
    let (b_photo, b_album) = (world.b_photo, world.b_album);

    // A warms the page cache with what only A may see.
    for page in [
        "/albums",
        &format!("/albums/{a_album}"),
        &format!("/p/{a_photo}"),
    ] {
        let (status, body) = world.as_a(Method::GET, page, "").await;
        assert_eq!(status, StatusCode::OK, "A reads {page}: {body}");
    }

    // Reads of A's things by id: not found, as if they did not exist.
    for path in [
        format!("/p/{a_photo}"),
        format!("/p/{a_trashed}"),
        format!("/albums/{a_album}"),
        format!("/api/photos/{a_photo}/original"),
        format!("/api/albums/{a_album}/zip"),
    ] {
        let (status, body) = world.as_b(Method::GET, &path, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "B reads {path}: {body}");
    }
    for (path, form) in [
        ("/api/photo", format!("photo_id={a_photo}")),
        ("/api/album", format!("album_id={a_album}")),
    ] {
        let (status, body) = world.as_b(Method::POST, path, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "B calls {path}: {body}");
    }

    // Lists, pages and searches of B hold nothing of A's.
    let a_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM photos WHERE owner_id = 1")
        .fetch_all(&world.app.pool)
        .await
        .expect("A's ids");
    for (method, path, form) in [
        (Method::GET, "/", ""),
        (Method::GET, "/albums", ""),
        (Method::GET, "/favourites", ""),
        (Method::GET, "/trash", ""),
        (Method::GET, "/search?q=needle", ""),
        (Method::GET, "/api/export/photos.csv", ""),
        (Method::POST, "/api/albums", ""),
        (Method::POST, "/api/timeline", ""),
        (Method::POST, "/api/search_facets", ""),
        (Method::POST, "/api/search", "form[q]=needle"),
        (Method::POST, "/api/trash", ""),
        (Method::POST, "/api/favourites", ""),
    ] {
        let (status, body) = world.as_b(method, path, form).await;
        assert_eq!(status, StatusCode::OK, "B reads {path}: {body}");
        for secret in [A_ALBUM_TITLE, A_FILE_NAME] {
            assert!(!body.contains(secret), "{path} shows B {secret:?}");
        }
        if path.starts_with("/api/") && path != "/api/export/photos.csv" {
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            for id in photo_ids(&json) {
                assert!(!a_ids.contains(&id), "{path} gives B photo {id} of A");
            }
        }
    }
    let (_, status_json) = world
        .as_b(
            Method::GET,
            &format!("/api/photos/status?ids={a_photo},{b_photo}"),
            "",
        )
        .await;
    assert!(
        !status_json.contains(&format!("\"id\":{a_photo}")),
        "{status_json}"
    );
    let month: String = {
        let taken: i64 = world
            .app
            .scalar(&format!("SELECT taken_at FROM photos WHERE id = {a_photo}"))
            .await;
        let (year, month, _) = app::format::civil_date(taken);
        format!("{year:04}-{month:02}")
    };
    let (_, headers, segment) = send_bytes(
        &world.app,
        Some(&world.b_session),
        &format!("/api/timeline/buckets/{month}"),
    )
    .await;
    assert_eq!(
        headers[header::CONTENT_TYPE],
        flashbulb_web::timeline::SEGMENT_CONTENT_TYPE
    );
    let segment = app::codec::Segment::decode(&segment).expect("a segment");
    assert!(segment.ids.iter().all(|id| !a_ids.contains(id)));

    // Changes to A's things: refused, and nothing changed.
    let before = library_state(&world.app).await;
    for (path, form) in [
        (
            "/api/set_favourite",
            format!("photo_id={a_photo}&favourite=true"),
        ),
        (
            "/api/set_trashed",
            format!("photo_id={a_photo}&trashed=true"),
        ),
        (
            "/api/set_trashed",
            format!("photo_id={a_trashed}&trashed=false"),
        ),
        (
            "/api/rename_album",
            format!("album_id={a_album}&title=mine"),
        ),
        ("/api/delete_album", format!("album_id={a_album}")),
        (
            "/api/share_album",
            format!("album_id={a_album}&shared=true"),
        ),
        (
            "/api/set_album_cover",
            format!("album_id={a_album}&photo_id={a_photo}"),
        ),
        (
            "/api/set_in_album",
            format!("album_id={a_album}&photo_id={b_photo}&member=true"),
        ),
        (
            "/api/set_in_album",
            format!("album_id={a_album}&photo_id={a_photo}&member=false"),
        ),
        (
            "/api/set_in_album",
            format!("album_id={b_album}&photo_id={a_photo}&member=true"),
        ),
    ] {
        let (status, body) = world.as_b(Method::POST, path, &form).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "B calls {path} {form}: {body}"
        );
    }
    let (status, body) = world.as_b(Method::POST, "/api/empty_trash", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        library_state(&world.app).await,
        before,
        "A's library changed"
    );

    // An upload of B's is B's.
    let (status, json) = upload_as(&world.app, &world.b_session).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let uploaded = json["files"][0]["photo_id"].as_i64().expect("id");
    let owner = world
        .app
        .scalar(&format!(
            "SELECT owner_id FROM photos WHERE id = {uploaded}"
        ))
        .await;
    assert_ne!(owner, 1);

    // Derivatives: B's signed access does not open A's keys, though B's own opens B's.
    pipeline::run_jobs(&world.app).await;
    let (a_key, b_media) = media_of(&world, a_photo, uploaded).await;
    let (b_access, b_key) = b_media.split_once('/').expect("access/key");
    let (status, _) = world
        .as_b(
            Method::GET,
            &format!("/media/{b_access}/{b_key}/thumb.webp"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .as_b(
            Method::GET,
            &format!("/media/{b_access}/{a_key}/thumb.webp"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Administrators' pages and functions.
    for (method, path) in [
        (Method::GET, "/ops"),
        (Method::GET, "/ops/diagnostics"),
        (Method::GET, "/users"),
        (Method::POST, "/api/ops"),
        (Method::POST, "/api/diagnostics"),
        (Method::POST, "/api/users"),
    ] {
        let (status, body) = world.as_b(method.clone(), path, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "B reaches {path}: {body}");
        let (status, body) = world.as_a(method, path, "").await;
        assert_eq!(status, StatusCode::OK, "A reaches {path}: {body}");
    }
    let (status, _) = world
        .as_b(
            Method::POST,
            "/users",
            "username=mallory&password=12345678&admin=on",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(flashbulb_store::users::list(&world.app.pool)
        .await
        .expect("users")
        .iter()
        .all(|user| user.name != "mallory"));
}

/// The id of every photo cell (an object with a media path) in a JSON answer.
fn photo_ids(json: &serde_json::Value) -> Vec<i64> {
    match json {
        serde_json::Value::Object(map) if map.contains_key("media") => map
            .get("id")
            .and_then(serde_json::Value::as_i64)
            .into_iter()
            .collect(),
        serde_json::Value::Object(map) => map.values().flat_map(photo_ids).collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(photo_ids).collect(),
        _ => Vec::new(),
    }
}

async fn send_bytes(
    app: &TestApp,
    session: Option<&str>,
    path: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    app.send(
        Request::get(path).body(Body::empty()).expect("request"),
        session,
    )
    .await
}

/// A's key of `a_photo`, and B's media path of `b_photo`, as their pages carry them.
async fn media_of(world: &TwoLibraries, a_photo: i64, b_photo: i64) -> (String, String) {
    let media = |page: String| {
        serde_json::from_str::<serde_json::Value>(&page).expect("JSON")["cell"]["media"]
            .as_str()
            .expect("media")
            .to_string()
    };
    let (_, a_page) = world
        .as_a(Method::POST, "/api/photo", &format!("photo_id={a_photo}"))
        .await;
    let (_, b_page) = world
        .as_b(Method::POST, "/api/photo", &format!("photo_id={b_photo}"))
        .await;
    let a_media = media(a_page);
    let a_key = a_media.split_once('/').expect("access/key").1.to_string();
    (a_key, media(b_page))
}

/// Everything of A's a change could touch, in a comparable form.
async fn library_state(app: &TestApp) -> Vec<(i64, i64, i64, String)> {
    let photos: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "SELECT id, CAST(is_favourite AS BIGINT),
                COALESCE(trashed_at, -1), file_name
         FROM photos WHERE owner_id = 1 ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("A's photos");
    photos.into_iter().chain(albums_state(app).await).collect()
}

async fn albums_state(app: &TestApp) -> Vec<(i64, i64, i64, String)> {
    let albums: Vec<(i64, String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT id, title, share_token, cover_photo_id FROM albums WHERE owner_id = 1 ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("albums");
    let members: Vec<(i64, i64)> =
        sqlx::query_as("SELECT album_id, photo_id FROM album_photos ORDER BY album_id, photo_id")
            .fetch_all(&app.pool)
            .await
            .expect("members");
    albums
        .into_iter()
        .map(|(id, title, token, cover)| {
            let in_album: Vec<String> = members
                .iter()
                .filter(|(album, _)| *album == id)
                .map(|(_, photo)| photo.to_string())
                .collect();
            (
                id,
                cover.unwrap_or(-1),
                i64::from(token.is_some()),
                format!("{title}|{}", in_album.join(",")),
            )
        })
        .collect()
}

async fn upload_as(app: &TestApp, session: &str) -> (StatusCode, serde_json::Value) {
    let (content_type, body) =
        pipeline::multipart(&[("b.jpg", &pipeline::fixture("photos/test1.jpg"))]);
    let request = Request::post("/api/upload")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body))
        .expect("request");
    let (status, _, body) = app.send(request, Some(session)).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_reach_their_owner_only() {
    let world = two_libraries(Config {
        live_frame_ms: 20,
        ..Config::default()
    })
    .await;
    let served = Served::start(&world.app).await;
    let a_site = served.site.clone();
    let b_site = load::Site {
        base: served.base.clone(),
        session: world.b_session.clone(),
    };
    let mut a_socket = following(&a_site, Topic::Library).await;
    let mut b_socket = following(&b_site, Topic::Library).await;

    // B may not follow A's album, nor the console.
    for topic in [Topic::Album(world.a_album), Topic::Ops] {
        load::send(&mut b_socket.socket, &ClientMessage::Subscribe { topic })
            .await
            .expect("send");
        assert!(
            matches!(next(&mut b_socket).await, ServerMessage::Refused { .. }),
            "B followed {topic:?}"
        );
    }

    let (status, body) = world
        .as_a(
            Method::POST,
            "/api/set_favourite",
            &format!("photo_id={}&favourite=true", world.a_photo),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(matches!(
        next(&mut a_socket).await,
        ServerMessage::Frame { .. }
    ));
    let heard = tokio::time::timeout(Duration::from_millis(500), b_socket.receive()).await;
    assert!(heard.is_err(), "B heard A's change: {heard:?}");
    served.stop().await;
}

#[tokio::test]
async fn a_share_link_shows_its_album_and_nothing_else() {
    let world = two_libraries(Config::default()).await;
    let (status, token) = world
        .as_a(
            Method::POST,
            "/api/share_album",
            &format!("album_id={}&shared=true", world.a_album),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let token: String = serde_json::from_str::<Option<String>>(&token)
        .expect("JSON")
        .expect("a token");
    assert_eq!(token.len(), 32, "128 bits in hex");
    let app = &world.app;

    let (status, page) = send(app, None, Method::GET, &format!("/s/{token}"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(A_ALBUM_TITLE));
    let (status, json) = send(
        app,
        None,
        Method::POST,
        "/api/shared_album",
        &format!("token={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let ids: Vec<i64> = json["page"]["photos"]
        .as_array()
        .expect("photos")
        .iter()
        .filter_map(|photo| photo["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![world.a_photo]);
    let media = json["page"]["photos"][0]["media"].as_str().expect("media");
    let (status, _, _) = send_full(
        app,
        None,
        Method::GET,
        &app::model::media_url(media, "thumb.webp"),
        "",
    )
    .await;
    assert_ne!(
        status,
        StatusCode::UNAUTHORIZED,
        "the album's media open for the visitor"
    );
    let (status, _) = send(
        app,
        None,
        Method::GET,
        &format!("/api/shared/{token}/zip"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A guessed or altered token opens nothing.
    let mut altered = token.clone().into_bytes();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).expect("hex");
    for path in [
        format!("/s/{altered}"),
        format!("/api/shared/{altered}/zip"),
    ] {
        let (status, _) = send(app, None, Method::GET, &path, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }

    // The visitor reaches nothing else: pages send them to sign in, the rest is 401.
    for path in [
        "/".to_string(),
        format!("/albums/{}", world.a_album),
        format!("/p/{}", world.a_photo),
        "/search?q=needle".to_string(),
    ] {
        let (status, headers, _) = send_full(app, None, Method::GET, &path, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert!(headers[header::LOCATION]
            .to_str()
            .expect("location")
            .starts_with("/signin"));
    }
    let a_zip = format!("/api/albums/{}/zip", world.a_album);
    for (method, path, form) in [
        (Method::POST, "/api/timeline", String::new()),
        (
            Method::POST,
            "/api/photo",
            format!("photo_id={}", world.a_photo),
        ),
        (
            Method::POST,
            "/api/set_favourite",
            format!("photo_id={}&favourite=true", world.a_photo),
        ),
        (Method::GET, "/api/export/photos.csv", String::new()),
        (Method::GET, a_zip.as_str(), String::new()),
        (Method::GET, "/ws", String::new()),
    ] {
        let (status, body) = send(app, None, method, path, &form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }

    // Unshared, the link is dead at once.
    world
        .as_a(
            Method::POST,
            "/api/share_album",
            &format!("album_id={}&shared=false", world.a_album),
        )
        .await;
    let (status, _) = send(app, None, Method::GET, &format!("/s/{token}"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The `flashbulb_session` value a response sets, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("flashbulb_session="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
}

fn location(headers: &HeaderMap) -> &str {
    headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_first_visitor_sets_up_the_administrator_then_everyone_signs_in() {
    let app = TestApp::new().await;
    let page = |path: &'static str| send_full(&app, None, Method::GET, path, "");
    let (status, headers, _) = page("/").await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/setup")
    );
    let (status, headers, _) = page("/signin").await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/setup")
    );
    let (status, _, body) = page("/setup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("action=\"/setup\""), "{body}");

    // Bad forms come back with the reason; nothing is created.
    for (form, code) in [
        (
            "username=ana&password=longenough&confirm=different",
            "mismatch",
        ),
        ("username=ana&password=short&confirm=short", "password"),
        (
            "username=%00&password=longenough&confirm=longenough",
            "name",
        ),
        ("username=&password=longenough&confirm=longenough", "name"),
    ] {
        let (status, headers, _) = send_full(&app, None, Method::POST, "/setup", form).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{form}");
        assert_eq!(location(&headers), format!("/setup?error={code}"), "{form}");
    }
    assert!(flashbulb_core::users::needs_setup(&app.pool)
        .await
        .expect("setup"));
    let (status, _, _) = send_full(&app, None, Method::POST, "/setup", "username=ana").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a form without its fields");
    let huge = format!("username=ana&password={}&confirm=x", "p".repeat(64 * 1024));
    let (status, _, _) = send_full(&app, None, Method::POST, "/setup", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, headers, _) = send_full(
        &app,
        None,
        Method::POST,
        "/setup",
        "username=ana&password=longenough&confirm=longenough",
    )
    .await;
    assert_eq!((status, location(&headers)), (StatusCode::SEE_OTHER, "/"));
    let cookie = headers[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP without a proxy saying otherwise"
    );
    let session = session_cookie(&headers).expect("a session");
    let (status, _, body) = send_full(&app, Some(&session), Method::GET, "/users", "").await;
    assert_eq!(status, StatusCode::OK, "the first account administers");
    assert!(body.contains("ana"));
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'ana'")
            .fetch_one(&app.pool)
            .await
            .expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");

    // Set-up happens once.
    let (status, headers, _) = send_full(
        &app,
        None,
        Method::POST,
        "/setup",
        "username=eve&password=longenough&confirm=longenough",
    )
    .await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/signin")
    );
    assert_eq!(
        flashbulb_store::users::list(&app.pool)
            .await
            .expect("users")
            .len(),
        1
    );

    // The administrator adds a user, who signs in and lands where they were going.
    let (status, headers, _) = send_full(
        &app,
        Some(&session),
        Method::POST,
        "/users",
        "username=Bo&password=bo%27s+password",
    )
    .await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/users?added=Bo")
    );
    let (status, headers, _) = send_full(
        &app,
        Some(&session),
        Method::POST,
        "/users",
        "username=bo&password=another+one",
    )
    .await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/users?error=taken"),
        "names are unique regardless of case"
    );
    let (status, headers, _) = send_full(&app, None, Method::GET, "/albums?x=1", "").await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/signin?next=%2Falbums%3Fx%3D1")
    );
    let (status, headers, _) = send_full(
        &app,
        None,
        Method::POST,
        "/signin",
        "username=bo&password=wrong+password&next=%2Falbums",
    )
    .await;
    assert_eq!(
        (status, location(&headers)),
        (
            StatusCode::SEE_OTHER,
            "/signin?error=credentials&name=bo&next=%2Falbums"
        )
    );
    assert!(session_cookie(&headers).is_none());
    let (_, _, page) = send_full(
        &app,
        None,
        Method::GET,
        "/signin?error=credentials&name=bo&next=%2Falbums",
        "",
    )
    .await;
    assert!(
        page.contains(r#"value="bo""#),
        "the name is kept after a wrong password: {page}"
    );
    for (next, lands) in [
        ("%2Falbums%3Fx%3D1", "/albums?x=1"),
        ("%2F%2Fevil.example", "/"),
    ] {
        let (status, headers, _) = send_full(
            &app,
            None,
            Method::POST,
            "/signin",
            &format!("username=bo&password=bo%27s+password&next={next}"),
        )
        .await;
        assert_eq!((status, location(&headers)), (StatusCode::SEE_OTHER, lands));
        assert!(session_cookie(&headers).is_some());
    }
    let (status, headers, _) = send_full(
        &app,
        None,
        Method::POST,
        "/signin",
        "username=bo&password=bo%27s+password",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let bo = session_cookie(&headers).expect("a session");
    let (status, _, body) = send_full(&app, Some(&bo), Method::GET, "/", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Bo") && body.contains("Sign out"), "{body}");
    let (status, _, _) = send_full(&app, Some(&bo), Method::GET, "/users", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "Bo is no administrator");

    // Signing out ends the session on the server, not only in the browser.
    let (status, headers, _) = send_full(&app, Some(&bo), Method::POST, "/signout", "").await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/signin")
    );
    assert_eq!(session_cookie(&headers).as_deref(), Some(""));
    let (status, _, _) = send_full(&app, Some(&bo), Method::POST, "/api/timeline", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Hostile cookies are simply nobody.
    for cookie in [
        "flashbulb_session=' OR 1=1 --",
        "flashbulb_session=",
        "flashbulb_session",
    ] {
        let request = Request::post("/api/timeline")
            .header(header::COOKIE, cookie)
            .header(header::ORIGIN, format!("http://{}", super::TEST_HOST))
            .body(Body::empty())
            .expect("request");
        let (status, _, _) = app.send(request, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{cookie}");
    }
}

#[tokio::test]
async fn sessions_behind_an_https_proxy_get_secure_cookies() {
    let app = TestApp::new().await.with_photos(1).await;
    let request = Request::post("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(Body::from(format!(
            "username=demo&password={}",
            DEMO_PASSWORD.replace(' ', "+")
        )))
        .expect("request");
    let (status, headers, _) = app.send(request, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers[header::SET_COOKIE].to_str().expect("cookie");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn writes_from_other_sites_are_refused() {
    let app = TestApp::new().await.with_photos(3).await;
    let session = app.owner_session().await;
    let post = |origin: Option<&'static str>, referer: Option<&'static str>| {
        let mut request = Request::post("/api/set_favourite")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(referer) = referer {
            request = request.header(header::REFERER, referer);
        }
        request
            .body(Body::from("photo_id=1&favourite=true"))
            .expect("request")
    };
    let cases = [
        (Some("http://evil.example"), None, StatusCode::FORBIDDEN),
        (Some("null"), None, StatusCode::FORBIDDEN),
        (
            Some("http://flashbulb.test.evil.example"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            None,
            Some("http://evil.example/page"),
            StatusCode::FORBIDDEN,
        ),
        (Some("http://flashbulb.test"), None, StatusCode::OK),
        (None, Some("http://flashbulb.test/p/1"), StatusCode::OK),
    ];
    for (origin, referer, expected) in cases {
        let mut request = post(origin, referer);
        request.headers_mut().insert(
            header::COOKIE,
            format!("flashbulb_session={session}")
                .parse()
                .expect("cookie"),
        );
        request
            .headers_mut()
            .insert(header::HOST, super::TEST_HOST.parse().expect("host"));
        let response = tower::ServiceExt::oneshot(app.router.clone(), request)
            .await
            .expect("response");
        assert_eq!(response.status(), expected, "{origin:?} {referer:?}");
    }
    // With the session cookie but no Origin or Referer at all: a browser always sends one.
    let request = Request::post("/api/set_favourite")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("flashbulb_session={session}"))
        .header(header::HOST, super::TEST_HOST)
        .body(Body::from("photo_id=2&favourite=true"))
        .expect("request");
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE id = 2 AND is_favourite = 1")
            .await,
        0
    );
    // Sign-in and uploads are writes too.
    let request = Request::post("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::from(format!(
            "username=demo&password={}",
            DEMO_PASSWORD.replace(' ', "+")
        )))
        .expect("request");
    let (status, headers, _) = app.send(request, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(session_cookie(&headers).is_none());
}

/// The `script-src` directive of a response's policy; every page has one, and none admits
/// inline scripts at large.
fn script_src(path: &str, headers: &HeaderMap) -> String {
    let policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{path} has no CSP"))
        .to_str()
        .expect("ascii");
    let script_src = policy
        .split(';')
        .find(|directive| directive.trim().starts_with("script-src"))
        .unwrap_or_else(|| panic!("{path}: no script-src in {policy}"));
    assert!(!script_src.contains("unsafe-inline"), "{policy}");
    script_src.trim().to_string()
}

#[tokio::test]
async fn rendered_pages_name_a_fresh_nonce_and_stored_pages_their_scripts_digests() {
    let app = TestApp::new().await.with_photos(5).await;
    // Rendered for each response: every script carries the nonce the policy names.
    for path in ["/signin", "/no-such-page", "/search"] {
        let (_, headers, body) = app
            .request_bytes(Request::get(path).body(Body::empty()).expect("request"))
            .await;
        if headers.get(header::LOCATION).is_some() {
            continue;
        }
        let body = String::from_utf8_lossy(&body);
        let nonce = flashbulb_web::csp::nonce_of(&script_src(path, &headers))
            .unwrap_or_else(|| panic!("{path}: no nonce"))
            .to_string();
        assert!(nonce.len() >= 16, "{nonce}");
        let scripts = body.matches("<script").count();
        let with_nonce = body.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(
            scripts > 0 && with_nonce >= scripts,
            "{path}: {scripts} scripts, {with_nonce} with the nonce"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    // 100 renderings, 100 nonces.
    let mut nonces = std::collections::HashSet::new();
    for _ in 0..100 {
        let (_, headers, _) = send_full(&app, None, Method::GET, "/signin", "").await;
        let script_src = script_src("/signin", &headers);
        let nonce = flashbulb_web::csp::nonce_of(&script_src).expect("a nonce");
        assert!(nonces.insert(nonce.to_string()), "{nonce} was sent twice");
    }
    // Stored pages, sent to many responses from the cache: no nonce at all, in the policy or
    // the page, and the policy names the digest of every inline script the page has.
    for path in ["/", "/albums", "/p/1"] {
        let mut policies = std::collections::HashSet::new();
        for _ in 0..100 {
            let (status, headers, body) = app
                .request_bytes(Request::get(path).body(Body::empty()).expect("request"))
                .await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let script_src = script_src(path, &headers);
            assert_eq!(flashbulb_web::csp::nonce_of(&script_src), None, "{path}");
            let body = String::from_utf8(body.to_vec()).expect("utf-8");
            assert!(!body.contains(" nonce="), "{path} still carries a nonce");
            let digests = flashbulb_web::csp::inline_script_digests(&body);
            assert!(!digests.is_empty(), "{path} has inline scripts");
            for digest in &digests {
                assert!(
                    script_src.contains(&format!("'{digest}'")),
                    "{path}: {digest}"
                );
            }
            assert_eq!(
                script_src.matches("'sha256-").count(),
                digests.len(),
                "{path}: only its own scripts"
            );
            policies.insert(script_src);
        }
        assert_eq!(policies.len(), 1, "{path}: one stored page, one policy");
    }
}

#[tokio::test]
async fn sign_in_and_upload_floods_get_429() {
    let app = TestApp::with_config(Config {
        signins_per_minute: 3,
        uploads_per_minute: 2,
        ..Config::default()
    })
    .await
    .with_photos(1)
    .await;
    let attempt = |password: &'static str| {
        send_full(
            &app,
            None,
            Method::POST,
            "/signin",
            match password {
                "right" => "username=demo&password=demo+password",
                _ => "username=demo&password=wrong",
            },
        )
    };
    for _ in 0..3 {
        let (status, _, _) = attempt("wrong").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, headers, body) = attempt("right").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(headers[header::RETRY_AFTER], "60");
    assert!(
        session_cookie(&headers).is_none(),
        "not even the right password gets through"
    );

    let session = app.owner_session().await;
    for _ in 0..2 {
        let (status, _) = upload_as(&app, &session).await;
        assert!(status.is_success(), "{status}");
    }
    let (status, json) = upload_as(&app, &session).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(json["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_reaching_a_handler() {
    let app = TestApp::new().await.with_photos(1).await;
    let huge = format!(
        "photo_id=1&favourite=true&pad={}",
        "x".repeat(2 * 1024 * 1024)
    );
    let declared = Request::post("/api/set_favourite")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, huge.len())
        .body(Body::from(huge.clone()))
        .expect("request");
    let (status, _) = app.request(declared).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a length up front, the limit trips while streaming: still a client error.
    let (status, body) = app.post_form("/api/set_favourite", &huge).await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_eq!(
        app.scalar("SELECT count(*) FROM photos WHERE is_favourite = 1")
            .await,
        0
    );
}
