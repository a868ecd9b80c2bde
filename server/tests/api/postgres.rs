//! PostgreSQL for the suite: a schema of its own for each test (`flashbulb_test_db`). The plans
//! PostgreSQL chooses for the statements are the store's tests (`crates/flashbulb-store/tests`).

pub(super) use flashbulb_test_db::{fresh_schema, SUITE_POSTGRES};

use super::TestApp;
use flashbulb::config::Config;

/// A test app on PostgreSQL whatever the suite runs on.
pub(super) async fn app(config: Config) -> TestApp {
    TestApp::on(flashbulb_store::Backend::Postgres, config).await
}
