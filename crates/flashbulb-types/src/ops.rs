//! What the server reports about itself for the operations console: traffic, resources,
//! queue, hub, Web Vitals, alerts, and the diagnostics of its build and settings.

use serde::{Deserialize, Serialize};

use crate::vitals::Metric;

/// Everything the console shows, as of `at_ms`; the hub sends a new one every sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OpsSnapshot {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    pub version: String,
    pub uptime_secs: u64,
    /// Seconds between two points of `traffic`.
    pub sample_secs: u64,
    /// Oldest first.
    pub traffic: Vec<TrafficPoint>,
    pub resources: Resources,
    pub queue: QueueView,
    pub hub: HubView,
    #[serde(default)]
    pub cache: CacheView,
    /// Minutes the vitals percentiles cover.
    pub vitals_minutes: u32,
    pub vitals: Vec<VitalsRow>,
    pub alerts: Vec<AlertView>,
    /// Newest first.
    pub alert_history: Vec<AlertEvent>,
}

/// Requests during one sample interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct TrafficPoint {
    pub requests_per_sec: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_ratio: f64,
    /// Cache lookups answered without a load (0 to 1); `None` without lookups.
    #[serde(default)]
    pub cache_hit_ratio: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Resources {
    pub rss_bytes: u64,
    /// Of one core, over the last sample.
    pub cpu_percent: f64,
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QueueView {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
    pub oldest_waiting_secs: Option<u64>,
    /// The latest failures, newest first.
    pub failures: Vec<JobFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    pub photo: i64,
    pub kind: String,
    pub error: String,
    /// Unix seconds.
    pub at: i64,
}

/// The cache of pages and segments in this process, and Redis behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct CacheView {
    pub entries: u64,
    pub bytes: u64,
    pub evictions: u64,
    /// `None` without Redis; whether it answers and this instance is subscribed.
    pub redis_up: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct HubView {
    pub connections: u64,
    pub frames_per_sec: f64,
    pub resyncs: u64,
    pub peers_dropped: u64,
}

/// One route's figures for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitalsRow {
    pub route: String,
    pub metric: Metric,
    pub p75: f64,
    pub p95: f64,
    pub page_views: u64,
    /// The p75 of each minute, oldest first; `None` for minutes without page views.
    pub trend: Vec<Option<f64>>,
}

/// Where an alert rule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition does not hold.
    Inactive,
    /// It holds, but not yet for the rule's duration.
    Pending,
    Firing,
    /// It stopped holding (an event only; the rule is then inactive).
    Resolved,
}

impl AlertState {
    pub fn label(self) -> &'static str {
        match self {
            AlertState::Inactive => "ok",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub name: String,
    /// The rule in words: "p75 LCP on / above 2.50 s for 5 min".
    pub rule: String,
    pub state: AlertState,
    /// The signal's latest value, in the rule's unit.
    pub value: Option<f64>,
    /// `value` for people: "2.86 s", "0.40 %".
    pub shown: Option<String>,
    /// Unix seconds of the last change of state.
    pub since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub rule: String,
    pub state: AlertState,
    pub value: Option<f64>,
    /// `value` for people, in the rule's unit when the rule still exists.
    pub shown: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// What the diagnostics page shows: enough to tell which build runs with which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Diagnostics {
    pub version: String,
    pub uptime_secs: u64,
    /// The configuration in force, secrets replaced by `(hidden)`; key and value in TOML.
    pub config: Vec<(String, String)>,
    pub migration_version: i64,
    pub migrations_pending: u64,
    pub database: String,
    pub resources: Resources,
    /// The slowest statements seen lately, slowest first.
    pub slow_queries: Vec<SlowQuery>,
    /// Only statements slower than this are kept.
    pub slow_query_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowQuery {
    pub statement: String,
    pub millis: f64,
    pub rows: u64,
    /// Unix seconds.
    pub at: i64,
}
