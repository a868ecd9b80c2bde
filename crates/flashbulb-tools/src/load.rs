//! A client of the hub over real sockets: the reconnecting subscriber (used by tests and
//! tools), and `flashbulb live-load`, which holds N connections, makes M changes per second
//! through the HTTP API and reports what arrived, how often and how late.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

mod listeners;

use anyhow::{bail, Context};
use flashbulb_types::{
    codec::Segment,
    live::{frame::decode_frames, retry_delay, ClientMessage, ServerMessage, Topic, LIVE_PATH},
    model::{PhotoId, TimelineFirstScreen},
};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde::Serialize;
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    tungstenite::{self, client::IntoClientRequest, protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server and the session the tool acts with.
#[derive(Debug, Clone)]
pub struct Site {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// The session cookie's token.
    pub session: String,
}

impl Site {
    /// The `Cookie` header value that carries the session.
    pub fn cookie(&self) -> String {
        format!(
            "{}={}",
            flashbulb_core::users::sessions::COOKIE,
            self.session
        )
    }
}

/// Signs in to `base` as a browser's form would; returns the session's token.
pub async fn sign_in(base: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let http: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let form = format!(
        "username={}&password={}",
        flashbulb_types::format::encode_component(user),
        flashbulb_types::format::encode_component(password)
    );
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("{base}/signin"))
        .header(http::header::ORIGIN, base)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Full::new(bytes::Bytes::from(form)))?;
    let response = http
        .request(request)
        .await
        .with_context(|| format!("signing in to {base}"))?;
    let prefix = format!("{}=", flashbulb_core::users::sessions::COOKIE);
    response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(&prefix))
        .and_then(|rest| rest.split(';').next())
        .filter(|token| !token.is_empty())
        .map(str::to_string)
        .with_context(|| {
            format!(
                "{base} did not sign {user} in ({}): check the name and FLASHBULB_PASSWORD",
                response.status()
            )
        })
}

/// The upgrade request a page of `site` makes to its hub (Origin and session cookie).
fn live_request(site: &Site) -> Result<http::Request<()>, tungstenite::Error> {
    let base = &site.base;
    let ws_url = format!(
        "{}{LIVE_PATH}",
        base.replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1)
    );
    let mut request = ws_url.into_client_request()?;
    let origin = base.trim_end_matches('/');
    let header = |value: &str| {
        http::HeaderValue::from_str(value).map_err(|e| tungstenite::Error::HttpFormat(e.into()))
    };
    request
        .headers_mut()
        .insert(http::header::ORIGIN, header(origin)?);
    request
        .headers_mut()
        .insert(http::header::COOKIE, header(&site.cookie())?);
    Ok(request)
}

/// Updates are small; a large read buffer per socket would dominate memory at scale, and
/// tungstenite zero-fills the free part of it before every read, so its size is paid per
/// message. Larger messages still arrive whole, over more reads.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0)
}

/// Opens a socket to the hub of the site as a page of that site would.
pub async fn connect(site: &Site) -> Result<Socket, tungstenite::Error> {
    let (socket, _) = tokio_tungstenite::connect_async_with_config(
        live_request(site)?,
        Some(socket_config()),
        false,
    )
    .await?;
    Ok(socket)
}

pub async fn send(socket: &mut Socket, message: &ClientMessage) -> Result<(), tungstenite::Error> {
    let text = serde_json::to_string(message).map_err(|e| tungstenite::Error::Io(e.into()))?;
    socket.send(Message::text(text)).await
}

/// Reads the next WebSocket message of the hub, skipping pings and pongs, as the protocol
/// messages it holds (a binary message holds one or more frames, a text message one JSON
/// message); `None` once the socket ends.
pub async fn receive_all(socket: &mut Socket) -> Option<Vec<Result<ServerMessage, String>>> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => {
                return Some(vec![serde_json::from_str(&text).map_err(|e| {
                    format!("{e}: {}", text.chars().take(200).collect::<String>())
                })])
            }
            Ok(Message::Binary(bytes)) => {
                return Some(match decode_frames(&bytes) {
                    Ok(frames) => frames.into_iter().map(Ok).collect(),
                    Err(error) => vec![Err(error.to_string())],
                })
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Reads the next message of the hub, one at a time: messages that arrived together wait in
/// `pending` for the next call.
pub async fn receive_one(
    socket: &mut Socket,
    pending: &mut std::collections::VecDeque<Result<ServerMessage, String>>,
) -> Option<Result<ServerMessage, String>> {
    loop {
        if let Some(message) = pending.pop_front() {
            return Some(message);
        }
        pending.extend(receive_all(socket).await?);
    }
}

/// Follows `topics` on the hub of `base` for as long as the receiver lives: reconnects with
/// exponential backoff and jitter, subscribes again, and reports a reconnect as a `resync`
/// (what was sent while the socket was down is gone).
pub fn follow(site: Site, topics: Vec<Topic>) -> mpsc::Receiver<ServerMessage> {
    let (sender, receiver) = mpsc::channel(1024);
    tokio::spawn(async move {
        let mut failures = 0u32;
        let mut connected_before = false;
        loop {
            if let Ok(mut socket) = connect(&site).await {
                failures = 0;
                let mut subscribed = true;
                for topic in &topics {
                    let subscribe = ClientMessage::Subscribe { topic: *topic };
                    subscribed &= send(&mut socket, &subscribe).await.is_ok();
                }
                if subscribed && connected_before {
                    let resync = ServerMessage::Resync { topic: None };
                    if sender.send(resync).await.is_err() {
                        return;
                    }
                }
                connected_before |= subscribed;
                while let Some(messages) = receive_all(&mut socket).await {
                    for message in messages.into_iter().flatten() {
                        if sender.send(message).await.is_err() {
                            return;
                        }
                    }
                }
            }
            if sender.is_closed() {
                return;
            }
            failures = failures.saturating_add(1);
            tokio::time::sleep(retry_delay(failures, rand::random::<f64>())).await;
        }
    });
    receiver
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The server to load, e.g. `http://127.0.0.1:3000`.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// The user the tool signs in as; the password comes from FLASHBULB_PASSWORD.
    #[arg(long, default_value = "demo")]
    pub user: String,
    #[arg(long, env = "FLASHBULB_PASSWORD", hide_env_values = true, hide = true)]
    pub password: String,
    /// Sockets held open, each following the library.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Favourite changes made per second through the HTTP API (0: only hold connections).
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// How long changes are made, after every socket is open.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Sockets that decode every frame to measure latency; the rest count messages only.
    #[arg(long, default_value_t = 200)]
    pub latency_sample: usize,
    /// Change requests in flight at most (each on its own connection): enough that a slow
    /// answer does not hold the rate back, so a short rate is the server's, not the tool's.
    #[arg(long, default_value_t = 2048)]
    pub max_in_flight: usize,
    /// The server's process id, to report its resident memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub connections_wanted: usize,
    pub connections_held: usize,
    pub connect_failures: u64,
    pub connect_seconds: f64,
    pub server_rss_idle_mib: Option<f64>,
    pub server_rss_held_mib: Option<f64>,
    pub server_rss_after_load_mib: Option<f64>,
    pub rate_wanted: u32,
    /// Changes answered per second of the run: what the server really took.
    pub rate_achieved: f64,
    pub changes_made: u64,
    pub change_failures: u64,
    pub seconds: f64,
    pub messages_delivered: u64,
    pub megabytes_delivered: f64,
    /// Bytes on the wire for each change each socket got: what a delivery costs.
    pub bytes_per_delivered_change: Option<f64>,
    /// CPU the server used (user + system) from the first change to the last frame.
    pub server_cpu_seconds: Option<f64>,
    /// That CPU for each change each socket got, in microseconds.
    pub server_cpu_us_per_delivered_change: Option<f64>,
    /// CPU this tool used meanwhile: it shares the machine with the server.
    pub load_cpu_seconds: Option<f64>,
    pub messages_per_client_per_second: f64,
    pub resyncs: u64,
    pub disconnects: u64,
    pub latency_samples: usize,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p90: Option<f64>,
    pub latency_ms_p99: Option<f64>,
    pub latency_ms_max: Option<f64>,
    /// From the server's answer (the change stored and published) to this tool reading the
    /// frame.
    pub fanout_ms_p50: Option<f64>,
    pub fanout_ms_p99: Option<f64>,
    /// From the server's answer to the frame reaching the client's socket (the kernel's
    /// receive time): without the time the frame then waited while the tool's one reading
    /// thread read thousands of other sockets.
    pub fanout_arrived_ms_p50: Option<f64>,
    pub fanout_arrived_ms_p99: Option<f64>,
    /// The changes' own HTTP answers during the fan-out: request sent → response received.
    pub answer_ms_p50: Option<f64>,
    pub answer_ms_p99: Option<f64>,
    pub answer_ms_max: Option<f64>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |value: Option<f64>| value.map_or("?".to_string(), |v| format!("{v:.0} MiB"));
        let ms = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.1} ms"));
        writeln!(
            f,
            "connections: {} of {} held ({} failed) in {:.1} s; server RSS {} idle, {} held, {} after load",
            self.connections_held,
            self.connections_wanted,
            self.connect_failures,
            self.connect_seconds,
            mib(self.server_rss_idle_mib),
            mib(self.server_rss_held_mib),
            mib(self.server_rss_after_load_mib),
        )?;
        writeln!(
            f,
            "changes: {} made ({} failed) over {:.1} s: {:.0}/s achieved of {}/s wanted",
            self.changes_made,
            self.change_failures,
            self.seconds,
            self.rate_achieved,
            self.rate_wanted
        )?;
        writeln!(
            f,
            "delivered: {} messages, {:.1} MB ({} bytes per change per socket), {:.1} WebSocket messages per client per second, {} resyncs, {} disconnects",
            self.messages_delivered,
            self.megabytes_delivered,
            self.bytes_per_delivered_change
                .map_or("-".to_string(), |bytes| format!("{bytes:.0}")),
            self.messages_per_client_per_second,
            self.resyncs,
            self.disconnects
        )?;
        writeln!(
            f,
            "CPU from the first change to the last frame: server {}{}, this tool {}",
            self.server_cpu_seconds
                .map_or("?".to_string(), |cpu| format!("{cpu:.1} s")),
            self.server_cpu_us_per_delivered_change
                .map_or(String::new(), |us| format!(
                    " ({us:.2} µs per change per socket)"
                )),
            self.load_cpu_seconds
                .map_or("?".to_string(), |cpu| format!("{cpu:.1} s")),
        )?;
        writeln!(
            f,
            "latency (change requested → frame received, {} samples): p50 {}, p90 {}, p99 {}, max {}",
            self.latency_samples,
            ms(self.latency_ms_p50),
            ms(self.latency_ms_p90),
            ms(self.latency_ms_p99),
            ms(self.latency_ms_max),
        )?;
        writeln!(
            f,
            "fan-out (server answered → frame read by this tool): p50 {}, p99 {}",
            ms(self.fanout_ms_p50),
            ms(self.fanout_ms_p99),
        )?;
        writeln!(
            f,
            "fan-out (server answered → frame reached the client's socket): p50 {}, p99 {}",
            ms(self.fanout_arrived_ms_p50),
            ms(self.fanout_arrived_ms_p99),
        )?;
        write!(
            f,
            "the changes' HTTP answers (request sent → response): p50 {}, p99 {}, max {}",
            ms(self.answer_ms_p50),
            ms(self.answer_ms_p99),
            ms(self.answer_ms_max),
        )
    }
}

/// Counters of what arrived, read by the run while the sockets are read.
#[derive(Default)]
struct Tally {
    messages: AtomicU64,
    bytes: AtomicU64,
    resyncs: AtomicU64,
    disconnects: AtomicU64,
}

impl Tally {
    fn add(&self, messages: u64, bytes: u64, resyncs: u64, disconnects: u64) {
        for (counter, value) in [
            (&self.messages, messages),
            (&self.bytes, bytes),
            (&self.resyncs, resyncs),
            (&self.disconnects, disconnects),
        ] {
            if value > 0 {
                counter.fetch_add(value, Ordering::Relaxed);
            }
        }
    }
}

/// When each photo's change was requested and when the server answered (by then the change
/// is stored and published), in microseconds since the run started (0: not yet).
struct SentAt {
    start: Instant,
    index: HashMap<PhotoId, usize>,
    micros: Vec<AtomicU64>,
    answered: Vec<AtomicU64>,
}

impl SentAt {
    /// Changes answered by `micros` since the run started.
    fn answered_by(&self, micros: u64) -> u64 {
        self.answered
            .iter()
            .map(|answered| answered.load(Ordering::Relaxed))
            .filter(|answered| (1..=micros).contains(answered))
            .count() as u64
    }

    /// How long each answered request took, in microseconds.
    fn answer_times(&self) -> Vec<u32> {
        self.micros
            .iter()
            .zip(&self.answered)
            .filter_map(|(sent, answered)| {
                let (sent, answered) = (
                    sent.load(Ordering::Relaxed),
                    answered.load(Ordering::Relaxed),
                );
                (sent > 0 && answered >= sent)
                    .then(|| u32::try_from(answered - sent).unwrap_or(u32::MAX))
            })
            .collect()
    }

    /// Time since the request, and since the answer (zero when the frame came first).
    fn latency(&self, id: PhotoId, now: Instant) -> Option<(Duration, Duration)> {
        let at = *self.index.get(&id)?;
        let sent = self.micros.get(at)?.load(Ordering::Relaxed);
        let answered = self.answered.get(at)?.load(Ordering::Relaxed).max(sent);
        let since =
            |micros: u64| now.saturating_duration_since(self.start + Duration::from_micros(micros));
        (sent > 0).then(|| (since(sent), since(answered)))
    }
}

pub async fn run(args: &LoadArgs) -> anyhow::Result<LoadReport> {
    let base = args.url.trim_end_matches('/').to_string();
    let site = Site {
        session: sign_in(&base, &args.user, &args.password).await?,
        base,
    };
    let http: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.max_in_flight)
        .build_http();
    let wanted_ids = (args.rate as u64 * args.seconds).max(1) as usize;
    let ids = photo_ids(&http, &site, wanted_ids).await?;
    if ids.len() < wanted_ids {
        // Each change is to a photo not changed before in the run, so the run ends early.
        eprintln!(
            "the library holds {} photos, not the {wanted_ids} this rate and length change: \
             the run stops when they are used up",
            ids.len()
        );
    }
    let server_rss_idle_mib = args.server_pid.and_then(rss_mib);

    let start = Instant::now();
    let sent_at = Arc::new(SentAt {
        start,
        index: ids.iter().enumerate().map(|(at, id)| (*id, at)).collect(),
        micros: ids.iter().map(|_| AtomicU64::new(0)).collect(),
        answered: ids.iter().map(|_| AtomicU64::new(0)).collect(),
    });
    let tally = Arc::new(Tally::default());

    let connecting = Instant::now();
    let (sockets, connect_failures) = tokio::task::spawn_blocking({
        let (site, count) = (site.clone(), args.connections);
        move || listeners::open(&site, count)
    })
    .await?;
    let held = sockets.len();
    let connect_seconds = connecting.elapsed().as_secs_f64();
    let listening = listeners::listen(sockets, args.latency_sample, sent_at.clone(), tally.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server_rss_held_mib = args.server_pid.and_then(rss_mib);
    let delivered_before = tally.messages.load(Ordering::Relaxed);
    let bytes_before = tally.bytes.load(Ordering::Relaxed);
    let cpu_before = (args.server_pid.and_then(cpu_seconds), own_cpu_seconds());

    // Changes at a steady rate, each to a photo not changed before in this run.
    let making = Instant::now();
    let made = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    if args.rate > 0 {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let in_flight = Arc::new(tokio::sync::Semaphore::new(args.max_in_flight.max(1)));
        for (at, id) in ids.iter().copied().enumerate() {
            if making.elapsed() >= Duration::from_secs(args.seconds) {
                break;
            }
            tick.tick().await;
            let permit = in_flight.clone().acquire_owned().await?;
            let (http, site, sent_at) = (http.clone(), site.clone(), sent_at.clone());
            let (made, failed) = (made.clone(), failed.clone());
            tokio::spawn(async move {
                let micros = sent_at.start.elapsed().as_micros().max(1) as u64;
                if let Some(slot) = sent_at.micros.get(at) {
                    slot.store(micros, Ordering::Relaxed);
                }
                match set_favourite(&http, &site, id).await {
                    Ok(()) => {
                        let micros = sent_at.start.elapsed().as_micros().max(1) as u64;
                        if let Some(slot) = sent_at.answered.get(at) {
                            slot.store(micros, Ordering::Relaxed);
                        }
                        made.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
                drop(permit);
            });
        }
    } else {
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    }
    let seconds = making.elapsed().as_secs_f64();
    let window_end = micros(making.elapsed() + making.saturating_duration_since(start));
    // Let the last frames and answers arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_rss_after_load_mib = args.server_pid.and_then(rss_mib);
    let server_cpu_seconds = cpu_before
        .0
        .zip(args.server_pid.and_then(cpu_seconds))
        .map(|(before, after)| after - before);
    let load_cpu_seconds = cpu_before
        .1
        .zip(own_cpu_seconds())
        .map(|(before, after)| after - before);
    let listeners::Heard {
        mut latencies,
        answered: mut answered_latencies,
        mut arrived,
    } = tokio::task::spawn_blocking(move || listening.finish()).await??;
    latencies.sort_unstable();
    answered_latencies.sort_unstable();
    arrived.sort_unstable();
    let percentile = |sorted: &[u32], p: f64| -> Option<f64> {
        if sorted.is_empty() {
            return None;
        }
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        Some(f64::from(sorted[rank - 1]) / 1000.0)
    };
    let messages_delivered = tally.messages.load(Ordering::Relaxed) - delivered_before;
    let changes_made = made.load(Ordering::Relaxed);
    let mut answers = sent_at.answer_times();
    answers.sort_unstable();
    Ok(LoadReport {
        connections_wanted: args.connections,
        connections_held: held,
        connect_failures,
        connect_seconds,
        server_rss_idle_mib,
        server_rss_held_mib,
        server_rss_after_load_mib,
        rate_wanted: args.rate,
        // Only answers within the window count: a backlog answered afterwards is not a rate.
        rate_achieved: if seconds > 0.0 {
            sent_at.answered_by(u64::from(window_end)) as f64 / seconds
        } else {
            0.0
        },
        changes_made,
        change_failures: failed.load(Ordering::Relaxed),
        seconds,
        messages_delivered,
        megabytes_delivered: (tally.bytes.load(Ordering::Relaxed) - bytes_before) as f64 / 1e6,
        bytes_per_delivered_change: (changes_made > 0 && held > 0).then(|| {
            (tally.bytes.load(Ordering::Relaxed) - bytes_before) as f64
                / (changes_made as f64 * held as f64)
        }),
        server_cpu_seconds,
        server_cpu_us_per_delivered_change: server_cpu_seconds
            .filter(|_| changes_made > 0 && held > 0)
            .map(|cpu| cpu * 1e6 / (changes_made as f64 * held as f64)),
        load_cpu_seconds,
        messages_per_client_per_second: if held > 0 && seconds > 0.0 {
            messages_delivered as f64 / held as f64 / (seconds + 1.0)
        } else {
            0.0
        },
        resyncs: tally.resyncs.load(Ordering::Relaxed),
        disconnects: tally.disconnects.load(Ordering::Relaxed),
        latency_samples: latencies.len(),
        latency_ms_p50: percentile(&latencies, 0.50),
        latency_ms_p90: percentile(&latencies, 0.90),
        latency_ms_p99: percentile(&latencies, 0.99),
        latency_ms_max: latencies.last().map(|v| f64::from(*v) / 1000.0),
        fanout_ms_p50: percentile(&answered_latencies, 0.50),
        fanout_ms_p99: percentile(&answered_latencies, 0.99),
        fanout_arrived_ms_p50: percentile(&arrived, 0.50),
        fanout_arrived_ms_p99: percentile(&arrived, 0.99),
        answer_ms_p50: percentile(&answers, 0.50),
        answer_ms_p99: percentile(&answers, 0.99),
        answer_ms_max: answers.last().map(|v| f64::from(*v) / 1000.0),
    })
}

fn micros(duration: Duration) -> u32 {
    duration.as_micros().min(u128::from(u32::MAX)) as u32
}

/// Ids of up to `wanted` photos of the library, newest first, read the way pages read them.
async fn photo_ids(
    http: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    site: &Site,
    wanted: usize,
) -> anyhow::Result<Vec<PhotoId>> {
    let base = &site.base;
    let body = request(
        http,
        site,
        http::Method::POST,
        &format!("{base}/api/timeline"),
        "",
    )
    .await?;
    let screen: TimelineFirstScreen =
        serde_json::from_slice(&body).context("reading the timeline")?;
    let mut ids = Vec::with_capacity(wanted);
    for bucket in screen.buckets {
        let mut offset = 0;
        while ids.len() < wanted && offset < bucket.count {
            let url = format!(
                "{base}/api/timeline/buckets/{}?offset={offset}&limit=5000",
                bucket.key()
            );
            let bytes = request(http, site, http::Method::GET, &url, "").await?;
            let segment = Segment::decode(&bytes).context("reading a timeline segment")?;
            offset += segment.ids.len().max(1) as u64;
            ids.extend(segment.ids);
        }
        if ids.len() >= wanted {
            break;
        }
    }
    if ids.is_empty() {
        bail!("the library at {base} has no photos to change; seed it first");
    }
    ids.truncate(wanted);
    Ok(ids)
}

async fn set_favourite(
    http: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    site: &Site,
    id: PhotoId,
) -> anyhow::Result<()> {
    let form = format!("photo_id={id}&favourite=true");
    request(
        http,
        site,
        http::Method::POST,
        &format!("{}/api/set_favourite", site.base),
        &form,
    )
    .await?;
    Ok(())
}

async fn request(
    http: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    site: &Site,
    method: http::Method,
    url: &str,
    form: &str,
) -> anyhow::Result<bytes::Bytes> {
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::ORIGIN, &site.base)
        .header(http::header::COOKIE, site.cookie())
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Full::new(bytes::Bytes::from(form.to_string())))?;
    let response = http
        .request(request)
        .await
        .with_context(|| format!("requesting {url}"))?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// CPU a process used so far (user + system), in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    flashbulb_core::metrics::ProcessStats::of(&pid.to_string()).map(|stats| stats.cpu_seconds)
}

/// CPU this process used so far, in seconds.
fn own_cpu_seconds() -> Option<f64> {
    flashbulb_core::metrics::ProcessStats::of_self().map(|stats| stats.cpu_seconds)
}

/// Resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    flashbulb_core::metrics::ProcessStats::of(&pid.to_string())
        .map(|stats| stats.rss_bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent_at(pairs: &[(u64, u64)]) -> SentAt {
        SentAt {
            start: Instant::now(),
            index: HashMap::new(),
            micros: pairs
                .iter()
                .map(|(sent, _)| AtomicU64::new(*sent))
                .collect(),
            answered: pairs
                .iter()
                .map(|(_, answered)| AtomicU64::new(*answered))
                .collect(),
        }
    }

    #[test]
    fn answers_count_only_when_sent_and_answered() {
        // Answered, answered late, still waiting, never sent.
        let run = sent_at(&[(1_000, 3_000), (2_000, 900_000), (5_000, 0), (0, 0)]);
        assert_eq!(run.answer_times(), vec![2_000, 898_000]);
    }

    #[test]
    fn the_achieved_rate_counts_answers_within_the_window_only() {
        let run = sent_at(&[(1_000, 3_000), (2_000, 900_000), (5_000, 0)]);
        assert_eq!(run.answered_by(500_000), 1);
        assert_eq!(run.answered_by(1_000_000), 2);
    }
}
