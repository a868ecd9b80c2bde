//! Web Vitals: the beacon every page sends when hidden, checked (anything malformed or
//! implausible refused) and counted into per-minute, per-route histograms kept for
//! `vitals_retention_days`; the rate limit per sender; the console's summary. The endpoint,
//! `POST /api/vitals`, is the web layer's (`web::vitals`).

pub mod histogram;

use std::{
    collections::BTreeMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use flashbulb_store::vitals;
use flashbulb_store::Pool;
use flashbulb_types::ApiError;
use flashbulb_types::{
    ops::VitalsRow,
    vitals::{is_page_view_id, Beacon, Metric, ROUTES},
};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::{CoreError, CoreResult};

/// The vitals service: its rate limiter, and whether anything arrived since the console last
/// read the summary.
#[derive(Clone)]
pub struct Vitals {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    changed: Arc<AtomicBool>,
}

impl Vitals {
    /// At most `per_minute` beacons from one address, with a burst of as many.
    pub fn new(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                per_minute,
            ))),
            changed: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Whether `sender` may send another beacon now (each one it sends counts).
    pub fn allow(&self, sender: IpAddr) -> bool {
        self.limiter.check_key(&sender).is_ok()
    }

    /// Beacons arrived: the console reads the summary again.
    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::Relaxed);
    }

    /// Whether beacons arrived since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::Relaxed)
    }

    /// Forgets addresses whose allowance has refilled, so the limiter's memory stays bounded
    /// by recent senders.
    pub fn forget_idle_senders(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

impl std::fmt::Debug for Vitals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vitals").finish_non_exhaustive()
    }
}

/// Reads and checks a beacon: every field present and of its type, nothing else, each value
/// finite and within what a real page view can measure.
pub fn parse(body: &[u8]) -> CoreResult<Beacon> {
    let beacon: Beacon = serde_json::from_slice(body).map_err(|error| {
        CoreError::Refused(ApiError::BadRequest(format!("not a beacon: {error}")))
    })?;
    if !is_page_view_id(&beacon.page) {
        return Err(
            ApiError::BadRequest("page must be 16 to 64 letters, digits or dashes".into()).into(),
        );
    }
    if !ROUTES.contains(&beacon.route.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "unknown route template {:?}",
            beacon.route.chars().take(64).collect::<String>()
        ))
        .into());
    }
    if beacon.metrics.is_empty() || beacon.metrics.len() > Metric::ALL.len() {
        return Err(ApiError::BadRequest("a beacon carries one to five metrics".into()).into());
    }
    for (index, sample) in beacon.metrics.iter().enumerate() {
        if beacon.metrics[..index]
            .iter()
            .any(|earlier| earlier.name == sample.name)
        {
            return Err(
                ApiError::BadRequest(format!("{} appears twice", sample.name.name())).into(),
            );
        }
        if !sample.value.is_finite()
            || sample.value < 0.0
            || sample.value > sample.name.largest_plausible()
        {
            return Err(ApiError::BadRequest(format!(
                "{} must be between 0 and {}",
                sample.name.name(),
                sample.name.largest_plausible()
            ))
            .into());
        }
    }
    Ok(beacon)
}

/// Counts a beacon's values in `minute` (Unix time / 60). A page view reporting a metric again
/// moves its earlier count to the new bucket, in the minute and route first counted.
pub async fn record(pool: &Pool, beacon: &Beacon, minute: i64) -> CoreResult<()> {
    let measured: Vec<vitals::Counted> = beacon
        .metrics
        .iter()
        .map(|sample| vitals::Counted {
            metric: sample.name.name(),
            bucket: histogram::bucket(sample.name, sample.value),
        })
        .collect();
    Ok(vitals::record(pool, &beacon.page, &beacon.route, minute, &measured).await?)
}

/// Per route and metric over the `minutes` before `now_minute` (inclusive): p75, p95, how many
/// page views, and the p75 of each minute for a trend line.
pub async fn summary(pool: &Pool, now_minute: i64, minutes: i64) -> CoreResult<Vec<VitalsRow>> {
    let first = now_minute - minutes + 1;
    let rows = vitals::counts_since(pool, first).await?;
    type Key = (String, Metric);
    let mut grouped: BTreeMap<Key, BTreeMap<i64, Vec<(i64, u64)>>> = BTreeMap::new();
    for (minute, route, metric, bucket, count) in rows {
        let Some(metric) = Metric::from_name(&metric) else {
            continue;
        };
        grouped
            .entry((route, metric))
            .or_default()
            .entry(minute)
            .or_default()
            .push((bucket, count as u64));
    }
    let mut summary = Vec::with_capacity(grouped.len());
    for ((route, metric), per_minute) in grouped {
        let mut all: BTreeMap<i64, u64> = BTreeMap::new();
        let mut trend = vec![None; minutes.max(0) as usize];
        for (minute, counts) in &per_minute {
            for (bucket, count) in counts {
                *all.entry(*bucket).or_default() += count;
            }
            if let Some(slot) = trend.get_mut((minute - first) as usize) {
                *slot = histogram::quantile(metric, counts, 0.75);
            }
        }
        let all: Vec<(i64, u64)> = all.into_iter().collect();
        let (Some(p75), Some(p95)) = (
            histogram::quantile(metric, &all, 0.75),
            histogram::quantile(metric, &all, 0.95),
        ) else {
            continue;
        };
        summary.push(VitalsRow {
            route,
            metric,
            p75,
            p95,
            page_views: all.iter().map(|(_, count)| count).sum(),
            trend,
        });
    }
    summary.sort_by_key(|row| {
        (
            ROUTES.iter().position(|route| *route == row.route),
            row.metric,
        )
    });
    Ok(summary)
}

/// The `quantile` of `metric` over the `minutes` up to `now_minute`, on one route or pooled
/// over every route.
pub async fn quantile_over(
    pool: &Pool,
    metric: Metric,
    route: Option<&str>,
    now_minute: i64,
    minutes: i64,
    quantile: f64,
) -> CoreResult<Option<f64>> {
    let counts = vitals::bucket_totals(pool, metric.name(), route, now_minute - minutes).await?;
    Ok(histogram::quantile(metric, &counts, quantile))
}

/// Drops what is older than `before_minute`; returns the rows removed.
pub async fn prune(pool: &Pool, before_minute: i64) -> CoreResult<u64> {
    Ok(vitals::prune(pool, before_minute).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beacon_text(metrics: &str) -> Vec<u8> {
        Vec::from(format!(
            r#"{{"page":"0123456789abcdef","route":"/","nav":"navigate","metrics":[{metrics}]}}"#
        ))
    }

    #[test]
    fn implausible_beacons_are_refused() {
        assert!(parse(&beacon_text(r#"{"name":"LCP","value":812.5}"#)).is_ok());
        for bad in [
            r#"{"name":"LCP","value":-1}"#,
            r#"{"name":"LCP","value":1e12}"#,
            r#"{"name":"LCP","value":"fast"}"#,
            r#"{"name":"FID","value":3}"#,
            r#"{"name":"CLS","value":1000}"#,
            r#"{"name":"LCP","value":1},{"name":"LCP","value":2}"#,
            "",
        ] {
            assert!(
                matches!(
                    parse(&beacon_text(bad)),
                    Err(CoreError::Refused(ApiError::BadRequest(_)))
                ),
                "{bad} was accepted"
            );
        }
        for bad in [
            r#"{"page":"short","route":"/","nav":"navigate","metrics":[{"name":"LCP","value":1}]}"#,
            r#"{"page":"0123456789abcdef","route":"/etc/passwd","nav":"navigate","metrics":[{"name":"LCP","value":1}]}"#,
            r#"{"page":"0123456789abcdef","route":"/","nav":"teleport","metrics":[{"name":"LCP","value":1}]}"#,
            r#"[1,2,3]"#,
            "not json",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad} was accepted");
        }
    }
}
