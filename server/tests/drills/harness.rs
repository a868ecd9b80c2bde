//! The drills' real processes and tools: Flashbulb servers started from the built binary, a
//! private Redis and a private PostgreSQL that can be stopped without touching the machine's
//! own, an HTTP client that records every answer, and photos with distinct bytes.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use bytes::Bytes;
use flashbulb_tools::load::{self, Site};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

/// `FLASHBULB_DRILLS=full` runs every drill at its full length (by hand: `scripts/drills
/// --full`); anything else, the short versions CI runs.
pub fn full() -> bool {
    std::env::var("FLASHBULB_DRILLS").is_ok_and(|mode| mode == "full")
}

/// The short or the full value.
pub fn pick<T>(short: T, full_value: T) -> T {
    if full() {
        full_value
    } else {
        short
    }
}

/// The server binary: `FLASHBULB_DRILL_BIN` (the benchmarks soak a release build), else the
/// one cargo built with these tests.
pub fn binary() -> PathBuf {
    std::env::var_os("FLASHBULB_DRILL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_flashbulb")))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{what}: not within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub const USER: &str = "drill";
pub const PASSWORD: &str = "drill password";

/// One Flashbulb server process on its own port.
pub struct Flashbulb {
    child: Option<std::process::Child>,
    /// The network namespace it runs in (a host of its own), if any.
    netns: Option<String>,
    pub base: String,
    pub data: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    starts: u32,
}

impl Flashbulb {
    /// Configuration by environment, as an operator would: `FLASHBULB_*` keys over the
    /// defaults, the data folder `data`, the port picked here.
    pub fn new(data: &Path, env: &[(&str, String)]) -> Self {
        Self::listening(data, env, "127.0.0.1", None)
    }

    /// As [`Flashbulb::new`], run on `host`: in its network namespace, listening on its
    /// address.
    pub fn on_host(data: &Path, env: &[(&str, String)], host: &Host) -> Self {
        Self::listening(data, env, &host.address, Some(host.netns.clone()))
    }

    fn listening(
        data: &Path,
        env: &[(&str, String)],
        address: &str,
        netns: Option<String>,
    ) -> Self {
        let port = free_port();
        let mut all = vec![
            ("FLASHBULB_LISTEN".to_string(), format!("{address}:{port}")),
            ("FLASHBULB_DATA_DIR".to_string(), data.display().to_string()),
            ("FLASHBULB_LOG".to_string(), "info,sqlx=error".to_string()),
        ];
        // `scripts/drills --object-storage`: the files go to its S3 server, below a prefix
        // named after the data folder (processes sharing a folder share the prefix), unless
        // the drill chose a store itself.
        let chose = env.iter().any(|(key, _)| *key == "FLASHBULB_STORAGE_URL");
        if let (Some(endpoint), false) = (shared_object_storage(), chose) {
            let shared = object_storage_env(&endpoint, &storage_prefix(data));
            all.extend(
                shared
                    .into_iter()
                    .map(|(key, value)| (key.to_string(), value)),
            );
        }
        all.extend(
            env.iter()
                .map(|(key, value)| (key.to_string(), value.clone())),
        );
        std::fs::create_dir_all(data).expect("the data folder");
        Self {
            child: None,
            netns,
            base: format!("http://{address}:{port}"),
            data: data.to_path_buf(),
            env: all,
            log: data.with_extension(format!("{port}.log")),
            starts: 0,
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(binary());
        // Only what this drill sets: nothing of the shell's configuration leaks in.
        for (key, _) in std::env::vars() {
            if key.starts_with("FLASHBULB_") || key == "DATABASE_URL" || key == "REDIS_URL" {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        command
    }

    /// `flashbulb user add drill --admin`, then `seed` of `photos` synthetic photos for them.
    pub fn prepare(&self, photos: u64) {
        let added = self
            .command()
            .args(["user", "add", USER, "--admin"])
            .env("FLASHBULB_PASSWORD", PASSWORD)
            .output()
            .expect("flashbulb user add runs");
        assert!(added.status.success(), "user add: {added:?}");
        if photos > 0 {
            let seeded = self
                .command()
                .args(["seed", "--owner", USER, "--photos", &photos.to_string()])
                .output()
                .expect("flashbulb seed runs");
            assert!(seeded.status.success(), "seed: {seeded:?}");
        }
    }

    /// Starts `serve` and waits until `/healthz` answers.
    pub async fn start(&mut self) {
        self.start_as(&["serve"], None).await;
    }

    /// Starts the binary with `args` (a role: `serve`, `serve --no-workers`, `worker`) and
    /// waits until `/healthz` answers. With `host`, the process runs in a UTS namespace of its
    /// own under that host name (root only, as CI runs): to every other process it is a
    /// process of another machine, whose leases only its heartbeat's end gives back.
    pub async fn start_as(&mut self, args: &[&str], host: Option<&str>) {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the server's log file");
        let mut command = self.command();
        if let Some(host) = host {
            let program = command.get_program().to_os_string();
            let mut wrapped = match &self.netns {
                Some(netns) => {
                    let mut inside = Command::new("ip");
                    inside.args(["netns", "exec", netns, "unshare"]);
                    inside
                }
                None => Command::new("unshare"),
            };
            wrapped
                .args(["--uts", "sh", "-c", r#"hostname "$0" && exec "$@""#, host])
                .arg(program);
            for (key, value) in command.get_envs() {
                match value {
                    Some(value) => wrapped.env(key, value),
                    None => wrapped.env_remove(key),
                };
            }
            command = wrapped;
        }
        let child = command
            .args(args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{} does not start: {error}", binary().display()));
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok()?) {
                panic!(
                    "the server exited at start ({status}):\n{}",
                    self.log_tail()
                );
            }
            if get(&self.base, "/healthz", None).await.status == Some(200) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not answer within 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A session of the drill's user.
    pub async fn sign_in(&self) -> Site {
        let session = load::sign_in(&self.base, USER, PASSWORD)
            .await
            .expect("the drill user signs in");
        Site {
            base: self.base.clone(),
            session,
        }
    }

    /// SIGKILL: no clean-up of any kind, as after a crash or the OOM killer.
    pub fn kill_hard(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// SIGTERM, as a service manager stops a service; then waits for the exit.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was not delivered");
    }

    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the server did not stop within {} s:\n{}",
                limit.as_secs(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The whole log, for drills that look for what the server said.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The names of the photo files kept below `folder` (`originals` or `derivatives`), as
    /// `originals/ab/ab12…`: from the data folder, or from the bucket when the drills run
    /// with object storage.
    pub async fn stored(&self, folder: &str) -> Vec<String> {
        let Some(endpoint) = self.object_storage() else {
            let below = self.data.join(folder);
            let mut names: Vec<String> = crate::files_below(&below)
                .into_iter()
                .map(|name| format!("{folder}/{name}"))
                .collect();
            names.sort();
            return names;
        };
        let prefix = format!("{}/", storage_prefix(&self.data));
        let mut names: Vec<String> = list_bucket(&endpoint, &format!("{prefix}{folder}/"))
            .await
            .into_iter()
            .filter_map(|name| Some(name.strip_prefix(&prefix)?.to_string()))
            .collect();
        names.sort();
        names
    }

    /// The bytes of the stored file `name` (as [`Flashbulb::stored`] names it).
    pub async fn read_stored(&self, name: &str) -> Option<Vec<u8>> {
        let Some(endpoint) = self.object_storage() else {
            return std::fs::read(self.data.join(name)).ok();
        };
        let prefix = storage_prefix(&self.data);
        read_object(&endpoint, &format!("{prefix}/{name}")).await
    }

    /// The S3 endpoint this process keeps its files at, when it is the drills' shared one.
    fn object_storage(&self) -> Option<String> {
        let endpoint = shared_object_storage()?;
        self.env
            .iter()
            .any(|(key, value)| key == "AWS_ENDPOINT_URL" && *value == endpoint)
            .then_some(endpoint)
    }

    /// The SQLite database of the data folder, for checking what is stored.
    pub async fn sqlite(&self) -> flashbulb_store::Pool {
        let config = flashbulb::Config {
            data_dir: self.data.clone(),
            ..flashbulb::Config::default()
        };
        config.connect().await.expect("the database")
    }
}

impl Drop for Flashbulb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- the server's log ({}):\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
    }
}

/// A Redis of the drill's own, on its own port, which it may stop and start.
pub struct Redis {
    child: Option<std::process::Child>,
    pub port: u16,
    bind: &'static str,
}

impl Redis {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// Listening on `bind` (`0.0.0.0`: reachable from the drill's hosts too).
    pub async fn start_on(bind: &'static str) -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
            bind,
        };
        redis.resume().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server on the same port, empty, and waits until it accepts.
    pub async fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                self.bind,
                "--protected-mode",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) runs");
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        eventually("Redis accepts connections", Duration::from_secs(10), || {
            let address = address.clone();
            async move { tokio::net::TcpStream::connect(address).await.is_ok() }
        })
        .await;
    }

    /// SIGKILL: Redis vanishes as in a crash or a network cut.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL redis");
            child.wait().expect("reaped");
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An S3-protocol server of the drill's own: moto's server mode, installed by
/// `scripts/setup --test` in `.tools/s3-venv`. It keeps objects in memory: a restart is empty.
pub struct ObjectStore {
    child: Option<std::process::Child>,
    pub port: u16,
    bind: &'static str,
}

/// The bucket every object-storage drill uses.
pub const BUCKET: &str = "flashbulb-drill";

/// `FLASHBULB_DRILL_S3`: the endpoint of the S3 server `scripts/drills --object-storage`
/// started (with [`BUCKET`] made), when the drills run with object storage.
pub fn shared_object_storage() -> Option<String> {
    std::env::var("FLASHBULB_DRILL_S3")
        .ok()
        .filter(|endpoint| !endpoint.is_empty())
}

/// What a Flashbulb process needs to keep its files in [`BUCKET`] at `endpoint`, below
/// `prefix`.
fn object_storage_env(endpoint: &str, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FLASHBULB_STORAGE_URL", format!("s3://{BUCKET}/{prefix}")),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "drill".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "drill".to_string()),
    ]
}

/// The object `name` of [`BUCKET`] at `endpoint`, read as the servers' S3 client reads it.
pub async fn read_object(endpoint: &str, name: &str) -> Option<Vec<u8>> {
    use object_store::ObjectStore as _;
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id("drill")
        .with_secret_access_key("drill")
        .build()
        .expect("an S3 client");
    let got = store
        .get(&object_store::path::Path::from(name))
        .await
        .ok()?;
    Some(got.bytes().await.ok()?.to_vec())
}

/// A bucket prefix of its own for each data folder: its path, `/` and `.` turned to `-`.
fn storage_prefix(data: &Path) -> String {
    data.display()
        .to_string()
        .trim_matches('/')
        .replace(['/', '.'], "-")
}

/// The names of the objects of [`BUCKET`] at `endpoint` below `prefix`, from its listing.
async fn list_bucket(endpoint: &str, prefix: &str) -> Vec<String> {
    let listing = get(
        endpoint,
        &format!("/{BUCKET}?list-type=2&max-keys=100000&prefix={prefix}"),
        None,
    )
    .await;
    assert_eq!(listing.status, Some(200), "{}", listing.text());
    listing
        .text()
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

impl ObjectStore {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// Listening on `bind` (`0.0.0.0`: reachable from the drill's hosts too).
    pub async fn start_on(bind: &'static str) -> Self {
        let mut store = Self {
            child: None,
            port: free_port(),
            bind,
        };
        store.resume().await;
        store
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What a Flashbulb process needs to keep its files in the bucket, below `prefix`.
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        self.env_via("127.0.0.1", prefix)
    }

    /// [`ObjectStore::env`] for a process that reaches this machine at `address`.
    pub fn env_via(&self, address: &str, prefix: &str) -> Vec<(&'static str, String)> {
        object_storage_env(&format!("http://{address}:{}", self.port), prefix)
    }

    /// (Re)starts the server on the same port, empty, with the bucket made.
    pub async fn resume(&mut self) {
        let server =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/s3-venv/bin/moto_server");
        let child = Command::new(&server)
            .args(["-H", self.bind, "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "{} (moto, installed by scripts/setup --test) runs: {error}",
                    server.display()
                )
            });
        self.child = Some(child);
        let endpoint = self.endpoint();
        eventually("the S3 server answers", Duration::from_secs(30), || {
            let endpoint = endpoint.clone();
            async move { get(&endpoint, "/", None).await.status.is_some() }
        })
        .await;
        let made = send(
            axum::http::Request::put(format!("{}/{BUCKET}", self.endpoint()))
                .body(Full::new(Bytes::new()))
                .expect("a request"),
        )
        .await;
        assert_eq!(made.status, Some(200), "making the bucket: {}", made.text());
    }

    /// The names of the objects below `prefix`, from the server's listing.
    pub async fn names(&self, prefix: &str) -> Vec<String> {
        list_bucket(&self.endpoint(), prefix).await
    }

    /// SIGKILL: the store vanishes, with everything it held.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the S3 server");
            child.wait().expect("reaped");
        }
    }
}

impl Drop for ObjectStore {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL cluster of the drill's own (initdb in a temporary folder, run as the
/// `postgres` user), which it may stop and start.
pub struct Postgres {
    folder: tempfile::TempDir,
    pub port: u16,
    listen: &'static str,
}

impl Postgres {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1", None).await
    }

    /// Listening on `listen` (`*`: every address), trusting connections from `network`
    /// (`10.77.0.0/16`) besides the loopback ones.
    pub async fn start_on(listen: &'static str, network: Option<&str>) -> Self {
        let folder = tempfile::tempdir().expect("a folder");
        let port = free_port();
        run_checked(Command::new("chown").args([
            "-R",
            "postgres:postgres",
            &folder.path().display().to_string(),
        ]));
        let postgres = Self {
            folder,
            port,
            listen,
        };
        run_checked(postgres.as_postgres("initdb").args([
            "--auth=trust",
            "--username=postgres",
            "--no-sync",
            "-D",
            &postgres.cluster(),
        ]));
        if let Some(network) = network {
            use std::io::Write;
            let mut rules = std::fs::OpenOptions::new()
                .append(true)
                .open(Path::new(&postgres.cluster()).join("pg_hba.conf"))
                .expect("pg_hba.conf");
            writeln!(rules, "host all all {network} trust").expect("a rule");
        }
        postgres.resume().await;
        postgres
    }

    fn cluster(&self) -> String {
        self.folder.path().join("cluster").display().to_string()
    }

    /// `program` of the newest PostgreSQL installed (Debian keeps them out of the PATH), run
    /// as the `postgres` user: the server refuses to run as root.
    fn as_postgres(&self, program: &str) -> Command {
        let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|versions| {
                versions
                    .flatten()
                    .map(|version| version.path().join("bin").join(program))
                    .filter(|path| path.is_file())
                    .collect()
            })
            .unwrap_or_default();
        installed.sort_by_key(|path| {
            path.components()
                .nth(4)
                .and_then(|version| version.as_os_str().to_str()?.parse::<u32>().ok())
        });
        let program = installed.pop().unwrap_or_else(|| PathBuf::from(program));
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the cluster and waits until it accepts connections.
    pub async fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses={} -k {} -c fsync=off",
            self.port,
            self.listen,
            self.folder.path().display()
        );
        let log = self
            .folder
            .path()
            .join("postgres.log")
            .display()
            .to_string();
        run_checked(self.as_postgres("pg_ctl").args([
            "-D",
            &self.cluster(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "start",
        ]));
    }

    /// `pg_ctl stop -m fast`: sessions are cut, as in a restart for an upgrade.
    pub fn stop(&self) {
        run_checked(self.as_postgres("pg_ctl").args([
            "-D",
            &self.cluster(),
            "-m",
            "fast",
            "-w",
            "stop",
        ]));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .args(["-D", &self.cluster(), "-m", "immediate", "stop"])
            .output();
    }
}

fn run_checked(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?} does not run: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One answer, or why there was none.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `None`: no HTTP answer at all (refused connection, reset, timeout).
    pub status: Option<u16>,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
    pub took: Duration,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends `request` and reads the whole answer, within 30 s.
pub async fn send(request: axum::http::Request<Full<Bytes>>) -> Answer {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let response = client().request(request).await.ok()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, headers, body))
    })
    .await
    .ok()
    .flatten();
    let took = started.elapsed();
    match answer {
        Some((status, headers, body)) => Answer {
            status: Some(status),
            headers,
            body,
            took,
        },
        None => Answer {
            status: None,
            headers: axum::http::HeaderMap::new(),
            body: Bytes::new(),
            took,
        },
    }
}

/// `GET base + path`, with the session when given.
pub async fn get(base: &str, path: &str, site: Option<&Site>) -> Answer {
    let mut request = axum::http::Request::get(format!("{base}{path}"));
    if let Some(site) = site {
        request = request.header("cookie", site.cookie());
    }
    send(request.body(Full::default()).expect("a request")).await
}

/// A server function or form POST as the page's own script sends it.
pub async fn post_form(site: &Site, path: &str, form: &str) -> Answer {
    let request = axum::http::Request::post(format!("{}{path}", site.base))
        .header("cookie", site.cookie())
        .header("origin", &site.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(form.to_string())))
        .expect("a request");
    send(request).await
}

/// `POST /api/upload` of `files` in one multipart request.
pub async fn upload(site: &Site, files: &[(String, Vec<u8>)]) -> Answer {
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    let (content_type, body) = crate::files::multipart(&borrowed);
    let request = axum::http::Request::post(format!("{}/api/upload", site.base))
        .header("cookie", site.cookie())
        .header("origin", &site.base)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a request");
    send(request).await
}

/// A real photograph from the fixtures with `n` appended after its end: decoders read the
/// same picture, but every copy is a photo of its own (its SHA-256 differs).
pub fn distinct_photo(fixture: &str, n: u64) -> Vec<u8> {
    let mut bytes = crate::files::fixture(fixture);
    bytes.extend_from_slice(format!("drill copy {n:016}").as_bytes());
    bytes
}

/// Every answer of a load, by the kind of request, in the order they came.
#[derive(Default)]
pub struct Tally {
    samples: Mutex<Vec<Sample>>,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: &'static str,
    pub at: Instant,
    pub status: Option<u16>,
    pub took: Duration,
}

impl Tally {
    pub fn record(&self, kind: &'static str, answer: &Answer) {
        self.samples.lock().expect("tally").push(Sample {
            kind,
            at: Instant::now() - answer.took,
            status: answer.status,
            took: answer.took,
        });
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().expect("tally").clone()
    }

    /// `kind status` → count, with `none` for requests that got no answer.
    pub fn counts(samples: &[Sample]) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for sample in samples {
            let status = sample
                .status
                .map_or("none".to_string(), |status| status.to_string());
            *counts
                .entry(format!("{} {status}", sample.kind))
                .or_default() += 1;
        }
        counts
    }
}

/// Readers that fetch `paths` in turn as fast as answers come, until `stop` fires.
pub fn read_continuously(
    site: &Site,
    readers: usize,
    paths: Vec<(&'static str, String)>,
    tally: Arc<Tally>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for reader in 0..readers {
        let (site, paths, tally, stop) = (site.clone(), paths.clone(), tally.clone(), stop.clone());
        tasks.spawn(async move {
            let mut next = reader;
            while !*stop.borrow() {
                let (kind, path) = &paths[next % paths.len()];
                next += 1;
                let answer = get(&site.base, path, Some(&site)).await;
                tally.record(kind, &answer);
                if !served(&answer) {
                    // As a page's script would, wait a moment before asking again.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }
    tasks
}

/// The paths readers fetch: the timeline page, the albums page, a photo page, a photo's
/// status, and the timeline's month buckets as the page's script fetches them.
pub async fn reading_paths(pool: &flashbulb_store::Pool) -> Vec<(&'static str, String)> {
    let months: Vec<i64> = sqlx::query_scalar(
        "SELECT month FROM photo_months WHERE photo_count > 0 ORDER BY month DESC LIMIT 4",
    )
    .fetch_all(pool)
    .await
    .expect("months");
    let photo: i64 = sqlx::query_scalar("SELECT max(id) FROM photos WHERE status = 'ready'")
        .fetch_one(pool)
        .await
        .expect("a photo");
    let mut paths = vec![
        ("page", "/".to_string()),
        ("page", "/albums".to_string()),
        ("page", format!("/p/{photo}")),
        // Never cached: every one reaches the database.
        ("status", format!("/api/photos/status?ids={photo}")),
    ];
    for month in months {
        paths.push((
            "bucket",
            format!(
                "/api/timeline/buckets/{:04}-{:02}",
                month.div_euclid(12),
                month.rem_euclid(12) + 1
            ),
        ));
    }
    paths
}

/// True when `answer` is what a reader should get: the page or data, 2xx.
pub fn served(answer: &Answer) -> bool {
    answer
        .status
        .is_some_and(|status| StatusCode::from_u16(status).is_ok_and(|s| s.is_success()))
}

/// A machine of the drill's own: a network namespace joined to this one by a veth pair, the
/// namespace at `10.77.{index}.2`, this side at `10.77.{index}.1` (where it reaches the
/// databases, Redis and the object store). Removed when dropped. Root only, as CI runs.
pub struct Host {
    pub netns: String,
    /// Its address, where its processes listen.
    pub address: String,
    /// This machine's address as the host sees it.
    pub gateway: String,
    outside: String,
}

impl Host {
    pub fn create(name: &str, index: u8) -> Self {
        let netns = format!("fb-{name}");
        let outside = format!("fbh-{name}");
        let inside = format!("fbn-{name}");
        // What an interrupted run may have left.
        let _ = Command::new("ip").args(["netns", "del", &netns]).output();
        let _ = Command::new("ip").args(["link", "del", &outside]).output();
        let address = format!("10.77.{index}.2");
        let gateway = format!("10.77.{index}.1");
        let ip = |args: &[&str]| run_checked(Command::new("ip").args(args));
        ip(&["netns", "add", &netns]);
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", &inside,
        ]);
        ip(&["link", "set", &inside, "netns", &netns]);
        ip(&["addr", "add", &format!("{gateway}/24"), "dev", &outside]);
        ip(&["link", "set", &outside, "up"]);
        let within = |args: &[&str]| {
            let mut all = vec!["netns", "exec", netns.as_str(), "ip"];
            all.extend_from_slice(args);
            run_checked(Command::new("ip").args(&all));
        };
        within(&["addr", "add", &format!("{address}/24"), "dev", &inside]);
        within(&["link", "set", &inside, "up"]);
        within(&["link", "set", "lo", "up"]);
        Self {
            netns,
            address,
            gateway,
            outside,
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.outside])
            .output();
    }
}
