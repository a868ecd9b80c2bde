//! The hot path: what this process already holds in memory is answered before routing, so a
//! hit costs a lookup and the response, and none of the router's or the layers' per-request
//! work: a signed-in owner's page or timeline segment in the page cache (after the session
//! lookup), a content-named site file, a signed derivative (after its signature is checked).
//! What it does not answer (another method or route, no session, a miss, for pages the
//! database gate shut) goes on to the router unchanged, where the layers do everything they
//! always do.
//!
//! It must answer exactly as the routed path would for the same request: the same stored
//! bytes and headers (`StoredResponse::respond`), the site-wide headers
//! ([`crate::SITE_HEADERS`]), and the request counted under its route.

use std::time::Instant;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, Uri},
    middleware::Next,
    response::Response,
};
use flashbulb_core::users::sessions;

use crate::{
    assets, media,
    pages::{self, Encoding, StoredResponse},
    routes::{MEDIA_ROUTE, PKG_ROUTE},
    state::AppState,
};

/// Layer around the whole router.
pub async fn serve(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The request's body is not `Sync`: only its head is borrowed across the lookups.
    let answer = if request.method() == Method::GET {
        stored_answer(&state, request.uri(), request.headers()).await
    } else {
        None
    };
    match answer {
        Some((route, mut response)) => {
            let headers = response.headers_mut();
            for (name, value) in crate::SITE_HEADERS {
                headers.entry(name).or_insert(value);
            }
            state.metrics.record_request(
                Method::GET.as_str(),
                route,
                response.status().as_u16(),
                started.elapsed().as_secs_f64(),
            );
            response
        }
        None => next.run(request).await,
    }
}

/// The stored answer and its route, when everything about the request allows one.
async fn stored_answer(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<(&'static str, Response)> {
    let path = uri.path();
    if path.starts_with("/pkg/") {
        return assets::remembered(state, path, headers).map(|answer| (PKG_ROUTE, answer));
    }
    if path.starts_with("/media/") {
        let answer = media::remembered(state, path, headers).await?;
        return Some((MEDIA_ROUTE, answer));
    }
    let route = pages::cached_route(path)?;
    // Shut, the routed path refuses with its own answer.
    if !state.database_gate.is_open() {
        return None;
    }
    let token = sessions::token(headers)?;
    // An error (the database away) is the routed path's to report.
    let viewer = state.access.sessions.viewer(token).await.ok()??;
    let stored = state
        .cache
        .peek(viewer.id, &pages::entry_name(headers, uri))
        .await?;
    let stored = StoredResponse::decode(&stored)?;
    let response = stored.respond(
        Encoding::preferred(headers),
        headers.get(header::IF_NONE_MATCH),
    );
    Some((route, response))
}
