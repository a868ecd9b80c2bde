//! What Web Vitals measure, as Google's `web-vitals` library defines them: plain arithmetic
//! over the browser's entries (session windows for CLS, the longest interactions for INP) and
//! the beacon's JSON. The hydrate crate feeds it from its observers; it lives here, with no
//! browser in it, so its tests run with the other host tests.

use std::fmt::Write;

use super::{Metric, NavigationType};

/// web-vitals keeps only the ten longest interactions: its p98 pick cannot reach past the
/// tenth before a page has seen 500 interactions.
pub const INP_CANDIDATES: usize = 10;

/// Event entries shorter than this are not INP candidates (web-vitals' `durationThreshold`);
/// the first input counts whatever its duration, so a page of quick interactions still
/// reports one.
pub const INP_THRESHOLD_MS: f64 = 40.0;

/// The shortest `durationThreshold` browsers accept: the events between it and
/// [`INP_THRESHOLD_MS`] only count interactions where `performance.interactionCount` is
/// missing, as web-vitals' estimate counts them.
pub const EVENT_OBSERVER_THRESHOLD_MS: f64 = 16.0;

/// A layout-shift session window closes after a quiet second or after five seconds in all.
pub const SESSION_GAP_MS: f64 = 1_000.0;
pub const SESSION_SPAN_MS: f64 = 5_000.0;

/// One interaction (all the events that share an `interactionId`) and its longest event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    pub id: f64,
    pub latency: f64,
}

/// The values of one page view, updated entry by entry.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Measures {
    pub ttfb: Option<f64>,
    pub fcp: Option<f64>,
    pub lcp: Option<f64>,
    /// The largest session window so far.
    pub cls: f64,
    /// The open session window: its sum and the start times of its first and last shift.
    pub window_value: f64,
    pub window_first: f64,
    pub window_last: f64,
    /// The longest interactions, longest first, at most [`INP_CANDIDATES`].
    pub interactions: Vec<Interaction>,
}

impl Measures {
    /// A layout shift not caused by recent input.
    pub fn layout_shift(&mut self, start: f64, value: f64) {
        let joins = self.window_value != 0.0
            && start - self.window_last < SESSION_GAP_MS
            && start - self.window_first < SESSION_SPAN_MS;
        if joins {
            self.window_value += value;
        } else {
            self.window_value = value;
            self.window_first = start;
        }
        self.window_last = start;
        // Compared after every shift: a window closed and a new one opened in the same batch
        // of entries must not hide the closed one.
        self.cls = self.cls.max(self.window_value);
    }

    /// An event of interaction `id` that lasted `duration` (an INP candidate). The list
    /// stays sorted by inserting in place: a sort routine would weigh more in the first
    /// WASM chunk than this whole module's logic.
    pub fn interaction(&mut self, id: f64, duration: f64) {
        if let Some(known) = self.interactions.iter().position(|known| known.id == id) {
            if duration <= self.interactions[known].latency {
                return;
            }
            self.interactions.remove(known);
        } else if self.interactions.len() >= INP_CANDIDATES
            && self
                .interactions
                .last()
                .is_some_and(|shortest| duration <= shortest.latency)
        {
            return;
        }
        // After the equally long ones: the earlier interaction keeps its place.
        let at = self
            .interactions
            .partition_point(|longer| longer.latency >= duration);
        self.interactions.insert(
            at,
            Interaction {
                id,
                latency: duration,
            },
        );
        self.interactions.truncate(INP_CANDIDATES);
    }

    /// INP after `count` interactions: the longest, then one place further down for every 50
    /// interactions, which approximates the 98th percentile without keeping them all. A page
    /// restored from the back/forward cache whose interactions were all too quick to be
    /// candidates reports one frame (8 ms), as web-vitals does; elsewhere the first input
    /// is always a candidate.
    pub fn inp(&self, count: f64, nav: NavigationType) -> Option<f64> {
        let step = (count / 50.0).floor() as usize;
        match self.interactions.len() {
            0 if count > 0.0 && nav == NavigationType::BackForwardCache => Some(8.0),
            0 => None,
            len => Some(self.interactions[step.min(len - 1)].latency),
        }
    }
}

/// The beacon's JSON, as [`super::Beacon`] reads it, with the metrics that have a value.
/// `page` and `route` need no escaping: a hex id and one of the fixed route templates.
pub fn beacon_body(
    page: &str,
    route: &str,
    nav: NavigationType,
    samples: [(Metric, Option<f64>); 5],
) -> String {
    let mut body = String::with_capacity(200);
    let _ = write!(
        body,
        r#"{{"page":"{page}","route":"{route}","nav":"{}","metrics":["#,
        nav.name()
    );
    let mut first = true;
    for (metric, value) in samples {
        // JSON has no NaN or infinity; a value like that is no measurement anyway.
        let Some(value) = value.filter(|value| value.is_finite()) else {
            continue;
        };
        if !first {
            body.push(',');
        }
        first = false;
        let _ = write!(body, r#"{{"name":"{}","value":"#, metric.name());
        write_decimal(&mut body, value);
        body.push('}');
    }
    body.push_str("]}");
    body
}

/// `value` to four decimals, trailing zeros dropped, by integer arithmetic: `{value}` would
/// link Rust's float formatting (some 20 KB) into the first WASM chunk every page loads.
fn write_decimal(out: &mut String, value: f64) {
    const SCALE: f64 = 10_000.0;
    // Beyond this, whole numbers are all there is to say (and i64 holds them).
    if value.abs() >= 1e14 {
        let _ = write!(out, "{}", value.round() as i64);
        return;
    }
    let scaled = (value * SCALE).round() as i64;
    if scaled < 0 {
        out.push('-');
    }
    let scaled = scaled.unsigned_abs();
    let (whole, mut fraction) = (scaled / 10_000, scaled % 10_000);
    let _ = write!(out, "{whole}");
    if fraction > 0 {
        let mut digits = 4;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{fraction:0digits$}");
    }
}

pub fn hex_id(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(DIGITS[usize::from(byte >> 4)]);
        hex.push(DIGITS[usize::from(byte & 15)]);
    }
    String::from_utf8(hex).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cls_is_the_largest_session_window() {
        let mut measures = Measures::default();
        measures.layout_shift(100.0, 0.1);
        measures.layout_shift(900.0, 0.1);
        // A gap of a second or more opens a new window.
        measures.layout_shift(1_900.0, 0.05);
        assert!((measures.cls - 0.2).abs() < 1e-12);
        // A window spans at most five seconds, even without gaps.
        for step in 0..12 {
            measures.layout_shift(3_000.0 + f64::from(step) * 500.0, 0.02);
        }
        assert!((measures.cls - 0.2).abs() < 1e-12, "{}", measures.cls);
        // 8,000 and 8,500 opened a window that this shift joins.
        measures.layout_shift(9_100.0, 0.3);
        assert!((measures.cls - 0.34).abs() < 1e-12, "{}", measures.cls);
    }

    #[test]
    fn inp_is_the_longest_interaction_then_steps_down_every_fifty() {
        let mut measures = Measures::default();
        assert_eq!(measures.inp(0.0, NavigationType::Navigate), None);
        measures.interaction(7.0, 48.0);
        measures.interaction(7.0, 96.0);
        measures.interaction(7.0, 56.0);
        measures.interaction(14.0, 64.0);
        assert_eq!(measures.inp(2.0, NavigationType::Navigate), Some(96.0));
        for id in 3..20 {
            measures.interaction(f64::from(id) * 7.0, 40.0 + f64::from(id));
        }
        assert_eq!(measures.interactions.len(), INP_CANDIDATES);
        assert_eq!(measures.inp(49.0, NavigationType::Navigate), Some(96.0));
        assert_eq!(measures.inp(50.0, NavigationType::Navigate), Some(64.0));
        // Only the ten longest are kept: 96, 64 and 59 down to 52.
        assert_eq!(measures.inp(10_000.0, NavigationType::Navigate), Some(52.0));
        let empty = Measures::default();
        assert_eq!(empty.inp(3.0, NavigationType::BackForwardCache), Some(8.0));
        assert_eq!(empty.inp(3.0, NavigationType::Navigate), None);
    }

    #[test]
    fn the_beacon_reads_as_the_server_reads_it() {
        let samples = [
            (Metric::Lcp, Some(812.4000000953674)),
            (Metric::Inp, None),
            (Metric::Cls, Some(0.0)),
            (Metric::Fcp, Some(f64::NAN)),
            (Metric::Ttfb, Some(f64::INFINITY)),
        ];
        let page = hex_id(&[0xab; 16]);
        let body = beacon_body(&page, "/p/:id", NavigationType::BackForwardCache, samples);
        assert_eq!(
            body,
            r#"{"page":"abababababababababababababababab","route":"/p/:id","nav":"back-forward-cache","metrics":[{"name":"LCP","value":812.4},{"name":"CLS","value":0}]}"#
        );
        assert!(crate::vitals::is_page_view_id(&page));
        assert!(body.len() <= crate::vitals::MAX_BEACON_BYTES);
        let beacon: crate::vitals::Beacon =
            serde_json::from_str(&body).expect("the server's beacon");
        assert_eq!(beacon.metrics.len(), 2);
    }

    #[test]
    fn values_are_written_to_four_decimals_without_float_formatting() {
        for (value, text) in [
            (0.0, "0"),
            (0.00123, "0.0012"),
            (0.05, "0.05"),
            (1234.5678, "1234.5678"),
            (99.99996, "100"),
            (-2.5, "-2.5"),
            (3e15, "3000000000000000"),
        ] {
            let mut out = String::new();
            write_decimal(&mut out, value);
            assert_eq!(out, text, "{value}");
            let parsed: f64 = out.parse().expect("a number");
            assert!((parsed - value).abs() <= 0.00005 * value.abs().max(1.0));
        }
    }
}
