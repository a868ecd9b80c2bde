//! Logarithmic histogram buckets for Web Vitals: each bucket 10 % wider than the one below,
//! so a percentile read back from counts is within 5 % of the true value at any scale, from
//! a 1 ms TTFB to a 10-minute LCP, in about 150 buckets.

use flashbulb_types::vitals::Metric;

const GROWTH: f64 = 1.1;

/// The smallest step each metric is measured in: 1 ms for times, 0.0001 for layout shift.
fn unit(metric: Metric) -> f64 {
    if metric.is_duration() {
        1.0
    } else {
        0.0001
    }
}

/// The bucket `value` falls in: 0 for anything under one unit, then logarithmic.
pub fn bucket(metric: Metric, value: f64) -> i64 {
    let units = value / unit(metric);
    if units < 1.0 {
        0
    } else {
        1 + (units.ln() / GROWTH.ln()).floor() as i64
    }
}

/// The value a bucket stands for: the geometric middle of its bounds.
pub fn representative(metric: Metric, bucket: i64) -> f64 {
    if bucket <= 0 {
        0.0
    } else {
        GROWTH.powf(bucket as f64 - 0.5) * unit(metric)
    }
}

/// The `quantile` (0..1) of the values counted in `(bucket, count)` pairs sorted by bucket;
/// `None` when nothing was counted.
pub fn quantile(metric: Metric, counts: &[(i64, u64)], quantile: f64) -> Option<f64> {
    let total: u64 = counts.iter().map(|(_, count)| count).sum();
    if total == 0 {
        return None;
    }
    let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (bucket, count) in counts {
        seen += count;
        if seen >= rank {
            return Some(representative(metric, *bucket));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_within_five_percent() {
        for metric in Metric::ALL {
            for value in [
                0.0002, 0.013, 0.1, 0.5, 3.0, 17.0, 180.0, 2_500.0, 600_000.0,
            ] {
                let back = representative(metric, bucket(metric, value));
                if value < unit(metric) {
                    assert_eq!(back, 0.0);
                } else {
                    assert!(
                        (back - value).abs() / value <= 0.05,
                        "{metric:?} {value} {back}"
                    );
                }
            }
        }
        assert!(bucket(Metric::Lcp, 600_000.0) < 200);
        assert!(bucket(Metric::Cls, 100.0) < 200);
    }

    #[test]
    fn percentiles_walk_the_counts() {
        let low = bucket(Metric::Lcp, 1000.0);
        let high = bucket(Metric::Lcp, 5000.0);
        let counts = [(low, 75), (high, 25)];
        let p75 = quantile(Metric::Lcp, &counts, 0.75).expect("counted");
        let p95 = quantile(Metric::Lcp, &counts, 0.95).expect("counted");
        assert!((p75 - 1000.0).abs() < 50.0, "{p75}");
        assert!((p95 - 5000.0).abs() < 250.0, "{p95}");
        assert_eq!(quantile(Metric::Lcp, &[], 0.75), None);
    }
}
