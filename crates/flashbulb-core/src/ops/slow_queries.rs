//! The slowest recent database statements: sqlx reports each statement slower than
//! `slow_query_ms` as a `sqlx::query` warning; this `tracing` layer keeps the slowest of them
//! for the diagnostics page (the log shows every one as well).

use std::sync::Mutex;

use flashbulb_types::ops::SlowQuery;
use tracing::{
    field::{Field, Visit},
    Event, Subscriber,
};
use tracing_subscriber::{layer::Context, Layer};

/// Statements kept: the slowest this many.
const KEPT: usize = 20;
/// Statements are cut to this many characters.
const STATEMENT_CHARS: usize = 500;

/// The process' log of slow statements (the `tracing` subscriber is process-wide too).
static SLOWEST: Mutex<Vec<SlowQuery>> = Mutex::new(Vec::new());

/// The slowest statements seen since start, slowest first.
pub fn slowest() -> Vec<SlowQuery> {
    crate::sync::lock(&SLOWEST).clone()
}

/// Keeps `query` if it is among the slowest.
fn keep(query: SlowQuery) {
    let mut slowest = crate::sync::lock(&SLOWEST);
    if let Some(same) = slowest
        .iter_mut()
        .find(|kept| kept.statement == query.statement)
    {
        // One row per statement: the slowest run of it, with its time.
        if query.millis > same.millis {
            *same = query;
        }
    } else {
        slowest.push(query);
    }
    slowest.sort_by(|a, b| b.millis.total_cmp(&a.millis));
    slowest.truncate(KEPT);
}

/// The layer; add it with a filter for target `sqlx::query` at `warn`.
pub struct SlowQueryLayer;

#[derive(Default)]
struct Fields {
    summary: String,
    statement: String,
    rows: u64,
    seconds: Option<f64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.statement = value.trim().to_string(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if matches!(field.name(), "rows_returned" | "rows_affected") {
            self.rows = self.rows.max(value);
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.seconds = Some(value);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber> Layer<S> for SlowQueryLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(seconds) = fields.seconds else {
            return;
        };
        let statement = if fields.statement.is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        keep(SlowQuery {
            statement: statement.chars().take(STATEMENT_CHARS).collect(),
            millis: seconds * 1000.0,
            rows: fields.rows,
            at: flashbulb_store::now(),
        });
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn keeps_the_slowest_run_of_each_statement() {
        let subscriber = tracing_subscriber::registry().with(SlowQueryLayer);
        tracing::subscriber::with_default(subscriber, || {
            for (millis, statement) in [(250.0, "SELECT slow_one"), (900.0, "SELECT slow_one")] {
                tracing::warn!(
                    target: "sqlx::query",
                    summary = statement,
                    db.statement = "",
                    rows_returned = 3u64,
                    elapsed_secs = millis / 1000.0,
                );
            }
            tracing::warn!(target: "elsewhere", elapsed_secs = 99.0);
        });
        let slowest = slowest();
        let kept: Vec<_> = slowest
            .iter()
            .filter(|query| query.statement == "SELECT slow_one")
            .collect();
        assert_eq!(kept.len(), 1);
        assert!((kept[0].millis - 900.0).abs() < 1e-6);
        assert_eq!(kept[0].rows, 3);
        assert!(slowest.iter().all(|query| query.millis < 90_000.0));
    }
}
