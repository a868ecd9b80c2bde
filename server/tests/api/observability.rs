//! Observability over the real router: the Web Vitals ingest (and everything it refuses),
//! `/metrics`, alert rules firing and resolving into a real webhook receiver, the console's
//! snapshot over the hub, and the console's pages.

use std::time::Duration;

use app::live::{Change, ServerMessage, Topic};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use flashbulb::config::Config;
use flashbulb_core::alerts::{AlertRule, Signal};
use tokio::net::TcpListener;

use super::{
    live::{following, next, status_over_tcp, Follower, Served},
    TestApp,
};

const PAGE: &str = "0123456789abcdef0123456789abcdef";

fn beacon(page: &str, route: &str, metrics: &str) -> String {
    format!(r#"{{"page":"{page}","route":"{route}","nav":"navigate","metrics":[{metrics}]}}"#)
}

async fn send_beacon(app: &TestApp, content_type: &str, body: impl Into<Body>) -> StatusCode {
    let request = Request::post("/api/vitals")
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("request");
    app.request(request).await.0
}

async fn stored_counts(app: &TestApp) -> i64 {
    app.scalar("SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM vital_counts")
        .await
}

#[tokio::test]
async fn beacons_are_counted_once_per_page_view_and_bad_ones_are_refused_unstored() {
    let app = TestApp::new().await.with_photos(1).await;
    let good = beacon(
        PAGE,
        "/p/:id",
        r#"{"name":"LCP","value":1800},{"name":"CLS","value":0.02},{"name":"TTFB","value":40}"#,
    );
    assert_eq!(
        send_beacon(&app, "text/plain;charset=UTF-8", good.clone()).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stored_counts(&app).await, 3);

    let refused: Vec<(&str, String, StatusCode)> = vec![
        (
            "oversized",
            beacon(
                PAGE,
                "/",
                &format!(r#"{{"name":"LCP","value":1{}}}"#, "0".repeat(2000)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a string for a number",
            beacon(PAGE, "/", r#"{"name":"LCP","value":"1800"}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "negative",
            beacon(PAGE, "/", r#"{"name":"INP","value":-5}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown metric",
            beacon(PAGE, "/", r#"{"name":"FID","value":5}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown route",
            beacon(PAGE, "/admin/secret", r#"{"name":"LCP","value":5}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "hostile page id",
            beacon(
                "<script>alert(1)</script>xxxx",
                "/",
                r#"{"name":"LCP","value":5}"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "extra field",
            good.replace("\"nav\"", "\"admin\":true,\"nav\""),
            StatusCode::BAD_REQUEST,
        ),
        (
            "truncated",
            good[..good.len() / 2].to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not JSON",
            "\u{0}\u{1}garbage".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        ("no metrics", beacon(PAGE, "/", ""), StatusCode::BAD_REQUEST),
    ];
    for (what, body, expected) in refused {
        let status = send_beacon(&app, "application/json", body).await;
        assert_eq!(status, expected, "{what}");
    }
    assert_eq!(
        send_beacon(&app, "application/x-www-form-urlencoded", good.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(stored_counts(&app).await, 3, "nothing refused was stored");

    // The same page view hidden again with a worse CLS: replaced, not added.
    let again = beacon(PAGE, "/p/:id", r#"{"name":"CLS","value":0.3}"#);
    assert_eq!(
        send_beacon(&app, "application/json", again).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stored_counts(&app).await, 3);
    let rows = flashbulb_core::vitals::summary(&app.pool, flashbulb_store::now() / 60, 60)
        .await
        .expect("summary");
    let cls = rows
        .iter()
        .find(|row| row.metric == app::vitals::Metric::Cls)
        .expect("a CLS row");
    assert_eq!(cls.route, "/p/:id");
    assert_eq!(cls.page_views, 1);
    assert!((cls.p75 - 0.3).abs() < 0.02, "{}", cls.p75);
    let lcp = rows
        .iter()
        .find(|row| row.metric == app::vitals::Metric::Lcp)
        .expect("an LCP row");
    assert!((lcp.p75 - 1800.0).abs() / 1800.0 < 0.05, "{}", lcp.p75);
    assert_eq!(lcp.trend.len(), 60);
    assert!(lcp.trend.last().copied().flatten().is_some());
}

#[tokio::test]
async fn a_client_sending_too_many_beacons_gets_429() {
    let app = TestApp::with_config(Config {
        vitals_per_minute: 3,
        ..Config::default()
    })
    .await;
    let mut statuses = Vec::new();
    for index in 0..5 {
        let body = beacon(
            &format!("{PAGE}{index}"),
            "/",
            r#"{"name":"FCP","value":300}"#,
        );
        statuses.push(send_beacon(&app, "application/json", body).await);
    }
    assert_eq!(&statuses[..3], &[StatusCode::NO_CONTENT; 3]);
    assert_eq!(&statuses[3..], &[StatusCode::TOO_MANY_REQUESTS; 2]);
    assert_eq!(stored_counts(&app).await, 3);
    let metrics = app.get("/metrics").await.1;
    assert!(
        metrics.contains("flashbulb_vitals_beacons_total{outcome=\"rate_limited\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_report_the_server() {
    let app = TestApp::new().await.with_photos(3).await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    }
    assert_eq!(app.get("/no/such/page").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/p/1").await.0, StatusCode::OK);
    let (status, headers, body) = app
        .request_bytes(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("application/openmetrics-text"));
    let text = String::from_utf8(body).expect("utf-8");
    for expected in [
        r#"flashbulb_http_requests_total{method="GET",route="/healthz",status="200"} 3"#,
        r#"flashbulb_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"flashbulb_http_requests_total{method="GET",route="/p/{id}",status="200"} 1"#,
        r#"flashbulb_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#,
        "flashbulb_db_pool_max 8",
        "flashbulb_jobs_queued 0",
        "flashbulb_hub_connections 0",
        "flashbulb_process_resident_memory_bytes ",
        "flashbulb_process_cpu_seconds_total ",
        "# EOF",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let totals = app.state.metrics.request_totals();
    // The five above and the scrape itself.
    assert_eq!(totals.requests, 6);
    assert_eq!(totals.server_errors, 0);
}

/// A webhook receiver on a real port: every POST body, in order.
async fn webhook_receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sender = sender.clone();
            async move {
                let value = serde_json::from_slice(&body).expect("the webhook gets JSON");
                let _ = sender.send(value);
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, received)
}

async fn next_notification(
    received: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a notification within 10 s")
        .expect("the receiver runs")
}

#[tokio::test]
async fn an_alert_rule_fires_and_resolves_and_the_webhook_hears_both() {
    let (url, mut received) = webhook_receiver().await;
    let rule = AlertRule::above("Backlog", Signal::QueueDepth, 0.0);
    let app = TestApp::with_config(Config {
        alert_webhook: Some(url),
        alerts: vec![rule],
        ..Config::default()
    })
    .await
    .with_photos(1)
    .await;
    let state = &app.state;
    flashbulb_core::ops::sample(&state.ops)
        .await
        .expect("sample");
    let alert = |snapshot: &app::ops::OpsSnapshot| snapshot.alerts[0].state;
    let snapshot = flashbulb_core::ops::snapshot(&state.ops)
        .await
        .expect("snapshot");
    assert_eq!(alert(&snapshot), app::ops::AlertState::Inactive);

    app.execute(
        "INSERT INTO jobs (kind, photo_id, run_at, created_at) VALUES ('make_derivatives', 1, 0, 0)",
    )
    .await;
    flashbulb_core::ops::sample(&state.ops)
        .await
        .expect("sample");
    let firing = next_notification(&mut received).await;
    assert_eq!(firing["rule"], "Backlog");
    assert_eq!(firing["state"], "firing");
    assert_eq!(firing["value"], 1.0);
    assert_eq!(firing["threshold"], 0.0);
    assert_eq!(firing["condition"], "jobs waiting or running above 0");
    let snapshot = flashbulb_core::ops::snapshot(&state.ops)
        .await
        .expect("snapshot");
    assert_eq!(alert(&snapshot), app::ops::AlertState::Firing);
    assert!(app
        .get("/metrics")
        .await
        .1
        .contains("flashbulb_alerts_firing 1"));
    // Still true: no second notification.
    flashbulb_core::ops::sample(&state.ops)
        .await
        .expect("sample");

    app.execute("DELETE FROM jobs").await;
    flashbulb_core::ops::sample(&state.ops)
        .await
        .expect("sample");
    let resolved = next_notification(&mut received).await;
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["value"], 0.0);
    let snapshot = flashbulb_core::ops::snapshot(&state.ops)
        .await
        .expect("snapshot");
    assert_eq!(alert(&snapshot), app::ops::AlertState::Inactive);
    let history: Vec<_> = snapshot
        .alert_history
        .iter()
        .map(|event| event.state.label())
        .collect();
    assert_eq!(history, ["resolved", "firing"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), received.recv())
            .await
            .is_err(),
        "exactly two notifications"
    );
}

#[tokio::test]
async fn an_unreachable_webhook_is_retried_then_counted_as_failed() {
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let rule = AlertRule::above("Always", Signal::RssMib, 0.0);
    let app = TestApp::with_config(Config {
        alert_webhook: Some(format!("http://127.0.0.1:{port}/hook")),
        alerts: vec![rule],
        ..Config::default()
    })
    .await;
    flashbulb_core::ops::sample(&app.state.ops)
        .await
        .expect("sample");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = app.get("/metrics").await.1;
        if metrics.contains(r#"flashbulb_alert_webhooks_total{outcome="failed"} 1"#) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The changes of the next `ops` frame on `socket`.
async fn next_ops_frame(socket: &mut Follower) -> Vec<Change> {
    loop {
        if let ServerMessage::Frame {
            topic: Topic::Ops,
            state,
            ..
        } = next(socket).await
        {
            return state;
        }
    }
}

#[tokio::test]
async fn the_console_gets_its_figures_live_over_the_hub() {
    let app = TestApp::new().await.with_photos(5).await;
    let served = Served::start(&app).await;
    let mut console = following(&served.site, Topic::Ops).await;
    let status = status_over_tcp(&served.site, "/p/1").await;
    assert!(status.contains(" 200 "), "{status}");
    flashbulb_core::ops::sample(&app.state.ops)
        .await
        .expect("sample");
    tokio::time::sleep(Duration::from_millis(20)).await;
    flashbulb_core::ops::sample(&app.state.ops)
        .await
        .expect("sample");
    // The two samples may reach the console in one frame or in two (a frame boundary can fall
    // between them on a busy machine); the first sample's snapshot has no traffic point yet,
    // since a point is the difference of two readings.
    let snapshot = loop {
        let state = next_ops_frame(&mut console).await;
        let Some(Change::Ops(snapshot)) = state.into_iter().next() else {
            panic!("an ops frame carries a snapshot");
        };
        if !snapshot.traffic.is_empty() {
            break snapshot;
        }
    };
    assert!(snapshot.resources.rss_bytes > 0);
    assert_eq!(snapshot.resources.pool_max, 8);
    assert!(snapshot.hub.connections >= 1);
    assert_eq!(snapshot.alerts.len(), AlertRule::defaults().len());
    served.stop().await;
}

#[tokio::test]
async fn the_console_and_diagnostics_render_without_javascript() {
    let app = TestApp::new().await.with_photos(2).await;
    let beacon_body = beacon(PAGE, "/", r#"{"name":"LCP","value":5200}"#);
    assert_eq!(
        send_beacon(&app, "application/json", beacon_body).await,
        StatusCode::NO_CONTENT
    );
    flashbulb_core::ops::sample(&app.state.ops)
        .await
        .expect("sample");
    let (status, html) = app.get("/ops").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for expected in [
        "Operations",
        "Web Vitals",
        "data-metric=\"LCP\"",
        "band-poor",
        "Slow largest paint",
        "Failed jobs",
        "leptos-island",
    ] {
        assert!(html.contains(expected), "/ops lacks {expected:?}");
    }
    let (status, html) = app.get("/ops/diagnostics").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for expected in [
        "Diagnostics",
        "Migration",
        "Slowest statements",
        "live_frame_ms",
    ] {
        assert!(
            html.contains(expected),
            "/ops/diagnostics lacks {expected:?}"
        );
    }
}
