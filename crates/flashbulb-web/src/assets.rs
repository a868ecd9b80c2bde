//! The built site's scripts, WASM and styles under `/pkg/`: sent as their brotli or gzip form
//! when `scripts/precompress` left one beside the file and it is not older than the file (a
//! rebuild without precompressing never serves stale bytes), else as they are, compressed on
//! the way. Files named after their content (cargo-leptos' `hash-files`) are kept for a year;
//! others are revalidated each time.

use std::path::{Component, Path, PathBuf};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::pages::Encoding;
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

pub(crate) async fn pkg_file(State(state): State<AppState>, request: Request) -> Response {
    let relative = request.uri().path().trim_start_matches('/');
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
