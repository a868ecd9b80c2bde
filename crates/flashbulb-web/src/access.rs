//! Who may reach which route: the request's session, the Origin check that stops other sites'
//! forms and scripts (CSRF), and the rules that send visitors to sign in, keep administrators'
//! pages to administrators and leave share links, media and health open.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use app::{format::encode_component, model::Viewer};
use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use flashbulb_core::users::sessions::{self, Sessions};
use flashbulb_core::{CoreError, CoreResult};
use flashbulb_store::Pool;
use flashbulb_types::ApiError;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::WebError;
use crate::{
    routes::{rule, Rule},
    settings::WebSettings,
    state::AppState,
};

/// Access state shared by every request of this process.
#[derive(Clone)]
pub struct Access {
    pub sessions: Sessions,
    pool: Pool,
    /// Set once an account exists; until then visitors are sent to set one up.
    set_up: Arc<AtomicBool>,
    secure_cookies: Option<bool>,
    trust_forwarded_for: bool,
    signins_by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    signins_by_name: Arc<DefaultKeyedRateLimiter<String>>,
    uploads_by_user: Arc<DefaultKeyedRateLimiter<i64>>,
}

impl Access {
    pub fn new(pool: Pool, config: &WebSettings) -> Self {
        let per_minute =
            |count: u32| Quota::per_minute(NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN));
        Self {
            sessions: Sessions::new(pool.clone(), config.session_days),
            pool,
            set_up: Arc::default(),
            secure_cookies: config.secure_cookies,
            trust_forwarded_for: config.trust_forwarded_for,
            signins_by_address: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                config.signins_per_minute,
            ))),
            signins_by_name: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                config.signins_per_minute,
            ))),
            uploads_by_user: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                config.uploads_per_minute,
            ))),
        }
    }

    /// True once some account can sign in.
    pub async fn is_set_up(&self) -> CoreResult<bool> {
        if self.set_up.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let set_up = !flashbulb_core::users::needs_setup(&self.pool).await?;
        if set_up {
            self.set_up.store(true, Ordering::Relaxed);
        }
        Ok(set_up)
    }

    /// Whether cookies get `Secure`: as configured, else when the proxy says the browser
    /// came over HTTPS.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.secure_cookies.unwrap_or_else(|| {
            headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
        })
    }

    /// The address rate limits count against: the peer, or the proxy's last
    /// `X-Forwarded-For` entry when it is trusted.
    pub fn client_address(&self, request: &Request) -> IpAddr {
        client_address(request, self.trust_forwarded_for)
    }

    /// Refuses a sign-in attempt past the allowance of its address or of the name tried.
    pub fn check_signin_rate(&self, address: IpAddr, username: &str) -> CoreResult<()> {
        let name = username.trim().to_lowercase();
        if self.signins_by_address.check_key(&address).is_err()
            || self.signins_by_name.check_key(&name).is_err()
        {
            return Err(ApiError::RateLimited.into());
        }
        Ok(())
    }

    /// Refuses an upload request past its user's allowance.
    pub fn check_upload_rate(&self, user: i64) -> CoreResult<()> {
        self.uploads_by_user
            .check_key(&user)
            .map_err(|_| CoreError::Refused(ApiError::RateLimited))
    }

    /// Forgets keys whose allowance has refilled, so the limiters' memory stays bounded.
    pub fn forget_idle_clients(&self) {
        self.signins_by_address.retain_recent();
        self.signins_by_name.retain_recent();
        self.uploads_by_user.retain_recent();
    }

    /// Starts forgetting idle clients once an hour (and at once); stop it with its handle.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        let access = self.clone();
        tokio::spawn(async move {
            let mut hours = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                hours.tick().await;
                access.forget_idle_clients();
            }
        })
    }
}

/// The client address of `request`, for rate limits: the TCP peer, or with
/// `trust_forwarded_for` the last `X-Forwarded-For` entry (the one our proxy added).
pub fn client_address(request: &Request, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .last()
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        if let Some(address) = forwarded {
            return address;
        }
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// The layer around every route: refuses cross-site writes, finds the request's user and
/// applies the route's rule. The user travels on in the request's extensions.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if !is_safe(request.method()) {
        if let Err(error) = check_same_origin(request.headers()) {
            return WebError(error).into_response();
        }
    }
    let path = request.uri().path();
    let matched = request.extensions().get::<MatchedPath>();
    let rule = rule(matched.map(MatchedPath::as_str), path);
    if rule == Rule::Public {
        return next.run(request).await;
    }
    let viewer = match sessions::token(request.headers()) {
        Some(token) => match state.access.sessions.viewer(token).await {
            Ok(viewer) => viewer,
            Err(error) => return WebError(error).into_response(),
        },
        None => None,
    };
    match (rule, &viewer) {
        (Rule::Public | Rule::Open, _) => {}
        (Rule::SignedIn, Some(_)) => {}
        (Rule::Admin, Some(viewer)) if viewer.admin => {}
        (Rule::Admin, Some(_)) => {
            return WebError::from(ApiError::Forbidden(
                "this page is for administrators".into(),
            ))
            .into_response()
        }
        (_, None) => {
            let uri = request.uri().clone();
            return sign_in_first(&state, request.method() == Method::GET, &uri).await;
        }
    }
    if request.method() == Method::GET {
        if let Some(elsewhere) = already_there(&state, path, viewer.is_some()).await {
            return elsewhere;
        }
    }
    if let Some(viewer) = viewer {
        request.extensions_mut().insert(viewer);
    }
    next.run(request).await
}

/// The sign-in page leads someone signed in to the timeline, and to the set-up page while no
/// account exists; the set-up page, once one does, to signing in.
async fn already_there(state: &AppState, path: &str, signed_in: bool) -> Option<Response> {
    if path == "/signin" && signed_in {
        return Some(Redirect::to("/").into_response());
    }
    if path != "/signin" && path != "/setup" {
        return None;
    }
    let set_up = match state.access.is_set_up().await {
        Ok(set_up) => set_up,
        Err(error) => return Some(WebError(error).into_response()),
    };
    match (path, set_up) {
        ("/signin", false) => Some(Redirect::to("/setup").into_response()),
        ("/setup", true) => {
            Some(Redirect::to(if signed_in { "/" } else { "/signin" }).into_response())
        }
        _ => None,
    }
}

/// A visitor without a session: pages send them to sign in (or to set up the first account),
/// everything else answers 401.
async fn sign_in_first(state: &AppState, is_get: bool, uri: &axum::http::Uri) -> Response {
    let path = uri.path();
    let wants_page = is_get && !path.starts_with("/api/") && path != app::live::LIVE_PATH;
    if !wants_page {
        return WebError::from(ApiError::Unauthorized).into_response();
    }
    match state.access.is_set_up().await {
        Ok(false) => Redirect::to("/setup").into_response(),
        Ok(true) => {
            let next = uri.path_and_query().map_or(path, |whole| whole.as_str());
            let location = if next == "/" {
                "/signin".to_string()
            } else {
                format!("/signin?next={}", encode_component(next))
            };
            Redirect::to(&location).into_response()
        }
        Err(error) => WebError(error).into_response(),
    }
}

/// The signed-in user of a request the guard let through.
pub fn viewer_of(request: &Request) -> Option<&Viewer> {
    request.extensions().get::<Viewer>()
}

/// Extracts the signed-in user of the request; 401 when there is none.
pub struct SignedIn(pub Viewer);

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for SignedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Viewer>().cloned().map(SignedIn))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .map(SignedIn)
            .ok_or(WebError::from(ApiError::Unauthorized))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A write must come from a page of this site: its `Origin` (or, from older browsers,
/// `Referer`) names the host it was sent to. Requests carrying neither and no cookie come from
/// programs, which a browser cannot be tricked into sending; with a cookie they are refused.
pub fn check_same_origin(headers: &HeaderMap) -> CoreResult<()> {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|value| value.to_str().ok());
    let Some(source) = source else {
        if headers.contains_key(header::COOKIE) {
            return Err(ApiError::Forbidden(
                "a change needs an Origin header naming this site".into(),
            )
            .into());
        }
        return Ok(());
    };
    if names_this_host(source, headers) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "changes are not taken from pages of {}",
            source.chars().take(100).collect::<String>()
        ))
        .into())
    }
}

/// True when `source`, an origin or URL, names the host the request was sent to. Schemes are
/// not compared: TLS may end at a proxy, which passes the Host header on as received.
pub fn names_this_host(source: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some(rest) = source
        .strip_prefix("https://")
        .or_else(|| source.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn writes_from_other_sites_are_refused() {
        let same = headers(&[
            (header::HOST, "photos.example:8080"),
            (header::ORIGIN, "https://photos.example:8080"),
            (header::COOKIE, "flashbulb_session=x"),
        ]);
        assert!(check_same_origin(&same).is_ok());
        let other = headers(&[
            (header::HOST, "photos.example"),
            (header::ORIGIN, "https://photos.example.evil"),
        ]);
        assert!(check_same_origin(&other).is_err());
        let null = headers(&[(header::HOST, "photos.example"), (header::ORIGIN, "null")]);
        assert!(check_same_origin(&null).is_err());
        let referer = headers(&[
            (header::HOST, "photos.example"),
            (header::REFERER, "http://photos.example/albums?x=1"),
            (header::COOKIE, "flashbulb_session=x"),
        ]);
        assert!(check_same_origin(&referer).is_ok());
        let userinfo = headers(&[
            (header::HOST, "photos.example"),
            (header::REFERER, "http://photos.example@evil.example/"),
        ]);
        assert!(check_same_origin(&userinfo).is_err());
        let bare_with_cookie = headers(&[
            (header::HOST, "photos.example"),
            (header::COOKIE, "flashbulb_session=x"),
        ]);
        assert!(check_same_origin(&bare_with_cookie).is_err());
        assert!(check_same_origin(&headers(&[(header::HOST, "photos.example")])).is_ok());
    }
}
