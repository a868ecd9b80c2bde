//! Alert rules: a threshold on a signal over a window, moving through pending → firing →
//! resolved, each move recorded, shown live and the firing and resolving sent to a webhook.

use std::time::Duration;

use flashbulb_types::{
    ops::{AlertState, AlertView},
    vitals::{Metric, ROUTES},
};
use serde::{Deserialize, Serialize};

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The 75th percentile of a Web Vitals `metric` (ms, CLS unitless) on `route`, or on all
    /// routes together.
    VitalsP75,
    /// The share of requests answered with a 5xx (0 to 1).
    ErrorRatio,
    /// The 99th percentile of request latency, in ms.
    LatencyP99Ms,
    /// Seconds the oldest due job has waited.
    QueueAgeSecs,
    /// Jobs waiting or running.
    QueueDepth,
    /// Jobs that failed for good.
    QueueFailed,
    /// The server's resident memory, in MiB.
    RssMib,
    /// The share of cache lookups answered without a load (0 to 1), over the window; no value
    /// with fewer than 100 lookups in it.
    CacheHitRatio,
}

/// One rule, as written in the configuration file:
///
/// ```toml
/// [[alerts]]
/// name = "Timeline LCP"
/// signal = "vitals_p75"
/// metric = "LCP"
/// route = "/"
/// above = 2500
/// for_secs = 300
/// window_secs = 300
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    pub signal: Signal,
    /// For `vitals_p75`: which metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// For `vitals_p75`: one route template; all routes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The condition holds while the signal is above this…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// …or below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// How long the condition must hold before the rule fires (pending until then).
    #[serde(default)]
    pub for_secs: u64,
    /// The span rates and percentiles are taken over.
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
}

fn default_window_secs() -> u64 {
    300
}

impl AlertRule {
    /// A rule that fires as soon as `signal` is above `threshold` (over 5 minutes where the
    /// signal is a rate or a percentile).
    pub fn above(name: &str, signal: Signal, threshold: f64) -> Self {
        AlertRule {
            name: name.into(),
            signal,
            metric: None,
            route: None,
            above: Some(threshold),
            below: None,
            for_secs: 0,
            window_secs: default_window_secs(),
        }
    }

    /// The rules a new installation watches: SPEC's examples.
    pub fn defaults() -> Vec<AlertRule> {
        let rule = |name: &str, signal, above, for_secs| AlertRule {
            for_secs,
            ..AlertRule::above(name, signal, above)
        };
        vec![
            AlertRule {
                metric: Some(Metric::Lcp),
                ..rule("Slow largest paint", Signal::VitalsP75, 2500.0, 300)
            },
            AlertRule {
                metric: Some(Metric::Inp),
                ..rule("Slow interactions", Signal::VitalsP75, 200.0, 300)
            },
            rule("Server errors", Signal::ErrorRatio, 0.01, 300),
            rule("Jobs waiting", Signal::QueueAgeSecs, 60.0, 0),
            AlertRule {
                above: None,
                below: Some(0.8),
                ..rule("Cache misses", Signal::CacheHitRatio, 0.0, 300)
            },
        ]
    }

    /// Why the rule cannot work, if it cannot.
    pub fn problem(&self) -> Option<String> {
        let name = &self.name;
        if name.trim().is_empty() || name.len() > 100 {
            return Some("an alert rule needs a name of 1 to 100 characters".into());
        }
        if self.above.is_some() == self.below.is_some() {
            return Some(format!(
                "alert rule {name:?}: set exactly one of above and below"
            ));
        }
        if self
            .above
            .or(self.below)
            .is_some_and(|threshold| !threshold.is_finite())
        {
            return Some(format!(
                "alert rule {name:?}: the threshold must be a number"
            ));
        }
        if self.window_secs == 0 || self.window_secs > 24 * 3600 {
            return Some(format!(
                "alert rule {name:?}: window_secs must be 1 to 86400"
            ));
        }
        match (self.signal, self.metric, &self.route) {
            (Signal::VitalsP75, None, _) => {
                Some(format!("alert rule {name:?}: vitals_p75 needs a metric"))
            }
            (Signal::VitalsP75, Some(_), Some(route)) if !ROUTES.contains(&route.as_str()) => {
                Some(format!(
                    "alert rule {name:?}: unknown route {route:?}; one of {}",
                    ROUTES.join(", ")
                ))
            }
            (Signal::VitalsP75, ..) => None,
            (_, None, None) => None,
            _ => Some(format!(
                "alert rule {name:?}: metric and route apply to vitals_p75 only"
            )),
        }
    }

    /// The rule in words: "p75 LCP on / above 2.50 s for 5 min".
    pub fn describe(&self) -> String {
        let signal = match self.signal {
            Signal::VitalsP75 => format!(
                "p75 {} on {}",
                self.metric.map_or("?", Metric::name),
                self.route.as_deref().unwrap_or("every page")
            ),
            Signal::ErrorRatio => "5xx share of requests".into(),
            Signal::LatencyP99Ms => "p99 request latency".into(),
            Signal::QueueAgeSecs => "oldest waiting job".into(),
            Signal::QueueDepth => "jobs waiting or running".into(),
            Signal::QueueFailed => "failed jobs".into(),
            Signal::RssMib => "resident memory".into(),
            Signal::CacheHitRatio => "cache hit ratio".into(),
        };
        let (word, threshold) = match (self.above, self.below) {
            (Some(above), _) => ("above", above),
            (_, Some(below)) => ("below", below),
            _ => ("at", f64::NAN),
        };
        let mut text = format!("{signal} {word} {}", self.format(threshold));
        if self.for_secs > 0 {
            text.push_str(&format!(" for {}", duration_words(self.for_secs)));
        }
        if matches!(
            self.signal,
            Signal::VitalsP75 | Signal::ErrorRatio | Signal::LatencyP99Ms | Signal::CacheHitRatio
        ) {
            text.push_str(&format!(" (over {})", duration_words(self.window_secs)));
        }
        text
    }

    /// A value of this rule's signal for people.
    pub fn format(&self, value: f64) -> String {
        match self.signal {
            Signal::VitalsP75 => self.metric.map_or(value.to_string(), |m| m.format(value)),
            Signal::ErrorRatio => format!("{:.2} %", value * 100.0),
            Signal::LatencyP99Ms => format!("{value:.0} ms"),
            Signal::QueueAgeSecs => format!("{value:.0} s"),
            Signal::QueueDepth | Signal::QueueFailed => format!("{value:.0}"),
            Signal::RssMib => format!("{value:.0} MiB"),
            Signal::CacheHitRatio => format!("{:.0} %", value * 100.0),
        }
    }

    pub fn threshold(&self) -> Option<f64> {
        self.above.or(self.below)
    }

    /// Whether `value` breaks the threshold.
    pub fn holds(&self, value: f64) -> bool {
        match (self.above, self.below) {
            (Some(above), _) => value > above,
            (_, Some(below)) => value < below,
            _ => false,
        }
    }
}

fn duration_words(secs: u64) -> String {
    if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// A rule and where it stands.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub rule: AlertRule,
    pub state: AlertState,
    /// Unix seconds of the last change of state.
    pub since: Option<i64>,
    pub value: Option<f64>,
}

/// A change of state worth telling: the rule, its new state and the value that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub rule: AlertRule,
    pub state: AlertState,
    pub value: Option<f64>,
    pub at: i64,
}

impl Tracked {
    pub fn new(rule: AlertRule) -> Self {
        Self {
            rule,
            state: AlertState::Inactive,
            since: None,
            value: None,
        }
    }

    /// Moves the rule on given the signal's `value` at `now` (Unix seconds); a missing value
    /// (no page views, no requests) does not hold. Returns the transition, if any.
    pub fn observe(&mut self, value: Option<f64>, now: i64) -> Option<Transition> {
        self.value = value;
        let holds = value.is_some_and(|value| self.rule.holds(value));
        let next = match (self.state, holds) {
            (AlertState::Inactive | AlertState::Resolved, true) if self.rule.for_secs == 0 => {
                AlertState::Firing
            }
            (AlertState::Inactive | AlertState::Resolved, true) => AlertState::Pending,
            (AlertState::Pending, true)
                if now - self.since.unwrap_or(now) >= self.rule.for_secs as i64 =>
            {
                AlertState::Firing
            }
            (AlertState::Pending, false) => AlertState::Inactive,
            (AlertState::Firing, false) => AlertState::Resolved,
            (state, _) => state,
        };
        if next == self.state {
            return None;
        }
        self.state = if next == AlertState::Resolved {
            AlertState::Inactive
        } else {
            next
        };
        self.since = Some(now);
        Some(Transition {
            rule: self.rule.clone(),
            state: next,
            value,
            at: now,
        })
    }

    pub fn view(&self) -> AlertView {
        AlertView {
            name: self.rule.name.clone(),
            rule: self.rule.describe(),
            state: self.state,
            value: self.value,
            shown: self.value.map(|value| self.rule.format(value)),
            since: self.since,
        }
    }
}

/// What the webhook receives, as JSON.
#[derive(Debug, Serialize)]
pub struct Notification<'a> {
    pub rule: &'a str,
    pub state: &'static str,
    pub condition: String,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// Unix seconds.
    pub at: i64,
    /// Which Flashbulb sent it (its listen address).
    pub instance: String,
}

/// Tries a notification up to this many times.
pub const WEBHOOK_ATTEMPTS: u32 = 3;
/// Each attempt gets this long.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(for_secs: u64) -> AlertRule {
        AlertRule {
            for_secs,
            ..AlertRule::above("queue", Signal::QueueDepth, 10.0)
        }
    }

    #[test]
    fn a_rule_goes_pending_then_fires_then_resolves() {
        let mut tracked = Tracked::new(rule(30));
        assert_eq!(tracked.observe(Some(5.0), 0), None);
        let pending = tracked.observe(Some(11.0), 10).expect("pending");
        assert_eq!(pending.state, AlertState::Pending);
        assert_eq!(tracked.observe(Some(12.0), 20), None);
        let firing = tracked.observe(Some(12.0), 40).expect("firing");
        assert_eq!(firing.state, AlertState::Firing);
        assert_eq!(tracked.observe(Some(50.0), 50), None);
        let resolved = tracked.observe(Some(3.0), 60).expect("resolved");
        assert_eq!(resolved.state, AlertState::Resolved);
        assert_eq!(tracked.state, AlertState::Inactive);
        // A blip shorter than `for` never fires.
        tracked.observe(Some(11.0), 70);
        let calm = tracked.observe(Some(1.0), 80).expect("back to ok");
        assert_eq!(calm.state, AlertState::Inactive);
        // Without data the condition does not hold.
        let mut instant = Tracked::new(rule(0));
        assert_eq!(instant.observe(None, 0), None);
        assert_eq!(
            instant.observe(Some(11.0), 1).map(|t| t.state),
            Some(AlertState::Firing)
        );
    }

    #[test]
    fn rules_explain_themselves_and_refuse_nonsense() {
        for rule in AlertRule::defaults() {
            assert_eq!(rule.problem(), None, "{rule:?}");
        }
        let lcp = &AlertRule::defaults()[0];
        assert_eq!(
            lcp.describe(),
            "p75 LCP on every page above 2.50 s for 5 min (over 5 min)"
        );
        let cache = AlertRule::defaults()
            .into_iter()
            .find(|rule| rule.signal == Signal::CacheHitRatio)
            .expect("a default cache rule");
        assert_eq!(
            cache.describe(),
            "cache hit ratio below 80 % for 5 min (over 5 min)"
        );
        let mut both = rule(0);
        both.below = Some(1.0);
        assert!(both.problem().is_some());
        let mut vitals = rule(0);
        vitals.signal = Signal::VitalsP75;
        assert!(vitals.problem().is_some());
        vitals.metric = Some(Metric::Lcp);
        vitals.route = Some("/nowhere".into());
        assert!(vitals.problem().is_some());
        let mut stray = rule(0);
        stray.metric = Some(Metric::Cls);
        assert!(stray.problem().is_some());
    }
}
