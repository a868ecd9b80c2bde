//! `GET /ws`: the upgrade (same-site Origin, a signed-in user), then one task per socket
//! that answers subscriptions, sends what the hub queued for it, and drops silent peers.

use std::time::Instant;

use app::{
    live::{ClientMessage, ServerMessage, Topic, LIVE_PATH},
    model::Viewer,
};
use axum::{
    extract::{
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        State,
    },
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use flashbulb_core::live::hub::{resync_message, Channel, Connection, Outbound};
use flashbulb_core::{CoreError, CoreResult};
use flashbulb_types::ApiError;

use crate::WebError;
use crate::{
    access::{names_this_host, SignedIn},
    state::AppState,
};

/// Largest message a browser may send: subscriptions are tiny.
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// A socket that keeps sending what cannot be understood is closed after this many.
const MAX_REFUSALS: u32 = 10;
/// WebSocket close code "policy violation" (RFC 6455 §7.4.1).
const CLOSE_POLICY: u16 = 1008;
/// WebSocket close code "going away": the server is shutting down.
const CLOSE_GOING_AWAY: u16 = 1001;

pub(crate) async fn upgrade(
    State(state): State<AppState>,
    viewer: Option<SignedIn>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // Not a WebSocket request at all: say so before anything else.
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return WebError::from(ApiError::BadRequest(format!(
                "{LIVE_PATH} takes WebSocket upgrades only: {rejection}"
            )))
            .into_response()
        }
    };
    match accept(viewer, &headers) {
        Ok(viewer) => upgrade
            .read_buffer_size(MAX_CLIENT_MESSAGE)
            // Each message is written out at once: no second buffer per connection (the
            // mailbox is the one bounded backlog).
            .write_buffer_size(0)
            .max_message_size(MAX_CLIENT_MESSAGE)
            .max_frame_size(MAX_CLIENT_MESSAGE)
            // Sockets live on the hub's own threads: fan-out never takes a request's CPU.
            .on_upgrade(move |socket| async move {
                let hub = state.hub.clone();
                hub.spawn(serve(socket, state, viewer));
            })
            .into_response(),
        Err(error) => WebError(error).into_response(),
    }
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

/// Serves one socket until the peer leaves, goes silent, misbehaves or the server stops.
async fn serve(mut socket: WebSocket, state: AppState, viewer: Viewer) {
    let mut connection = state.hub.connect();
    let config = *state.hub.config();
    let mut closing = state.hub.closing();
    let hello = ServerMessage::Hello {
        frame_ms: config.frame.as_millis() as u64,
        heartbeat_ms: config.heartbeat.as_millis() as u64,
    };
    if send(&mut socket, &hello).await.is_err() {
        return;
    }
    let mut heartbeat = tokio::time::interval(config.heartbeat);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    let mut refusals = 0;
    loop {
        tokio::select! {
            // Writing comes first and, when it is ready, alone: under load a wake-up costs one
            // poll instead of four. Reads, pings and shutdown follow once the mailbox is empty.
            biased;
            () = connection.mailbox().ready() => {
                if flush(&mut socket, &connection).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                let text = match message {
                    Message::Text(text) => text,
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Binary(_) => {
                        refusals += 1;
                        Utf8Bytes::from_static("binary")
                    }
                };
                let answer = match flashbulb_core::live::read_client_message(&text) {
                    Ok(request) => answer(&state, &viewer, &mut connection, request).await,
                    Err(reason) => ServerMessage::Refused { reason },
                };
                if matches!(answer, ServerMessage::Refused { .. }) {
                    refusals += 1;
                }
                if send(&mut socket, &answer).await.is_err() {
                    break;
                }
                if refusals >= MAX_REFUSALS {
                    close(&mut socket, CLOSE_POLICY, "too many refused messages").await;
                    break;
                }
            }
            _ = heartbeat.tick() => {
                // A peer that answered nothing, not even the last two pings, is gone.
                if last_heard.elapsed() > config.heartbeat * 2 + config.heartbeat / 2 {
                    connection.hub().peer_dropped();
                    break;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = closing.changed() => {
                close(&mut socket, CLOSE_GOING_AWAY, "server restarting").await;
                break;
            }
        }
    }
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

/// Sends everything the mailbox holds: a `resync` first when the backlog was dropped. Frames
/// that waited together go out as one binary message (frames are self-delimiting): under load
/// that saves a write per frame exactly where writes are the bottleneck.
async fn flush(socket: &mut WebSocket, connection: &Connection) -> Result<(), axum::Error> {
    let mut outgoing = connection.mailbox().take();
    if outgoing.resync {
        send_text(socket, resync_message(None)).await?;
    }
    let mut frames: Vec<Bytes> = Vec::new();
    for item in std::mem::take(&mut outgoing.items) {
        match item {
            Outbound::Frame(frame) => frames.push(frame.into_bytes()),
            Outbound::Resync(topic) => {
                send_frames(socket, &mut frames).await?;
                send_text(socket, resync_message(Some(topic))).await?;
            }
        }
    }
    send_frames(socket, &mut frames).await
    // `outgoing` is dropped here, after the writes: the hub counts these frames as out.
}

/// Sends `frames` as one binary message, leaving the list empty.
async fn send_frames(socket: &mut WebSocket, frames: &mut Vec<Bytes>) -> Result<(), axum::Error> {
    let message = match frames.len() {
        0 => return Ok(()),
        1 => frames.pop().unwrap_or_default(),
        _ => Bytes::from(std::mem::take(frames).concat()),
    };
    socket.send(Message::Binary(message)).await
}

async fn send_text(socket: &mut WebSocket, text: String) -> Result<(), axum::Error> {
    socket.send(Message::Text(Utf8Bytes::from(text))).await
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> Result<(), axum::Error> {
    let text = serde_json::to_string(message).map_err(axum::Error::new)?;
    send_text(socket, text).await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
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
