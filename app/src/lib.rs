//! Flashbulb's user interface: the HTML shell, the routes, the pages and their islands.

// Leptos view types nest deeply; the timeline page exceeds the default limit.
#![recursion_limit = "256"]

pub mod account;
pub mod albums;
pub mod favourites;
pub mod format;
pub mod listing;
pub mod live;
pub mod ops;
pub mod photo;
pub mod search;
pub mod timeline;
pub mod trash;
pub mod upload;
pub mod zone;

#[cfg(feature = "ssr")]
pub mod backend;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

// What pages share with the server lives in `flashbulb_types`; pages name it as before.
pub use flashbulb_types::{codec, error, model, vitals, ApiError};

/// Where `scripts/build-site` left the Web Vitals reporter (`/pkg/vitals.<hash>.js`), which
/// every page loads; the server provides it to the shell when the built site has one.
#[derive(Debug, Clone)]
pub struct VitalsReporter(pub String);

/// Whether the page of `route` (a template, as [`vitals::route_template`] names it) shows
/// islands. Only those pages load the WebAssembly and its hydration script: a page without
/// islands has nothing to wake, and the browser test of each page's chunks keeps this list
/// true.
pub fn route_has_islands(route: &str) -> bool {
    matches!(route, "/" | "/p/:id" | "/albums/:id" | "/ops")
}

/// Leptos' hydration script, without the preload hints it puts before it (the module and the
/// WebAssembly at high priority). On a slow network those took the bandwidth of the first
/// screen's thumbnails, which are what the person came to see: Lighthouse's slow 4G put first
/// paint 0.2 s and the largest paint 0.45 s later with them. The script asks for the module
/// once the page is idle all the same; the island only wakes a little later.
fn hydration_script(options: LeptosOptions) -> impl IntoView {
    let html = view! { <HydrationScripts options islands=true /> }.to_html();
    let script = html.find("<script").map_or(html.as_str(), |at| &html[at..]);
    leptos::tachys::html::InertElement::new(script.to_owned())
}

/// The document around every page; the server renders it once per request.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let path = use_context::<http::request::Parts>()
        .map(|parts| parts.uri.path().to_owned())
        .unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let path = String::from("/");
    let route = vitals::route_template(&path);
    let hydration = route_has_islands(route).then(|| hydration_script(options.clone()));
    // Islands are given their props, never the page's resources: `HydrationScripts` tells the
    // render so in islands mode, and a page without it must too, or every resource it read
    // would be written into the HTML a second time as a script.
    if hydration.is_none() {
        if let Some(context) = Owner::current_shared_context() {
            context.set_is_hydrating(false);
        }
    }
    let reporter = use_context::<VitalsReporter>().map(|VitalsReporter(src)| {
        view! { <script src=src async data-route=route nonce=leptos::nonce::use_nonce()></script> }
    });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                // Named after its content when the site was built with hashed names.
                <HashedStylesheet options=options.clone() id="flashbulb" />
                {hydration}
                {reporter}
                <script nonce=leptos::nonce::use_nonce()>{zone::ViewerZone::SCRIPT}</script>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="Flashbulb: your photo library, instant at any size." />
        <Title formatter=|page: String| format!("{page} · Flashbulb") />
        <Router>
            <header class="topbar">
                <a class="brand" href="/" aria-label="Flashbulb, your timeline">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Flashbulb"</span>
                </a>
                <Navigation />
            </header>
            <main id="main">
                <Routes fallback=NotFound>
                    // Pages whose data decides their status (404 for a missing photo, 503
                    // without a database) render completely before the response starts:
                    // streamed, the status would race the first chunk. The first screen of
                    // the grid still arrives as plain HTML, painting without JavaScript and
                    // with no placeholder swap. Search streams its results after the form.
                    <Route
                        path=StaticSegment("")
                        view=timeline::TimelinePage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment("favourites")
                        view=favourites::FavouritesPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("p"), ParamSegment("id"))
                        view=photo::PhotoPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment("albums")
                        view=albums::AlbumsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("albums"), ParamSegment("id"))
                        view=albums::AlbumPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("s"), ParamSegment("token"))
                        view=albums::SharedAlbumPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment("search")
                        view=search::SearchPage
                        ssr=SsrMode::InOrder
                    />
                    <Route
                        path=StaticSegment("trash")
                        view=trash::TrashPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("signin") view=account::SignInPage />
                    <Route path=StaticSegment("setup") view=account::SetUpPage />
                    <Route
                        path=StaticSegment("users")
                        view=account::UsersPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("ops") view=ops::OpsPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("ops"), StaticSegment("diagnostics"))
                        view=ops::DiagnosticsPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The top-bar links, the current page marked for assistive technology, and who is signed in.
/// Rendered on the server only (no island), where the request's user is known.
#[component]
fn Navigation() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let viewer = backend::viewer();
    #[cfg(not(feature = "ssr"))]
    let viewer: Option<model::Viewer> = None;
    let location = leptos_router::hooks::use_location();
    let link = move |href: &'static str, label: &'static str| {
        // A section stays marked on its inner pages: `/albums/7` is under Albums.
        let current = move || {
            let path = location.pathname.get();
            let inside = path == href || (href != "/" && path.starts_with(&format!("{href}/")));
            inside.then_some("page")
        };
        view! { <a href=href aria-current=current>{label}</a> }
    };
    let Some(viewer) = viewer else {
        // The account pages are the form already; elsewhere (a share link) offer it.
        let on_account_page = matches!(
            location.pathname.get_untracked().as_str(),
            "/signin" | "/setup"
        );
        return view! {
            <nav class="primary" aria-label="Main"></nav>
            {(!on_account_page).then(|| view! { <a class="account-link" href="/signin">"Sign in"</a> })}
        }
        .into_any();
    };
    let admin = viewer.admin;
    let links = move || {
        view! {
            {link("/", "Timeline")}
            {link("/favourites", "Favourites")}
            {link("/albums", "Albums")}
            {link("/search", "Search")}
            {link("/trash", "Trash")}
            {admin.then(|| link("/ops", "Operations"))}
            {admin.then(|| link("/users", "Users"))}
        }
    };
    let sign_out = |name: String| {
        let title = name.clone();
        view! {
            <form class="signout" method="post" action="/signout">
                <span class="muted" title=title>{name}</span>
                <button class="link-button" type="submit">"Sign out"</button>
            </form>
        }
    };
    // Wide screens show the links in the bar; phones get one menu holding every destination,
    // a `<details>` that opens without JavaScript. Only one of the two is displayed at a time,
    // so assistive technology meets the links once.
    view! {
        <nav class="primary" aria-label="Main">{links()}</nav>
        <div class="bar-account">{sign_out(viewer.name.clone())}</div>
        <details class="menu">
            <summary aria-label="Menu">
                <span class="menu-icon" aria-hidden="true"></span>
                "Menu"
            </summary>
            <nav class="menu-panel" aria-label="Main">
                {links()}
                {sign_out(viewer.name)}
            </nav>
        </details>
    }
    .into_any()
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found" />
        <section class="notice">
            <h1>"Nothing here"</h1>
            <p>"This page does not exist. " <a href="/">"Back to the timeline"</a></p>
        </section>
    }
}

/// Referenced by the hydrate crate so that the islands defined here are linked into the WASM.
pub fn register_islands() {}
