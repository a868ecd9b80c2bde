//! Every route of the site next to who may reach it, in one table: the handlers of this crate
//! (registered from the table), the pages and their server functions (registered by Leptos,
//! their rules listed here by path). The access guard reads a request's rule from the route it
//! matched. A page or server function missing from the table is reachable by signed-in users
//! only, and a test fails naming it; a request that matched no route is a file or a 404.

use std::{collections::HashMap, sync::OnceLock};

use app::{
    live::LIVE_PATH,
    model::PHOTO_EXPORT_PATH,
    vitals::{BEACON_PATH, MAX_BEACON_BYTES},
};
use axum::{
    extract::DefaultBodyLimit,
    routing::{get, post, MethodRouter},
};

use crate::{
    assets, export, forms, health, media, metrics, original, socket, state::AppState, timeline,
    upload, vitals, zip,
};

/// The site's files and the signed media, whose hits the hot path answers before routing
/// (and counts under these routes).
pub const PKG_ROUTE: &str = "/pkg/{*file}";
pub const MEDIA_ROUTE: &str = "/media/{access}/{key}/{variant}";

/// What a route asks of its visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, and who they are changes nothing: the site's files, signed media, health and
    /// metrics. Their requests skip the session lookup.
    Public,
    /// Anyone, though the answer may differ for a signed-in user: sign-in, set-up, share
    /// links, the beacon.
    Open,
    /// A signed-in user; the route shows or changes that user's library only.
    SignedIn,
    /// A signed-in administrator.
    Admin,
}

/// How much of a request's body a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// At most [`crate::MAX_REQUEST_BODY`] (or the route's own smaller limit).
    Small,
    /// Streams: uploads check each file while it arrives, the live socket reads messages.
    Streamed,
}

/// One handler of this crate at its path.
pub struct Route {
    pub path: &'static str,
    pub rule: Rule,
    pub body: Body,
    pub handler: MethodRouter<AppState>,
}

fn route(path: &'static str, rule: Rule, handler: MethodRouter<AppState>) -> Route {
    Route {
        path,
        rule,
        body: Body::Small,
        handler,
    }
}

/// The handlers of this crate, each with its rule.
pub fn handlers() -> Vec<Route> {
    use Rule::{Admin, Open, Public, SignedIn};
    let form = DefaultBodyLimit::max(forms::MAX_FORM_BYTES);
    vec![
        route("/healthz", Public, get(health::healthz)),
        route("/readyz", Public, get(health::readyz)),
        route("/metrics", Public, get(metrics::export)),
        route(PKG_ROUTE, Public, get(assets::pkg_file)),
        route("/signin", Open, post(forms::sign_in).layer(form)),
        route("/setup", Open, post(forms::set_up).layer(form)),
        route("/signout", SignedIn, post(forms::sign_out).layer(form)),
        route("/users", Admin, post(forms::add_user).layer(form)),
        // Anything past the limit is refused with 413 before it is read.
        route(
            BEACON_PATH,
            Open,
            post(vitals::ingest).layer(DefaultBodyLimit::max(MAX_BEACON_BYTES)),
        ),
        // Signed URLs: the access is in the path, checked by the handler.
        route(MEDIA_ROUTE, Public, get(media::derivative)),
        // The share link's secret is the access.
        route("/api/shared/{token}/zip", Open, get(zip::shared_zip)),
        route("/api/albums/{id}/zip", SignedIn, get(zip::owner_zip)),
        route(
            "/api/timeline/buckets/{month}",
            SignedIn,
            get(timeline::get_bucket_segment),
        ),
        route(
            "/api/photos/{id}/original",
            SignedIn,
            get(original::download_original),
        ),
        route(PHOTO_EXPORT_PATH, SignedIn, get(export::export)),
        route("/api/photos/status", SignedIn, get(upload::statuses)),
        Route {
            body: Body::Streamed,
            // Each file has its own limit, checked while it streams; the body as a whole has
            // none.
            ..route(
                "/api/upload",
                SignedIn,
                post(upload::upload).layer(DefaultBodyLimit::disable()),
            )
        },
        Route {
            body: Body::Streamed,
            ..route(LIVE_PATH, SignedIn, get(socket::upgrade))
        },
    ]
}

/// The pages' rules, by the path Leptos registers each under.
pub const PAGES: &[(&str, Rule)] = &[
    ("/", Rule::SignedIn),
    ("/favourites", Rule::SignedIn),
    ("/p/{id}", Rule::SignedIn),
    ("/albums", Rule::SignedIn),
    ("/albums/{id}", Rule::SignedIn),
    ("/search", Rule::SignedIn),
    ("/trash", Rule::SignedIn),
    // A shared album: the link's secret is the access.
    ("/s/{token}", Rule::Open),
    ("/signin", Rule::Open),
    ("/setup", Rule::Open),
    ("/users", Rule::Admin),
    ("/ops", Rule::Admin),
    ("/ops/diagnostics", Rule::Admin),
];

/// The server functions' rules, by path.
pub const SERVER_FUNCTIONS: &[(&str, Rule)] = &[
    ("/api/timeline", Rule::SignedIn),
    ("/api/favourites", Rule::SignedIn),
    ("/api/photo", Rule::SignedIn),
    ("/api/set_favourite", Rule::SignedIn),
    ("/api/set_trashed", Rule::SignedIn),
    ("/api/trash", Rule::SignedIn),
    ("/api/empty_trash", Rule::SignedIn),
    ("/api/search", Rule::SignedIn),
    ("/api/search_facets", Rule::SignedIn),
    ("/api/albums", Rule::SignedIn),
    ("/api/album", Rule::SignedIn),
    ("/api/create_album", Rule::SignedIn),
    ("/api/rename_album", Rule::SignedIn),
    ("/api/delete_album", Rule::SignedIn),
    ("/api/set_in_album", Rule::SignedIn),
    ("/api/set_album_cover", Rule::SignedIn),
    ("/api/share_album", Rule::SignedIn),
    // Reads one album by its share link's secret.
    ("/api/shared_album", Rule::Open),
    ("/api/users", Rule::Admin),
    ("/api/ops", Rule::Admin),
    ("/api/diagnostics", Rule::Admin),
];

/// Files the fallback serves from the site's folder to anyone.
const OPEN_FILES: &[&str] = &["/favicon.svg"];

/// The rule of a request: by the route it matched (`None`: it matched none, so the fallback
/// answers it with a file of the site or a 404). A route not in the table needs a signed-in
/// user, so a new route is closed until it is deliberately opened here.
pub fn rule(matched: Option<&str>, path: &str) -> Rule {
    static RULES: OnceLock<HashMap<&'static str, Rule>> = OnceLock::new();
    let Some(matched) = matched else {
        return if OPEN_FILES.contains(&path) {
            Rule::Public
        } else {
            Rule::SignedIn
        };
    };
    let rules = RULES.get_or_init(|| {
        let mut rules: HashMap<&'static str, Rule> =
            PAGES.iter().chain(SERVER_FUNCTIONS).copied().collect();
        // A handler and a page may share a path (`/signin` is a page and the form's POST);
        // their rules agree (a test checks).
        rules.extend(handlers().into_iter().map(|route| (route.path, route.rule)));
        rules
    });
    rules.get(matched).copied().unwrap_or(Rule::SignedIn)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_page_and_server_function_has_a_rule_and_every_rule_a_route() {
        let pages: BTreeSet<String> = crate::page_routes()
            .iter()
            .map(|listing| listing.path().to_string())
            .collect();
        let listed: BTreeSet<String> = PAGES.iter().map(|(path, _)| path.to_string()).collect();
        assert_eq!(pages, listed, "pages Leptos registers against the table");
        let functions: BTreeSet<String> = server_fn::axum::server_fn_paths()
            .map(|(path, _)| path.to_string())
            .collect();
        let listed: BTreeSet<String> = SERVER_FUNCTIONS
            .iter()
            .map(|(path, _)| path.to_string())
            .collect();
        assert_eq!(functions, listed, "server functions against the table");
    }

    #[test]
    fn a_path_has_one_rule_wherever_it_is_listed() {
        let mut seen: HashMap<&str, Rule> = HashMap::new();
        let handlers = handlers();
        let all = PAGES
            .iter()
            .chain(SERVER_FUNCTIONS)
            .copied()
            .chain(handlers.iter().map(|route| (route.path, route.rule)));
        for (path, rule) in all {
            if let Some(earlier) = seen.insert(path, rule) {
                assert_eq!(earlier, rule, "{path} is listed with two rules");
            }
        }
    }

    #[test]
    fn routes_are_closed_unless_opened() {
        assert_eq!(rule(Some("/"), "/"), Rule::SignedIn);
        assert_eq!(rule(Some("/p/{id}"), "/p/1"), Rule::SignedIn);
        assert_eq!(rule(Some("/api/upload"), "/api/upload"), Rule::SignedIn);
        assert_eq!(rule(Some(LIVE_PATH), LIVE_PATH), Rule::SignedIn);
        assert_eq!(rule(Some("/s/{token}"), "/s/0123"), Rule::Open);
        assert_eq!(
            rule(Some("/media/{access}/{key}/{variant}"), "/media/a/b/thumb"),
            Rule::Public
        );
        assert_eq!(rule(Some("/signin"), "/signin"), Rule::Open);
        assert_eq!(rule(Some("/ops"), "/ops"), Rule::Admin);
        assert_eq!(
            rule(Some("/ops/diagnostics"), "/ops/diagnostics"),
            Rule::Admin
        );
        assert_eq!(rule(Some("/users"), "/users"), Rule::Admin);
        assert_eq!(rule(Some("/api/ops"), "/api/ops"), Rule::Admin);
        assert_eq!(rule(Some("/api/users"), "/api/users"), Rule::Admin);
        // A route nobody listed, and a path no route matched.
        assert_eq!(
            rule(Some("/something-new"), "/something-new"),
            Rule::SignedIn
        );
        assert_eq!(rule(None, "/something-new"), Rule::SignedIn);
        assert_eq!(rule(None, "/favicon.svg"), Rule::Public);
        assert_eq!(
            rule(Some("/pkg/{*file}"), "/pkg/flashbulb.js"),
            Rule::Public
        );
        assert_eq!(rule(Some("/healthz"), "/healthz"), Rule::Public);
    }
}
