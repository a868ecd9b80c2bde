//! Typed configuration, read once at start-up: defaults < `LEPTOS_*` (set by cargo-leptos)
//! < TOML file < `FLASHBULB_*` environment variables (and `DATABASE_URL`).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Where the database and photo files live.
    pub data_dir: PathBuf,
    /// `sqlite://…` (the default: a file in `data_dir`). PostgreSQL support comes with scale-out.
    pub database_url: Option<String>,
    /// Upper bound of pooled database connections.
    pub database_max_connections: u32,
    /// Seconds a request waits for a pooled connection before failing with 503.
    pub database_acquire_timeout_secs: u64,
    /// The folder cargo-leptos builds the site into (`pkg/` with JS, WASM, CSS).
    pub site_root: PathBuf,
    /// A `tracing` filter, e.g. `info` or `flashbulb=debug,sqlx=warn`.
    pub log: String,
    /// Largest file one upload may carry, in bytes; larger ones are refused with 413.
    pub max_upload_bytes: u64,
    /// Largest image, in pixels (width × height), the pipeline decodes; larger ones are refused
    /// before decoding (decompression bombs).
    pub max_image_pixels: u64,
    /// Derivative jobs run at once by this process; unset means one per CPU core, and 0 none
    /// (a web-only instance of several, leaving jobs to `flashbulb worker` processes).
    pub derivative_workers: Option<usize>,
    /// Seconds a worker holds a job before another may take it over: the process renews the
    /// leases of its running jobs every third of this (its heartbeat), so the jobs of a
    /// process that died on any host are taken again within this.
    pub job_lease_secs: u64,
    /// Seconds one photo's job may take; past this its decoding stops and the attempt fails
    /// (retried like any other, until the job is out of attempts).
    pub job_timeout_secs: u64,
    /// Memory one photo's job may use, in MiB (at least 64): decoding is planned from the
    /// header to fit, and a file that cannot fit is refused with the sizes.
    pub job_memory_mib: u64,
    /// Memory all of this process's jobs together may use, in MiB: fewer workers run than
    /// `derivative_workers` asks when that many budgets would not fit.
    pub jobs_memory_mib: u64,
    /// After SIGTERM (or Ctrl-C): seconds in-flight requests get to finish, and then again
    /// running jobs; what is unfinished then is cut (jobs go back to the queue).
    pub shutdown_grace_secs: u64,
    /// Live updates: each socket gets at most one batch of updates per topic per this many
    /// milliseconds; what changes in between is coalesced.
    pub live_frame_ms: u64,
    /// Live updates: seconds between pings; a peer silent for 2.5 intervals is dropped.
    pub live_heartbeat_secs: u64,
    /// Live updates: bytes of unsent updates kept per socket; past this a slow client gets
    /// one `resync` instead of the backlog.
    pub live_mailbox_bytes: usize,
    /// Live updates: threads the sockets and the hub run on, apart from the request threads
    /// (1 to 64).
    pub live_threads: usize,
    /// Live updates: how much lower the live threads' CPU priority is than the request
    /// threads', as a Linux nice value added to theirs (0 to 19).
    pub live_niceness: i32,
    /// Statements slower than this many milliseconds are logged as warnings and listed on the
    /// diagnostics page.
    pub slow_query_ms: u64,
    /// Milliseconds between two readings of the server's figures: the console's refresh, the
    /// traffic charts' resolution and the alert rules' evaluation.
    pub ops_sample_ms: u64,
    /// Web Vitals beacons taken from one client address per minute; more get 429.
    pub vitals_per_minute: u32,
    /// Days Web Vitals and alert history are kept.
    pub vitals_retention_days: u32,
    /// Days photos emptied from the trash can still be restored before they and their
    /// originals are deleted for good. 0: emptying the trash deletes at once.
    pub trash_grace_days: u32,
    /// Where alerts that fire or resolve are POSTed as JSON (`http://` only; relay to HTTPS
    /// services through a local proxy). None: alerts show on the console only.
    pub alert_webhook: Option<String>,
    /// The alert rules; see `flashbulb_core::alerts::AlertRule`. Defaults: slow LCP and INP, server
    /// errors, jobs waiting.
    pub alerts: Vec<flashbulb_core::alerts::AlertRule>,
    /// `redis://host:port/db`: the cache's second level and the live hubs' bridge, for
    /// running several instances. None: cache and hub in this process only.
    pub redis_url: Option<String>,
    /// Prepended to every Redis key and channel, so installations can share a server.
    pub redis_prefix: String,
    /// Where originals and derivatives are kept. None: the data folder (one machine).
    /// `s3://bucket[/prefix]`: S3-compatible object storage every machine shares, its
    /// endpoint, region and credentials from `AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_ALLOW_HTTP=true` without TLS).
    pub storage_url: Option<String>,
    /// Megabytes of rendered pages and segments cached in this process.
    pub cache_mb: u64,
    /// Seconds a cached entry lives at most. Writes invalidate at once; this bounds only what
    /// no invalidation reaches (an import run without Redis beside a running server).
    pub cache_ttl_secs: u64,
    /// Media URLs made within one window are the same and stay valid until the end of the
    /// next: between one and two windows.
    pub media_url_window_secs: u64,
    /// Days a sign-in lasts; signing out ends it at once.
    pub session_days: u32,
    /// Send the session cookie only over HTTPS (`Secure`). `None`: decided per request, from
    /// `X-Forwarded-Proto: https` set by the proxy in front.
    pub secure_cookies: Option<bool>,
    /// Sign-in attempts taken from one client address per minute; more get 429.
    pub signins_per_minute: u32,
    /// Uploads (requests to `/api/upload`) taken from one user per minute; more get 429.
    pub uploads_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (its last entry), for the rate limits.
    /// Only true behind a proxy that sets it; otherwise clients could pick their address.
    pub trust_forwarded_for: bool,
}

/// Keys whose values may carry credentials or tokens: the diagnostics page hides them.
const SECRET_KEYS: [&str; 2] = ["database_url", "alert_webhook"];

/// The keys `FLASHBULB_*` variables may set; other `FLASHBULB_` variables belong to scripts.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_max_connections",
    "database_acquire_timeout_secs",
    "site_root",
    "log",
    "max_upload_bytes",
    "max_image_pixels",
    "derivative_workers",
    "job_lease_secs",
    "job_timeout_secs",
    "job_memory_mib",
    "jobs_memory_mib",
    "shutdown_grace_secs",
    "live_frame_ms",
    "live_heartbeat_secs",
    "live_mailbox_bytes",
    "live_threads",
    "live_niceness",
    "slow_query_ms",
    "ops_sample_ms",
    "vitals_per_minute",
    "vitals_retention_days",
    "trash_grace_days",
    "alert_webhook",
    "redis_url",
    "storage_url",
    "redis_prefix",
    "cache_mb",
    "cache_ttl_secs",
    "media_url_window_secs",
    "session_days",
    "secure_cookies",
    "signins_per_minute",
    "uploads_per_minute",
    "trust_forwarded_for",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_max_connections: 8,
            database_acquire_timeout_secs: 5,
            site_root: PathBuf::from("target/site"),
            log: "info,sqlx=warn".to_string(),
            max_upload_bytes: 200 * 1024 * 1024,
            max_image_pixels: 100_000_000,
            derivative_workers: None,
            job_lease_secs: 30,
            job_timeout_secs: 60,
            job_memory_mib: 256,
            jobs_memory_mib: 1024,
            shutdown_grace_secs: 30,
            live_frame_ms: 50,
            live_heartbeat_secs: 20,
            live_mailbox_bytes: 256 * 1024,
            live_threads: 1,
            live_niceness: 5,
            slow_query_ms: 100,
            ops_sample_ms: 5000,
            vitals_per_minute: 30,
            vitals_retention_days: 30,
            trash_grace_days: 30,
            alert_webhook: None,
            alerts: flashbulb_core::alerts::AlertRule::defaults(),
            redis_url: None,
            storage_url: None,
            redis_prefix: "flashbulb:".to_string(),
            cache_mb: 64,
            cache_ttl_secs: 300,
            media_url_window_secs: 7 * 86_400,
            session_days: 30,
            secure_cookies: None,
            signins_per_minute: 10,
            uploads_per_minute: 600,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Invalid(#[from] Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Rejected(String),
}

impl Config {
    /// Reads the layered configuration from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(
                Env::raw()
                    .only(&["LEPTOS_SITE_ADDR"])
                    .map(|_| "listen".into()),
            )
            .merge(
                Env::raw()
                    .only(&["LEPTOS_SITE_ROOT"])
                    .map(|_| "site_root".into()),
            );
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        Ok(figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis_url".into()))
            .merge(Env::prefixed("FLASHBULB_").only(KEYS)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.database_max_connections == 0 {
            return Err(ConfigError::Rejected(
                "database_max_connections must be at least 1".into(),
            ));
        }
        if self.max_upload_bytes == 0
            || self.max_image_pixels == 0
            || self.job_lease_secs == 0
            || self.job_timeout_secs == 0
        {
            return Err(ConfigError::Rejected(
                "max_upload_bytes, max_image_pixels, job_lease_secs and job_timeout_secs must be at \
                 least 1"
                    .into(),
            ));
        }
        if self.job_memory_mib < 64 || self.jobs_memory_mib < self.job_memory_mib {
            return Err(ConfigError::Rejected(
                "job_memory_mib must be at least 64, and jobs_memory_mib at least job_memory_mib"
                    .into(),
            ));
        }
        if self.live_frame_ms == 0
            || self.live_frame_ms > 10_000
            || self.live_heartbeat_secs == 0
            || self.live_mailbox_bytes < 4096
            || !(1..=64).contains(&self.live_threads)
            || !(0..=19).contains(&self.live_niceness)
        {
            return Err(ConfigError::Rejected(
                "live_frame_ms must be 1 to 10000, live_heartbeat_secs at least 1, \
                 live_mailbox_bytes at least 4096, live_threads 1 to 64 and live_niceness \
                 0 to 19"
                    .into(),
            ));
        }
        if self.ops_sample_ms < 50 || self.ops_sample_ms > 600_000 {
            return Err(ConfigError::Rejected(
                "ops_sample_ms must be 50 to 600000".into(),
            ));
        }
        if self.vitals_per_minute == 0 || self.vitals_retention_days == 0 {
            return Err(ConfigError::Rejected(
                "vitals_per_minute and vitals_retention_days must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.alert_webhook {
            if !url.starts_with("http://") || url.parse::<http::Uri>().is_err() {
                return Err(ConfigError::Rejected(format!(
                    "alert_webhook must be an http:// URL (got {:?}); relay to HTTPS services \
                     through a local proxy",
                    url.split("://").next().unwrap_or_default()
                )));
            }
        }
        for rule in &self.alerts {
            if let Some(problem) = rule.problem() {
                return Err(ConfigError::Rejected(problem));
            }
        }
        if let Some(url) = &self.redis_url {
            if let Some(problem) = flashbulb_core::redis_link::RedisLink::url_problem(url) {
                return Err(ConfigError::Rejected(format!(
                    "redis_url must be a redis:// URL: {problem}"
                )));
            }
        }
        if let Some(url) = &self.storage_url {
            if let Err(problem) =
                flashbulb_core::files::FileStore::new(&self.data_dir, Some(url.as_str()))
            {
                return Err(ConfigError::Rejected(format!(
                    "storage_url cannot be used: {problem}"
                )));
            }
        }
        if !(60..=365 * 86_400).contains(&self.media_url_window_secs) {
            return Err(ConfigError::Rejected(
                "media_url_window_secs must be between 60 and 31536000".into(),
            ));
        }
        if !(1..=365).contains(&self.session_days) {
            return Err(ConfigError::Rejected(
                "session_days must be between 1 and 365".into(),
            ));
        }
        if self.signins_per_minute == 0 || self.uploads_per_minute == 0 {
            return Err(ConfigError::Rejected(
                "signins_per_minute and uploads_per_minute must be at least 1".into(),
            ));
        }
        if self.cache_mb == 0 || self.cache_ttl_secs == 0 {
            return Err(ConfigError::Rejected(
                "cache_mb and cache_ttl_secs must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.database_url {
            if flashbulb_store::Backend::of_url(url).is_none() {
                return Err(ConfigError::Rejected(format!(
                    "database_url must start with sqlite: or postgres: (got scheme of {:?})",
                    url.split(':').next().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Derivative workers in force: as configured, or one per core, and no more than
    /// `jobs_memory_mib` holds budgets of `job_memory_mib`.
    pub fn effective_derivative_workers(&self) -> usize {
        let wanted = self
            .derivative_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |cores| cores.get()));
        let fit = usize::try_from(self.jobs_memory_mib / self.job_memory_mib.max(1))
            .unwrap_or(usize::MAX)
            .max(1);
        wanted.min(fit)
    }

    /// Where the library's files are kept. The storage URL was checked when the configuration
    /// was read (a configuration made in code with a bad one is a programming error).
    pub fn files(&self) -> flashbulb_core::files::FileStore {
        flashbulb_core::files::FileStore::new(&self.data_dir, self.storage_url.as_deref())
            .unwrap_or_else(|error| panic!("storage_url {:?}: {error}", self.storage_url))
    }

    /// The services' section: what `flashbulb_core` is configured with.
    pub fn core(&self) -> flashbulb_core::Settings {
        flashbulb_core::Settings {
            data_dir: self.data_dir.clone(),
            files: self.files(),
            instance: self.listen.to_string(),
            database_max_connections: self.database_max_connections,
            slow_query_ms: self.slow_query_ms,
            max_image_pixels: self.max_image_pixels,
            derivative_workers: self.effective_derivative_workers(),
            job_lease_secs: self.job_lease_secs,
            job_timeout_secs: self.job_timeout_secs,
            job_memory_mib: self.job_memory_mib,
            shutdown_grace_secs: self.shutdown_grace_secs,
            live_frame_ms: self.live_frame_ms,
            live_heartbeat_secs: self.live_heartbeat_secs,
            live_mailbox_bytes: self.live_mailbox_bytes,
            live_threads: self.live_threads,
            live_niceness: self.live_niceness,
            ops_sample_ms: self.ops_sample_ms,
            vitals_per_minute: self.vitals_per_minute,
            vitals_retention_days: self.vitals_retention_days,
            trash_grace_days: self.trash_grace_days,
            alert_webhook: self.alert_webhook.clone(),
            alerts: self.alerts.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            cache_mb: self.cache_mb,
            cache_ttl_secs: self.cache_ttl_secs,
            media_url_window_secs: self.media_url_window_secs,
            shown: self.shown(),
        }
    }

    /// The web layer's section: what `flashbulb_web` is configured with.
    pub fn web(&self) -> flashbulb_web::WebSettings {
        flashbulb_web::WebSettings {
            listen: self.listen,
            site_root: self.site_root.clone(),
            max_upload_bytes: self.max_upload_bytes,
            session_days: self.session_days,
            secure_cookies: self.secure_cookies,
            signins_per_minute: self.signins_per_minute,
            uploads_per_minute: self.uploads_per_minute,
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }

    /// Every key with its value as JSON text, for the diagnostics page; a credential inside a
    /// URL (`user:password@`) and whole webhook addresses are hidden.
    pub fn shown(&self) -> Vec<(String, String)> {
        let Ok(serde_json::Value::Object(values)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        values
            .into_iter()
            .map(|(key, value)| {
                let shown = match (&value, SECRET_KEYS.contains(&key.as_str())) {
                    (serde_json::Value::Null, _) => "(not set)".to_string(),
                    (serde_json::Value::String(url), true) if key == "database_url" => {
                        flashbulb_store::hide_credentials(url)
                    }
                    (_, true) => "(hidden)".to_string(),
                    (serde_json::Value::Array(items), false) => {
                        format!("{} entries", items.len())
                    }
                    _ => value.to_string(),
                };
                (key, shown)
            })
            .collect()
    }

    /// The database URL in force: explicit, or a SQLite file inside `data_dir`.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("flashbulb.db").display()),
        }
    }

    /// The store's section of the configuration.
    pub fn store(&self) -> flashbulb_store::StoreOptions {
        flashbulb_store::StoreOptions {
            url: self.effective_database_url(),
            max_connections: self.database_max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.database_acquire_timeout_secs),
            slow_statement: std::time::Duration::from_millis(self.slow_query_ms),
        }
    }

    /// Opens the pool this configuration names; a SQLite file (and its folder) is created on
    /// first use.
    pub async fn connect(&self) -> anyhow::Result<flashbulb_store::Pool> {
        flashbulb_store::open(&self.store()).await
    }
}

#[cfg(test)]
// figment's Jail closures must return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_are_valid_and_point_into_the_data_dir() {
        Jail::expect_with(|_| {
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config, Config::default());
            assert_eq!(
                config.effective_database_url(),
                "sqlite://data/flashbulb.db"
            );
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("f.toml", "listen = \"127.0.0.1:4000\"\nlog = \"debug\"\n")?;
            jail.set_env("FLASHBULB_LOG", "warn");
            jail.set_env("LEPTOS_SITE_ADDR", "127.0.0.1:5000");
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.listen, "127.0.0.1:4000".parse().map_err(|_| "addr")?);
            assert_eq!(config.log, "warn");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_rejected_with_a_clear_message() {
        Jail::expect_with(|jail| {
            jail.set_env("FLASHBULB_DATABASE_MAX_CONNECTIONS", "0");
            let error = Config::load(None)
                .err()
                .ok_or("accepted zero connections")?;
            assert!(error.to_string().contains("at least 1"), "{error}");
            jail.set_env("FLASHBULB_DATABASE_MAX_CONNECTIONS", "many");
            let error = Config::load(None).err().ok_or("accepted a word")?;
            assert!(
                error
                    .to_string()
                    .to_lowercase()
                    .contains("database_max_connections"),
                "{error}"
            );
            jail.set_env("FLASHBULB_DATABASE_MAX_CONNECTIONS", "4");
            // A nice value past the kernel's range.
            jail.set_env("FLASHBULB_LIVE_NICENESS", "20");
            let error = Config::load(None).err().ok_or("accepted niceness 20")?;
            assert!(
                error.to_string().contains("live_niceness 0 to 19"),
                "{error}"
            );
            jail.set_env("FLASHBULB_LIVE_NICENESS", "0");
            let config = Config::load(None).map_err(|error| error.to_string())?;
            assert_eq!(config.core().hub_config().niceness, 0);
            jail.set_env("DATABASE_URL", "mysql://x");
            let error = Config::load(None).err().ok_or("accepted mysql")?;
            assert!(error.to_string().contains("sqlite:"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn job_memory_bounds_the_workers_and_each_decode() {
        Jail::expect_with(|jail| {
            jail.set_env("FLASHBULB_DERIVATIVE_WORKERS", "8");
            jail.set_env("FLASHBULB_JOB_MEMORY_MIB", "300");
            jail.set_env("FLASHBULB_JOBS_MEMORY_MIB", "1000");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            // Three budgets of 300 MiB fit in 1000; eight would not.
            assert_eq!(config.effective_derivative_workers(), 3);
            assert_eq!(config.core().job_limits().memory_bytes, 300 << 20);
            jail.set_env("FLASHBULB_JOB_MEMORY_MIB", "32");
            let error = Config::load(None).err().ok_or("accepted 32 MiB")?;
            assert!(error.to_string().contains("job_memory_mib"), "{error}");
            jail.set_env("FLASHBULB_JOB_MEMORY_MIB", "2000");
            let error = Config::load(None)
                .err()
                .ok_or("accepted more than the total")?;
            assert!(error.to_string().contains("jobs_memory_mib"), "{error}");
            // None at all: a web-only instance.
            jail.set_env("FLASHBULB_JOB_MEMORY_MIB", "300");
            jail.set_env("FLASHBULB_DERIVATIVE_WORKERS", "0");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.effective_derivative_workers(), 0);
            Ok(())
        });
    }

    #[test]
    fn alert_rules_come_from_the_file_and_are_checked() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "alert_webhook = \"http://127.0.0.1:9/hook\"\n\
                 [[alerts]]\nname = \"Photo LCP\"\nsignal = \"vitals_p75\"\nmetric = \"LCP\"\n\
                 route = \"/p/:id\"\nabove = 3000\nfor_secs = 60\n",
            )?;
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.alerts.len(), 1);
            assert_eq!(config.alerts[0].route.as_deref(), Some("/p/:id"));
            assert_eq!(config.alerts[0].window_secs, 300);
            jail.create_file(
                "bad.toml",
                "[[alerts]]\nname = \"x\"\nsignal = \"vitals_p75\"\nabove = 1\n",
            )?;
            let error = Config::load(Some(Path::new("bad.toml")))
                .err()
                .ok_or("a vitals rule without a metric was accepted")?;
            assert!(error.to_string().contains("needs a metric"), "{error}");
            jail.set_env("FLASHBULB_ALERT_WEBHOOK", "https://hooks.example/x");
            let error = Config::load(None).err().ok_or("https webhook accepted")?;
            assert!(error.to_string().contains("http://"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn secrets_never_show() {
        let config = Config {
            database_url: Some("sqlite://data/flashbulb.db".into()),
            alert_webhook: Some("http://hooks.local/T0K3N".into()),
            ..Config::default()
        };
        let shown = config.shown();
        let text = format!("{shown:?}");
        assert!(!text.contains("T0K3N"), "{text}");
        assert!(text.contains("sqlite://data/flashbulb.db"));
        assert!(shown.iter().any(|(key, _)| key == "listen"));
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        Jail::expect_with(|jail| {
            jail.create_file("f.toml", "lisen = \"127.0.0.1:4000\"\n")?;
            let error = Config::load(Some(Path::new("f.toml")))
                .err()
                .ok_or("typo accepted")?;
            assert!(error.to_string().contains("lisen"), "{error}");
            let error = Config::load(Some(Path::new("nope.toml")))
                .err()
                .ok_or("missing ok")?;
            assert!(matches!(error, ConfigError::MissingFile(_)));
            Ok(())
        });
    }
}
