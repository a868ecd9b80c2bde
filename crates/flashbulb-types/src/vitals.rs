//! Web Vitals: the beacon every page sends when it is hidden, the route templates it is
//! tagged with, and Google's thresholds that sort a value into good, needs improvement or
//! poor. The browser measures with Google's `web-vitals` library (`frontend/vitals/`, a
//! small script apart from the WebAssembly); the server validates, aggregates and shows.

use serde::{Deserialize, Serialize};

/// Where the browser posts its beacon.
pub const BEACON_PATH: &str = "/api/vitals";

/// A beacon carries five numbers and two short strings; anything longer is not ours.
pub const MAX_BEACON_BYTES: usize = 1024;

/// The metrics, named as Google's `web-vitals` library names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Metric {
    #[serde(rename = "TTFB")]
    Ttfb,
    #[serde(rename = "FCP")]
    Fcp,
    #[serde(rename = "LCP")]
    Lcp,
    #[serde(rename = "CLS")]
    Cls,
    #[serde(rename = "INP")]
    Inp,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Lcp,
        Metric::Inp,
        Metric::Cls,
        Metric::Fcp,
        Metric::Ttfb,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Ttfb => "TTFB",
            Metric::Fcp => "FCP",
            Metric::Lcp => "LCP",
            Metric::Cls => "CLS",
            Metric::Inp => "INP",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name)
    }

    /// The upper bounds of "good" and of "needs improvement" (web.dev's thresholds), in
    /// milliseconds except CLS, which has no unit.
    pub fn thresholds(self) -> (f64, f64) {
        match self {
            Metric::Ttfb => (800.0, 1800.0),
            Metric::Fcp => (1800.0, 3000.0),
            Metric::Lcp => (2500.0, 4000.0),
            Metric::Cls => (0.1, 0.25),
            Metric::Inp => (200.0, 500.0),
        }
    }

    /// The largest value a real page view can report; larger ones are refused as bogus (a
    /// page open for an hour before its first paint is not a measurement).
    pub fn largest_plausible(self) -> f64 {
        match self {
            Metric::Cls => 100.0,
            _ => 600_000.0,
        }
    }

    /// Whether the metric is a duration in milliseconds (all but CLS).
    pub fn is_duration(self) -> bool {
        self != Metric::Cls
    }

    pub fn band(self, value: f64) -> Band {
        let (good, needs_improvement) = self.thresholds();
        if value <= good {
            Band::Good
        } else if value <= needs_improvement {
            Band::NeedsImprovement
        } else {
            Band::Poor
        }
    }

    /// `value` for people: "1.24 s", "180 ms", "0.043".
    pub fn format(self, value: f64) -> String {
        use crate::format::decimal;
        if !self.is_duration() {
            decimal(value, 3)
        } else if value >= 1000.0 {
            format!("{} s", decimal(value / 1000.0, 2))
        } else {
            format!("{} ms", decimal(value, 0))
        }
    }
}

/// Google's three bands for a vitals value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Band {
    Good,
    NeedsImprovement,
    Poor,
}

impl Band {
    pub fn label(self) -> &'static str {
        match self {
            Band::Good => "good",
            Band::NeedsImprovement => "needs improvement",
            Band::Poor => "poor",
        }
    }

    /// The CSS class that colours it.
    pub fn class(self) -> &'static str {
        match self {
            Band::Good => "band-good",
            Band::NeedsImprovement => "band-needs-improvement",
            Band::Poor => "band-poor",
        }
    }
}

/// How the page view began, as the Navigation Timing entry's `type` says, plus the cases
/// `web-vitals` tells apart (a page restored from the back/forward cache, prerendered, or
/// restored after the browser discarded it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NavigationType {
    Navigate,
    Reload,
    BackForward,
    BackForwardCache,
    Prerender,
    Restore,
}

impl NavigationType {
    pub fn name(self) -> &'static str {
        match self {
            NavigationType::Navigate => "navigate",
            NavigationType::Reload => "reload",
            NavigationType::BackForward => "back-forward",
            NavigationType::BackForwardCache => "back-forward-cache",
            NavigationType::Prerender => "prerender",
            NavigationType::Restore => "restore",
        }
    }
}

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub name: Metric,
    pub value: f64,
}

/// What a page view sends when it is hidden: every metric measured so far. A page shown again
/// and hidden again sends again with the same `page`; the server keeps the latest value of
/// each metric per page view, so nothing is counted twice.
///
/// On the wire (`frontend/vitals/report.js` writes it):
/// `{"page":"9f…","route":"/p/:id","nav":"navigate","metrics":[{"name":"LCP","value":812.4}]}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    /// A random id of this page view: 16 to 64 characters from `[0-9A-Za-z-]`.
    pub page: String,
    /// The route template, one of [`ROUTES`].
    pub route: String,
    pub nav: NavigationType,
    pub metrics: Vec<Sample>,
}

/// The route templates pages are reported under; everything else is [`NOT_FOUND_ROUTE`].
pub const ROUTES: [&str; 14] = [
    "/",
    "/favourites",
    "/p/:id",
    "/albums",
    "/albums/:id",
    "/s/:token",
    "/search",
    "/trash",
    "/ops",
    "/ops/diagnostics",
    "/signin",
    "/setup",
    "/users",
    NOT_FOUND_ROUTE,
];

/// The template of any path no page answers.
pub const NOT_FOUND_ROUTE: &str = "/*";

/// The template `path` (a URL's path, without query) is reported under, so that a million
/// photo pages make one row, not a million.
pub fn route_template(path: &str) -> &'static str {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut segments = path.split('/').skip(1);
    let first = segments.next().unwrap_or("");
    let second = segments.next();
    let deeper = segments.next().is_some();
    match (first, second, deeper) {
        ("", None, false) => "/",
        ("favourites", None, false) => "/favourites",
        ("p", Some(id), false) if !id.is_empty() => "/p/:id",
        ("albums", None, false) => "/albums",
        ("albums", Some(id), false) if !id.is_empty() => "/albums/:id",
        ("s", Some(token), false) if !token.is_empty() => "/s/:token",
        ("search", None, false) => "/search",
        ("trash", None, false) => "/trash",
        ("ops", None, false) => "/ops",
        ("ops", Some("diagnostics"), false) => "/ops/diagnostics",
        ("signin", None, false) => "/signin",
        ("setup", None, false) => "/setup",
        ("users", None, false) => "/users",
        _ => NOT_FOUND_ROUTE,
    }
}

/// Whether `page` is a page-view id as the browser makes them.
pub fn is_page_view_id(page: &str) -> bool {
    (16..=64).contains(&page.len())
        && page
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_their_templates() {
        assert_eq!(route_template("/"), "/");
        assert_eq!(route_template(""), "/");
        assert_eq!(route_template("/p/123"), "/p/:id");
        assert_eq!(route_template("/p/123/"), "/p/:id");
        assert_eq!(route_template("/albums"), "/albums");
        assert_eq!(route_template("/albums/"), "/albums");
        assert_eq!(route_template("/albums/9"), "/albums/:id");
        assert_eq!(route_template("/s/abc"), "/s/:token");
        assert_eq!(route_template("/ops/diagnostics"), "/ops/diagnostics");
        assert_eq!(route_template("/signin"), "/signin");
        assert_eq!(route_template("/p"), NOT_FOUND_ROUTE);
        assert_eq!(route_template("/p/1/2"), NOT_FOUND_ROUTE);
        assert_eq!(route_template("/nothing"), NOT_FOUND_ROUTE);
        for route in ROUTES {
            assert!(!route.is_empty());
        }
    }

    #[test]
    fn beacons_read_as_the_browser_writes_them() {
        let text = r#"{"page":"0123456789abcdef0123","route":"/p/:id","nav":"back-forward","metrics":[{"name":"LCP","value":812.4},{"name":"CLS","value":0.013}]}"#;
        let beacon: Beacon = serde_json::from_str(text).expect("a beacon");
        assert_eq!(beacon.nav, NavigationType::BackForward);
        assert_eq!(beacon.metrics[0].name, Metric::Lcp);
        assert!(is_page_view_id(&beacon.page));
        assert!(serde_json::from_str::<Beacon>(&text.replace("LCP", "XYZ")).is_err());
        assert!(
            serde_json::from_str::<Beacon>(&text.replace("\"nav\"", "\"extra\":1,\"nav\""))
                .is_err()
        );
    }

    #[test]
    fn values_fall_into_googles_bands() {
        assert_eq!(Metric::Lcp.band(2500.0), Band::Good);
        assert_eq!(Metric::Lcp.band(2500.1), Band::NeedsImprovement);
        assert_eq!(Metric::Lcp.band(4000.1), Band::Poor);
        assert_eq!(Metric::Cls.band(0.05), Band::Good);
        assert_eq!(Metric::Cls.band(0.3), Band::Poor);
        assert_eq!(Metric::Inp.format(180.2), "180 ms");
        assert_eq!(Metric::Lcp.format(1240.0), "1.24 s");
        assert_eq!(Metric::Cls.format(0.0431), "0.043");
        assert!(!is_page_view_id("short"));
        assert!(!is_page_view_id("0123456789abcdef<script>"));
    }
}
