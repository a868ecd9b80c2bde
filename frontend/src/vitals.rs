//! Web Vitals of this page view (LCP, INP, CLS, FCP, TTFB): the browser's observers and events
//! feed `app::vitals::measures`, and the beacon reports its values to the server whenever the
//! page is hidden.
//!
//! Hydration runs after the first paint, so every observer asks for the entries the browser
//! buffered before it started. The beacon is JSON written by hand: a JSON library would make
//! the first WASM chunk, which every page downloads, larger.

use std::cell::RefCell;

use app::vitals::measures::{
    beacon_body, hex_id, Measures, EVENT_OBSERVER_THRESHOLD_MS, INP_THRESHOLD_MS,
};
use app::vitals::{route_template, Metric, NavigationType, BEACON_PATH};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The window events the page view follows, all captured on `window` so that an event
/// dispatched on the document without bubbling is seen too.
const WINDOW_EVENTS: [&str; 6] = [
    "visibilitychange",
    "pagehide",
    "pageshow",
    "keydown",
    "click",
    "prerenderingchange",
];

/// Starts measuring this page view. Call once, as early as possible in hydration.
pub fn start() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_event = Closure::<dyn FnMut(web_sys::Event)>::new(on_window_event);
    let options = web_sys::AddEventListenerOptions::new();
    options.set_capture(true);
    for event in WINDOW_EVENTS {
        let _ = window.add_event_listener_with_callback_and_add_event_listener_options(
            event,
            on_event.as_ref().unchecked_ref(),
            &options,
        );
    }
    // The listeners live as long as the page does.
    on_event.forget();
    // web-vitals measures a prerendered page from its activation on; events and entries of
    // the prerendering are not the visitor's experience.
    if document(&window).and_then(|document| document.prerendering()) != Some(true) {
        begin(&window);
    }
}

// ---------------------------------------------------------------------------------------
// The browser side: observers, events and the beacon.

#[wasm_bindgen]
extern "C" {
    /// The fields of performance entries that web-sys does not describe, read only from
    /// entries of the types that carry them.
    #[wasm_bindgen(extends = web_sys::PerformanceEntry)]
    type Entry;
    #[wasm_bindgen(method, getter, js_name = interactionId)]
    fn interaction_id(this: &Entry) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn value(this: &Entry) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = hadRecentInput)]
    fn had_recent_input(this: &Entry) -> Option<bool>;
    #[wasm_bindgen(method, getter, js_name = responseStart)]
    fn response_start(this: &Entry) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = activationStart)]
    fn activation_start(this: &Entry) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = type)]
    fn navigation_type(this: &Entry) -> Option<String>;

    #[wasm_bindgen(extends = web_sys::Document)]
    type Doc;
    #[wasm_bindgen(method, getter)]
    fn prerendering(this: &Doc) -> Option<bool>;
    #[wasm_bindgen(method, getter, js_name = wasDiscarded)]
    fn was_discarded(this: &Doc) -> Option<bool>;

    #[wasm_bindgen(extends = web_sys::Performance)]
    type Perf;
    #[wasm_bindgen(method, getter, js_name = interactionCount)]
    fn interaction_count(this: &Perf) -> Option<f64>;

    /// `PerformanceObserver.observe()`'s options, with the `type` and `durationThreshold`
    /// that web-sys' `PerformanceObserverInit` lacks.
    #[wasm_bindgen(extends = js_sys::Object)]
    type ObserveOptions;
    #[wasm_bindgen(method, setter = type)]
    fn set_type(this: &ObserveOptions, value: &str);
    #[wasm_bindgen(method, setter)]
    fn set_buffered(this: &ObserveOptions, value: bool);
    #[wasm_bindgen(method, setter = durationThreshold)]
    fn set_duration_threshold(this: &ObserveOptions, value: f64);

    #[wasm_bindgen(thread_local_v2, js_namespace = PerformanceObserver, js_name = supportedEntryTypes)]
    static SUPPORTED_ENTRY_TYPES: Option<js_sys::Array>;
}

/// The entry types observed; each is observed only where the browser knows it, so that
/// other browsers report what they can without console warnings.
const ENTRY_TYPES: [&str; 5] = [
    "paint",
    "largest-contentful-paint",
    "layout-shift",
    "event",
    "first-input",
];

struct PageView {
    id: String,
    route: &'static str,
    nav: NavigationType,
    /// When a prerendered page was shown; the metrics count from there.
    activation_start: f64,
    /// When the page was first hidden (infinite while it never was): paints after it are
    /// not what the visitor saw.
    first_hidden: f64,
    /// LCP stops at the first input: what the visitor caused is not the page loading.
    lcp_final: bool,
    /// `performance.interactionCount` when this page view began (a restored page starts
    /// again from zero).
    interactions_before: f64,
    /// The smallest and largest `interactionId` seen, to estimate the interaction count
    /// where the browser does not give it (ids grow by 7 per interaction, as web-vitals
    /// relies on).
    min_interaction_id: f64,
    max_interaction_id: f64,
    /// Whether the beacon went out since the page was last shown: `pagehide` and
    /// `visibilitychange` usually come together, and one beacon tells it all.
    sent: bool,
    measures: Measures,
    observer: Option<web_sys::PerformanceObserver>,
}

thread_local! {
    static PAGE_VIEW: RefCell<Option<PageView>> = const { RefCell::new(None) };
}

fn document(window: &web_sys::Window) -> Option<Doc> {
    window.document().map(JsCast::unchecked_into)
}

fn is_hidden(window: &web_sys::Window) -> bool {
    window
        .document()
        .is_some_and(|document| document.visibility_state() == web_sys::VisibilityState::Hidden)
}

/// The navigation entry, if the browser gives a sound one (some report a zero or a future
/// `responseStart`, which web-vitals ignores).
fn navigation_entry(performance: &web_sys::Performance) -> Option<Entry> {
    let entry: Entry = performance
        .get_entries_by_type("navigation")
        .get(0)
        .dyn_into::<web_sys::PerformanceEntry>()
        .ok()?
        .unchecked_into();
    let response_start = entry.response_start()?;
    (response_start > 0.0 && response_start < performance.now()).then_some(entry)
}

fn random_id(window: &web_sys::Window) -> String {
    let mut bytes = [0u8; 16];
    match window.crypto() {
        Ok(crypto) if crypto.get_random_values_with_u8_array(&mut bytes).is_ok() => {}
        // Without Web Crypto the id need only be unique, not unguessable.
        _ => {
            for byte in &mut bytes {
                *byte = (js_sys::Math::random() * 256.0) as u8;
            }
        }
    }
    hex_id(&bytes)
}

fn begin(window: &web_sys::Window) {
    let Some(performance) = window.performance() else {
        return;
    };
    let navigation = navigation_entry(&performance);
    let activation_start = navigation
        .as_ref()
        .and_then(Entry::activation_start)
        .unwrap_or(0.0);
    let nav = if activation_start > 0.0 {
        NavigationType::Prerender
    } else if document(window).and_then(|document| document.was_discarded()) == Some(true) {
        NavigationType::Restore
    } else {
        match navigation
            .as_ref()
            .and_then(Entry::navigation_type)
            .as_deref()
        {
            Some("reload") => NavigationType::Reload,
            Some("back_forward") => NavigationType::BackForward,
            Some("prerender") => NavigationType::Prerender,
            _ => NavigationType::Navigate,
        }
    };
    // The browser records when the page was hidden; without that record a page hidden now
    // is taken to have been hidden all along.
    let recorded_hidden = performance
        .get_entries_by_type("visibility-state")
        .iter()
        .map(JsCast::unchecked_into::<web_sys::PerformanceEntry>)
        .find(|entry| entry.name() == "hidden" && entry.start_time() >= activation_start)
        .map(|entry| entry.start_time());
    let first_hidden = recorded_hidden.unwrap_or(if is_hidden(window) {
        0.0
    } else {
        f64::INFINITY
    });
    let ttfb = navigation
        .as_ref()
        .and_then(Entry::response_start)
        .map(|response_start| (response_start - activation_start).max(0.0));
    let path = window.location().pathname().unwrap_or_default();

    let page_view = PageView {
        id: random_id(window),
        route: route_template(&path),
        nav,
        activation_start,
        first_hidden,
        lcp_final: false,
        interactions_before: 0.0,
        min_interaction_id: f64::INFINITY,
        max_interaction_id: 0.0,
        sent: false,
        measures: Measures {
            ttfb,
            ..Measures::default()
        },
        observer: observe(),
    };
    PAGE_VIEW.with_borrow_mut(|slot| *slot = Some(page_view));
}

fn observe() -> Option<web_sys::PerformanceObserver> {
    let on_entries = Closure::<dyn FnMut(web_sys::PerformanceObserverEntryList)>::new(
        |list: web_sys::PerformanceObserverEntryList| {
            with_page_view(|view| view.take(list.get_entries()))
        },
    );
    let observer = web_sys::PerformanceObserver::new(on_entries.as_ref().unchecked_ref()).ok()?;
    on_entries.forget();
    let supported = SUPPORTED_ENTRY_TYPES.with(Clone::clone)?;
    for entry_type in ENTRY_TYPES {
        if !supported.includes(&JsValue::from_str(entry_type), 0) {
            continue;
        }
        let options: ObserveOptions = js_sys::Object::new().unchecked_into();
        options.set_type(entry_type);
        options.set_buffered(true);
        if entry_type == "event" {
            options.set_duration_threshold(EVENT_OBSERVER_THRESHOLD_MS);
        }
        observer.observe(options.unchecked_ref());
    }
    Some(observer)
}

fn with_page_view(f: impl FnOnce(&mut PageView)) {
    PAGE_VIEW.with_borrow_mut(|slot| {
        if let Some(view) = slot.as_mut() {
            f(view);
        }
    });
}

impl PageView {
    fn take(&mut self, entries: js_sys::Array) {
        for entry in entries.iter() {
            let entry: Entry = entry.unchecked_into();
            let start = entry.start_time();
            match entry.entry_type().as_str() {
                "paint" => {
                    let first =
                        entry.name() == "first-contentful-paint" && self.measures.fcp.is_none();
                    if first && start < self.first_hidden {
                        self.measures.fcp = Some((start - self.activation_start).max(0.0));
                    }
                }
                "largest-contentful-paint" => {
                    if !self.lcp_final && start < self.first_hidden {
                        self.measures.lcp = Some((start - self.activation_start).max(0.0));
                    }
                }
                "layout-shift" => {
                    if entry.had_recent_input() != Some(true) {
                        self.measures
                            .layout_shift(start, entry.value().unwrap_or(0.0));
                    }
                }
                entry_type => {
                    let Some(id) = entry.interaction_id().filter(|id| *id > 0.0) else {
                        continue;
                    };
                    self.min_interaction_id = self.min_interaction_id.min(id);
                    self.max_interaction_id = self.max_interaction_id.max(id);
                    let duration = entry.duration();
                    if entry_type == "first-input" || duration >= INP_THRESHOLD_MS {
                        self.measures.interaction(id, duration);
                    }
                }
            }
        }
    }

    /// Entries the browser has queued but not yet delivered.
    fn take_pending(&mut self) {
        if let Some(observer) = &self.observer {
            let records = observer.take_records();
            self.take(records);
        }
    }

    /// Interactions since the page loaded: the browser's count, or web-vitals' estimate
    /// from the ids seen where the browser keeps none.
    fn interactions_total(&self, performance: &web_sys::Performance) -> f64 {
        let count = performance.unchecked_ref::<Perf>().interaction_count();
        count.unwrap_or(if self.max_interaction_id > 0.0 {
            (self.max_interaction_id - self.min_interaction_id) / 7.0 + 1.0
        } else {
            0.0
        })
    }

    fn send(&mut self, window: &web_sys::Window) {
        if self.sent {
            return;
        }
        self.take_pending();
        let Some(performance) = window.performance() else {
            return;
        };
        let interactions = self.interactions_total(&performance) - self.interactions_before;
        let measures = &self.measures;
        let inp = measures.inp(interactions, self.nav);
        // Like web-vitals (and CrUX), CLS counts only for pages that painted.
        let cls = measures.fcp.map(|_| measures.cls);
        let samples = [
            (Metric::Lcp, measures.lcp),
            (Metric::Inp, inp),
            (Metric::Cls, cls),
            (Metric::Fcp, measures.fcp),
            (Metric::Ttfb, measures.ttfb),
        ];
        if samples.iter().all(|(_, value)| value.is_none()) {
            return;
        }
        let body = beacon_body(&self.id, self.route, self.nav, samples);
        let parts = js_sys::Array::of1(&JsValue::from_str(&body));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("application/json");
        let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
            return;
        };
        // A refused beacon (the browser's queue is full) may go with the next hide.
        self.sent = window
            .navigator()
            .send_beacon_with_opt_blob(BEACON_PATH, Some(&blob))
            .unwrap_or(false);
    }

    /// The page came back from the back/forward cache: a new page view, whose paints are
    /// the frame that shows it again.
    fn restore(&mut self, window: &web_sys::Window, shown_at: f64) {
        self.take_pending();
        let interactions_before = window
            .performance()
            .map_or(0.0, |performance| self.interactions_total(&performance));
        self.id = random_id(window);
        self.nav = NavigationType::BackForwardCache;
        self.first_hidden = f64::INFINITY;
        self.lcp_final = true;
        self.interactions_before = interactions_before;
        self.sent = false;
        self.measures = Measures {
            ttfb: Some(0.0),
            ..Measures::default()
        };
        after_next_frame(move |now| {
            with_page_view(|view| {
                let shown = now - shown_at;
                view.measures.fcp = Some(shown);
                view.measures.lcp = Some(shown);
            });
        });
    }
}

/// Runs `f` with `performance.now()` once the frame after the next has begun, when the
/// restored page has been painted.
fn after_next_frame(f: impl FnOnce(f64) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let second = Closure::once_into_js(move || {
        if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
            f(performance.now());
        }
    });
    let first = Closure::once_into_js(move || {
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(second.unchecked_ref());
        }
    });
    let _ = window.request_animation_frame(first.unchecked_ref());
}

fn on_window_event(event: web_sys::Event) {
    let Some(window) = web_sys::window() else {
        return;
    };
    match event.type_().as_str() {
        "prerenderingchange" => begin(&window),
        "visibilitychange" if is_hidden(&window) => with_page_view(|view| {
            if view.first_hidden.is_infinite() {
                view.first_hidden = event.time_stamp();
            }
            view.send(&window);
        }),
        "visibilitychange" => with_page_view(|view| view.sent = false),
        "pagehide" => with_page_view(|view| view.send(&window)),
        "pageshow" => {
            let persisted = event
                .dyn_ref::<web_sys::PageTransitionEvent>()
                .is_some_and(web_sys::PageTransitionEvent::persisted);
            if persisted {
                with_page_view(|view| view.restore(&window, event.time_stamp()));
            }
        }
        // keydown or click: the visitor acted, and the largest paint so far is the LCP.
        _ if event.is_trusted() => with_page_view(|view| {
            if !view.lcp_final {
                view.take_pending();
                view.lcp_final = true;
            }
        }),
        _ => {}
    }
}
