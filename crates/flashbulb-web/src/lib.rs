//! Flashbulb's HTTP surface, the only crate that names axum: page routes (rendered by Leptos),
//! server functions, static files and the layers around them, the web state around the
//! services (`flashbulb_core::Core`), every handler and middleware, one module each, and the
//! HTTP answer of every error.

// Leptos view types nest deeply; the timeline page exceeds the default limit.
#![recursion_limit = "256"]

pub mod access;
pub mod assets;
pub mod conditional;
pub mod csp;
pub mod error;
pub mod export;
pub mod forms;
pub mod gate;
pub mod health;
pub mod hot;
pub mod media;
pub mod metrics;
pub mod original;
pub mod pages;
pub mod routes;
pub mod serve;
pub mod settings;
pub mod socket;
pub mod state;
mod stored;
pub mod timeline;
pub mod upload;
pub mod vitals;
pub mod zip;

use app::{model::Viewer, shell, zone::ViewerZone, ApiError, App};
use axum::{
    body::Body,
    http::{header, request::Parts, HeaderValue, Response, StatusCode},
    middleware, Router,
};
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes, ResponseOptions};
use tower_http::{
    compression::{
        predicate::{NotForContentType, SizeAbove},
        CompressionLayer, Predicate,
    },
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

pub use error::{WebError, WebResult};
pub use serve::{serve, serve_probes};
pub use settings::WebSettings;
pub use state::AppState;

/// The page routes, listed once per process.
///
/// Listing them renders the whole app under Leptos' `SuppressResourceLoad` guard, which sets a
/// process-wide flag (`IS_SUPPRESSING_RESOURCE_LOAD` in leptos_server 0.8.8). A resource whose
/// future is first polled while that flag is up, on any thread, waits forever and so does the
/// page rendering it (leptos-rs/leptos#4773). Listing the routes for every router built in a
/// process (each test app, each instance of the scale-out test) let one build stall another's
/// concurrent renders; listed once, before the first router exists, no render can overlap it.
/// A server builds one router before it listens, so it never could.
pub(crate) fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn build_app(state: AppState) -> Router {
    let routes = page_routes();
    let library = state.library.clone();
    let operations: app::backend::SharedOperations =
        std::sync::Arc::new(flashbulb_core::ops::ServerOperations {
            state: state.ops.clone(),
        });
    // Text above one TCP segment is worth compressing; images, WASM and archives of photos
    // arrive compressed.
    let compress_when = SizeAbove::new(1500)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::const_new("application/wasm"))
        .and(NotForContentType::const_new("application/zip"));
    let vitals = assets::vitals_reporter(&state.web.site_root).map(app::VitalsReporter);
    let context = move || {
        provide_context(library.clone());
        provide_context(operations.clone());
        if let Some(vitals) = &vitals {
            provide_context(vitals.clone());
        }
        provide_request_context();
    };
    // The handlers from the one table of routes; those that stream their bodies stay outside
    // the small body limit.
    let (mut pages, mut streams) = (Router::new(), Router::new());
    for route in routes::handlers() {
        match route.body {
            routes::Body::Small => pages = pages.route(route.path, route.handler),
            routes::Body::Streamed => streams = streams.route(route.path, route.handler),
        }
    }
    let pages = pages
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(middleware::map_response(server_fn_error_status))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY));
    // Uploads stream to disk with a limit per file instead of the small body limit.
    let mut routed = streams
        .merge(pages)
        // Inside compression: it stores pages plain and answers with its own encodings, which
        // the compression layer leaves alone.
        .layer(middleware::from_fn_with_state(
            pages::PageCache::new(state.cache.clone()),
            pages::serve,
        ))
        // Outside the page cache: it keys pages by the user the guard found.
        .layer(middleware::from_fn_with_state(state.clone(), access::guard))
        // Outside the guard: its session lookups need the database too.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            gate::fail_fast,
        ))
        .layer(CompressionLayer::new().compress_when(compress_when));
    for (name, value) in SITE_HEADERS {
        routed = routed.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    let routed = routed
        // Inside the router, so each request is counted under the route it matched.
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        // Failed responses are counted by the metrics and their causes logged where they
        // arise; a line for each would flood the log during an outage (thousands a second).
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .with_state(state.clone());
    // Around the router: stored pages are answered before any routing.
    let hot = middleware::from_fn_with_state(state, hot::serve);
    Router::new().fallback_service(tower::Layer::layer(&hot, routed))
}

/// Headers every response carries unless it set its own: no guessing of content types, no
/// framing, and share links carry their secret in the path, so never hand it to another site.
pub const SITE_HEADERS: [(header::HeaderName, HeaderValue); 3] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// What every page and server function may know of its request: the signed-in user (from the
/// guard), the viewer's time zone (from its cookie) and the nonce of its scripts, which the
/// Content-Security-Policy sent with the page names (a page the cache stores trades it for
/// its scripts' digests: see [`csp`]).
fn provide_request_context() {
    let parts = use_context::<Parts>();
    if let Some(viewer) = parts
        .as_ref()
        .and_then(|parts| parts.extensions.get::<Viewer>().cloned())
    {
        provide_context(viewer);
    }
    provide_context(parts.map_or_else(ViewerZone::default, |parts| viewer_zone(&parts.headers)));
    if let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<ResponseOptions>())
    {
        if let Ok(policy) = HeaderValue::from_str(&csp::policy(csp::InlineScripts::Nonce(&nonce))) {
            response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
}

/// The time zone the request's `tz` cookie names; UTC without one.
pub fn viewer_zone(headers: &axum::http::HeaderMap) -> ViewerZone {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(ViewerZone::from_cookie_header)
        .find(|zone| zone.name().is_some())
        .unwrap_or_default()
}

/// Requests carrying more than this are refused with 413 before any handler reads them.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// The header server functions put on error responses.
const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";

/// Error bodies of server functions are small; anything larger is not ours to rewrite.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Server functions answer every error with 500; give each the status its code means
/// (404 for `not_found`, 400 for malformed arguments, 503 when the database is down).
async fn server_fn_error_status(response: Response<Body>) -> Response<Body> {
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
        || response.status() != StatusCode::INTERNAL_SERVER_ERROR
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    if let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(parts.status);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `attachment; filename="Lisbon.zip"; filename*=UTF-8''Lisbon%20%E2%80%99…`: a plain
/// fallback for old clients, the exact name for the rest (RFC 6266).
pub fn attachment(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " -_.()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = match ascii.trim() {
        "" => "download",
        trimmed => trimmed,
    };
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_keep_their_names_safely() {
        assert_eq!(
            attachment("Lisbon 2026.zip"),
            "attachment; filename=\"Lisbon 2026.zip\"; filename*=UTF-8''Lisbon%202026.zip"
        );
        assert!(attachment("\"; evil.zip").starts_with("attachment; filename=\"__ evil.zip\""));
        assert!(attachment("日本.jpg").contains("filename=\"__.jpg\""));
        assert!(attachment("\r\n").contains("filename=\"__\""));
    }
}
