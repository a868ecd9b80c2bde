//! The load client's held sockets: opened by a few threads, then read by one thread that
//! waits on all of them at once (epoll, through mio). The tool shares the machine with the
//! server it measures, so a message must cost it a read and a parse, not a task's wake-up.

use std::{
    io::ErrorKind,
    net::TcpStream,
    os::fd::AsRawFd,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::Context;
use flashbulb_types::live::{frame::decode_frames, Change, ClientMessage, ServerMessage, Topic};
use mio::{unix::SourceFd, Events, Interest, Poll, Token};
use tungstenite::{Message, WebSocket};

use super::{live_request, micros, socket_config, SentAt, Site, Tally};

/// A socket following the library, read without blocking once opened.
type Held = WebSocket<TcpStream>;

/// Threads opening sockets at once: handshakes overlap, and a burst of thousands only
/// measures the listen backlog.
const OPENERS: usize = 32;

/// Sockets ready at once below which the reader lets more gather before waiting again.
const BATCH: usize = 256;
/// How long it lets them gather.
const GATHER: Duration = Duration::from_millis(1);

/// How long one socket may take to open and be subscribed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `count` sockets, each following the library once the hub confirmed it; returns
/// them in order with the number that failed.
pub(super) fn open(site: &Site, count: usize) -> (Vec<Held>, u64) {
    let per_thread = count.div_ceil(OPENERS).max(1);
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|first| {
                let last = (first + per_thread).min(count);
                scope.spawn(move || {
                    (first..last)
                        .map(|_| open_one(site))
                        .collect::<Vec<anyhow::Result<Held>>>()
                })
            })
            .collect();
        let mut held = Vec::with_capacity(count);
        let mut failures = 0;
        for opener in openers {
            for opened in opener.join().unwrap_or_default() {
                match opened {
                    Ok(socket) => held.push(socket),
                    Err(_) => failures += 1,
                }
            }
        }
        let lost = count - held.len() - failures as usize;
        (held, failures + lost as u64)
    })
}

fn open_one(site: &Site) -> anyhow::Result<Held> {
    let request = live_request(site)?;
    let host = request.uri().host().context("no host")?.to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(OPEN_TIMEOUT))?;
    stream.set_write_timeout(Some(OPEN_TIMEOUT))?;
    let (mut socket, _) =
        tungstenite::client::client_with_config(request, stream, Some(socket_config()))
            .map_err(|error| anyhow::anyhow!("{error}"))?;
    let subscribe = serde_json::to_string(&ClientMessage::Subscribe {
        topic: Topic::Library,
    })?;
    socket.send(Message::text(subscribe))?;
    loop {
        let Message::Text(text) = socket.read()? else {
            continue;
        };
        match serde_json::from_str::<ServerMessage>(&text) {
            Ok(ServerMessage::Subscribed { .. }) => break,
            Ok(ServerMessage::Refused { reason }) => {
                anyhow::bail!("subscription refused: {reason}")
            }
            _ => continue,
        }
    }
    let stream = socket.get_mut();
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    stream.set_nonblocking(true)?;
    Ok(socket)
}

/// What the measuring sockets timed, in microseconds: since each change's request, and since
/// the server's answer.
#[derive(Default)]
pub(super) struct Heard {
    pub(super) latencies: Vec<u32>,
    pub(super) answered: Vec<u32>,
}

/// The reading thread; [`Listening::finish`] stops it and returns what it timed.
pub(super) struct Listening {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<anyhow::Result<Heard>>,
}

impl Listening {
    pub(super) fn finish(self) -> anyhow::Result<Heard> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the reading thread panicked"))?
    }
}

/// Reads every socket on one thread until stopped, counting what arrives; the first
/// `measured` sockets also decode each frame and time every favourite change in it.
pub(super) fn listen(
    sockets: Vec<Held>,
    measured: usize,
    sent_at: Arc<SentAt>,
    tally: Arc<Tally>,
) -> Listening {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::Builder::new()
        .name("listen".into())
        .spawn(move || read_all(sockets, measured, &sent_at, &tally, &stopping))
        .unwrap_or_else(|error| {
            let failed = anyhow::anyhow!("no reading thread: {error}");
            std::thread::spawn(move || Err(failed))
        });
    Listening { stop, thread }
}

fn read_all(
    mut sockets: Vec<Held>,
    measured: usize,
    sent_at: &SentAt,
    tally: &Tally,
    stop: &AtomicBool,
) -> anyhow::Result<Heard> {
    let mut poll = Poll::new()?;
    for (at, socket) in sockets.iter().enumerate() {
        let fd = socket.get_ref().as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), Token(at), Interest::READABLE)?;
    }
    // Readiness is edge-triggered: each socket is read until it would block, and one that
    // never signalled may already hold what arrived while it was being subscribed.
    let mut ready: Vec<usize> = (0..sockets.len()).collect();
    let mut events = Events::with_capacity(4096);
    let mut heard = Heard::default();
    while !stop.load(Ordering::Relaxed) {
        let (mut messages, mut bytes, mut resyncs, mut disconnects) = (0, 0, 0, 0);
        for at in ready.drain(..) {
            let socket = &mut sockets[at];
            loop {
                match socket.read() {
                    Ok(Message::Binary(frames)) => {
                        messages += 1;
                        bytes += frames.len() as u64;
                        if at < measured {
                            time_changes(&frames, sent_at, Instant::now(), &mut heard);
                        }
                    }
                    Ok(Message::Text(text)) => {
                        messages += 1;
                        bytes += text.len() as u64;
                        if text.starts_with(r#"{"type":"resync""#) {
                            resyncs += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(tungstenite::Error::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
                        break
                    }
                    Err(_) => {
                        disconnects += 1;
                        let fd = socket.get_ref().as_raw_fd();
                        let _ = poll.registry().deregister(&mut SourceFd(&fd));
                        break;
                    }
                }
            }
        }
        tally.add(messages, bytes, resyncs, disconnects);
        if events.iter().count() < BATCH {
            // A few sockets at a time would cost a wake-up each, on both ends of a loopback
            // connection: let more arrive (a frame waits at most this long, on top of what is
            // measured, never instead of it).
            std::thread::sleep(GATHER);
        }
        match poll.poll(&mut events, Some(Duration::from_millis(50))) {
            Ok(()) => ready.extend(events.iter().map(|event| event.token().0)),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(heard)
}

/// Times every favourite change in `frames` against when it was requested and answered.
fn time_changes(frames: &[u8], sent_at: &SentAt, now: Instant, heard: &mut Heard) {
    for frame in decode_frames(frames).unwrap_or_default() {
        let ServerMessage::Frame { state, .. } = frame else {
            continue;
        };
        for change in state {
            if let Change::Photo { id, .. } = change {
                if let Some((since_request, since_answer)) = sent_at.latency(id, now) {
                    heard.latencies.push(micros(since_request));
                    heard.answered.push(micros(since_answer));
                }
            }
        }
    }
}
