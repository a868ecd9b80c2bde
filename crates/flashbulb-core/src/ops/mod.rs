//! The operations console's engine: a sampler that reads the metrics every `ops_sample_ms`,
//! keeps the last half hour of traffic, evaluates the alert rules, sends their moves to the
//! webhook and publishes a fresh [`OpsSnapshot`] to the hub's `ops` topic while a console
//! watches. Also the diagnostics and the log of slow statements.

pub mod diagnostics;
pub mod slow_queries;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use flashbulb_store::Pool;
use flashbulb_types::{
    library::Operations,
    live::{Change, Topic},
    ops::{
        AlertEvent, AlertState, CacheView, Diagnostics, HubView, OpsSnapshot, QueueView, Resources,
        TrafficPoint, VitalsRow,
    },
    ApiError,
};
use http_body_util::Full;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

use crate::{
    alerts::{self, Notification, Signal, Tracked, Transition, WEBHOOK_ATTEMPTS, WEBHOOK_TIMEOUT},
    cache::Cache,
    live::{Channel, Hub},
    metrics::{Metrics, ProcessStats, RequestTotals},
    settings::Settings,
    sync::lock,
    vitals::Vitals,
    CoreResult,
};

/// Traffic points kept: half an hour at the default 5 s.
const HISTORY_POINTS: usize = 360;
/// Minutes the console's vitals cover.
pub const VITALS_MINUTES: i64 = 60;
/// Failures and alert events the console lists.
const LISTED: i64 = 10;

/// One reading of the cumulative figures.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    requests: RequestTotals,
    cpu_seconds: f64,
    frames: u64,
    /// Cache lookups so far, and those answered without a load.
    cache_lookups: u64,
    cache_hits: u64,
}

/// The console: its state (history, the rules' states) and the services it reads. Cheap to
/// clone, one per `Core`.
#[derive(Clone)]
pub struct Ops {
    inner: Arc<Mutex<OpsState>>,
    db: Pool,
    hub: Hub,
    cache: Cache,
    metrics: Metrics,
    vitals: Vitals,
    settings: Arc<Settings>,
    /// When this server started.
    started: Instant,
}

/// The services the console reads.
pub struct Sources {
    pub db: Pool,
    pub hub: Hub,
    pub cache: Cache,
    pub metrics: Metrics,
    pub vitals: Vitals,
    pub settings: Arc<Settings>,
}

#[derive(Default)]
struct OpsState {
    readings: VecDeque<Reading>,
    traffic: VecDeque<TrafficPoint>,
    resources: Resources,
    hub: HubView,
    vitals: Vec<VitalsRow>,
    rules: Vec<Tracked>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").finish_non_exhaustive()
    }
}

impl Ops {
    /// The console over `sources`, with the configured alert rules; nothing runs until
    /// [`start`].
    pub fn new(sources: Sources) -> Self {
        let rules = sources.settings.alerts.iter().cloned();
        Self {
            inner: Arc::new(Mutex::new(OpsState {
                rules: rules.map(Tracked::new).collect(),
                ..OpsState::default()
            })),
            db: sources.db,
            hub: sources.hub,
            cache: sources.cache,
            metrics: sources.metrics,
            vitals: sources.vitals,
            settings: sources.settings,
            started: Instant::now(),
        }
    }

    /// How long this server has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Starts the sampler on the current runtime; it runs until its handle is aborted.
pub fn start(state: &Ops) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let every = Duration::from_millis(state.settings.ops_sample_ms);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Pruned at the first tick too: a server that restarts more often than hourly still
        // deletes what is past its time.
        let mut last_prune: Option<Instant> = None;
        loop {
            ticks.tick().await;
            if let Err(error) = sample(&state).await {
                tracing::warn!(%error, "could not sample the server's figures");
            }
            if last_prune.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(Instant::now());
                prune(&state).await;
            }
        }
    })
}

async fn prune(state: &Ops) {
    let grace_secs = i64::from(state.settings.trash_grace_days) * 24 * 3600;
    let before = flashbulb_store::now() - grace_secs;
    match crate::photos::purge_emptied(&state.db, &state.settings.files, before).await {
        Ok(purged) => {
            for (owner, photos) in purged {
                tracing::info!(
                    owner,
                    photos,
                    "deleted photos emptied from the trash for good"
                );
                state.cache.invalidate_owner(owner).await;
            }
        }
        Err(error) => tracing::warn!(%error, "could not delete photos emptied from the trash"),
    }
    state.vitals.forget_idle_senders();
    let keep_minutes = state.settings.vitals_retention_days as i64 * 24 * 60;
    let now = flashbulb_store::now();
    if let Err(error) = crate::vitals::prune(&state.db, now / 60 - keep_minutes).await {
        tracing::warn!(%error, "could not prune old vitals");
    }
    let keep_alerts = now - state.settings.vitals_retention_days as i64 * 24 * 3600;
    if let Err(error) = flashbulb_store::ops::prune_alert_events(&state.db, keep_alerts).await {
        tracing::warn!(%error, "could not prune old alert events");
    }
}

/// Reads the queue into the metrics (it needs the database; everything else is in memory).
pub async fn refresh_queue_figures(state: &Ops) -> Option<QueueView> {
    let (depth, oldest) = state.metrics.read_queue().await?;
    Some(QueueView {
        queued: depth.queued,
        running: depth.running,
        failed: depth.failed,
        oldest_waiting_secs: oldest,
        failures: Vec::new(),
    })
}

/// One tick: read, evaluate, publish.
pub async fn sample(state: &Ops) -> CoreResult<()> {
    let now = Instant::now();
    let process = ProcessStats::of_self();
    let hub_stats = state.hub.stats();
    let cache = state.cache.stats();
    let reading = Reading {
        at: now,
        requests: state.metrics.request_totals(),
        cpu_seconds: process.map_or(0.0, |stats| stats.cpu_seconds),
        frames: hub_stats.frames,
        cache_lookups: cache.l1_hits + cache.l2_hits + cache.misses,
        cache_hits: cache.l1_hits + cache.l2_hits,
    };
    let queue = refresh_queue_figures(state).await;
    let vitals = if state.vitals.take_changed() || minute_turned(state) {
        Some(crate::vitals::summary(&state.db, flashbulb_store::now() / 60, VITALS_MINUTES).await?)
    } else {
        None
    };
    // The alert signals that need the database are read before the lock is taken.
    let rules: Vec<alerts::AlertRule> = {
        let ops = lock(&state.inner);
        ops.rules
            .iter()
            .map(|tracked| tracked.rule.clone())
            .collect()
    };
    let mut vitals_values = Vec::with_capacity(rules.len());
    for rule in &rules {
        vitals_values.push(match (rule.signal, rule.metric) {
            (Signal::VitalsP75, Some(metric)) => crate::vitals::quantile_over(
                &state.db,
                metric,
                rule.route.as_deref(),
                flashbulb_store::now() / 60,
                (rule.window_secs as i64 + 59) / 60,
                0.75,
            )
            .await
            .ok()
            .flatten(),
            _ => None,
        });
    }

    let transitions = {
        let mut ops = lock(&state.inner);
        if let Some(previous) = ops.readings.back().copied() {
            let seconds = now.duration_since(previous.at).as_secs_f64().max(1e-3);
            let window = reading.requests.since(&previous.requests);
            ops.traffic.push_back(TrafficPoint {
                requests_per_sec: window.requests as f64 / seconds,
                p50_ms: window.latency_quantile_ms(0.5),
                p99_ms: window.latency_quantile_ms(0.99),
                error_ratio: window.error_ratio(),
                cache_hit_ratio: hit_ratio(&previous, &reading, 1),
            });
            ops.resources.cpu_percent =
                (reading.cpu_seconds - previous.cpu_seconds).max(0.0) / seconds * 100.0;
            ops.hub.frames_per_sec =
                reading.frames.saturating_sub(previous.frames) as f64 / seconds;
        }
        ops.readings.push_back(reading);
        while ops.readings.len() > HISTORY_POINTS + 1 {
            ops.readings.pop_front();
        }
        while ops.traffic.len() > HISTORY_POINTS {
            ops.traffic.pop_front();
        }
        ops.resources.rss_bytes = process.map_or(0, |stats| stats.rss_bytes);
        ops.resources.pool_connections = state.db.size();
        ops.resources.pool_idle = state.db.num_idle() as u32;
        ops.resources.pool_max = state.settings.database_max_connections;
        ops.hub.connections = hub_stats.connections;
        ops.hub.resyncs = hub_stats.mailbox_overflows + hub_stats.channel_overflows;
        ops.hub.peers_dropped = hub_stats.peers_dropped;
        if let Some(vitals) = vitals {
            ops.vitals = vitals;
        }
        let unix_now = flashbulb_store::now();
        let mut transitions = Vec::new();
        for index in 0..ops.rules.len() {
            let rule = ops.rules[index].rule.clone();
            let value = match rule.signal {
                Signal::VitalsP75 => vitals_values.get(index).copied().flatten(),
                Signal::ErrorRatio | Signal::LatencyP99Ms => {
                    let window = ops.window(&reading, Duration::from_secs(rule.window_secs));
                    window.and_then(|window| match rule.signal {
                        Signal::ErrorRatio => (window.requests > 0).then(|| window.error_ratio()),
                        _ => window.latency_quantile_ms(0.99),
                    })
                }
                Signal::QueueAgeSecs => queue
                    .as_ref()
                    .map(|queue| queue.oldest_waiting_secs.unwrap_or(0) as f64),
                Signal::QueueDepth => queue
                    .as_ref()
                    .map(|queue| (queue.queued + queue.running) as f64),
                Signal::QueueFailed => queue.as_ref().map(|queue| queue.failed as f64),
                Signal::RssMib => process.map(|stats| stats.rss_bytes as f64 / 1_048_576.0),
                Signal::CacheHitRatio => ops
                    .window_start(&reading, Duration::from_secs(rule.window_secs))
                    .and_then(|start| hit_ratio(start, &reading, MIN_CACHE_LOOKUPS)),
            };
            if let Some(transition) = ops.rules[index].observe(value, unix_now) {
                transitions.push(transition);
            }
        }
        let firing = ops
            .rules
            .iter()
            .filter(|tracked| tracked.state == AlertState::Firing)
            .count();
        state.metrics.set_alerts_firing(firing);
        transitions
    };
    for transition in transitions {
        record_transition(state, transition).await;
    }
    if state.hub.is_watched(console_channel()) {
        let snapshot = snapshot(state).await?;
        state
            .hub
            .change(console_channel(), &Change::Ops(Box::new(snapshot)));
    }
    Ok(())
}

/// Vitals are re-read when a new minute begins, so the trend moves on without beacons.
fn minute_turned(state: &Ops) -> bool {
    let ops = lock(&state.inner);
    let sample = Duration::from_millis(state.settings.ops_sample_ms);
    let seconds_into_minute = flashbulb_store::now() % 60;
    ops.vitals.is_empty() || (seconds_into_minute as u128) < sample.as_millis().div_ceil(1000)
}

impl OpsState {
    /// The requests between the reading closest to `span` ago and `latest`; `None` until two
    /// readings exist.
    fn window(&self, latest: &Reading, span: Duration) -> Option<RequestTotals> {
        let start = self.window_start(latest, span)?;
        Some(latest.requests.since(&start.requests))
    }

    /// The reading closest to `span` before `latest`; `None` until two readings exist.
    fn window_start(&self, latest: &Reading, span: Duration) -> Option<&Reading> {
        self.readings
            .iter()
            .find(|reading| latest.at.duration_since(reading.at) <= span)
            .filter(|reading| reading.at < latest.at)
    }
}

/// Fewer lookups than this in an alert's window say nothing about the cache (a quiet night,
/// a restart): the rule then has no value rather than a misleading one.
const MIN_CACHE_LOOKUPS: u64 = 100;

/// The share of cache lookups between two readings answered without a load; `None` with
/// fewer than `at_least` lookups.
fn hit_ratio(earlier: &Reading, later: &Reading, at_least: u64) -> Option<f64> {
    let lookups = later.cache_lookups.saturating_sub(earlier.cache_lookups);
    let hits = later.cache_hits.saturating_sub(earlier.cache_hits);
    (lookups >= at_least.max(1)).then(|| hits as f64 / lookups as f64)
}

/// The console's channel, shared by every administrator: owner 0 is nobody's library.
pub fn console_channel() -> Channel {
    Channel {
        owner: 0,
        topic: Topic::Ops,
    }
}

/// Stores a move of a rule and, for firing and resolved, tells the webhook.
async fn record_transition(state: &Ops, transition: Transition) {
    tracing::info!(
        rule = %transition.rule.name,
        state = transition.state.label(),
        value = ?transition.value,
        "alert"
    );
    if let Err(error) = flashbulb_store::ops::record_alert_event(
        &state.db,
        &transition.rule.name,
        transition.state.label(),
        transition.value,
        transition.at,
    )
    .await
    {
        tracing::warn!(%error, "could not record an alert event");
    }
    let Some(url) = state.settings.alert_webhook.clone() else {
        return;
    };
    if !matches!(transition.state, AlertState::Firing | AlertState::Resolved) {
        return;
    }
    let notification = Notification {
        rule: &transition.rule.name,
        state: transition.state.label(),
        condition: transition.rule.describe(),
        value: transition.value,
        threshold: transition.rule.threshold(),
        at: transition.at,
        instance: state.settings.instance.clone(),
    };
    let body = match serde_json::to_vec(&notification) {
        Ok(body) => Bytes::from(body),
        Err(_) => return,
    };
    let metrics = state.metrics.clone();
    // Delivery happens beside the sampler: a slow receiver must not stall the console.
    tokio::spawn(async move {
        let outcome = deliver(&url, body).await;
        match outcome {
            Ok(()) => metrics.record_webhook("delivered"),
            Err(error) => {
                metrics.record_webhook("failed");
                tracing::warn!(%error, %url, "alert webhook failed");
            }
        }
    });
}

/// POSTs `body` to `url`, retrying with a pause after a failure.
async fn deliver(url: &str, body: Bytes) -> anyhow::Result<()> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut last_error = anyhow::anyhow!("no attempt");
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        let request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("flashbulb/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body.clone()))?;
        match tokio::time::timeout(WEBHOOK_TIMEOUT, client.request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => return Ok(()),
            Ok(Ok(response)) => last_error = anyhow::anyhow!("answered {}", response.status()),
            Ok(Err(error)) => last_error = error.into(),
            Err(_) => last_error = anyhow::anyhow!("no answer within {WEBHOOK_TIMEOUT:?}"),
        }
        if attempt < WEBHOOK_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    }
    Err(last_error)
}

/// Everything the console shows, as of now.
pub async fn snapshot(state: &Ops) -> CoreResult<OpsSnapshot> {
    let mut queue = refresh_queue_figures(state).await.unwrap_or_default();
    queue.failures = flashbulb_store::ops::job_failures(&state.db, LISTED).await?;
    let history = flashbulb_store::ops::alert_events(&state.db, LISTED).await?;
    let ops = lock(&state.inner);
    let alert_history = history
        .into_iter()
        .map(|(rule, state, value, at)| {
            let format = |value: f64| {
                ops.rules
                    .iter()
                    .find(|tracked| tracked.rule.name == rule)
                    .map_or_else(|| value.to_string(), |tracked| tracked.rule.format(value))
            };
            AlertEvent {
                shown: value.map(format),
                state: match state.as_str() {
                    "pending" => AlertState::Pending,
                    "firing" => AlertState::Firing,
                    "resolved" => AlertState::Resolved,
                    _ => AlertState::Inactive,
                },
                rule,
                value,
                at,
            }
        })
        .collect();
    Ok(OpsSnapshot {
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        sample_secs: state.settings.ops_sample_ms.div_ceil(1000),
        traffic: ops.traffic.iter().copied().collect(),
        resources: ops.resources,
        queue,
        hub: ops.hub,
        cache: {
            let cache = state.cache.stats();
            CacheView {
                entries: cache.entries,
                bytes: cache.bytes,
                evictions: cache.evictions,
                redis_up: cache
                    .redis_configured
                    .then_some(cache.redis_up && cache.redis_subscribed),
            }
        },
        vitals_minutes: VITALS_MINUTES as u32,
        vitals: ops.vitals.clone(),
        alerts: ops.rules.iter().map(Tracked::view).collect(),
        alert_history,
    })
}

/// The console's source of figures for the pages.
pub struct ServerOperations {
    pub state: Ops,
}

#[async_trait::async_trait]
impl Operations for ServerOperations {
    async fn snapshot(&self) -> Result<OpsSnapshot, ApiError> {
        Ok(snapshot(&self.state).await?)
    }

    async fn diagnostics(&self) -> Result<Diagnostics, ApiError> {
        Ok(diagnostics::collect(&self.state).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(cache_lookups: u64, cache_hits: u64) -> Reading {
        Reading {
            at: Instant::now(),
            requests: RequestTotals::default(),
            cpu_seconds: 0.0,
            frames: 0,
            cache_lookups,
            cache_hits,
        }
    }

    #[test]
    fn the_hit_ratio_needs_enough_lookups() {
        let start = reading(1_000, 900);
        assert_eq!(hit_ratio(&start, &reading(1_200, 1_050), 100), Some(0.75));
        assert_eq!(hit_ratio(&start, &reading(1_050, 1_000), 100), None);
        assert_eq!(hit_ratio(&start, &reading(1_001, 901), 1), Some(1.0));
        assert_eq!(hit_ratio(&start, &start, 0), None, "no lookups, no ratio");
    }
}
