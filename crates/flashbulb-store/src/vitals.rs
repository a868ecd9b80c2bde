//! Web Vitals' statements: per minute, route, metric and histogram bucket, how many page views
//! measured a value in that bucket; and per page view, where its values were counted, so a
//! page view that reports again moves its count instead of adding one.

use crate::{backend, begin_write, Backend, Pool, StoreResult};

/// One measurement of a page view, already sorted into its histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted<'a> {
    /// The metric's name (`LCP`, `INP`, …).
    pub metric: &'a str,
    pub bucket: i64,
}

/// A row of the counts: minute, route, metric and bucket.
type CountKey<'a> = (i64, String, &'a str, i64);

/// Counts the measurements of page view `page` on `route` in `minute` (Unix time / 60). A
/// metric the page view reported before moves its earlier count to the new bucket, in the
/// minute and route first counted.
pub async fn record(
    pool: &Pool,
    page: &str,
    route: &str,
    minute: i64,
    measured: &[Counted<'_>],
) -> StoreResult<()> {
    // Two beacons of one page view can arrive at once (a tab hidden and closed): the page
    // view's row is claimed by inserting it, and only when it exists already is it read, locked
    // on PostgreSQL (SQLite's write transaction holds the whole database already).
    let lock = match backend(pool) {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let earlier_sql = format!(
        "SELECT minute, route, bucket FROM vital_page_views WHERE page = $1 AND metric = $2{lock}"
    );
    // Rows are locked in one order by every beacon, so concurrent beacons on PostgreSQL wait
    // for each other instead of deadlocking: first the page view's rows, by metric; then the
    // counts, by their key. (Two beacons moving counts between the same buckets in opposite
    // orders deadlocked, and one was answered 500.)
    let mut measured = measured.to_vec();
    measured.sort_by_key(|counted| counted.metric);
    let mut changes: Vec<(CountKey, i64)> = Vec::with_capacity(measured.len() * 2);
    let mut transaction = begin_write(pool).await?;
    for &Counted { metric, bucket } in &measured {
        let claimed = sqlx::query(
            "INSERT INTO vital_page_views (page, metric, minute, route, bucket)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (page, metric) DO NOTHING",
        )
        .bind(page)
        .bind(metric)
        .bind(minute)
        .bind(route)
        .bind(bucket)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            changes.push(((minute, route.to_string(), metric, bucket), 1));
            continue;
        }
        let (earlier_minute, earlier_route, earlier_bucket): (i64, String, i64) =
            sqlx::query_as(&earlier_sql)
                .bind(page)
                .bind(metric)
                .fetch_one(&mut *transaction)
                .await?;
        if earlier_bucket == bucket {
            continue;
        }
        sqlx::query("UPDATE vital_page_views SET bucket = $1 WHERE page = $2 AND metric = $3")
            .bind(bucket)
            .bind(page)
            .bind(metric)
            .execute(&mut *transaction)
            .await?;
        // The move stays in the minute and route first counted.
        changes.push((
            (
                earlier_minute,
                earlier_route.clone(),
                metric,
                earlier_bucket,
            ),
            -1,
        ));
        changes.push(((earlier_minute, earlier_route, metric, bucket), 1));
    }
    changes.sort_by(|(one, _), (other, _)| one.cmp(other));
    for ((minute, route, metric, bucket), change) in changes {
        if change < 0 {
            sqlx::query(
                "UPDATE vital_counts SET count = count - 1
                 WHERE minute = $1 AND route = $2 AND metric = $3 AND bucket = $4 AND count > 0",
            )
            .bind(minute)
            .bind(&route)
            .bind(metric)
            .bind(bucket)
            .execute(&mut *transaction)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO vital_counts (minute, route, metric, bucket, count)
                 VALUES ($1, $2, $3, $4, 1)
                 ON CONFLICT (minute, route, metric, bucket)
                 DO UPDATE SET count = vital_counts.count + 1",
            )
            .bind(minute)
            .bind(&route)
            .bind(metric)
            .bind(bucket)
            .execute(&mut *transaction)
            .await?;
        }
    }
    transaction.commit().await?;
    Ok(())
}

/// One row of the counts: `(minute, route, metric, bucket, count)`.
pub type CountRow = (i64, String, String, i64, i64);

/// Every non-zero count from minute `first` on, by route, metric, minute and bucket.
pub async fn counts_since(pool: &Pool, first: i64) -> StoreResult<Vec<CountRow>> {
    Ok(sqlx::query_as(
        "SELECT minute, route, metric, bucket, count FROM vital_counts
         WHERE minute >= $1 AND count > 0 ORDER BY route, metric, minute, bucket",
    )
    .bind(first)
    .fetch_all(pool)
    .await?)
}

/// How many values of `metric` fell in each bucket after minute `after`, on one route or
/// pooled over every route; by bucket.
pub async fn bucket_totals(
    pool: &Pool,
    metric: &str,
    route: Option<&str>,
    after: i64,
) -> StoreResult<Vec<(i64, u64)>> {
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT bucket, CAST(sum(count) AS BIGINT) FROM vital_counts
         WHERE minute > $1 AND metric = $2 AND ($3 IS NULL OR route = $4)
         GROUP BY bucket ORDER BY bucket",
    )
    .bind(after)
    .bind(metric)
    .bind(route)
    .bind(route)
    .fetch_all(pool)
    .await?;
    Ok(counts
        .into_iter()
        .map(|(bucket, count)| (bucket, count.max(0) as u64))
        .collect())
}

/// Drops what is older than `before_minute`; returns the rows removed.
pub async fn prune(pool: &Pool, before_minute: i64) -> StoreResult<u64> {
    let counts = sqlx::query("DELETE FROM vital_counts WHERE minute < $1")
        .bind(before_minute)
        .execute(pool)
        .await?
        .rows_affected();
    let views = sqlx::query("DELETE FROM vital_page_views WHERE minute < $1")
        .bind(before_minute)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(counts + views)
}
