//! Readiness and the database gate: what a load balancer and a person see while the database is away.

use super::*;

#[tokio::test]
async fn readiness_reports_each_dependency_and_goes_unready_without_the_database() {
    let app = TestApp::new().await.with_photos(1).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["status"], "ready", "{report}");
    for check in ["database", "disk", "queue"] {
        assert_eq!(report[check]["ok"], true, "{check}: {report}");
    }

    // A job waiting for far longer than workers ever need: serving, but degraded.
    sqlx::query(
        "INSERT INTO jobs (kind, photo_id, run_at, created_at) VALUES ('make_derivatives', 1, 0, 0)",
    )
    .execute(&app.pool)
    .await
    .expect("stale job");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"degraded\""), "{body}");

    app.pool.close().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["status"], "unready");
    assert_eq!(report["database"]["ok"], false);
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "the process itself is alive");
}

#[tokio::test]
async fn while_the_database_gate_is_shut_requests_get_503_at_once_until_a_probe_opens_it() {
    let app = TestApp::new().await.with_photos(3).await;
    let session = app.owner_session().await;
    app.state.database_gate.shut();
    let page = Request::get("/")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = app.send(page, Some(&session)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "2");
    assert!(body.contains("cannot reach its database"), "{body}");
    let api = Request::get("/api/photos/status?ids=1")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = app.send(api, Some(&session)).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["error"]["code"], "unavailable");
    // Probes, metrics and the site's files do not need the database.
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    let (status, metrics) = app.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("flashbulb_db_outages_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flashbulb_db_refused_requests_total 2"),
        "{metrics}"
    );

    // The database answers, so the probe opens the gate within a few of its rounds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !app.state.database_gate.is_open() {
        assert!(std::time::Instant::now() < deadline, "the gate stays shut");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let api = Request::get("/api/photos/status?ids=1")
        .body(Body::empty())
        .expect("request");
    let (status, _, _) = app.send(api, Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.state.database_gate.outages(), 1);
}
