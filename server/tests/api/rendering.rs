//! Pages rendered concurrently on one server over real sockets: every render finishes, also
//! while the same process builds other routers (as the tests and the scale-out test do).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::http::StatusCode;
use flashbulb_tools::load::Site;

use super::{live::Served, TestApp};

/// Concurrent clients, each fetching its own pages: enough to keep every worker thread busy
/// with renders that are not in the page cache.
const CLIENTS: u64 = 48;
/// Rounds of pages per client.
const ROUNDS: u64 = 5;
const PHOTOS: u64 = 2_000;
/// Routers built at most while the pages render (each a few milliseconds).
const MAX_ROUTERS_BUILT: u32 = 10_000;

/// The pages client `client` asks for in `round`: searches (never cached, their results stream
/// from a resource) and photo pages no other client asks for (each a cache miss), beside the
/// timeline and album list that every client shares.
fn pages(client: u64, round: u64) -> Vec<String> {
    let photo = 1 + (client * ROUNDS + round) % PHOTOS;
    vec![
        format!("/search?q=IMG_{:05}", client * 7 + round),
        format!("/p/{photo}"),
        "/".to_string(),
        format!("/search?camera=Canon+EOS+R6&q=IMG_{round:03}"),
        "/albums".to_string(),
    ]
}

/// `GET site + path` as the signed-in owner: the status and the whole body, or a panic naming
/// the page if it does not finish within 60 s (a stalled render never does).
async fn fetch_page(site: &Site, path: &str) -> (StatusCode, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = axum::http::Request::get(format!("{}{path}", site.base))
        .header("cookie", site.cookie())
        .header("accept-encoding", "identity")
        .body(http_body_util::Empty::new())
        .expect("a request");
    let whole = async {
        let response = client.request(request).await.expect("a response");
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(60), whole)
        .await
        .unwrap_or_else(|_| panic!("{path} did not finish rendering within 60 s"))
}

/// Every client fetches its pages, all at once; each must arrive whole.
async fn render_everything(site: &Site) -> u64 {
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let site = Site {
            base: site.base.clone(),
            session: site.session.clone(),
        };
        clients.spawn(async move {
            let mut rendered = 0;
            for round in 0..ROUNDS {
                for path in pages(client, round) {
                    let (status, body) = fetch_page(&site, &path).await;
                    assert_eq!(status, StatusCode::OK, "{path}: {body}");
                    // Streamed pages send resolved suspense chunks after the document's end.
                    assert!(
                        body.contains("</html>"),
                        "{path} is not a whole page: {body}"
                    );
                    rendered += 1;
                }
            }
            rendered
        });
    }
    let mut rendered = 0;
    while let Some(result) = clients.join_next().await {
        rendered += result.expect("a client");
    }
    rendered
}

/// A production server: one multi-thread runtime, one router, many renders at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_render_concurrently_on_one_server_under_load() {
    let app = TestApp::new().await.with_photos(PHOTOS).await;
    let served = Served::start(&app).await;
    let rendered = render_everything(&served.site).await;
    assert_eq!(rendered, CLIENTS * ROUNDS * 5);
    served.stop().await;
}

/// Building a router lists the app's routes by rendering it under Leptos' process-wide
/// "suppress resource loads" flag; a resource first polled while that flag was up, in any
/// render of the process, never finished (leptos-rs/leptos#4773). Routers built while another
/// serves pages must leave its renders alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn building_routers_while_pages_render_never_stalls_a_render() {
    let app = TestApp::new().await.with_photos(PHOTOS).await;
    let served = Served::start(&app).await;
    // Stops the builder however the renders end: a failed render must not leave it spinning.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let building = StopOnDrop(Arc::new(AtomicBool::new(true)));
    let builder = {
        let state = app.state.clone();
        let building = building.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut built = 0u32;
            while building.load(Ordering::Relaxed) && built < MAX_ROUTERS_BUILT {
                drop(flashbulb_web::build_app(state.clone()));
                built += 1;
            }
            built
        })
    };
    let rendered = render_everything(&served.site).await;
    drop(building);
    let built = builder.await.expect("the builder");
    assert_eq!(rendered, CLIENTS * ROUNDS * 5);
    assert!(built > 0, "no router was built while the pages rendered");
    served.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_404_with_a_way_back() {
    let app = TestApp::new().await;
    let (status, html) = app.get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Back to the timeline"), "{html}");
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}
