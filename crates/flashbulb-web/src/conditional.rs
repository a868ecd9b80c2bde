//! `ETag`s and 304s for the API's GET answers that the page cache does not store: a small
//! answer is tagged by its content, a streamed one (an export, an archive) by the owner's
//! library tag read before it starts, and an original by its SHA-256.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::Digest;

use crate::pages::etag_matches;

/// Browsers keep these answers but ask again before each use.
pub const REVALIDATE: HeaderValue = HeaderValue::from_static("private, no-cache");

/// A weak tag of `body`'s content.
pub fn content_tag(body: &[u8]) -> HeaderValue {
    let digest = sha2::Sha256::digest(body);
    tag(&flashbulb_core::storage::hex(&digest[..12]), true)
}

/// `"{opaque}"`, or `W/"{opaque}"` when `weak`; `opaque` is hex and dashes, so always valid.
pub fn tag(opaque: &str, weak: bool) -> HeaderValue {
    let text = if weak {
        format!("W/\"{opaque}\"")
    } else {
        format!("\"{opaque}\"")
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
}

/// 304 with the tag, when the request's `If-None-Match` names it.
pub fn not_modified(
    request: &HeaderMap,
    etag: &HeaderValue,
    cache_control: HeaderValue,
) -> Option<Response> {
    let listed = request.get(header::IF_NONE_MATCH)?;
    etag_matches(listed, etag).then(|| {
        (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag.clone()),
                (header::CACHE_CONTROL, cache_control),
            ],
        )
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_304_only_for_their_own_tag() {
        let etag = content_tag(b"[1,2,3]");
        assert_eq!(etag, content_tag(b"[1,2,3]"));
        assert_ne!(etag, content_tag(b"[1,2,4]"));
        let mut request = HeaderMap::new();
        assert!(not_modified(&request, &etag, REVALIDATE).is_none());
        request.insert(header::IF_NONE_MATCH, content_tag(b"other"));
        assert!(not_modified(&request, &etag, REVALIDATE).is_none());
        request.insert(header::IF_NONE_MATCH, etag.clone());
        let response = not_modified(&request, &etag, REVALIDATE).expect("304");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], etag);
        assert_eq!(tag("ab-1", false), "\"ab-1\"");
        assert_eq!(tag("ab-1", true), "W/\"ab-1\"");
    }
}
