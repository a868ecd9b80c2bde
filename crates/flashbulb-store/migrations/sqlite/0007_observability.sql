-- Web Vitals, aggregated: how many page views fell in each histogram bucket, per minute,
-- route template and metric. Buckets are logarithmic (see server/src/vitals/histogram.rs).
CREATE TABLE vital_counts (
    minute INTEGER NOT NULL,
    route TEXT NOT NULL,
    metric TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, route, metric, bucket)
) WITHOUT ROWID;

-- Where each page view's latest value of a metric was counted: a page hidden twice replaces
-- its earlier value instead of counting twice.
CREATE TABLE vital_page_views (
    page TEXT NOT NULL,
    metric TEXT NOT NULL,
    minute INTEGER NOT NULL,
    route TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    PRIMARY KEY (page, metric)
) WITHOUT ROWID;
CREATE INDEX vital_page_views_by_minute ON vital_page_views (minute);

-- Every move of an alert rule between pending, firing and resolved.
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    state TEXT NOT NULL,
    value REAL,
    at INTEGER NOT NULL
);
CREATE INDEX alert_events_by_time ON alert_events (at);
