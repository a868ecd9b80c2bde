//! Two instances behind Debian's nginx, configured by the shipped `deploy/nginx.conf`, sharing
//! one database and Redis: a change through instance A invalidates what B has cached and
//! reaches a live socket held by B; nginx balances, carries WebSockets and keeps derivatives
//! at the edge, never past their signed URL's expiry.

use std::time::Duration;

use app::live::{Change, ServerMessage, Topic};
use axum::http::StatusCode;
use flashbulb::config::Config;
use flashbulb_tools::load::Site;
use flashbulb_web::AppState;
use tokio::net::TcpListener;

use super::{
    cache::{shared_redis_url, unique_prefix, wait_until},
    live::{following, next, Follower, Served},
    nginx::Nginx,
    pipeline, postgres, TestApp,
};

/// `GET base + path` over a real socket: status, one header's value, and the body.
async fn fetch(site: &Site, path: &str, header: &str) -> (StatusCode, Option<String>, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = axum::http::Request::get(format!("{}{path}", site.base))
        .header("cookie", site.cookie())
        .body(http_body_util::Empty::new())
        .expect("a request");
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("an answer within 10 s")
        .expect("a response");
    let status = response.status();
    let value = response
        .headers()
        .get(header)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("a body")
        .to_bytes();
    (status, value, String::from_utf8_lossy(&body).into_owned())
}

async fn post_favourite(site: &Site, photo: i64) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let request = axum::http::Request::post(format!("{}/api/set_favourite", site.base))
        .header("cookie", site.cookie())
        .header("origin", &site.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(http_body_util::Full::from(format!(
            "photo_id={photo}&favourite=true"
        )))
        .expect("a request");
    let response = client.request(request).await.expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
}

/// Waits for photo `id` to be a favourite on `socket`.
async fn sees_favourite(socket: &mut Follower, id: i64) {
    loop {
        if let ServerMessage::Frame { state, .. } = next(socket).await {
            if state.iter().any(|change| {
                matches!(change, Change::Photo { id: changed, favourite: true, .. } if *changed == id)
            }) {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_behind_nginx_share_invalidations_and_live_updates() {
    let config = Config {
        redis_url: Some(shared_redis_url()),
        redis_prefix: unique_prefix(),
        live_frame_ms: 20,
        ..Config::default()
    };
    // Scale-out runs on PostgreSQL whatever database the rest of the suite uses.
    let a = postgres::app(config).await.with_photos(30).await;
    let (status, json) = pipeline::upload(
        &a,
        &[(
            "lisbon.jpg",
            &pipeline::fixture("photos/IMG-20191006-WA0002.jpg"),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let uploaded = json["files"][0]["photo_id"].as_i64().expect("photo id");
    pipeline::run_jobs(&a).await;

    // B: another instance with its own pool on the same database, its own cache and hub.
    let b_config = a.config.clone();
    let b_pool = b_config.connect().await.expect("B opens the database");
    let b = AppState::new(b_config.core(), b_config.web(), b_pool);
    let _b_background = b.start();
    let b_redis = b.redis.clone().expect("B has Redis");
    wait_until("B is subscribed", || {
        b_redis.is_up() && b_redis.is_subscribed()
    })
    .await;
    let bind = || async { TcpListener::bind("127.0.0.1:0").await.expect("bind") };
    let (listener_a, listener_b) = (bind().await, bind().await);
    let ports = [
        listener_a.local_addr().expect("address").port(),
        listener_b.local_addr().expect("address").port(),
    ];
    let served_a = Served::on(&a.state, listener_a).await;
    let served_b = Served::on(&b, listener_b).await;
    let nginx = Nginx::start(a.dir.path(), ports.map(|port| format!("127.0.0.1:{port}"))).await;
    // Sessions live in the shared database: A's opens B and the edge too.
    let through_edge = Site {
        base: nginx.base.clone(),
        session: served_a.site.session.clone(),
    };

    // Two live sockets through nginx: the fewest-connections rule puts one on each instance.
    let mut first = following(&through_edge, Topic::Library).await;
    let mut second = following(&through_edge, Topic::Library).await;
    assert_eq!(
        (a.state.hub.stats().connections, b.hub.stats().connections),
        (1, 1),
        "one socket on each instance"
    );

    // B renders and caches the photo page; then A changes the photo.
    let photo = 3;
    let page = format!("/p/{photo}");
    let (status, before, _) = fetch(&served_b.site, &page, "etag").await;
    assert_eq!(status, StatusCode::OK);
    let (_, again, _) = fetch(&served_b.site, &page, "etag").await;
    assert_eq!(before, again, "B answers from its cache");
    post_favourite(&served_a.site, photo).await;
    sees_favourite(&mut first, photo).await;
    sees_favourite(&mut second, photo).await;
    let mut after = before.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while after == before {
        assert!(
            std::time::Instant::now() < deadline,
            "B kept its stale page"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = fetch(&served_b.site, &page, "etag").await.1;
    }

    // Through nginx, whichever instance answers, the page is the new one.
    let lookups =
        |stats: flashbulb_core::cache::CacheStats| stats.l1_hits + stats.l2_hits + stats.misses;
    let counted_before = (lookups(a.state.cache.stats()), lookups(b.cache.stats()));
    for _ in 0..6 {
        let (status, etag, _) = fetch(&through_edge, &page, "etag").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(etag, after);
    }
    let counted_after = (lookups(a.state.cache.stats()), lookups(b.cache.stats()));
    assert!(
        counted_after.0 > counted_before.0 && counted_after.1 > counted_before.1,
        "nginx sent requests to both instances: {counted_before:?} → {counted_after:?}"
    );

    // Derivatives are kept at the edge: the second request never reaches an instance.
    let (_, _, photo_page) = fetch(&through_edge, &format!("/p/{uploaded}"), "etag").await;
    // The first URL of the first `srcset` naming a WebP (URLs and widths, comma-separated).
    let media = photo_page
        .split('"')
        .find(|part| part.starts_with("/media/") && part.contains(".webp"))
        .and_then(|srcset| srcset.split_whitespace().next())
        .expect("the photo page names a derivative")
        .to_string();
    let (status, edge, _) = fetch(&through_edge, &media, "x-edge-cache").await;
    assert_eq!((status, edge.as_deref()), (StatusCode::OK, Some("MISS")));
    let (status, edge, _) = fetch(&through_edge, &media, "x-edge-cache").await;
    assert_eq!((status, edge.as_deref()), (StatusCode::OK, Some("HIT")));
    let (status, _, _) = fetch(&through_edge, "/p/999999", "etag").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    drop(nginx);
    served_a.stop().await;
    served_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_refuses_a_signed_media_url_once_it_expires() {
    // Windows of two seconds: a URL made now expires within four.
    let app = TestApp::with_config(Config {
        media_url_window_secs: 2,
        ..Config::default()
    })
    .await
    .with_photos(1)
    .await;
    let (status, json) = pipeline::upload(
        &app,
        &[("test1.jpg", &pipeline::fixture("photos/test1.jpg"))],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["files"][0]["photo_id"].as_i64().expect("photo id");
    pipeline::run_jobs(&app).await;
    let key: Vec<u8> = sqlx::query_scalar("SELECT media_key FROM photos WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("a media key");
    let owner = app
        .scalar(&format!("SELECT owner_id FROM photos WHERE id = {id}"))
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let served = Served::on(&app.state, listener).await;
    let upstream = format!("127.0.0.1:{port}");
    let nginx = Nginx::start(app.dir.path(), [upstream.clone(), upstream]).await;
    let edge = Site {
        base: nginx.base.clone(),
        session: served.site.session.clone(),
    };

    let access = app.state.media.access(owner).await.expect("access");
    let expiry: i64 = access
        .split('-')
        .nth(1)
        .and_then(|expiry| expiry.parse().ok())
        .expect("the access names its expiry");
    let media = format!("/media/{access}/{}/thumb.webp", app::format::hex(&key));
    let (status, cached, _) = fetch(&edge, &media, "x-edge-cache").await;
    assert_eq!((status, cached.as_deref()), (StatusCode::OK, Some("MISS")));
    let (status, cached, _) = fetch(&edge, &media, "x-edge-cache").await;
    assert_eq!((status, cached.as_deref()), (StatusCode::OK, Some("HIT")));

    // Past the expiry the edge asks again, and the instance refuses.
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64
    };
    while now() <= expiry {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, cached, body) = fetch(&edge, &media, "x-edge-cache").await;
    assert_eq!(
        (status, cached.as_deref()),
        (StatusCode::FORBIDDEN, Some("EXPIRED")),
        "{body}"
    );
    assert!(body.contains("expired"), "{body}");
    drop(nginx);
    served.stop().await;
}
