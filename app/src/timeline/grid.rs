//! The virtualized timeline island: takes over from the server-rendered first screen, keeps
//! only the visible rows in the DOM, fetches bucket segments as they come near, and offers a
//! month scrubber that jumps anywhere with one request.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use leptos::prelude::*;

use super::{
    layout::{Layout, Metrics, Scroller, MAX_SCROLL_HEIGHT},
    set_favourite,
};
use crate::{
    codec::{thumbhash_rgb, Segment},
    format::{month_label, photo_count},
    model::{media_url, MonthBucket, PhotoId},
};

/// Photos per fetched segment.
pub const SEGMENT_SIZE: u64 = 500;
/// Segments kept in memory; about 15 MB at the most.
const CACHE_SEGMENTS: usize = 600;
/// Extra height rendered above and below the viewport, in viewports.
const OVERSCAN: f64 = 0.75;
/// Height of the sticky top bar (style/main.css `.topbar`).
const TOP_BAR: f64 = 52.0;
/// Layer offsets are re-based in steps of this size, so CSS positions stay small numbers.
const REBASE: f64 = 1_000_000.0;
/// Scrolling idle for this long folds the scroll correction back into the native position.
const SETTLE_AFTER: Duration = Duration::from_millis(180);

/// A decoded segment, reduced to what a cell paints.
#[derive(Debug, Clone, Default)]
struct CellData {
    ids: Vec<PhotoId>,
    rgb: Vec<[u8; 3]>,
    favourite: Vec<bool>,
    media: Vec<Option<[u8; 8]>>,
}

impl From<Segment> for CellData {
    fn from(segment: Segment) -> Self {
        CellData {
            rgb: segment
                .thumbhash
                .iter()
                .map(|hash| thumbhash_rgb(hash).unwrap_or([128, 128, 128]))
                .collect(),
            ids: segment.ids,
            favourite: segment.favourite,
            media: segment.media,
        }
    }
}

/// A month as `(year, month)`: stable when months are added or emptied, unlike its index.
type MonthId = (i32, u8);

/// Segments by (month, segment index), evicted oldest first.
#[derive(Debug, Default)]
struct SegmentCache {
    loaded: HashMap<(MonthId, u64), CellData>,
    order: VecDeque<(MonthId, u64)>,
    in_flight: HashSet<(MonthId, u64)>,
}

impl SegmentCache {
    /// Forgets the segments of `months` (their photos moved), or of every month.
    fn forget(&mut self, months: Option<&HashSet<MonthId>>) {
        let keep = |key: &(MonthId, u64)| months.is_some_and(|months| !months.contains(&key.0));
        self.loaded.retain(|key, _| keep(key));
        self.order.retain(keep);
        self.in_flight.retain(keep);
    }

    /// Sets the favourite flag of a photo wherever it is loaded; true when it was.
    fn set_favourite(&mut self, id: PhotoId, favourite: bool) -> bool {
        let mut found = false;
        for data in self.loaded.values_mut() {
            if let Some(at) = data.ids.iter().position(|candidate| *candidate == id) {
                if let Some(flag) = data.favourite.get_mut(at) {
                    *flag = favourite;
                    found = true;
                }
            }
        }
        found
    }

    fn insert(&mut self, key: (MonthId, u64), data: CellData) {
        self.in_flight.remove(&key);
        if self.loaded.insert(key, data).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CACHE_SEGMENTS {
            if let Some(old) = self.order.pop_front() {
                self.loaded.remove(&old);
            }
        }
    }
}

/// Id, placeholder colour, favourite, and the media key once thumbnails exist.
type ShownPhoto = (PhotoId, [u8; 3], bool, Option<[u8; 8]>);

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Header {
        bucket: MonthBucket,
        top: f64,
    },
    Cell {
        month: MonthId,
        index: u64,
        top: f64,
        left: f64,
        photo: Option<ShownPhoto>,
    },
}

/// Everything that decides how an item is drawn, position included: an item whose key is
/// unchanged keeps its element.
type ItemKey = (u8, MonthId, u64, PhotoId, bool, bool, i64, i64, u64);

impl Item {
    fn key(&self, base: f64) -> ItemKey {
        let base = base as u64;
        match self {
            Item::Header { bucket, top } => (
                0,
                month_id(bucket),
                bucket.count,
                0,
                false,
                false,
                *top as i64,
                0,
                base,
            ),
            Item::Cell {
                month,
                index,
                top,
                left,
                photo,
            } => {
                let (id, favourite, media) = photo
                    .map(|(id, _, fav, media)| (id, fav, media.is_some()))
                    .unwrap_or((0, false, false));
                (
                    1,
                    *month,
                    *index,
                    id,
                    favourite,
                    media,
                    *top as i64,
                    *left as i64,
                    base,
                )
            }
        }
    }
}

#[island]
pub fn VirtualTimeline(buckets: Vec<MonthBucket>, media_access: String) -> impl IntoView {
    let media_access = StoredValue::new(media_access);
    // Months change when photos arrive or leave while the page is open (live updates).
    let buckets = RwSignal::new(buckets);
    let active = RwSignal::new(false);
    let width = RwSignal::new(0.0f64);
    let window_width = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(1.0f64);
    let view_top = RwSignal::new(0.0f64);
    let arrived = RwSignal::new(0u64);
    let cache = StoredValue::new(SegmentCache::default());
    let scroller = StoredValue::new(Scroller::new(0.0, 1.0));
    let frame_pending = StoredValue::new(false);
    let settle_timer = StoredValue::new(None::<TimeoutHandle>);
    let root = NodeRef::<leptos::html::Div>::new();

    let layout = Memo::new(move |_| {
        buckets.with(|b| Layout::new(b, width.get(), Metrics::for_width(window_width.get())))
    });
    let spacer_height =
        Memo::new(move |_| layout.with(|l| l.total_height()).min(MAX_SCROLL_HEIGHT));

    let base = Memo::new(move |_| (view_top.get() / REBASE).floor() * REBASE);
    let items = Memo::new(move |_| {
        arrived.track();
        let layout = layout.get();
        let top = view_top.get();
        let height = viewport.get();
        let window = layout.visible(top - OVERSCAN * height, top + (1.0 + OVERSCAN) * height);
        let mut items = Vec::new();
        let months: Vec<MonthBucket> = buckets.get();
        cache.with_value(|cache| {
            for visible in window {
                let Some(bucket) = months.get(visible.month).copied() else {
                    continue;
                };
                let month = month_id(&bucket);
                items.push(Item::Header {
                    bucket,
                    top: layout.month_top(visible.month),
                });
                for index in visible.photos.clone() {
                    let (left, top) = layout.cell_origin(visible.month, index);
                    let photo = cache
                        .loaded
                        .get(&(month, index / SEGMENT_SIZE))
                        .and_then(|data| {
                            let at = (index % SEGMENT_SIZE) as usize;
                            Some((
                                *data.ids.get(at)?,
                                *data.rgb.get(at)?,
                                *data.favourite.get(at)?,
                                data.media.get(at).copied().flatten(),
                            ))
                        });
                    items.push(Item::Cell {
                        month,
                        index,
                        top,
                        left,
                        photo,
                    });
                }
            }
        });
        items
    });

    // Fetch the segments the rendered window needs and has not got.
    Effect::new(move |_| {
        if !active.get() {
            return;
        }
        let wanted: Vec<(MonthId, u64)> = items.with(|items| {
            let mut keys: Vec<(MonthId, u64)> = items
                .iter()
                .filter_map(|item| match item {
                    Item::Cell {
                        month,
                        index,
                        photo: None,
                        ..
                    } => Some((*month, index / SEGMENT_SIZE)),
                    _ => None,
                })
                .collect();
            keys.dedup();
            keys
        });
        for key in wanted {
            let ((year, month), segment) = key;
            let bucket = MonthBucket {
                year,
                month,
                count: 0,
            };
            let start = cache
                .try_update_value(|c| c.in_flight.insert(key))
                .unwrap_or(false);
            if !start {
                continue;
            }
            leptos::task::spawn_local(async move {
                match client::fetch_segment(&bucket.key(), segment * SEGMENT_SIZE, SEGMENT_SIZE)
                    .await
                {
                    Ok(segment) => {
                        // A live refresh may have dropped this request meanwhile: its
                        // answer may predate the change, so it is not kept.
                        let wanted = cache
                            .try_update_value(|c| {
                                let wanted = c.in_flight.contains(&key);
                                if wanted {
                                    c.insert(key, segment.into());
                                }
                                wanted
                            })
                            .unwrap_or(false);
                        if wanted {
                            arrived.update(|n| *n += 1);
                        }
                    }
                    Err(error) => {
                        leptos::logging::warn!(
                            "timeline segment {} #{}: {error}",
                            bucket.key(),
                            segment
                        );
                        cache.update_value(|c| {
                            c.in_flight.remove(&key);
                        });
                    }
                }
            });
        }
    });

    let on_frame = move || {
        frame_pending.set_value(false);
        let native = (client::scroll_y() - client::document_top(root) + TOP_BAR).max(0.0);
        let top = scroller
            .try_update_value(|s| s.on_scroll(native))
            .unwrap_or(0.0);
        view_top.set(top);
        if let Some(handle) = settle_timer.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(
            move || {
                if let Some(native) = scroller.try_update_value(|s| s.settle()).flatten() {
                    client::scroll_to(client::document_top(root) - TOP_BAR + native);
                }
            },
            SETTLE_AFTER,
        )
        .ok();
        settle_timer.set_value(handle);
    };
    // Reads the few sizes arithmetic cannot know, and rebuilds the scroll mapping for them,
    // keeping the same virtual position.
    let measure = move || {
        window_width.set(client::window_width());
        width.set(client::element_width(root));
        viewport.set((client::window_height() - TOP_BAR).max(1.0));
        let total = layout.with_untracked(|l| l.total_height());
        let height = viewport.get_untracked();
        scroller.update_value(|s| {
            let keep = s.virtual_top();
            *s = Scroller::new(total, height);
            s.native_for(keep);
        });
    };

    // Live updates: favourites change in place; photos that arrive or leave change the months,
    // so the month list is read again and the segments of the months that changed refetched.
    let refreshing = StoredValue::new(false);
    let refresh_again = StoredValue::new(false);
    let forget_everything = StoredValue::new(false);
    let refresh = move |everything: bool| {
        if everything {
            forget_everything.set_value(true);
        }
        if refreshing.get_value() {
            refresh_again.set_value(true);
            return;
        }
        refreshing.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                refresh_again.set_value(false);
                let everything = forget_everything.get_value();
                forget_everything.set_value(false);
                match super::load_timeline().await {
                    Ok(screen) => {
                        let changed = changed_months(&buckets.get_untracked(), &screen.buckets);
                        cache.update_value(|c| c.forget((!everything).then_some(&changed)));
                        buckets.set(screen.buckets);
                        measure();
                        arrived.update(|n| *n += 1);
                    }
                    Err(error) => leptos::logging::warn!("timeline refresh: {error}"),
                }
                if !refresh_again.get_value() {
                    break;
                }
            }
            refreshing.set_value(false);
        });
    };
    #[cfg(feature = "hydrate")]
    {
        use crate::live::{TimelineNews, TIMELINE_EVENT};
        use leptos::wasm_bindgen::JsCast;
        let listener = window_event_listener_untyped(TIMELINE_EVENT, move |event| {
            let news = event
                .dyn_ref::<web_sys::CustomEvent>()
                .and_then(|event| event.detail().as_string())
                .and_then(|text| TimelineNews::decode(&text));
            match news {
                Some(TimelineNews::Moved) => refresh(false),
                Some(TimelineNews::Resync) => refresh(true),
                Some(TimelineNews::Favourite { id, favourite })
                    if cache.try_update_value(|c| c.set_favourite(id, favourite)) == Some(true) =>
                {
                    arrived.update(|n| *n += 1);
                }
                Some(TimelineNews::Favourite { .. }) | None => {}
            }
        });
        on_cleanup(move || listener.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = refresh;

    // Runs once, in the browser: hide the static first screen and take over.
    Effect::new(move |_| {
        client::activate(root);
        measure();
        active.set(true);
        on_frame();
        let scroll = window_event_listener(leptos::ev::scroll, move |_| {
            if !frame_pending.get_value() {
                frame_pending.set_value(true);
                request_animation_frame(on_frame);
            }
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| {
            measure();
            request_animation_frame(on_frame);
        });
        on_cleanup(move || {
            scroll.remove();
            resize.remove();
        });
    });

    let jump_to = move |month: usize| {
        let top = layout.with_untracked(|l| l.month_top(month));
        let native = scroller
            .try_update_value(|s| s.native_for(top))
            .unwrap_or(0.0);
        client::scroll_to(client::document_top(root) - TOP_BAR + native);
    };
    // The month at the top of the viewport; at the very end, the oldest month, which may be
    // too short to ever reach the top.
    let current_month = Memo::new(move |_| {
        let top = view_top.get();
        let months = buckets.with(Vec::len);
        layout.with(|l| {
            let height = viewport.get();
            if months > 0 && l.total_height() > height && top >= l.total_height() - height - 1.0 {
                return months - 1;
            }
            (0..months)
                .rev()
                .find(|&m| l.month_top(m) <= top + 1.0)
                .unwrap_or(0)
        })
    });

    view! {
        <div class="vt" node_ref=root data-active=move || active.get().then_some("true")>
            <Show when=move || active.get()>
                <div
                    class="vt-spacer"
                    style:height=move || format!("{}px", spacer_height.get())
                    data-total-height=move || layout.with(|l| l.total_height()).round().to_string()
                >
                    <div class="vt-window">
                        <div
                            class="vt-layer"
                            style:transform=move || format!("translateY({}px)", base.get() - view_top.get())
                        >
                            <For
                                each=move || items.get()
                                key=move |item| item.key(base.get_untracked())
                                children=move |item| render_item(item, layout, base.get_untracked(), cache, arrived, media_access)
                            />
                        </div>
                    </div>
                </div>
                <nav class="vt-scrubber" aria-label="Jump to a month">
                    <ol>
                        {move || buckets.with(|b| b.iter().enumerate().map(|(month, bucket)| {
                            let label = month_label(bucket.year, bucket.month);
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        data-month=bucket.key()
                                        aria-current=move || (current_month.get() == month).then_some("true")
                                        on:click=move |_| jump_to(month)
                                    >
                                        <span class="long">{label}</span>
                                        <span class="short">{short_month_label(bucket.year, bucket.month)}</span>
                                        <span class="count">{bucket.count}</span>
                                    </button>
                                </li>
                            }
                        }).collect_view())}
                    </ol>
                </nav>
            </Show>
        </div>
    }
}

/// Months whose photos are not the same in `new` as in `old`: new ones, emptied ones, and
/// ones whose count changed.
fn changed_months(old: &[MonthBucket], new: &[MonthBucket]) -> HashSet<MonthId> {
    let before: HashMap<MonthId, u64> = old.iter().map(|b| (month_id(b), b.count)).collect();
    let after: HashMap<MonthId, u64> = new.iter().map(|b| (month_id(b), b.count)).collect();
    before
        .keys()
        .chain(after.keys())
        .filter(|month| before.get(month) != after.get(month))
        .copied()
        .collect()
}

fn month_id(bucket: &MonthBucket) -> MonthId {
    (bucket.year, bucket.month)
}

/// `Nov 26`, for the narrow scrubber on phones.
fn short_month_label(year: i32, month: u8) -> String {
    let name = month_label(year, month);
    format!(
        "{} {:02}",
        name.get(..3).unwrap_or("?"),
        year.rem_euclid(100)
    )
}

fn render_item(
    item: Item,
    layout: Memo<Layout>,
    base: f64,
    cache: StoredValue<SegmentCache>,
    arrived: RwSignal<u64>,
    media_access: StoredValue<String>,
) -> AnyView {
    let (cell, header) = layout.with_untracked(|l| (l.cell, l.metrics.header));
    match item {
        Item::Header { bucket, top } => view! {
            <h2 class="vt-month" style=format!("top:{}px;height:{header}px", top - base)>
                {month_label(bucket.year, bucket.month)}
                <span class="count">{photo_count(bucket.count)}</span>
            </h2>
        }
        .into_any(),
        Item::Cell {
            top, left, photo, ..
        } => {
            let position = format!(
                "top:{}px;left:{left}px;width:{cell}px;height:{cell}px",
                top - base
            );
            match photo {
                None => view! { <div class="vt-cell vt-loading" style=position></div> }.into_any(),
                Some((id, [r, g, b], favourite, media)) => {
                    // Optimistic: the heart changes at once and changes back if the server refuses.
                    let store = move |value: bool| {
                        if cache.try_update_value(|c| c.set_favourite(id, value)) == Some(true) {
                            arrived.update(|n| *n += 1);
                        }
                    };
                    let toggle = move |_| {
                        store(!favourite);
                        leptos::task::spawn_local(async move {
                            match set_favourite(id, !favourite).await {
                                // The server has the last word on the stored value.
                                Ok(stored) if stored == favourite => store(stored),
                                Ok(_) => {}
                                Err(error) => {
                                    leptos::logging::warn!("favourite {id}: {error}");
                                    store(favourite);
                                }
                            }
                        });
                    };
                    view! {
                        <div
                            class="vt-cell"
                            data-photo-id=id
                            style=format!("{position};background-color:rgb({r},{g},{b})")
                        >
                            <a class="cell-link" href=super::photo_href(id) aria-label="Open photo">
                                {media.map(|key| view! {
                                    <img
                                        class="thumb"
                                        src=media_access.with_value(|access| {
                                            media_url(&format!("{access}/{}", crate::format::hex(&key)), "thumb.webp")
                                        })
                                        alt=""
                                        decoding="async"
                                    />
                                })}
                            </a>
                            <button
                                type="button"
                                class="fav"
                                aria-pressed=favourite.to_string()
                                aria-label=if favourite { "Remove from favourites" } else { "Add to favourites" }
                                on:click=toggle
                            >
                                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                                    <path d=super::HEART_PATH />
                                </svg>
                            </button>
                        </div>
                    }
                    .into_any()
                }
            }
        }
    }
}

/// Browser-only measurements and requests; inert on the server, where effects never run.
mod client {
    use leptos::prelude::*;

    use crate::codec::Segment;

    #[cfg(feature = "hydrate")]
    pub async fn fetch_segment(month: &str, offset: u64, limit: u64) -> Result<Segment, String> {
        use leptos::wasm_bindgen::JsCast;
        let url = format!("/api/timeline/buckets/{month}?offset={offset}&limit={limit}");
        let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(&url))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let response: web_sys::Response = response.dyn_into().map_err(|e| format!("{e:?}"))?;
        if !response.ok() {
            return Err(format!("HTTP {}", response.status()));
        }
        let buffer = response.array_buffer().map_err(|e| format!("{e:?}"))?;
        let buffer = wasm_bindgen_futures::JsFuture::from(buffer)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        Segment::decode(&bytes).map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "hydrate"))]
    pub async fn fetch_segment(_month: &str, _offset: u64, _limit: u64) -> Result<Segment, String> {
        Err("segments are fetched in the browser only".into())
    }

    pub fn scroll_y() -> f64 {
        window().scroll_y().unwrap_or(0.0)
    }

    pub fn window_height() -> f64 {
        window()
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(800.0)
    }

    pub fn window_width() -> f64 {
        window()
            .inner_width()
            .ok()
            .and_then(|w| w.as_f64())
            .unwrap_or(1280.0)
    }

    pub fn scroll_to(top: f64) {
        window().scroll_to_with_x_and_y(0.0, top.max(0.0));
    }

    /// Distance from the top of the document to the top of the island.
    pub fn document_top(root: NodeRef<leptos::html::Div>) -> f64 {
        root.get_untracked()
            .map(|element| element.get_bounding_client_rect().top() + scroll_y())
            .unwrap_or(0.0)
    }

    pub fn element_width(root: NodeRef<leptos::html::Div>) -> f64 {
        root.get_untracked()
            .map(|element| f64::from(element.client_width()))
            .unwrap_or(0.0)
    }

    /// Hides the server-rendered first screen: the island now draws the timeline.
    pub fn activate(root: NodeRef<leptos::html::Div>) {
        if let Some(timeline) = root
            .get_untracked()
            .and_then(|element| element.closest(".timeline").ok().flatten())
        {
            let _ = timeline.class_list().add_1("vt-active");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(year: i32, month: u8, count: u64) -> MonthBucket {
        MonthBucket { year, month, count }
    }

    #[test]
    fn months_that_gained_lost_or_appeared_are_the_changed_ones() {
        let old = [bucket(2026, 10, 5), bucket(2026, 9, 3), bucket(2026, 8, 1)];
        let new = [bucket(2026, 11, 1), bucket(2026, 10, 6), bucket(2026, 9, 3)];
        let changed = changed_months(&old, &new);
        let expected: HashSet<MonthId> = [(2026, 11), (2026, 10), (2026, 8)].into();
        assert_eq!(changed, expected);
        assert!(changed_months(&old, &old).is_empty());
    }

    fn segment(ids: &[PhotoId]) -> CellData {
        CellData {
            ids: ids.to_vec(),
            rgb: vec![[0, 0, 0]; ids.len()],
            favourite: vec![false; ids.len()],
            media: vec![None; ids.len()],
        }
    }

    #[test]
    fn the_cache_forgets_only_the_months_that_changed() {
        let mut cache = SegmentCache::default();
        cache.insert(((2026, 11), 0), segment(&[9, 8]));
        cache.insert(((2026, 10), 0), segment(&[7]));
        cache.in_flight.insert(((2026, 11), 1));
        cache.forget(Some(&[(2026, 11)].into()));
        assert!(!cache.loaded.contains_key(&((2026, 11), 0)));
        assert!(cache.loaded.contains_key(&((2026, 10), 0)));
        assert!(cache.in_flight.is_empty());
        assert_eq!(cache.order, [((2026, 10), 0)]);
        cache.forget(None);
        assert!(cache.loaded.is_empty() && cache.order.is_empty());
    }

    #[test]
    fn a_favourite_changes_wherever_the_photo_is_loaded() {
        let mut cache = SegmentCache::default();
        cache.insert(((2026, 11), 0), segment(&[9, 8]));
        assert!(cache.set_favourite(8, true));
        assert_eq!(cache.loaded[&((2026, 11), 0)].favourite, [false, true]);
        assert!(!cache.set_favourite(1, true));
    }
}
