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
use nix::sys::{
    socket::{
        recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, TimestampingFlag, Timestamps,
    },
    time::TimeSpec,
};
use tungstenite::{Message, WebSocket};

use super::{live_request, micros, socket_config, SentAt, Site, Tally};

/// A socket following the library, read without blocking once opened.
type Held = WebSocket<Stamped>;

/// A socket that keeps the time its kernel received the last bytes read from it
/// (`SO_TIMESTAMPING`, once [`Stamped::stamp_arrivals`] asked for it). One thread reads
/// thousands of sockets, so a frame may wait in its socket while the thread reads others;
/// a browser tab reads its one socket at once. The kernel's time says when the frame
/// reached the client, whatever the reader was busy with.
pub(super) struct Stamped {
    stream: TcpStream,
    /// Whether the kernel was asked for receive times: only these sockets pay for `recvmsg`'s
    /// control data.
    stamping: bool,
    /// The kernel's receive time (`CLOCK_REALTIME`) of the last bytes read.
    arrived: Option<TimeSpec>,
    /// Read by the poll's thread, without blocking, from the first readiness on.
    polled: bool,
    /// The last read took less than it asked for: the socket was empty then, and anything
    /// arriving since raises a new readiness event. Until that event the next read would
    /// only find nothing, a system call per message on top of the one that read it.
    drained: bool,
}

impl Stamped {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            stamping: false,
            arrived: None,
            polled: false,
            drained: false,
        }
    }

    /// The poll said bytes arrived: the next read asks the kernel again.
    fn readable(&mut self) {
        self.polled = true;
        self.drained = false;
    }

    fn stamp_arrivals(&mut self) -> std::io::Result<()> {
        let flags = TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE;
        setsockopt(&self.stream, sockopt::Timestamping, &flags).map_err(std::io::Error::from)?;
        self.stamping = true;
        Ok(())
    }

    /// When the last bytes read reached this machine, as an instant of this process's clock;
    /// `None` when the kernel gave no time.
    fn arrived(&self) -> Option<Instant> {
        let arrived = Duration::new(
            u64::try_from(self.arrived?.tv_sec()).ok()?,
            u32::try_from(self.arrived?.tv_nsec()).ok()?,
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Instant::now().checked_sub(now.saturating_sub(arrived))
    }

    /// One read of the socket, with the kernel's receive time when it was asked for.
    fn receive(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.stamping {
            return std::io::Read::read(&mut self.stream, buf);
        }
        let mut control = nix::cmsg_space!(Timestamps);
        let mut buffers = [std::io::IoSliceMut::new(buf)];
        let received = recvmsg::<()>(
            self.stream.as_raw_fd(),
            &mut buffers,
            Some(&mut control),
            MsgFlags::empty(),
        )
        .map_err(std::io::Error::from)?;
        let read = received.bytes;
        if let Ok(messages) = received.cmsgs() {
            for message in messages {
                if let ControlMessageOwned::ScmTimestampsns(times) = message {
                    self.arrived = Some(times.system);
                }
            }
        }
        Ok(read)
    }
}

impl std::io::Read for Stamped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.drained {
            return Err(ErrorKind::WouldBlock.into());
        }
        let read = self.receive(buf)?;
        // Zero is the end of the stream, which a read must keep reporting.
        self.drained = self.polled && read > 0 && read < buf.len();
        Ok(read)
    }
}

impl std::io::Write for Stamped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

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
    let stream = Stamped::new(stream);
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
    let stream = &socket.get_mut().stream;
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    stream.set_nonblocking(true)?;
    Ok(socket)
}

/// What the measuring sockets timed, in microseconds: since each change's request, and since
/// the server's answer, to when this thread read the frame; and since the answer to when the
/// frame reached the socket.
#[derive(Default)]
pub(super) struct Heard {
    pub(super) latencies: Vec<u32>,
    pub(super) answered: Vec<u32>,
    pub(super) arrived: Vec<u32>,
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
    for socket in sockets.iter_mut().take(measured) {
        socket.get_mut().stamp_arrivals()?;
    }
    for (at, socket) in sockets.iter().enumerate() {
        let fd = socket.get_ref().stream.as_raw_fd();
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
            socket.get_mut().readable();
            loop {
                match socket.read() {
                    Ok(Message::Binary(frames)) => {
                        messages += 1;
                        bytes += frames.len() as u64;
                        if at < measured {
                            let arrived = socket.get_ref().arrived();
                            time_changes(&frames, sent_at, Instant::now(), arrived, &mut heard);
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
                        let fd = socket.get_ref().stream.as_raw_fd();
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

/// Times every favourite change in `frames` against when it was requested and answered,
/// read `now` and, when the kernel said, `arrived` at the socket.
fn time_changes(
    frames: &[u8],
    sent_at: &SentAt,
    now: Instant,
    arrived: Option<Instant>,
    heard: &mut Heard,
) {
    for frame in decode_frames(frames).unwrap_or_default() {
        let ServerMessage::Frame { state, .. } = frame else {
            continue;
        };
        for change in state {
            if let Change::Photo { id, .. } = change {
                if let Some((since_request, since_answer)) = sent_at.latency(id, now) {
                    heard.latencies.push(micros(since_request));
                    heard.answered.push(micros(since_answer));
                    // Read later than it arrived by as long as it waited in the socket.
                    if let Some(waited) =
                        arrived.map(|arrived| now.saturating_duration_since(arrived))
                    {
                        heard
                            .arrived
                            .push(micros(since_answer.saturating_sub(waited)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// A loopback connection: the client's end and the server's.
    fn connected() -> (TcpStream, TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let stream =
            TcpStream::connect(listener.local_addr().expect("its address")).expect("connected");
        let (server, _) = listener.accept().expect("accepted");
        (stream, server)
    }

    #[test]
    fn an_emptied_socket_is_read_again_only_once_the_poll_says_so() {
        let (stream, mut server) = connected();
        stream.set_nonblocking(true).expect("non-blocking");
        let mut stamped = Stamped::new(stream);
        stamped.readable();
        let mut buffer = [0; 16];
        // On loopback the bytes are in the socket once written.
        server.write_all(b"one").expect("written");
        assert_eq!(stamped.read(&mut buffer).expect("read"), 3);
        server.write_all(b"two").expect("written");
        let skipped = stamped
            .read(&mut buffer)
            .expect_err("not asked before the poll");
        assert_eq!(skipped.kind(), ErrorKind::WouldBlock);
        stamped.readable();
        assert_eq!(stamped.read(&mut buffer).expect("read"), 3);
        assert_eq!(&buffer[..3], b"two");
        // A read that fills the buffer may have left more behind: the next one asks.
        server.write_all(&[7; 20]).expect("written");
        stamped.readable();
        assert_eq!(stamped.read(&mut buffer).expect("read"), 16);
        assert_eq!(stamped.read(&mut buffer).expect("read"), 4);
        // The end of the stream keeps being reported.
        drop(server);
        stamped.readable();
        assert_eq!(stamped.read(&mut buffer).expect("the end"), 0);
        assert_eq!(stamped.read(&mut buffer).expect("still the end"), 0);
    }

    #[test]
    fn a_frame_is_timed_from_when_it_reached_the_socket() {
        let (stream, mut server) = connected();
        let mut stamped = Stamped::new(stream);
        stamped
            .stamp_arrivals()
            .expect("the kernel stamps arrivals");
        // The kernel turns receive times on for the whole machine a moment after the first
        // socket asks (a deferred switch): bytes that arrive before carry none.
        let mut buffer = [0; 16];
        let started = Instant::now();
        while stamped.arrived.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the kernel gave no receive time"
            );
            server.write_all(b"probe").expect("written");
            let read = stamped.read(&mut buffer).expect("read");
            assert_eq!(&buffer[..read], b"probe");
            std::thread::sleep(Duration::from_millis(10));
        }
        server.write_all(b"frame").expect("written");
        // On loopback the bytes are in the socket once written; they wait there unread.
        std::thread::sleep(Duration::from_millis(200));
        let read = stamped.read(&mut buffer).expect("read");
        assert_eq!(&buffer[..read], b"frame");
        let waited = stamped.arrived().expect("an arrival time").elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(60),
            "the frame arrived {waited:?} before it was read"
        );
    }
}
