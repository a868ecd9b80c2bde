//! The built site's scripts, WASM and styles under `/pkg/`: sent as their brotli or gzip form
//! when `scripts/precompress` left one beside the file and it is not older than the file (a
//! rebuild without precompressing never serves stale bytes), else as they are, compressed on
//! the way. Browsers revalidate them, since their names carry no content hash.

use std::path::{Component, Path, PathBuf};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::{cache::pages::Encoding, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/pkg/{*file}", get(pkg_file))
}

/// Unnamed by content, so a browser asks again each time and gets 304 while unchanged.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

async fn pkg_file(State(state): State<AppState>, request: Request) -> Response {
    let relative = request.uri().path().trim_start_matches('/');
    let Some(path) = inside(&state.config.site_root, relative) else {
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
    for (_, extension, coding) in candidates {
        let mut compressed = path.clone().into_os_string();
        compressed.push(format!(".{extension}"));
        let compressed = PathBuf::from(compressed);
        if is_fresh(&compressed, &plain).await {
            let mut response = serve(ServeFile::new_with_mime(&compressed, &mime), request).await;
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
                headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            return response;
        }
    }
    let mut response = serve(ServeFile::new_with_mime(&path, &mime), request).await;
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

async fn serve(file: ServeFile, request: Request) -> Response {
    let mut response = match file.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(infallible) => match infallible {},
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, REVALIDATE);
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
