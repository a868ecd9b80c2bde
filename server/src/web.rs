//! The HTTP surface: page routes, server functions, static files and the layers around them.

use app::{shell, App};
use axum::{routing::get, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{
    compression::{
        predicate::{NotForContentType, SizeAbove},
        CompressionLayer, Predicate,
    },
    trace::TraceLayer,
};

use crate::state::AppState;

pub fn build_app(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    // Text above one TCP segment is worth compressing; images and WASM arrive compressed.
    let compress_when = SizeAbove::new(1500)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::const_new("application/wasm"));
    Router::new()
        .route("/healthz", get(healthz))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.library.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new().compress_when(compress_when))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The process is alive and serving HTTP.
async fn healthz() -> &'static str {
    "ok"
}
