//! Server metrics: requests by route and status with their latencies, the database pool, the
//! job queue, the live hub, Web Vitals beacons, alerts and the process itself. `GET /metrics`
//! exports them in Prometheus text format; the operations console reads the same figures.

mod process;

use std::{
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
    },
    registry::Registry,
};

pub use process::ProcessStats;

use flashbulb_store::Pool;

use crate::{cache::Cache, live::Hub};

/// Upper bounds, in seconds, of the request latency buckets: 1 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Every request's latency in one set of buckets, whatever its route: the console and the
/// alert rules take windowed percentiles from differences of these counts (Prometheus'
/// histograms do not hand their buckets back).
#[derive(Debug, Default)]
struct Totals {
    requests: AtomicU64,
    server_errors: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS.len()],
}

/// The cumulative request figures at one moment; two of them make a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestTotals {
    pub requests: u64,
    pub server_errors: u64,
    pub latency: [u64; LATENCY_BUCKETS.len()],
}

impl RequestTotals {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &RequestTotals) -> RequestTotals {
        let mut latency = [0; LATENCY_BUCKETS.len()];
        for (bucket, count) in latency.iter_mut().enumerate() {
            *count = self.latency[bucket].saturating_sub(earlier.latency[bucket]);
        }
        RequestTotals {
            requests: self.requests.saturating_sub(earlier.requests),
            server_errors: self.server_errors.saturating_sub(earlier.server_errors),
            latency,
        }
    }

    /// The share of requests answered with a 5xx, 0 when there were none.
    pub fn error_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.server_errors as f64 / self.requests as f64
        }
    }

    /// The `quantile` (0..1) latency in milliseconds, as the upper bound of the bucket it
    /// falls in; `None` without requests.
    pub fn latency_quantile_ms(&self, quantile: f64) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                // The open-ended last bucket reports its lower bound: "more than 10 s".
                let bound = LATENCY_BUCKETS[bucket];
                let bound = if bound.is_finite() {
                    bound
                } else {
                    LATENCY_BUCKETS[bucket - 1]
                };
                return Some(bound * 1000.0);
            }
        }
        None
    }
}

/// Figures set from outside at each refresh (they need the database to read).
#[derive(Debug, Default)]
struct QueueFigures {
    queued: AtomicI64,
    running: AtomicI64,
    failed: AtomicI64,
    oldest_waiting_secs: AtomicI64,
}

/// The process' metrics; cheap to clone, one per [`crate::services::Core`].
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    totals: Totals,
    queue: Arc<QueueFigures>,
    beacons: Family<OutcomeLabels, Counter>,
    alerts_firing: Gauge,
    webhooks: Family<OutcomeLabels, Counter>,
    /// Where the queue's figures are read from.
    pool: Pool,
}

/// Figures read at scrape time from the things that hold them.
struct LiveFigures {
    pool: Pool,
    pool_limit: u32,
    hub: Hub,
    cache: Cache,
    queue: Arc<QueueFigures>,
    started: Instant,
    database_gate: crate::gate::Gate,
}

impl Metrics {
    pub fn new(
        pool: Pool,
        pool_limit: u32,
        hub: Hub,
        cache: Cache,
        database_gate: crate::gate::Gate,
    ) -> Self {
        let mut registry = Registry::with_prefix("flashbulb");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS[..LATENCY_BUCKETS.len() - 1].iter().copied()))
                as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to its response head, by method and route",
            latency.clone(),
        );
        let beacons = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "vitals_beacons",
            "Web Vitals beacons received, by outcome",
            beacons.clone(),
        );
        let alerts_firing = Gauge::default();
        registry.register(
            "alerts_firing",
            "Alert rules firing now",
            alerts_firing.clone(),
        );
        let webhooks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "alert_webhooks",
            "Alert notifications sent to the webhook, by outcome",
            webhooks.clone(),
        );
        let queue = Arc::new(QueueFigures::default());
        let database = pool.clone();
        registry.register_collector(Box::new(LiveFigures {
            pool,
            pool_limit,
            hub,
            cache,
            queue: queue.clone(),
            started: Instant::now(),
            database_gate,
        }));
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                totals: Totals::default(),
                queue,
                beacons,
                alerts_firing,
                webhooks,
                pool: database,
            }),
        }
    }

    /// Counts one answered request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let inner = &self.inner;
        inner
            .requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        inner
            .latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
        let totals = &inner.totals;
        totals.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            totals.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len() - 1);
        totals.latency[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_totals(&self) -> RequestTotals {
        let totals = &self.inner.totals;
        let mut latency = [0; LATENCY_BUCKETS.len()];
        for (bucket, count) in latency.iter_mut().enumerate() {
            *count = totals.latency[bucket].load(Ordering::Relaxed);
        }
        RequestTotals {
            requests: totals.requests.load(Ordering::Relaxed),
            server_errors: totals.server_errors.load(Ordering::Relaxed),
            latency,
        }
    }

    /// Reads the queue (the one figure that needs the database) into the metrics; returns
    /// what it read, `None` when the database did not answer.
    pub async fn read_queue(&self) -> Option<(flashbulb_store::jobs::QueueDepth, Option<u64>)> {
        let depth = flashbulb_store::jobs::depth(&self.inner.pool).await.ok()?;
        let oldest = flashbulb_store::jobs::oldest_waiting_age(&self.inner.pool)
            .await
            .ok()
            .flatten()
            .map(|age| age.as_secs());
        self.set_queue(depth, oldest);
        Some((depth, oldest))
    }

    /// The queue as last read from the database.
    fn set_queue(
        &self,
        depth: flashbulb_store::jobs::QueueDepth,
        oldest_waiting_secs: Option<u64>,
    ) {
        let queue = &self.inner.queue;
        queue.queued.store(depth.queued, Ordering::Relaxed);
        queue.running.store(depth.running, Ordering::Relaxed);
        queue.failed.store(depth.failed, Ordering::Relaxed);
        queue.oldest_waiting_secs.store(
            oldest_waiting_secs.map_or(0, |secs| secs as i64),
            Ordering::Relaxed,
        );
    }

    /// Counts a beacon: `accepted`, or the reason it was refused.
    pub fn record_beacon(&self, outcome: &'static str) {
        self.inner
            .beacons
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn set_alerts_firing(&self, firing: usize) {
        self.inner.alerts_firing.set(firing as i64);
    }

    /// Counts a webhook delivery: `delivered` or `failed`.
    pub fn record_webhook(&self, outcome: &'static str) {
        self.inner
            .webhooks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

impl std::fmt::Debug for LiveFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFigures").finish_non_exhaustive()
    }
}

impl Collector for LiveFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let e = &mut encoder;
        let connections = self.pool.size();
        let idle = self.pool.num_idle() as u32;
        gauge(
            e,
            "db_pool_connections",
            "Open database connections",
            i64::from(connections),
        )?;
        gauge(
            e,
            "db_pool_idle",
            "Idle database connections",
            i64::from(idle),
        )?;
        gauge(
            e,
            "db_pool_max",
            "The pool's upper bound of connections",
            i64::from(self.pool_limit),
        )?;
        let gate = &self.database_gate;
        gauge(
            e,
            "db_available",
            "1 while requests reach the database, 0 while they are refused at once",
            i64::from(gate.is_open()),
        )?;
        counter(
            e,
            "db_outages",
            "Times the database was found away and requests were refused",
            gate.outages(),
        )?;
        counter(
            e,
            "db_refused_requests",
            "Requests answered 503 at once while the database was away",
            gate.refused(),
        )?;

        let queue = &self.queue;
        for (name, help, value) in [
            ("jobs_queued", "Jobs waiting in the queue", &queue.queued),
            ("jobs_running", "Jobs being worked on", &queue.running),
            ("jobs_failed", "Jobs that failed for good", &queue.failed),
        ] {
            gauge(e, name, help, value.load(Ordering::Relaxed))?;
        }
        gauge(
            e,
            "jobs_oldest_waiting_seconds",
            "How long the oldest due job has waited",
            queue.oldest_waiting_secs.load(Ordering::Relaxed),
        )?;

        let hub = self.hub.stats();
        gauge(
            e,
            "hub_connections",
            "Open live-update sockets",
            hub.connections as i64,
        )?;
        gauge(
            e,
            "hub_channels",
            "Live-update channels with subscribers or pending changes",
            hub.channels as i64,
        )?;
        counter(
            e,
            "hub_published",
            "Changes published to the hub",
            hub.published,
        )?;
        counter(e, "hub_frames", "Frames the hub built", hub.frames)?;
        counter(
            e,
            "hub_deliveries",
            "Frames handed to sockets",
            hub.deliveries,
        )?;
        counter(
            e,
            "hub_resyncs",
            "Slow sockets or oversized frames turned into a resync",
            hub.mailbox_overflows + hub.channel_overflows,
        )?;
        counter(
            e,
            "hub_peers_dropped",
            "Sockets dropped for missing heartbeats",
            hub.peers_dropped,
        )?;

        let cache = self.cache.stats();
        for (name, help, value) in [
            (
                "cache_l1_hits",
                "Cache lookups answered by this process",
                cache.l1_hits,
            ),
            (
                "cache_l2_hits",
                "Cache lookups answered by Redis",
                cache.l2_hits,
            ),
            (
                "cache_misses",
                "Cache lookups that loaded from the database",
                cache.misses,
            ),
            (
                "cache_evictions",
                "Entries evicted from this process for room",
                cache.evictions,
            ),
            (
                "cache_invalidations",
                "Owners and keys invalidated",
                cache.invalidations,
            ),
            (
                "redis_failures",
                "Redis commands that failed and fell back",
                cache.redis_failures,
            ),
        ] {
            counter(e, name, help, value)?;
        }
        gauge(
            e,
            "cache_entries",
            "Entries cached in this process",
            cache.entries as i64,
        )?;
        gauge(
            e,
            "cache_bytes",
            "Bytes cached in this process",
            cache.bytes as i64,
        )?;
        if cache.redis_configured {
            gauge(
                e,
                "redis_up",
                "1 while Redis answers commands and this process is subscribed",
                i64::from(cache.redis_up && cache.redis_subscribed),
            )?;
        }

        if let Some(process) = ProcessStats::of_self() {
            gauge(
                e,
                "process_resident_memory_bytes",
                "Resident memory",
                process.rss_bytes as i64,
            )?;
            let cpu = ConstCounter::new(process.cpu_seconds);
            cpu.encode(e.encode_descriptor(
                "process_cpu_seconds",
                "CPU time used, user and system",
                None,
                cpu.metric_type(),
            )?)?;
        }
        gauge(
            e,
            "process_uptime_seconds",
            "Seconds since the server started",
            self.started.elapsed().as_secs() as i64,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_give_ratios_and_percentiles() {
        let mut latency = [0; LATENCY_BUCKETS.len()];
        latency[0] = 10;
        let earlier = RequestTotals {
            requests: 10,
            server_errors: 0,
            latency,
        };
        let mut later = earlier;
        later.requests = 110;
        later.server_errors = 2;
        later.latency[2] += 98; // ≤ 5 ms
        later.latency[9] += 2; // ≤ 1 s
        let window = later.since(&earlier);
        assert_eq!(window.requests, 100);
        assert!((window.error_ratio() - 0.02).abs() < 1e-9);
        assert_eq!(window.latency_quantile_ms(0.5), Some(5.0));
        assert_eq!(window.latency_quantile_ms(0.99), Some(1000.0));
        assert_eq!(RequestTotals::default().latency_quantile_ms(0.5), None);
        let mut latency = [0; LATENCY_BUCKETS.len()];
        latency[LATENCY_BUCKETS.len() - 1] = 1;
        let slow = RequestTotals {
            requests: 1,
            server_errors: 0,
            latency,
        };
        assert_eq!(slow.latency_quantile_ms(0.99), Some(10_000.0));
    }
}
