//! The CSV export of the library: every photo once across batches, the empty library, and its query plan.

use super::*;

/// The export as parsed CSV: its header and records.
async fn export_csv(app: &TestApp) -> (Vec<String>, Vec<csv::StringRecord>) {
    let (status, headers, body) = app
        .request_bytes(
            Request::get("/api/export/photos.csv")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("the header of the content disposition is text")
        .starts_with("attachment"));
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("every record parses");
    (header, records)
}

#[tokio::test]
async fn the_csv_export_lists_every_photo_of_the_owner_once_across_batches() {
    let app = TestApp::new().await.with_photos(4_000).await;
    app.seed_other_owner(25).await;

    // Exactly two full batches: the end is found without a duplicate header or a lost row.
    let (header, records) = export_csv(&app).await;
    assert_eq!(header[..4], ["id", "file_name", "taken_at", "status"]);
    assert_eq!(header.len(), 20);
    assert_eq!(records.len(), 4_000);
    let ids: Vec<i64> = records
        .iter()
        .map(|r| r[0].parse().expect("ids are numbers"))
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids ascend, none twice"
    );
    let owner_ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM photos WHERE owner_id = 1 ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .expect("owner ids");
    assert_eq!(ids, owner_ids, "only the owner's photos, all of them");

    // Text that CSV must quote survives the round trip; trash and favourites are told.
    let odd = insert_photo(&app, 1, 1_793_491_200 + 2 * 86_400 + 50_709, "ready").await;
    sqlx::query(
        "UPDATE photos SET file_name = $1, is_favourite = 1, trashed_at = 0,
                           taken_offset_minutes = 330 WHERE id = $2",
    )
    .bind("comma, \"quote\"\nnew line.jpg")
    .bind(odd)
    .execute(&app.pool)
    .await
    .expect("rename a photo");
    let (_, records) = export_csv(&app).await;
    assert_eq!(records.len(), 4_001);
    let last = records.last().expect("at least one record");
    assert_eq!(last[0].parse::<i64>().expect("the id is a number"), odd);
    assert_eq!(&last[1], "comma, \"quote\"\nnew line.jpg");
    // Taken by the place's clock, with the offset its camera recorded.
    assert_eq!(&last[2], "2026-11-03T14:05:09+05:30");
    assert_eq!(&last[17], "true");
    assert_eq!(&last[18], "1970-01-01T00:00:00Z");
    assert_eq!(last[19].len(), 64, "the content hash in hex");
}

#[tokio::test]
async fn the_csv_export_of_an_empty_library_is_its_header_and_without_a_session_401() {
    let app = TestApp::new().await;
    let (status, _, _) = app
        .send(
            Request::get("/api/export/photos.csv")
                .body(Body::empty())
                .expect("request"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nobody signed in");
    let (header, records) = export_csv(&app).await;
    assert_eq!(header.len(), 20);
    assert!(records.is_empty());
}
