//! The tab's one live socket: connects to the hub, subscribes to the page's topics, reconnects
//! with exponential backoff and jitter, and re-dispatches every message as a DOM event that
//! other islands listen to (the hub's binary frames decoded, then as JSON like every other
//! message). After a reconnect it dispatches a `resync`, because updates sent while the socket
//! was down are gone.

use leptos::prelude::*;

use super::Topic;

/// Keeps the page's live socket. Rendered once per page that wants live updates, with the
/// topics that page shows. It keeps every `[data-live-count=photos|queued]` element of the page
/// current; with `notice`, it also says when what the page shows has changed, for pages that
/// do not patch themselves.
#[island(lazy)]
pub fn LiveUpdates(topics: Vec<Topic>, notice: bool) -> impl IntoView {
    let changed = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        on_message(move |message| {
            use super::{Change, ServerMessage, TimelineNews};
            for news in TimelineNews::of(&message) {
                client::dispatch(super::TIMELINE_EVENT, &news.encode());
            }
            match message {
                ServerMessage::Frame { state, added, .. } => {
                    for change in &state {
                        if let Change::Count { counter, value } = change {
                            client::show_count(*counter, *value);
                        }
                    }
                    let only_counts = added.is_empty()
                        && state
                            .iter()
                            .all(|change| matches!(change, Change::Count { .. }));
                    if notice && !only_counts {
                        changed.set(true);
                    }
                }
                ServerMessage::Resync { .. } if notice => changed.set(true),
                _ => {}
            }
        });
        Effect::new(move |_| client::start(topics.clone()));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (topics, notice);
    view! {
        <Show when=move || changed.get()>
            <p class="notice live-notice" role="status">
                "This page has changed since it was loaded. "
                <a href="" class="button">"Show the changes"</a>
            </p>
        </Show>
    }
}

/// The attribute on `<html>` that says whether the live socket is open (`open`: connected, and
/// the hub has answered every subscription, so no change made from now on can be missed),
/// still subscribing (`subscribing`) or not connected (`closed`); pages and tests read it.
pub const LIVE_STATE_ATTRIBUTE: &str = "data-live";

/// Calls `handle` with every message the live socket receives, for as long as the calling
/// island lives.
#[cfg(feature = "hydrate")]
pub fn on_message(handle: impl Fn(super::ServerMessage) + 'static) {
    use leptos::wasm_bindgen::JsCast;
    let listener = window_event_listener_untyped(super::LIVE_EVENT, move |event| {
        let Some(text) = event
            .dyn_ref::<web_sys::CustomEvent>()
            .and_then(|event| event.detail().as_string())
        else {
            return;
        };
        match serde_json::from_str(&text) {
            Ok(message) => handle(message),
            Err(error) => leptos::logging::warn!("live update not understood: {error}"),
        }
    });
    on_cleanup(move || listener.remove());
}

/// Whether the live socket is open now: pages that can be updated live need not reload.
#[cfg(feature = "hydrate")]
pub fn is_open() -> bool {
    document()
        .document_element()
        .and_then(|html| html.get_attribute(LIVE_STATE_ATTRIBUTE))
        .is_some_and(|state| state == "open")
}

#[cfg(feature = "hydrate")]
mod client {
    use std::{cell::RefCell, rc::Rc};

    use leptos::{
        prelude::*,
        wasm_bindgen::{closure::Closure, JsCast, JsValue},
    };

    use super::LIVE_STATE_ATTRIBUTE;
    use crate::live::{ClientMessage, ServerMessage, Topic, LIVE_EVENT, LIVE_PATH};

    struct Connection {
        topics: Vec<Topic>,
        /// Failed attempts since the socket was last open.
        failures: u32,
        opened_before: bool,
        /// Subscriptions sent on the current socket that the hub has not answered yet.
        unanswered: usize,
        socket: Option<web_sys::WebSocket>,
        /// The handlers of the current socket, dropped with it.
        handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    }

    pub fn start(topics: Vec<Topic>) {
        let connection = Rc::new(RefCell::new(Connection {
            topics,
            failures: 0,
            opened_before: false,
            unanswered: 0,
            socket: None,
            handlers: Vec::new(),
        }));
        open(connection);
    }

    fn open(connection: Rc<RefCell<Connection>>) {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        let socket = match web_sys::WebSocket::new(&format!("{scheme}://{host}{LIVE_PATH}")) {
            Ok(socket) => socket,
            Err(_) => return retry_later(connection),
        };

        let on_open = {
            let connection = connection.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                let (socket, topics, reconnected) = {
                    let mut state = connection.borrow_mut();
                    state.failures = 0;
                    let reconnected = state.opened_before;
                    state.opened_before = true;
                    state.unanswered = state.topics.len();
                    (state.socket.clone(), state.topics.clone(), reconnected)
                };
                set_state(if topics.is_empty() {
                    "open"
                } else {
                    "subscribing"
                });
                if let Some(socket) = socket {
                    for topic in topics {
                        if let Ok(text) = serde_json::to_string(&ClientMessage::Subscribe { topic })
                        {
                            let _ = socket.send_with_str(&text);
                        }
                    }
                }
                if reconnected {
                    if let Ok(text) = serde_json::to_string(&ServerMessage::Resync { topic: None })
                    {
                        dispatch(LIVE_EVENT, &text);
                    }
                }
            })
        };
        let on_message = {
            let connection = connection.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let Some(data) = event
                    .dyn_ref::<web_sys::MessageEvent>()
                    .map(web_sys::MessageEvent::data)
                else {
                    return;
                };
                if let Some(text) = data.as_string() {
                    count_answer(&connection, &text);
                    dispatch(LIVE_EVENT, &text);
                    return;
                }
                // Frames come binary, several back to back when the connection fell behind.
                let bytes = js_sys::Uint8Array::new(&data).to_vec();
                match crate::live::frame::decode_frames(&bytes) {
                    Ok(frames) => {
                        for frame in frames {
                            if let Ok(text) = serde_json::to_string(&frame) {
                                dispatch(LIVE_EVENT, &text);
                            }
                        }
                    }
                    Err(error) => leptos::logging::warn!("live update not understood: {error}"),
                }
            })
        };
        let on_close = {
            let connection = connection.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                set_state("closed");
                retry_later(connection.clone());
            })
        };
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

        let mut state = connection.borrow_mut();
        if let Some(old) = state.socket.replace(socket) {
            old.set_onopen(None);
            old.set_onmessage(None);
            old.set_onclose(None);
        }
        state.handlers = vec![on_open, on_message, on_close];
    }

    /// Counts the hub's answers to this socket's subscriptions; once all are in, the socket is
    /// `open`: a change made after that reaches this tab.
    fn count_answer(connection: &Rc<RefCell<Connection>>, line: &str) {
        let mut state = connection.borrow_mut();
        if state.unanswered == 0 {
            return;
        }
        if let Ok(ServerMessage::Subscribed { .. } | ServerMessage::Refused { .. }) =
            serde_json::from_str(line)
        {
            state.unanswered -= 1;
            if state.unanswered == 0 {
                set_state("open");
            }
        }
    }

    fn retry_later(connection: Rc<RefCell<Connection>>) {
        let failures = {
            let mut state = connection.borrow_mut();
            state.failures = state.failures.saturating_add(1);
            state.failures
        };
        let delay = crate::live::retry_delay(failures, js_sys::Math::random());
        set_timeout(move || open(connection), delay);
    }

    /// Dispatches a DOM event `name` on `window` with `text` as its detail.
    pub fn dispatch(name: &str, text: &str) {
        let init = web_sys::CustomEventInit::new();
        init.set_detail(&JsValue::from_str(text));
        if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = window().dispatch_event(&event);
        }
    }

    /// Writes a counter into every element of the page that shows it.
    pub fn show_count(counter: crate::live::Counter, value: u64) {
        use crate::live::Counter;
        let (name, text) = match counter {
            Counter::Photos => ("photos", crate::format::photo_count(value)),
            Counter::Queued => ("queued", crate::format::thousands(value)),
        };
        let Ok(elements) = document().query_selector_all(&format!("[data-live-count=\"{name}\"]"))
        else {
            return;
        };
        for index in 0..elements.length() {
            if let Some(element) = elements.item(index) {
                element.set_text_content(Some(&text));
            }
        }
    }

    fn set_state(state: &str) {
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute(LIVE_STATE_ATTRIBUTE, state);
        }
    }
}
