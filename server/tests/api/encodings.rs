//! Every streamed response arrives whole through the compression layer: the CSV export, album
//! ZIPs (own and shared), streamed search results and originals (whole and in ranges) are
//! fetched as browsers ask (`br`, `gzip`) and plainly, decoded, and compared byte for byte.

use std::io::Read;

use axum::{
    body::Body,
    http::{header, HeaderMap, Request, StatusCode},
};

use super::{add_to_album, create_album, write_original, TestApp};

/// What a client sends, and what the answer decodes to.
const ENCODINGS: [&str; 3] = ["identity", "gzip", "br"];

/// The body as sent, decoded according to its `Content-Encoding`.
fn decoded(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().expect("an encoding in ASCII").to_string());
    let mut out = Vec::new();
    match encoding.as_deref() {
        None | Some("identity") => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("a whole gzip stream");
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("a whole brotli stream");
        }
        Some(other) => panic!("unexpected encoding {other}"),
    }
    out
}

/// Nonces differ per response by design (Leptos also writes the page's nonce into the
/// `crossorigin` attribute of its module preload); everything else must not.
fn without_nonces(body: Vec<u8>) -> Vec<u8> {
    let mut text = match String::from_utf8(body) {
        Ok(text) => text,
        Err(error) => return error.into_bytes(),
    };
    for attribute in ["nonce=\"", "crossorigin=\""] {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find(attribute) {
            let value = start + attribute.len();
            out.push_str(&rest[..value]);
            let end = rest[value..]
                .find('"')
                .map_or(rest.len(), |end| value + end);
            rest = &rest[end..];
        }
        out.push_str(rest);
        text = out;
    }
    text.into_bytes()
}

/// `path` fetched once per encoding (with `extra` headers): the decoded bodies, all equal, and
/// the encodings the server chose.
async fn fetched_alike(
    app: &TestApp,
    path: &str,
    extra: &[(header::HeaderName, &str)],
    expected: StatusCode,
) -> (Vec<u8>, Vec<String>) {
    let mut bodies = Vec::new();
    let mut chosen = Vec::new();
    for encoding in ENCODINGS {
        let mut request = Request::get(path).header(header::ACCEPT_ENCODING, encoding);
        for (name, value) in extra {
            request = request.header(name, *value);
        }
        let (status, headers, body) = app
            .request_bytes(request.body(Body::empty()).expect("request"))
            .await;
        assert_eq!(status, expected, "{path} with {encoding}");
        chosen.push(
            headers
                .get(header::CONTENT_ENCODING)
                .map_or("identity", |value| value.to_str().expect("ASCII"))
                .to_string(),
        );
        bodies.push(without_nonces(decoded(&headers, &body)));
    }
    for (body, encoding) in bodies.iter().zip(ENCODINGS).skip(1) {
        assert!(
            body == &bodies[0],
            "{path}: the {encoding} body ({} bytes decoded) differs from the plain one ({} bytes)",
            body.len(),
            bodies[0].len()
        );
    }
    (bodies.swap_remove(0), chosen)
}

#[tokio::test]
async fn every_streamed_response_arrives_whole_in_every_encoding() {
    // Several export batches, so the stream ends after many chunks.
    let app = TestApp::new().await.with_photos(5_000).await;

    let (csv, chosen) = fetched_alike(&app, "/api/export/photos.csv", &[], StatusCode::OK).await;
    assert_eq!(chosen, ["identity", "gzip", "br"], "text is compressed");
    let rows = csv::Reader::from_reader(csv.as_slice()).records().count();
    assert_eq!(rows, 5_000, "every photo is in the export");

    let album = create_album(&app, "Whole").await;
    for photo in 1..=3 {
        add_to_album(&app, album, photo).await;
        let sha: Vec<u8> = sqlx::query_scalar("SELECT sha256 FROM photos WHERE id = $1")
            .bind(photo)
            .fetch_one(&app.pool)
            .await
            .expect("sha");
        let bytes: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(photo as u32 * 7 + 1) % 251) as u8)
            .collect();
        write_original(&app, &sha, &bytes);
    }
    let (zip, _) = fetched_alike(
        &app,
        &format!("/api/albums/{album}/zip"),
        &[],
        StatusCode::OK,
    )
    .await;
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a valid archive");
    assert_eq!(archive.len(), 3);

    let (status, token) = app
        .post_form("/api/share_album", &format!("album_id={album}&shared=true"))
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let token: String = serde_json::from_str(&token).expect("the share token");
    let (shared, _) = fetched_alike(
        &app,
        &format!("/api/shared/{token}/zip"),
        &[],
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        zip::ZipArchive::new(std::io::Cursor::new(shared))
            .expect("a valid archive")
            .len(),
        3
    );

    let (results, _) = fetched_alike(&app, "/search?q=IMG", &[], StatusCode::OK).await;
    let results = String::from_utf8(results).expect("HTML");
    assert!(results.contains("data-photo-id="), "search found nothing");
    // Streamed in order, the page closes and then hands its resources to the hydration.
    assert!(results.contains("</html>"), "the page ends");

    let (whole, _) = fetched_alike(&app, "/api/photos/2/original", &[], StatusCode::OK).await;
    assert_eq!(whole.len(), 300_000);
    let (part, _) = fetched_alike(
        &app,
        "/api/photos/2/original",
        &[(header::RANGE, "bytes=1000-200999")],
        StatusCode::PARTIAL_CONTENT,
    )
    .await;
    assert_eq!(part, whole[1000..201_000]);
}
