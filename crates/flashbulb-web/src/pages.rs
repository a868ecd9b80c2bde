//! HTTP caching of the owner's pages and timeline segments: rendered once, stored with their
//! brotli and gzip forms, answered from the cache with an `ETag`, and with 304 when the
//! browser already has them. Every write of the owner invalidates them.

use std::io::Write;

use app::model::Viewer;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use flashbulb_core::cache::Cache;

/// What the layer needs of the application: the cache.
#[derive(Clone)]
pub struct PageCache {
    cache: Cache,
}

impl PageCache {
    pub fn new(cache: Cache) -> Self {
        Self { cache }
    }
}

/// Bodies larger than this are passed through and never stored.
pub const MAX_CACHED_BODY: usize = 4 * 1024 * 1024;
/// Smaller bodies are stored as they are: compressing them saves less than a TCP segment.
pub const COMPRESS_ABOVE: usize = 1500;
/// Headers of the rendered response worth keeping; the rest are per connection or ours.
/// The Content-Security-Policy is kept with the page, rewritten to name the digests of the
/// page's inline scripts instead of the nonce it was rendered with, which no other response
/// may carry ([`crate::csp`]).
const KEPT_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
    header::CONTENT_LANGUAGE,
    header::CONTENT_SECURITY_POLICY,
];
/// Sent when the page itself says nothing: the browser keeps it but asks again each time.
const REVALIDATE: HeaderValue = HeaderValue::from_static("private, no-cache");
/// Brotli quality for stored entries. Compression runs while the request that missed waits:
/// on a 16 KB timeline segment quality 9 took 3 ms for a body 0.6 % smaller than quality 5's,
/// which takes 0.5 ms.
const BROTLI_QUALITY: u32 = 5;

/// The routes whose answers depend only on the owner's library, and so are cached. Search
/// is not among them: it streams its results after the form.
pub fn is_cacheable(path: &str) -> bool {
    cached_route(path).is_some()
}

/// The route template of a cacheable path (as the router would match it, for the metrics);
/// `None` for paths that are not cached.
pub fn cached_route(path: &str) -> Option<&'static str> {
    let exact = ["/", "/favourites", "/trash", "/albums"];
    if let Some(route) = exact.into_iter().find(|route| *route == path) {
        return Some(route);
    }
    [
        ("/albums/", "/albums/{id}"),
        ("/p/", "/p/{id}"),
        ("/api/timeline/buckets/", "/api/timeline/buckets/{month}"),
    ]
    .into_iter()
    .find(|(prefix, _)| {
        // One segment after the prefix, as the router's `{param}` matches.
        path.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    })
    .map(|(_, route)| route)
}

/// The name a request's page is stored under: pages show times in the viewer's zone, so one
/// stored page per zone, and one for viewers whose zone is not known yet (whose times say
/// "UTC", unlike those of the zone `UTC`).
pub fn entry_name(headers: &HeaderMap, uri: &Uri) -> String {
    let zone = crate::viewer_zone(headers);
    format!(
        "page {} {}",
        zone.name().unwrap_or("?"),
        uri.path_and_query()
            .map_or(uri.path(), |whole| whole.as_str())
    )
}

/// Requests that change nothing, whatever their route.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Requests that change nothing of any library though they are not safe (a beacon).
fn changes_no_library(path: &str) -> bool {
    path == "/api/vitals"
}

/// Layer for every route: cached pages from the cache, and invalidation after every write.
pub async fn serve(State(state): State<PageCache>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !is_safe(request.method()) {
        if changes_no_library(path) {
            return next.run(request).await;
        }
        let owner = request.extensions().get::<Viewer>().map(|viewer| viewer.id);
        let response = next.run(request).await;
        // After the response: the write has been committed, and what loads from now on sees
        // it under the new generation. Writes change their signed-in user's library only.
        if let Some(owner) = owner {
            state.cache.invalidate_owner(owner).await;
        }
        return response;
    }
    if request.method() != Method::GET || !is_cacheable(path) {
        return next.run(request).await;
    }
    let Some(owner) = request.extensions().get::<Viewer>().map(|viewer| viewer.id) else {
        // Visitors are sent to sign in before they get here; nothing of theirs is cached.
        return next.run(request).await;
    };
    let name = entry_name(request.headers(), request.uri());
    let (parts, _) = request.into_parts();
    let conditional = parts.headers.get(header::IF_NONE_MATCH).cloned();
    let encoding = Encoding::preferred(&parts.headers);
    // Handed back by the load when the answer is not one to store (a 404, an error).
    let passed_on = std::sync::Mutex::new(None::<Response>);
    let loaded = state
        .cache
        .get_or_load(owner, &name, || async {
            let response = next
                .clone()
                .run(Request::from_parts(parts.clone(), Body::empty()))
                .await;
            match StoredResponse::from_response(response).await {
                Ok(stored) => Ok(stored.encode()),
                Err(response) => {
                    *passed_on.lock().unwrap_or_else(|p| p.into_inner()) = Some(response);
                    Err(NotStored)
                }
            }
        })
        .await;
    let stored = match loaded.map(|bytes| StoredResponse::decode(&bytes)) {
        Ok(Some(stored)) => stored,
        Ok(None) | Err(_) => {
            if let Some(response) = passed_on.into_inner().unwrap_or_else(|p| p.into_inner()) {
                return response;
            }
            // Another request's load was not stored: render this one ourselves.
            return next.run(Request::from_parts(parts, Body::empty())).await;
        }
    };
    stored.respond(encoding, conditional.as_ref())
}

/// The load's answer was not a page to store; the response went back to its request.
#[derive(Debug)]
struct NotStored;

/// A content coding the client accepts and we store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The best of ours the client accepts (`Accept-Encoding`, q-values of 0 refuse).
    pub fn preferred(headers: &HeaderMap) -> Self {
        let mut brotli = false;
        let mut gzip = false;
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut fields = item.split(';');
                let coding = fields.next().unwrap_or_default().trim();
                let refused = fields.any(|parameter| {
                    parameter
                        .trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused {
                    continue;
                }
                if coding.eq_ignore_ascii_case("br") {
                    brotli = true;
                } else if coding.eq_ignore_ascii_case("gzip") || coding == "*" {
                    gzip = true;
                }
            }
        }
        match (brotli, gzip) {
            (true, _) => Encoding::Brotli,
            (false, true) => Encoding::Gzip,
            _ => Encoding::Identity,
        }
    }
}

/// One rendered 200 response, as stored: kept headers, a weak ETag of the content, and its
/// plain, brotli and gzip bodies (the last two only above [`COMPRESS_ABOVE`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub etag: HeaderValue,
    pub identity: Bytes,
    pub brotli: Option<Bytes>,
    pub gzip: Option<Bytes>,
}

/// The stored form's version: entries of another version are not read (those of format 1
/// carried their rendering's nonce).
const FORMAT: u8 = 2;

impl StoredResponse {
    /// Reads a whole 200 response; anything else (another status, a body too large, an
    /// already encoded body, a stream that fails) comes back as a response to send as is.
    pub async fn from_response(response: Response) -> Result<Self, Response> {
        let storable = response.status() == StatusCode::OK
            && !response.headers().contains_key(header::CONTENT_ENCODING)
            && !response.headers().contains_key(header::SET_COOKIE)
            && !response
                .headers()
                .get(header::CACHE_CONTROL)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.contains("no-store"));
        if !storable {
            return Err(response);
        }
        let (parts, body) = response.into_parts();
        let mut identity = match axum::body::to_bytes(body, MAX_CACHED_BODY).await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "a page could not be read whole to cache it");
                return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            }
        };
        let mut headers: Vec<(HeaderName, HeaderValue)> = KEPT_HEADERS
            .iter()
            .filter_map(|name| Some((name.clone(), parts.headers.get(name)?.clone())))
            .collect();
        if let Some((_, policy)) = headers
            .iter_mut()
            .find(|(name, _)| name == header::CONTENT_SECURITY_POLICY)
        {
            match crate::csp::pin_to_digests(&identity, policy) {
                Some((page, pinned)) => {
                    identity = Bytes::from(page);
                    *policy = pinned;
                }
                // A policy with a nonce that could not be pinned must not be shared.
                None if crate::csp::nonce_of(policy.to_str().unwrap_or_default()).is_some() => {
                    return Err(Response::from_parts(parts, Body::from(identity)));
                }
                None => {}
            }
        }
        Ok(Self::new(headers, identity))
    }

    pub fn new(headers: Vec<(HeaderName, HeaderValue)>, identity: Bytes) -> Self {
        let etag = crate::conditional::content_tag(&identity);
        let (brotli, gzip) = if identity.len() > COMPRESS_ABOVE {
            (Some(brotli(&identity)), Some(gzip(&identity)))
        } else {
            (None, None)
        };
        Self {
            headers,
            etag,
            identity,
            brotli,
            gzip,
        }
    }

    /// The answer for a client accepting `encoding`: 304 when `if_none_match` names our
    /// ETag (weak comparison, RFC 9110 §13.1.2).
    pub fn respond(&self, encoding: Encoding, if_none_match: Option<&HeaderValue>) -> Response {
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        headers.entry(header::CACHE_CONTROL).or_insert(REVALIDATE);
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if if_none_match.is_some_and(|value| etag_matches(value, &self.etag)) {
            headers.remove(header::CONTENT_TYPE);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        let body = match (encoding, &self.brotli, &self.gzip) {
            (Encoding::Brotli, Some(body), _) => Some(("br", body)),
            (Encoding::Gzip | Encoding::Brotli, _, Some(body)) => Some(("gzip", body)),
            _ => None,
        };
        let body = match body {
            Some((coding, body)) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
                body.clone()
            }
            None => self.identity.clone(),
        };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        *response.body_mut() = Body::from(body);
        response
    }

    /// `FORMAT`, then headers and bodies, each length-prefixed.
    pub fn encode(&self) -> Bytes {
        let size = self.identity.len()
            + self.brotli.as_ref().map_or(0, Bytes::len)
            + self.gzip.as_ref().map_or(0, Bytes::len)
            + 512;
        let mut out = BytesMut::with_capacity(size);
        out.put_u8(FORMAT);
        out.put_u16(self.headers.len() as u16);
        for (name, value) in &self.headers {
            put_field(&mut out, name.as_str().as_bytes());
            put_field(&mut out, value.as_bytes());
        }
        put_field(&mut out, self.etag.as_bytes());
        put_field(&mut out, &self.identity);
        for body in [&self.brotli, &self.gzip] {
            match body {
                Some(body) => {
                    out.put_u8(1);
                    put_field(&mut out, body);
                }
                None => out.put_u8(0),
            }
        }
        out.freeze()
    }

    /// The stored form back; `None` for anything malformed or of another format (an entry
    /// from another version of Flashbulb sharing the Redis).
    pub fn decode(stored: &Bytes) -> Option<Self> {
        let mut input = stored.clone();
        if input.try_get_u8().ok()? != FORMAT {
            return None;
        }
        let count = input.try_get_u16().ok()?;
        let mut headers = Vec::with_capacity(usize::from(count).min(16));
        for _ in 0..count {
            let name = HeaderName::from_bytes(&take_field(&mut input)?).ok()?;
            let value = HeaderValue::from_maybe_shared(take_field(&mut input)?).ok()?;
            headers.push((name, value));
        }
        let etag = HeaderValue::from_maybe_shared(take_field(&mut input)?).ok()?;
        let identity = take_field(&mut input)?;
        let mut compressed = [None, None];
        for body in &mut compressed {
            if input.try_get_u8().ok()? == 1 {
                *body = Some(take_field(&mut input)?);
            }
        }
        if input.has_remaining() {
            return None;
        }
        let [brotli, gzip] = compressed;
        Some(Self {
            headers,
            etag,
            identity,
            brotli,
            gzip,
        })
    }
}

fn put_field(out: &mut BytesMut, field: &[u8]) {
    out.put_u32(field.len() as u32);
    out.put_slice(field);
}

fn take_field(input: &mut Bytes) -> Option<Bytes> {
    let len = input.try_get_u32().ok()? as usize;
    (input.remaining() >= len).then(|| input.split_to(len))
}

/// `If-None-Match` against our ETag: `*`, or any listed tag equal to ours ignoring `W/`.
pub fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(listed) = if_none_match.to_str() else {
        return false;
    };
    let ours = opaque(etag.to_str().unwrap_or_default());
    listed
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours)
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn brotli(input: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(input.len() / 3);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 16 * 1024, BROTLI_QUALITY, 22);
        // Writing into a Vec cannot fail.
        let _ = writer.write_all(input);
    }
    Bytes::from(out)
}

fn gzip(input: &[u8]) -> Bytes {
    let mut writer = flate2::write::GzEncoder::new(
        Vec::with_capacity(input.len() / 3),
        flate2::Compression::default(),
    );
    let _ = writer.write_all(input);
    Bytes::from(writer.finish().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).expect("a valid header"),
        );
        headers
    }

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        assert_eq!(
            Encoding::preferred(&headers("gzip, deflate, br, zstd")),
            Encoding::Brotli
        );
        assert_eq!(Encoding::preferred(&headers("gzip")), Encoding::Gzip);
        assert_eq!(
            Encoding::preferred(&headers("br;q=0, gzip;q=0.5")),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::preferred(&headers("identity")),
            Encoding::Identity
        );
        assert_eq!(Encoding::preferred(&headers("*;q=0")), Encoding::Identity);
        assert_eq!(Encoding::preferred(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(Encoding::preferred(&headers(";;,,q=")), Encoding::Identity);
    }

    #[test]
    fn stored_responses_round_trip_and_garbage_is_refused() {
        let page = Bytes::from("<p>hello</p>".repeat(400));
        let stored = StoredResponse::new(
            vec![(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page.clone(),
        );
        assert!(stored.brotli.as_ref().expect("compressed").len() < page.len() / 10);
        let encoded = stored.encode();
        assert_eq!(StoredResponse::decode(&encoded), Some(stored.clone()));
        for cut in [0, 1, 3, 10, encoded.len() / 2, encoded.len() - 1] {
            assert_eq!(StoredResponse::decode(&encoded.slice(..cut)), None, "{cut}");
        }
        let mut longer = BytesMut::from(&encoded[..]);
        longer.put_u8(0);
        assert_eq!(StoredResponse::decode(&longer.freeze()), None);
        let mut other_format = BytesMut::from(&encoded[..]);
        other_format[0] = FORMAT + 1;
        assert_eq!(StoredResponse::decode(&other_format.freeze()), None);
        let small = StoredResponse::new(Vec::new(), Bytes::from_static(b"tiny"));
        assert_eq!(small.brotli, None);
        assert_eq!(StoredResponse::decode(&small.encode()), Some(small));
    }

    #[test]
    fn etags_compare_weakly() {
        let etag = HeaderValue::from_static("W/\"abc\"");
        for matching in ["W/\"abc\"", "\"abc\"", "\"x\", W/\"abc\"", "*"] {
            assert!(
                etag_matches(&HeaderValue::from_static(matching), &etag),
                "{matching}"
            );
        }
        for other in ["W/\"abd\"", "abc", ""] {
            assert!(
                !etag_matches(&HeaderValue::from_static(other), &etag),
                "{other}"
            );
        }
    }

    #[test]
    fn only_library_pages_are_cached() {
        for (path, route) in [
            ("/", "/"),
            ("/albums", "/albums"),
            ("/albums/3", "/albums/{id}"),
            ("/p/9", "/p/{id}"),
            (
                "/api/timeline/buckets/2026-11",
                "/api/timeline/buckets/{month}",
            ),
        ] {
            assert!(is_cacheable(path), "{path}");
            assert_eq!(cached_route(path), Some(route), "{path}");
        }
        for path in [
            "/ops",
            "/metrics",
            "/search",
            "/s/token",
            "/readyz",
            "/pkg/x.js",
            "/ws",
            "/p/",
            "/p/9/x",
            "/albums/3/zip",
        ] {
            assert!(!is_cacheable(path), "{path}");
        }
    }
}
