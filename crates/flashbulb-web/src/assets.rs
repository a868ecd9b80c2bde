//! The built site's scripts, WASM and styles under `/pkg/`: sent as their brotli or gzip form
//! when `scripts/precompress` left one beside the file and it is not older than the file (a
//! rebuild without precompressing never serves stale bytes), else as they are, compressed on
//! the way. Files named after their content (cargo-leptos' `hash-files`) are kept for a year
//! by browsers and in memory here once read ([`SiteFiles`]); others are read and revalidated
//! each time.

use std::{
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::pages::{etag_matches, Encoding};
use crate::state::AppState;

/// Unnamed by content, so a browser asks again each time and gets 304 while unchanged.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
/// Named by content: the name changes whenever the bytes do.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// Whether the site was built with content-hashed names: cargo-leptos then writes `hash.txt`,
/// which Leptos reads to name the files in pages, beside the server binary. A server from a
/// plain cargo build, or a test binary, finds none and names them plainly.
pub fn site_files_hashed() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("hash.txt")))
        .is_some_and(|path| path.is_file())
}

/// The Web Vitals reporter `scripts/build-site` bundles into the site (`vitals.<hash>.js`), as
/// pages name it; none in a site built otherwise (`cargo leptos watch`), whose pages then
/// report no vitals, which the log says once.
pub fn vitals_reporter(site_root: &Path) -> Option<String> {
    let found = std::fs::read_dir(site_root.join("pkg"))
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("vitals.") && name.ends_with(".js"))
        .filter(|name| is_content_named(name))
        .max();
    if found.is_none() {
        tracing::warn!(
            site = %site_root.display(),
            "the site has no Web Vitals reporter (scripts/build-site bundles it): pages will report no vitals"
        );
    }
    found.map(|name| format!("/pkg/{name}"))
}

/// `name.<hash>.ext`, the hash being cargo-leptos' 22 base64url characters (an MD5).
fn is_content_named(file_name: &str) -> bool {
    let mut parts = file_name.rsplit('.');
    let (Some(_extension), Some(hash), Some(_stem)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    hash.len() == 22
        && hash
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Content-named files of the site kept in memory once read, each in the encodings asked
/// for; their names change whenever their bytes do, so they are never read again. A site
/// is a few megabytes; the bound keeps a foreign folder from growing it without end.
#[derive(Clone)]
pub struct SiteFiles {
    files: moka::sync::Cache<(String, Encoding), Arc<SiteFile>>,
}

/// A site file as it is sent.
struct SiteFile {
    body: Bytes,
    content_type: HeaderValue,
    coding: Option<&'static str>,
    etag: HeaderValue,
}

/// What [`SiteFiles`] keeps at most, and the largest file it keeps.
const SITE_FILES_BYTES: u64 = 64 * 1024 * 1024;
const MAX_SITE_FILE_BYTES: u64 = 16 * 1024 * 1024;

impl SiteFiles {
    pub fn new() -> Self {
        Self {
            files: moka::sync::Cache::builder()
                .max_capacity(SITE_FILES_BYTES)
                .weigher(|(name, _): &(String, Encoding), file: &Arc<SiteFile>| {
                    u32::try_from(name.len() + file.body.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl Default for SiteFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl SiteFile {
    /// 200 with the body, or 304 when the browser names the ETag.
    fn respond(&self, if_none_match: Option<&HeaderValue>) -> Response {
        let unchanged = if_none_match.is_some_and(|listed| etag_matches(listed, &self.etag));
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = Response::new(Body::from(self.body.clone()));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, self.content_type.clone());
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
            if let Some(coding) = self.coding {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, IMMUTABLE);
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    }
}

/// A content-named file already in memory, answered as [`pkg_file`] answers it; `None` for
/// anything else. For the hot path, which calls it before routing.
pub(crate) fn remembered(state: &AppState, path: &str, headers: &HeaderMap) -> Option<Response> {
    let relative = path.strip_prefix('/')?;
    if headers.contains_key(header::RANGE) {
        return None;
    }
    let file = state
        .site_files
        .files
        .get(&(relative.to_string(), Encoding::preferred(headers)))?;
    Some(file.respond(headers.get(header::IF_NONE_MATCH)))
}

pub(crate) async fn pkg_file(State(state): State<AppState>, request: Request) -> Response {
    let relative = request.uri().path().trim_start_matches('/');
    let content_named = relative.rsplit('/').next().is_some_and(is_content_named);
    let encoding = Encoding::preferred(request.headers());
    // Ranges are the file service's; nothing else of a content-named file ever changes.
    let from_memory = content_named && !request.headers().contains_key(header::RANGE);
    if from_memory {
        let key = (relative.to_string(), encoding);
        if let Some(file) = state.site_files.files.get(&key) {
            return file.respond(request.headers().get(header::IF_NONE_MATCH));
        }
        if let Some(file) = read_site_file(&state.web.site_root, relative, encoding).await {
            let file = Arc::new(file);
            state.site_files.files.insert(key, file.clone());
            return file.respond(request.headers().get(header::IF_NONE_MATCH));
        }
    }
    let Some(path) = inside(&state.web.site_root, relative) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(plain) = tokio::fs::metadata(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = mime_of(&path);
    let candidates: &[(Encoding, &str, &'static str)] = match Encoding::preferred(request.headers())
    {
        Encoding::Brotli => &[
            (Encoding::Brotli, "br", "br"),
            (Encoding::Gzip, "gz", "gzip"),
        ],
        Encoding::Gzip => &[(Encoding::Gzip, "gz", "gzip")],
        Encoding::Identity => &[],
    };
    let lifetime = match path.file_name().and_then(|name| name.to_str()) {
        Some(name) if is_content_named(name) => IMMUTABLE,
        _ => REVALIDATE,
    };
    for (_, extension, coding) in candidates {
        let mut compressed = path.clone().into_os_string();
        compressed.push(format!(".{extension}"));
        let compressed = PathBuf::from(compressed);
        if is_fresh(&compressed, &plain).await {
            let mut response = serve(
                ServeFile::new_with_mime(&compressed, &mime),
                request,
                lifetime,
            )
            .await;
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
                headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            return response;
        }
    }
    let mut response = serve(ServeFile::new_with_mime(&path, &mime), request, lifetime).await;
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// A content-named file of the site as it should be sent to a client accepting `encoding`:
/// its fresh compressed form if there is one, else the file itself for a client that wants
/// it plain. `None` when there is no such file, it is too large to keep, or only compressing
/// it on the way would do (the file service then answers).
async fn read_site_file(root: &Path, relative: &str, encoding: Encoding) -> Option<SiteFile> {
    let path = inside(root, relative)?;
    let plain = tokio::fs::metadata(&path).await.ok()?;
    let content_type = HeaderValue::from_str(mime_of(&path).as_ref()).ok()?;
    let name = path.file_name()?.to_str()?.to_string();
    let candidates: &[(&str, &'static str)] = match encoding {
        Encoding::Brotli => &[("br", "br"), ("gz", "gzip")],
        Encoding::Gzip => &[("gz", "gzip")],
        Encoding::Identity => &[],
    };
    let mut chosen = None;
    for (extension, coding) in candidates {
        let mut compressed = path.clone().into_os_string();
        compressed.push(format!(".{extension}"));
        let compressed = PathBuf::from(compressed);
        if is_fresh(&compressed, &plain).await {
            chosen = Some((compressed, Some(*coding)));
            break;
        }
    }
    let (file, coding) = match chosen {
        Some(found) => found,
        None if encoding == Encoding::Identity => (path, None),
        // Worth compressing on the way: the compression layer knows how.
        None if compressible(&content_type) => return None,
        None => (path, None),
    };
    if tokio::fs::metadata(&file).await.ok()?.len() > MAX_SITE_FILE_BYTES {
        return None;
    }
    let body = Bytes::from(tokio::fs::read(&file).await.ok()?);
    let etag =
        HeaderValue::from_str(&format!("\"{name}-{}\"", coding.unwrap_or("identity"))).ok()?;
    Some(SiteFile {
        body,
        content_type,
        coding,
        etag,
    })
}

/// Whether the compression layer would compress a file of this type (all but WASM and images,
/// which arrive compressed).
fn compressible(content_type: &HeaderValue) -> bool {
    let content_type = content_type.as_bytes();
    !(content_type.starts_with(b"image/") || content_type.starts_with(b"application/wasm"))
}

async fn serve(file: ServeFile, request: Request, lifetime: HeaderValue) -> Response {
    let mut response = match file.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(infallible) => match infallible {},
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, lifetime);
    response
}

/// `relative` under `root`, refusing anything that would leave it.
fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
        .then(|| root.join(relative))
}

/// A compressed form is used only if it was written after its file was last built.
async fn is_fresh(compressed: &Path, plain: &std::fs::Metadata) -> bool {
    let Ok(metadata) = tokio::fs::metadata(compressed).await else {
        return false;
    };
    match (metadata.modified(), plain.modified()) {
        (Ok(compressed), Ok(plain)) => compressed >= plain,
        _ => false,
    }
}

fn mime_of(path: &Path) -> mime_guess::Mime {
    mime_guess::from_path(path).first_or_octet_stream()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_named_files_are_kept_for_a_year() {
        for named in [
            "flashbulb.DMF1ucDxtqgxw5niaXcmYQ.js",
            "flashbulb.kutf_uauL-w61xx3dTFXjw.wasm",
            "__wasm_split.SooI8J03tzeVZJA4QItfMw.js",
        ] {
            assert!(is_content_named(named), "{named}");
        }
        for plain in [
            "flashbulb.js",
            "flashbulb.wasm",
            "flashbulb.DMF1ucDxtqgxw5niaXcmYQ",
            "flashbulb.DMF1ucDxtqgxw5niaXcmY.js",
            "flashbulb.DMF1ucDxtqgxw5niaXcm=Q.js",
            "flashbulb.DMF1ucDxtqgxw5niaX/mYQ.js",
        ] {
            assert!(!is_content_named(plain), "{plain}");
        }
    }

    #[test]
    fn the_vitals_reporter_is_found_by_its_content_name() {
        let site = tempfile::tempdir().expect("a scratch folder");
        assert_eq!(vitals_reporter(site.path()), None, "no pkg folder");
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).expect("the pkg folder");
        for other in [
            "vitals.js",
            "flashbulb.DMF1ucDxtqgxw5niaXcmYQ.js",
            "vitals.DMF1ucDxtqgxw5niaXcmYQ.js.br",
        ] {
            std::fs::write(pkg.join(other), "x").expect("a file");
        }
        assert_eq!(
            vitals_reporter(site.path()),
            None,
            "only unnamed or other files"
        );
        std::fs::write(pkg.join("vitals.kutf_uauL-w61xx3dTFXjw.js"), "x").expect("a file");
        assert_eq!(
            vitals_reporter(site.path()).as_deref(),
            Some("/pkg/vitals.kutf_uauL-w61xx3dTFXjw.js")
        );
    }

    #[test]
    fn paths_stay_inside_the_site() {
        let root = Path::new("/site");
        assert_eq!(
            inside(root, "pkg/flashbulb.js"),
            Some(PathBuf::from("/site/pkg/flashbulb.js"))
        );
        for hostile in ["pkg/../../etc/passwd", "/etc/passwd", "../x", "pkg/.."] {
            assert_eq!(inside(root, hostile), None, "{hostile}");
        }
    }
}
