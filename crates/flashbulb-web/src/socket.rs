//! `GET /ws`: the upgrade (same-site Origin, a signed-in user), then one task per socket
//! that answers subscriptions, writes what the hub could not write at once, and drops silent
//! peers.
//!
//! The socket's TCP stream is shared: the hub writes each frame straight to it when it is idle
//! (see `flashbulb_core::live::wire`), and the task reads browsers' messages through
//! tungstenite and writes everything else through the same mailbox, so nothing interleaves.

use std::{
    io::{ErrorKind, Read, Write},
    sync::Arc,
    time::Instant,
};

use app::{
    live::{ClientMessage, ServerMessage, Topic, LIVE_PATH},
    model::Viewer,
};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use flashbulb_core::live::hub::{Channel, Connection, Mailbox};
use flashbulb_core::{CoreError, CoreResult};
use flashbulb_types::ApiError;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tungstenite::{
    protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig},
    Message, WebSocket,
};

use crate::WebError;
use crate::{
    access::{names_this_host, SignedIn},
    state::AppState,
};

/// Largest message a browser may send: subscriptions are tiny.
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// What each socket's reader holds for what browsers send: a subscription or a pong fits.
/// tungstenite allocates and fills it per socket, so at 20,000 sockets 4 KiB each would be
/// 80 MiB; a larger message is still read whole (up to [`MAX_CLIENT_MESSAGE`]), in more reads.
const READ_BUFFER: usize = 256;
/// A socket that keeps sending what cannot be understood is closed after this many.
const MAX_REFUSALS: u32 = 10;
/// How long a closing socket may take to accept its last messages.
const CLOSING_WRITE: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) async fn upgrade(
    State(state): State<AppState>,
    viewer: Option<SignedIn>,
    mut request: Request,
) -> Response {
    // Not a WebSocket request at all: say so before anything else.
    let key = match handshake_key(request.headers()) {
        Ok(key) => key,
        Err(reason) => {
            return WebError::from(ApiError::BadRequest(format!(
                "{LIVE_PATH} takes WebSocket upgrades only: {reason}"
            )))
            .into_response()
        }
    };
    let viewer = match accept(viewer, request.headers()) {
        Ok(viewer) => viewer,
        Err(error) => return WebError(error).into_response(),
    };
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return WebError::from(ApiError::BadRequest(format!(
            "{LIVE_PATH}: this connection cannot be upgraded"
        )))
        .into_response();
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "a live socket's upgrade failed");
                return;
            }
        };
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                let hub = state.hub.clone();
                // Sockets live on the hub's own threads: fan-out never takes a request's CPU.
                hub.spawn(serve(parts.io.into_inner(), parts.read_buf, state, viewer));
            }
            Err(_) => tracing::error!(
                "a live socket on a connection not served by flashbulb_web::serve was dropped"
            ),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            tungstenite::handshake::derive_accept_key(key.as_bytes()),
        )
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The client's handshake key, once the request asks for a WebSocket (RFC 6455 §4.2.1).
fn handshake_key(headers: &HeaderMap) -> Result<String, &'static str> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err("Connection header did not include 'upgrade'");
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err("`Upgrade` header did not include 'websocket'");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version != "13")
    {
        return Err("`Sec-WebSocket-Version` header did not include '13'");
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|key| key.to_str().ok())
        .filter(|key| !key.is_empty())
        .map(str::to_string)
        .ok_or("`Sec-WebSocket-Key` header missing")
}

/// Who may open a socket: a signed-in user on a page of this site (cross-site WebSocket
/// hijacking is refused by the Origin check, which a browser always sends on upgrades).
fn accept(viewer: Option<SignedIn>, headers: &HeaderMap) -> CoreResult<Viewer> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            CoreError::Refused(ApiError::Forbidden(
                "a live socket needs an Origin header".into(),
            ))
        })?;
    if !names_this_host(origin, headers) {
        return Err(ApiError::Forbidden(format!(
            "live updates are not offered to pages of {}",
            origin.chars().take(100).collect::<String>()
        ))
        .into());
    }
    viewer
        .map(|SignedIn(viewer)| viewer)
        .ok_or(CoreError::Refused(ApiError::Unauthorized))
}

/// The socket as tungstenite sees it: reads from the stream without waiting (tungstenite
/// keeps what it read of a message meanwhile), writes through the connection's mailbox.
struct Endpoint {
    stream: Arc<TcpStream>,
    mailbox: Arc<Mailbox>,
}

impl Read for Endpoint {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.try_read(buf)
    }
}

impl Write for Endpoint {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.mailbox.send_encoded(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a socket's task ends.
enum Ending {
    /// The peer left, broke the protocol or went silent: nothing more to say.
    Gone,
    /// Say why in a close message first.
    Close(CloseCode, &'static str),
}

/// Serves one socket until the peer leaves, goes silent, misbehaves or the server stops.
async fn serve(stream: TcpStream, early: bytes::Bytes, state: AppState, viewer: Viewer) {
    // The stream was registered with the request threads' runtime: register it with the
    // live runtime this task runs on, so its readiness is the live threads' business.
    let stream = match stream.into_std().and_then(TcpStream::from_std) {
        Ok(stream) => Arc::new(stream),
        Err(error) => {
            tracing::debug!(%error, "a live socket could not move to the live threads");
            return;
        }
    };
    let mut connection = state.hub.connect();
    let mailbox = connection.shared_mailbox();
    let config = *state.hub.config();
    let mut closing = state.hub.closing();
    let mut socket = WebSocket::from_partially_read(
        Endpoint {
            stream: stream.clone(),
            mailbox: mailbox.clone(),
        },
        early.to_vec(),
        Role::Server,
        Some(
            WebSocketConfig::default()
                .read_buffer_size(READ_BUFFER)
                .max_message_size(Some(MAX_CLIENT_MESSAGE))
                .max_frame_size(Some(MAX_CLIENT_MESSAGE)),
        ),
    );
    let hello = ServerMessage::Hello {
        frame_ms: config.frame.as_millis() as u64,
        heartbeat_ms: config.heartbeat.as_millis() as u64,
    };
    if send(&mut socket, &hello).is_err() {
        return;
    }
    // From here on the hub writes frames for this socket itself while it is idle.
    mailbox.attach(stream.clone());
    let mut heartbeat = tokio::time::interval(config.heartbeat);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    let mut refusals = 0;
    let ending = loop {
        tokio::select! {
            // Writing what waited comes first: reads, pings and shutdown follow once the
            // mailbox is empty.
            biased;
            () = mailbox.ready() => {
                if write_waiting(&stream, &mailbox).await.is_err() {
                    break Ending::Gone;
                }
            }
            // A peer that sends faster than it reads is not read until its answers are out:
            // what waits for it stays bounded.
            readable = stream.readable(), if !mailbox.is_backlogged() => {
                if readable.is_err() {
                    break Ending::Gone;
                }
                match read_available(&mut socket, &state, &viewer, &mut connection, &mut refusals).await {
                    Ok(true) => last_heard = Instant::now(),
                    Ok(false) => {}
                    Err(ending) => break ending,
                }
            }
            _ = heartbeat.tick() => {
                // A peer that answered nothing, not even the last two pings, is gone.
                if last_heard.elapsed() > config.heartbeat * 2 + config.heartbeat / 2 {
                    connection.hub().peer_dropped();
                    break Ending::Gone;
                }
                if socket.send(Message::Ping(Default::default())).is_err() {
                    break Ending::Gone;
                }
            }
            _ = closing.changed() => break Ending::Close(CloseCode::Away, "server restarting"),
        }
    };
    if let Ending::Close(code, reason) = ending {
        let _ = socket.close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = socket.flush();
        let _ = tokio::time::timeout(CLOSING_WRITE, write_waiting(&stream, &mailbox)).await;
    }
}

/// Reads and answers every message that arrived; whether anything did. An error ends the
/// socket, saying why when the peer is still there to hear it.
async fn read_available(
    socket: &mut WebSocket<Endpoint>,
    state: &AppState,
    viewer: &Viewer,
    connection: &mut Connection,
    refusals: &mut u32,
) -> Result<bool, Ending> {
    let mut heard = false;
    loop {
        if connection.mailbox().is_backlogged() {
            return Ok(heard);
        }
        let message = match socket.read() {
            Ok(message) => message,
            Err(tungstenite::Error::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
                return Ok(heard)
            }
            Err(tungstenite::Error::Capacity(_)) => {
                return Err(Ending::Close(CloseCode::Size, "message too large"))
            }
            Err(_) => return Err(Ending::Gone),
        };
        heard = true;
        let text = match message {
            Message::Text(text) => text.to_string(),
            // tungstenite answered the close (and pings) itself; the answer goes out first.
            Message::Close(_) => {
                let _ = socket.flush();
                return Err(Ending::Gone);
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Binary(_) => {
                *refusals += 1;
                "binary".to_string()
            }
        };
        let answer = match flashbulb_core::live::read_client_message(&text) {
            Ok(request) => answer(state, viewer, connection, request).await,
            Err(reason) => ServerMessage::Refused { reason },
        };
        if matches!(answer, ServerMessage::Refused { .. }) {
            *refusals += 1;
        }
        if send(socket, &answer).is_err() {
            return Err(Ending::Gone);
        }
        if *refusals >= MAX_REFUSALS {
            return Err(Ending::Close(
                CloseCode::Policy,
                "too many refused messages",
            ));
        }
    }
}

/// Writes everything the hub could not write at once, waiting for the socket to take it;
/// frames that queued meanwhile follow, then the hub writes directly again.
async fn write_waiting(stream: &TcpStream, mailbox: &Mailbox) -> std::io::Result<()> {
    while let Some(outgoing) = mailbox.take_for_writing() {
        let bytes = outgoing.encode();
        let mut written = 0;
        while written < bytes.len() {
            stream.writable().await?;
            match stream.try_write(&bytes[written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => written += count,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
        // `outgoing` is dropped here, after the writes: the hub counts these frames as out.
    }
    Ok(())
}

async fn answer(
    state: &AppState,
    viewer: &Viewer,
    connection: &mut Connection,
    request: ClientMessage,
) -> ServerMessage {
    match request {
        ClientMessage::Subscribe { topic } => {
            if let Err(reason) = authorize(state, viewer, topic).await {
                return ServerMessage::Refused { reason };
            }
            match connection.subscribe(channel(viewer, topic)) {
                Ok(()) => ServerMessage::Subscribed { topic },
                Err(error) => ServerMessage::Refused {
                    reason: error.to_string(),
                },
            }
        }
        ClientMessage::Unsubscribe { topic } => {
            connection.unsubscribe(channel(viewer, topic));
            ServerMessage::Unsubscribed { topic }
        }
    }
}

/// The channel a topic is carried on: the viewer's own, except the console's, which every
/// administrator shares.
fn channel(viewer: &Viewer, topic: Topic) -> Channel {
    match topic {
        Topic::Ops => flashbulb_core::ops::console_channel(),
        Topic::Library | Topic::Album(_) => Channel {
            owner: viewer.id,
            topic,
        },
    }
}

/// Topics are always within the viewer's library (an album must be one of theirs); the
/// console is for administrators.
async fn authorize(state: &AppState, viewer: &Viewer, topic: Topic) -> Result<(), String> {
    match topic {
        Topic::Library => Ok(()),
        Topic::Ops if viewer.admin => Ok(()),
        Topic::Ops => Err("the operations console is for administrators".into()),
        Topic::Album(album) => {
            match flashbulb_store::albums::exists(&state.db, viewer.id, album).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!("there is no album {album} in this library")),
                Err(error) => Err(error.to_api().to_string()),
            }
        }
    }
}

fn send(socket: &mut WebSocket<Endpoint>, message: &ServerMessage) -> tungstenite::Result<()> {
    let text = serde_json::to_string(message).map_err(|e| tungstenite::Error::Io(e.into()))?;
    socket.send(Message::text(text))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    fn check_origin(headers: &HeaderMap) -> CoreResult<Viewer> {
        let viewer = Viewer {
            id: 1,
            name: "ana".into(),
            admin: false,
        };
        accept(Some(SignedIn(viewer)), headers)
    }

    #[test]
    fn only_signed_in_users_may_open_a_socket() {
        let same_site = headers(Some("http://photos.example"), "photos.example");
        assert!(matches!(
            accept(None, &same_site),
            Err(CoreError::Refused(ApiError::Unauthorized))
        ));
    }

    #[test]
    fn only_pages_of_this_site_may_open_a_socket() {
        assert!(check_origin(&headers(
            Some("http://photos.example:3000"),
            "photos.example:3000"
        ))
        .is_ok());
        assert!(check_origin(&headers(Some("https://Photos.Example"), "photos.example")).is_ok());
        for (origin, host) in [
            (Some("http://evil.example"), "photos.example"),
            (Some("http://photos.example.evil.example"), "photos.example"),
            (Some("http://photos.example:3001"), "photos.example:3000"),
            (Some("null"), "photos.example"),
            (Some("photos.example"), "photos.example"),
            (None, "photos.example"),
        ] {
            assert!(
                matches!(
                    check_origin(&headers(origin, host)),
                    Err(CoreError::Refused(ApiError::Forbidden(_)))
                ),
                "{origin:?} on {host} was accepted"
            );
        }
    }
}
