//! The virtual timeline island. It adopts the server's first screen as it stands (hydration
//! changes no pixel), draws every other row from bucket segments as it comes near (as its
//! colours, completed to full cells once the view rests there), keeps only those rows in the
//! DOM, patches live arrivals in without blanking or moving what is on screen, and offers a
//! rail that jumps to any month.
//!
//! Cells scroll natively: the browser moves them between frames, and the island only adds and
//! removes rows at the edges of the window it keeps drawn.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;

use super::{
    cell_name, favourite_label,
    layout::{Layout, Metrics, Scroller},
    set_favourite,
};
use crate::{
    codec::{thumbhash_rgb, Segment},
    format::{decimal, month_label},
    model::{media_url, MonthBucket, PhotoId},
};

/// Photos per fetched segment.
pub const SEGMENT_SIZE: u64 = 500;
/// Segments kept in memory; about 20 MB at the most.
const CACHE_SEGMENTS: usize = 600;
/// Extra height drawn above and below the viewport, in viewports.
const OVERSCAN: f64 = 0.75;
/// Segments are fetched this many viewports ahead and behind, so that a fast scroll meets
/// rows whose placeholder colours are already known.
const PREFETCH: f64 = 4.0;
/// Height of the sticky top bar (style/main.css `.topbar`).
const TOP_BAR: f64 = 52.0;
/// Cell positions are relative to a base re-chosen in steps of this size, so that CSS
/// positions stay within what every browser lays out exactly (Firefox's limit is 17.9 million
/// px) whatever the library's height. A new base redraws every row, so steps are as long as
/// the scroll range itself: a key on the rail seldom crosses one.
const REBASE: f64 = super::layout::MAX_SCROLL_HEIGHT;
/// Scrolling idle for this long folds the scroll correction back into the native position
/// and lets thumbnails load.
const SETTLE_AFTER: Duration = Duration::from_millis(150);
/// Faster than this (px/s) is flicking through, not looking: thumbnails wait.
const CALM_SPEED: f64 = 2_500.0;

/// How far beyond the screen, in screens, calm rows are drawn in full (link, heart, thumbnail).
const FULL_REACH: f64 = 0.5;
/// Rows turned from colours to full cells in one frame, nearest the screen first. A row costs
/// its DOM and seven thumbnail requests (each about 2 ms in Chromium at 4x CPU, measured with
/// DevTools attached): a screen of full rows at once was a long task there.
const ROWS_COMPLETED_PER_FRAME: usize = 1;
/// Years closer than this on the rail (a fraction of its height) keep only the first label.
const RAIL_LABEL_GAP: f64 = 0.045;

/// A decoded segment, reduced to what a cell paints and says.
#[derive(Debug, Clone, Default)]
struct CellData {
    ids: Vec<PhotoId>,
    taken_at: Vec<i64>,
    rgb: Vec<[u8; 3]>,
    favourite: Vec<bool>,
    media: Vec<Option<[u8; 8]>>,
    names: Vec<Arc<str>>,
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
            taken_at: segment.taken_at,
            favourite: segment.favourite,
            media: segment.media,
            names: segment.names.into_iter().map(Arc::from).collect(),
        }
    }
}

impl CellData {
    fn photo(&self, at: usize) -> Option<ShownPhoto> {
        Some(ShownPhoto {
            id: *self.ids.get(at)?,
            taken_at: *self.taken_at.get(at)?,
            rgb: *self.rgb.get(at)?,
            media: self.media.get(at).copied().flatten(),
            name: self.names.get(at).cloned().unwrap_or_else(|| Arc::from("")),
        })
    }
}

/// A month as `(year, month)`: stable when months are added or emptied, unlike its index.
type MonthId = (i32, u8);
/// A row of a month, whatever photos it holds.
type RowPlace = (MonthId, u64);
type SegmentKey = (MonthId, u64);

/// Segments by (month, segment index), evicted oldest first.
#[derive(Debug, Default)]
struct SegmentCache {
    loaded: HashMap<SegmentKey, CellData>,
    order: VecDeque<SegmentKey>,
    in_flight: HashSet<SegmentKey>,
    /// Each segment's arrival number: a row drawn from a segment is redrawn when it changes.
    serials: HashMap<SegmentKey, u64>,
    next_serial: u64,
}

impl SegmentCache {
    /// Forgets the segments of `months` (their photos moved), or of every month, except those
    /// in `keep`.
    fn forget(&mut self, months: Option<&HashSet<MonthId>>) {
        let keep = |key: &SegmentKey| months.is_some_and(|months| !months.contains(&key.0));
        self.loaded.retain(|key, _| keep(key));
        self.serials.retain(|key, _| keep(key));
        self.order.retain(keep);
        self.in_flight.retain(keep);
    }

    /// The arrival number of the segment holding photo `index` of `month`; 0 while it is
    /// not loaded.
    fn serial(&self, month: MonthId, index: u64) -> u64 {
        self.serials
            .get(&(month, index / SEGMENT_SIZE))
            .copied()
            .unwrap_or(0)
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

    fn favourite(&self, month: MonthId, index: u64) -> bool {
        self.loaded
            .get(&(month, index / SEGMENT_SIZE))
            .and_then(|data| data.favourite.get((index % SEGMENT_SIZE) as usize))
            .copied()
            .unwrap_or(false)
    }

    fn photo(&self, month: MonthId, index: u64) -> Option<ShownPhoto> {
        self.loaded
            .get(&(month, index / SEGMENT_SIZE))?
            .photo((index % SEGMENT_SIZE) as usize)
    }

    /// Where photo `id` is among the loaded segments of `month`.
    fn index_of(&self, month: MonthId, id: PhotoId) -> Option<u64> {
        self.loaded.iter().find_map(|((m, segment), data)| {
            (*m == month)
                .then(|| data.ids.iter().position(|candidate| *candidate == id))
                .flatten()
                .map(|at| segment * SEGMENT_SIZE + at as u64)
        })
    }

    fn insert(&mut self, key: SegmentKey, data: CellData) {
        self.in_flight.remove(&key);
        self.next_serial += 1;
        self.serials.insert(key, self.next_serial);
        if self.loaded.insert(key, data).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CACHE_SEGMENTS {
            if let Some(old) = self.order.pop_front() {
                self.loaded.remove(&old);
                self.serials.remove(&old);
            }
        }
    }
}

/// What a drawn cell shows.
#[derive(Debug, Clone, PartialEq)]
struct ShownPhoto {
    id: PhotoId,
    taken_at: i64,
    rgb: [u8; 3],
    media: Option<[u8; 8]>,
    name: Arc<str>,
}

/// One row of a month as the island draws it: a strip of the same CSS grid the server's
/// first screen uses, filled in one `innerHTML` (one DOM call a row instead of twenty a cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RowId {
    month: MonthId,
    row: u64,
    /// Arrival numbers of the segments its photos come from (a row may straddle two).
    serials: (u64, u64),
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Header {
        bucket: MonthBucket,
        top: f64,
    },
    Row {
        id: RowId,
        top: f64,
        /// Photos `first .. end` of the month; earlier ones of the row are the server's.
        first: u64,
        end: u64,
        /// Link, heart and thumbnail in every cell; otherwise only its placeholder colour.
        full: bool,
    },
}

/// Everything that decides how an item is drawn, position included: an item whose key is
/// unchanged keeps its element.
type ItemKey = (Option<RowId>, MonthId, u64, i64, u64, bool);

impl Item {
    fn key(&self, base: f64) -> ItemKey {
        let base = base as u64;
        match self {
            Item::Header { bucket, top } => (
                None,
                month_id(bucket),
                bucket.count,
                (*top * 64.0) as i64,
                base,
                false,
            ),
            Item::Row {
                id,
                top,
                first,
                full,
                ..
            } => (
                Some(*id),
                id.month,
                *first,
                (*top * 64.0) as i64,
                base,
                *full,
            ),
        }
    }
}

/// The server's first screen, while it is still in the page: how many photos of each leading
/// month it drew, and how far down it reaches.
#[derive(Debug, Clone, Default, PartialEq)]
struct Adopted {
    months: Vec<(MonthId, u64)>,
}

impl Adopted {
    fn covers(&self, month: MonthId, index: u64) -> bool {
        self.months
            .iter()
            .any(|(m, count)| *m == month && index < *count)
    }

    fn has_header(&self, month: MonthId) -> bool {
        self.months.iter().any(|(m, _)| *m == month)
    }

    /// The lowest point of the server's grid, in the layout's coordinates.
    fn bottom(&self, layout: &Layout, buckets: &[MonthBucket]) -> f64 {
        let Some(&(month, count)) = self.months.last() else {
            return 0.0;
        };
        let Some(position) = buckets.iter().position(|b| month_id(b) == month) else {
            return 0.0;
        };
        let (_, top) = layout.cell_origin(position, count.saturating_sub(1));
        top + layout.row_height()
    }
}

#[island(lazy)]
pub fn VirtualTimeline(
    buckets: Vec<MonthBucket>,
    media_access: String,
    /// Photos the server drew of each leading month, in order.
    first_screen: Vec<u64>,
    children: Children,
) -> impl IntoView {
    let media_access = StoredValue::new(media_access);
    let adopted = RwSignal::new(Adopted {
        months: buckets
            .iter()
            .map(month_id)
            .zip(first_screen.iter().copied())
            .collect(),
    });
    // Months change when photos arrive or leave while the page is open (live updates).
    let buckets = RwSignal::new(buckets);
    let active = RwSignal::new(false);
    let width = RwSignal::new(0.0f64);
    let window_width = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(1.0f64);
    let view_top = RwSignal::new(0.0f64);
    // Virtual minus native position: where the drawn layer sits against the scrolled page.
    let drift = RwSignal::new(0.0f64);
    // How far beyond the viewport rows are drawn; a jump draws the screen first.
    let reach = RwSignal::new(OVERSCAN);
    let calm = RwSignal::new(true);
    let revision = RwSignal::new(0u64);
    let cache = StoredValue::new(SegmentCache::default());
    let scroller = StoredValue::new(Scroller::new(0.0, 1.0));
    let frame_pending = StoredValue::new(false);
    // Set by a jump the person asked for (a key on the rail), until the frame that draws it.
    let landing = StoredValue::new(false);
    let settle_timer = StoredValue::new(None::<TimeoutHandle>);
    // Set once the server's first screen is on its way out.
    let leaving = StoredValue::new(false);
    let last_frame_at = StoredValue::new(0.0f64);
    let root = NodeRef::<leptos::html::Div>::new();
    // Rows drawn in full, by month and row: they stay full when their photos change.
    let full_rows = StoredValue::new(HashSet::<RowPlace>::new());
    let completed = RwSignal::new(0u64);

    let layout = Memo::new(move |_| {
        buckets.with(|b| Layout::new(b, width.get(), Metrics::for_width(window_width.get())))
    });
    let base = Memo::new(move |_| (view_top.get() / REBASE).floor() * REBASE);
    // The base the drawn items were placed against, and whether they still hold the rows a
    // jump left behind.
    let drawn_base = StoredValue::new(0.0f64);
    let holding_left_rows = StoredValue::new(false);
    let items = Memo::new(move |previous: Option<&Vec<Item>>| {
        if !active.get() {
            return Vec::new();
        }
        revision.track();
        completed.track();
        let top = view_top.get();
        let height = viewport.get();
        let reach = reach.get();
        let adopted = adopted.get();
        let window = layout.with(|layout| {
            buckets.with(|months| {
                cache.with_value(|cache| {
                    full_rows.with_value(|full_rows| {
                        window_items(
                            layout,
                            months,
                            cache,
                            &adopted,
                            (top - reach * height, top + (1.0 + reach) * height),
                            full_rows,
                        )
                    })
                })
            })
        });
        // A jump draws the screen it lands on first. The rows it left are far off screen
        // now: they go with the next frame's drawing, so that the paint answering a key
        // waits for the new rows only (removing a screen of full rows was a third of it).
        let base_now = base.get_untracked();
        let keep_left =
            reach == 0.0 && !holding_left_rows.get_value() && drawn_base.get_value() == base_now;
        drawn_base.set_value(base_now);
        holding_left_rows.set_value(false);
        match previous {
            Some(previous) if keep_left => {
                let drawn: HashSet<ItemKey> =
                    window.iter().map(|item| item.key(base_now)).collect();
                let mut kept: Vec<Item> = previous
                    .iter()
                    .filter(|item| !drawn.contains(&item.key(base_now)))
                    .cloned()
                    .collect();
                holding_left_rows.set_value(!kept.is_empty());
                kept.extend(window);
                kept
            }
            _ => window,
        }
    });

    // Calm, the rows near the screen become full cells one a frame, nearest first; while the
    // page flies past, rows are only their colours, a fraction of the work to draw.
    let completing = StoredValue::new(false);
    Effect::new(move |_| {
        items.track();
        if !calm.get() || completing.get_value() {
            return;
        }
        completing.set_value(true);
        request_animation_frame(move || {
            completing.set_value(false);
            if !calm.get_untracked() {
                return;
            }
            let top = view_top.get_untracked();
            let height = viewport.get_untracked();
            let next = items.with_untracked(|items| {
                rows_to_complete(
                    items,
                    (top - FULL_REACH * height, top + (1.0 + FULL_REACH) * height),
                    top + height / 2.0,
                    ROWS_COMPLETED_PER_FRAME,
                )
            });
            if !next.is_empty() {
                full_rows.update_value(|rows| rows.extend(next));
                completed.update(|n| *n += 1);
            }
        });
    });

    // Fetch the segments near the view that are not loaded yet.
    Effect::new(move |_| {
        if !active.get() {
            return;
        }
        revision.track();
        let top = view_top.get();
        let height = viewport.get();
        let wanted = layout.with(|layout| {
            buckets.with(|months| {
                segments_in(
                    layout,
                    months,
                    top - PREFETCH * height,
                    top + (1.0 + PREFETCH) * height,
                )
            })
        });
        let starting: Vec<SegmentKey> = wanted
            .into_iter()
            .filter(|&key| {
                cache
                    .try_update_value(|c| !c.loaded.contains_key(&key) && c.in_flight.insert(key))
                    .unwrap_or(false)
            })
            .collect();
        if starting.is_empty() {
            return;
        }
        // Requests start in a task of their own: after a jump, the frame that draws the new
        // screen need not wait for them.
        set_timeout(
            move || {
                for key in starting {
                    fetch_into_cache(key, cache, revision);
                }
            },
            Duration::ZERO,
        );
    });

    let on_frame = move || {
        frame_pending.set_value(false);
        let native = (client::scroll_y() - client::document_top(root) + TOP_BAR).max(0.0);
        let top = scroller
            .try_update_value(|s| s.on_scroll(native))
            .unwrap_or(0.0);
        // Measured from what is drawn: a key on the rail anchors the scroller at its target
        // before the page scrolls there, and was never taken for a jump.
        let moved_by = top - view_top.get_untracked();
        let now = client::now();
        let last_time = last_frame_at.get_value();
        last_frame_at.set_value(now);
        let elapsed = (now - last_time).max(1.0);
        let speed = moved_by.abs() * 1000.0 / elapsed;
        // A jump lands past everything drawn, the screen and its overscan: nothing on the
        // page can be kept. Smaller moves are scrolling, however fast: on a slow phone a
        // frame of a fast scroll moves more than a screen, and treating that as a jump made
        // every frame drop the overscan and draw it again.
        let jumped = moved_by.abs() > (1.0 + 2.0 * OVERSCAN) * viewport.get_untracked();
        if jumped {
            // Draw the screen now and the rows around it next frame: half the work each.
            reach.set(0.0);
            request_animation_frame(move || reach.set(OVERSCAN));
        }
        // Where a key on the rail lands, the person stops to look: the rows there start
        // becoming full cells at once, not once scrolling has settled.
        let landed = landing.get_value();
        landing.set_value(false);
        let now_calm = landed || (speed < CALM_SPEED && !jumped);
        if calm.get_untracked() != now_calm {
            calm.set(now_calm);
        }
        view_top.set(top);
        drift.set(scroller.with_value(Scroller::drift));
        // Rows that left the window need not be remembered.
        if full_rows.with_value(HashSet::len) > 1_000 {
            let drawn: HashSet<RowPlace> = items.with_untracked(|items| {
                items
                    .iter()
                    .filter_map(|item| match item {
                        Item::Row { id, .. } => Some((id.month, id.row)),
                        Item::Header { .. } => None,
                    })
                    .collect()
            });
            full_rows.update_value(|rows| rows.retain(|row| drawn.contains(row)));
        }
        // The server's grid leaves once it is out of reach; the same rows, drawn by the
        // island, are identical should the person scroll back.
        if !leaving.get_value() && adopted.with_untracked(|a| !a.months.is_empty()) {
            let bottom = layout.with_untracked(|l| {
                buckets.with_untracked(|b| adopted.with_untracked(|a| a.bottom(l, b)))
            });
            // It leaves in a task of its own: removing it was a fifth of the frame that
            // answers the first key on the rail.
            if top - OVERSCAN * viewport.get_untracked() > bottom {
                leaving.set_value(true);
                set_timeout(
                    move || {
                        if adopted.with_untracked(|a| !a.months.is_empty()) {
                            client::remove_first_screen(root);
                            adopted.set(Adopted::default());
                        }
                    },
                    Duration::ZERO,
                );
            }
        }
        if let Some(handle) = settle_timer.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(
            move || {
                calm.set(true);
                if let Some(native) = scroller.try_update_value(|s| s.settle()).flatten() {
                    client::scroll_to(client::document_top(root) - TOP_BAR + native);
                    drift.set(scroller.with_value(Scroller::drift));
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
            s.anchor(keep);
        });
        let scroll_height = scroller.with_value(|s| s.scroll_height);
        client::set_min_height(root, scroll_height);
    };

    // Favourites: optimistic, in the cache and in the server's cells alike, then the server
    // has the last word.
    // Drawn rows are not redrawn for a heart: the cache keeps the flag for rows drawn later,
    // and the cells on the page get it directly.
    let show_favourite = move |id: PhotoId, favourite: bool| {
        cache.update_value(|c| {
            c.set_favourite(id, favourite);
        });
        client::show_favourite(root, id, favourite);
    };
    // Hearts with a request of this page in flight: the live news of an earlier click may
    // arrive after a later one and would flip the heart back until its own news came.
    let favourites_in_flight = StoredValue::new(HashMap::<PhotoId, u32>::new());
    let toggle_favourite = move |id: PhotoId, favourite: bool| {
        show_favourite(id, favourite);
        favourites_in_flight.update_value(|pending| *pending.entry(id).or_default() += 1);
        leptos::task::spawn_local(async move {
            let answer = set_favourite(id, favourite).await;
            favourites_in_flight.update_value(|pending| {
                if let Some(count) = pending.get_mut(&id) {
                    *count -= 1;
                    if *count == 0 {
                        pending.remove(&id);
                    }
                }
            });
            match answer {
                Ok(stored) if stored != favourite => show_favourite(id, stored),
                Ok(_) => {}
                Err(error) => {
                    leptos::logging::warn!("favourite {id}: {error}");
                    show_favourite(id, !favourite);
                }
            }
        });
    };

    // Live updates: favourites change in place. Photos that arrive or leave change the
    // months: the new month list is read, the segments the view needs are fetched while the
    // old ones stay on screen, and then everything changes in one frame, the photo at the top
    // of the view kept where it was.
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
                        apply_new_months(
                            screen.buckets,
                            everything,
                            Live {
                                buckets,
                                layout,
                                width,
                                window_width,
                                viewport,
                                view_top,
                                drift,
                                revision,
                                adopted,
                                cache,
                                scroller,
                                root,
                            },
                        )
                        .await
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
                    if !favourites_in_flight.with_value(|pending| pending.contains_key(&id)) =>
                {
                    show_favourite(id, favourite)
                }
                Some(TimelineNews::Favourite { .. }) => {}
                None => {}
            }
        });
        on_cleanup(move || listener.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = refresh;

    // Runs once, in the browser: take over below the server's first screen.
    Effect::new(move |_| {
        let scroll = window_event_listener(leptos::ev::scroll, move |_| {
            if active.get_untracked() && !frame_pending.get_value() {
                frame_pending.set_value(true);
                request_animation_frame(on_frame);
            }
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| {
            if active.get_untracked() {
                measure();
                request_animation_frame(on_frame);
            }
        });
        on_cleanup(move || {
            scroll.remove();
            resize.remove();
        });
        // Taking over (measuring, drawing the rows around the server's screen, fetching their
        // segments) is a task of its own after hydration's: together they were one long task
        // on a phone's CPU. Until then the server's grid is the page, as it was before.
        set_timeout(
            move || {
                measure();
                active.set(true);
                on_frame();
            },
            Duration::ZERO,
        );
    });

    // One listener for every heart: the server's are plain forms, which with the island
    // awake answer at once; the island's are buttons.
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        if let Some((id, favourite)) = client::favourite_form_of(&event) {
            event.prevent_default();
            toggle_favourite(id, favourite);
        }
    };
    let on_click = move |event: leptos::ev::MouseEvent| {
        if let Some((id, favourite)) = client::favourite_button_of(&event) {
            toggle_favourite(id, favourite);
        }
    };

    let jump_to = move |top: f64, to_stay: bool| {
        let native = scroller.try_update_value(|s| s.anchor(top)).unwrap_or(0.0);
        let target = client::document_top(root) - TOP_BAR + native;
        // A jump to where the page already is scrolls nothing and draws no frame.
        landing.set_value(to_stay && (target.max(0.0) - client::scroll_y()).abs() >= 1.0);
        client::scroll_to(target);
    };

    view! {
        <div
            class="vt"
            node_ref=root
            data-active=move || active.get().then_some("true")
            data-total-height=move || {
                active.get().then(|| (layout.with(|l| l.total_height()).round() as i64).to_string())
            }
            on:submit=on_submit
            on:click=on_click
        >
            {children()}
            <div class="vt-layer" style:top=move || format!("{}px", decimal(base.get() - drift.get(), 2))>
                <For
                    each=move || items.get()
                    key=move |item| item.key(base.get_untracked())
                    children=move |item| {
                        render_item(
                            item,
                            ItemContext {
                                layout,
                                base: base.get_untracked(),
                                cache,
                                media_access,
                            },
                        )
                    }
                />
            </div>
        </div>
        <Rail buckets layout view_top viewport jump_to />
    }
}

/// The signals a live refresh reads and writes.
#[derive(Clone, Copy)]
struct Live {
    buckets: RwSignal<Vec<MonthBucket>>,
    layout: Memo<Layout>,
    width: RwSignal<f64>,
    window_width: RwSignal<f64>,
    viewport: RwSignal<f64>,
    view_top: RwSignal<f64>,
    drift: RwSignal<f64>,
    revision: RwSignal<u64>,
    adopted: RwSignal<Adopted>,
    cache: StoredValue<SegmentCache>,
    scroller: StoredValue<Scroller>,
    root: NodeRef<leptos::html::Div>,
}

/// The photo at the top of the view and how far below the view's top it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Anchor {
    month: MonthId,
    /// Photo id and its index when a photo is there; else the month's own top.
    photo: Option<(PhotoId, u64)>,
    offset: f64,
}

/// Applies a new month list without blanking or moving what is on screen.
async fn apply_new_months(new_buckets: Vec<MonthBucket>, everything: bool, live: Live) {
    let old_buckets = live.buckets.get_untracked();
    let changed: HashSet<MonthId> = if everything {
        old_buckets
            .iter()
            .chain(&new_buckets)
            .map(month_id)
            .collect()
    } else {
        changed_months(&old_buckets, &new_buckets)
    };
    if changed.is_empty() {
        return;
    }
    let top = live.view_top.get_untracked();
    let height = live.viewport.get_untracked();
    let anchor = live.layout.with_untracked(|layout| {
        live.cache
            .with_value(|cache| find_anchor(layout, &old_buckets, cache, top))
    });
    let new_layout = Layout::new(
        &new_buckets,
        live.width.get_untracked(),
        Metrics::for_width(live.window_width.get_untracked()),
    );
    // Where the view lands if the anchor keeps its index; fetch what is around it, wider
    // than the screen in case photos came in above the anchor in its own month.
    let guess = anchor
        .and_then(|anchor| landing(&new_layout, &new_buckets, anchor, anchor_index(anchor)))
        .unwrap_or(top);
    let margin =
        height.max(SEGMENT_SIZE as f64 / new_layout.columns as f64 * new_layout.row_height());
    let mut wanted: Vec<SegmentKey> = segments_in(
        &new_layout,
        &new_buckets,
        guess - margin,
        guess + height + margin,
    )
    .into_iter()
    .filter(|(month, _)| changed.contains(month))
    .collect();
    if let Some(Anchor {
        month,
        photo: Some((_, index)),
        ..
    }) = anchor
    {
        if changed.contains(&month) {
            let key = (month, index / SEGMENT_SIZE);
            if !wanted.contains(&key) {
                wanted.push(key);
            }
        }
    }
    let mut fresh = Vec::new();
    for key in wanted {
        match client::fetch_segment(key).await {
            Ok(segment) => fresh.push((key, CellData::from(segment))),
            Err(error) => leptos::logging::warn!("timeline segment {key:?}: {error}"),
        }
    }
    // Everything below happens before the next paint.
    live.cache.update_value(|cache| {
        cache.forget(Some(&changed));
        for (key, data) in fresh {
            cache.insert(key, data);
        }
    });
    let new_top = anchor
        .and_then(|anchor| {
            let index = match anchor.photo {
                Some((id, index)) => live
                    .cache
                    .with_value(|cache| cache.index_of(anchor.month, id))
                    .or((!changed.contains(&anchor.month)).then_some(index)),
                None => None,
            };
            landing(&new_layout, &new_buckets, anchor, index)
        })
        .unwrap_or(top);
    if !live.adopted.with_untracked(|a| a.months.is_empty()) {
        client::remove_first_screen(live.root);
        live.adopted.set(Adopted::default());
    }
    client::show_month_count(new_buckets.len());
    let total = new_layout.total_height();
    live.buckets.set(new_buckets);
    let native = live
        .scroller
        .try_update_value(|s| {
            *s = Scroller::new(total, height);
            s.anchor(new_top)
        })
        .unwrap_or(0.0);
    let scroll_height = live.scroller.with_value(|s| s.scroll_height);
    client::set_min_height(live.root, scroll_height);
    client::scroll_to(client::document_top(live.root) - TOP_BAR + native);
    live.view_top.set(new_top);
    live.drift.set(live.scroller.with_value(Scroller::drift));
    live.revision.update(|n| *n += 1);
}

fn anchor_index(anchor: Anchor) -> Option<u64> {
    anchor.photo.map(|(_, index)| index)
}

/// The first photo whose row starts at or below the view's top, else the month there.
fn find_anchor(
    layout: &Layout,
    buckets: &[MonthBucket],
    cache: &SegmentCache,
    top: f64,
) -> Option<Anchor> {
    let visible = layout.visible(top, top + layout.row_height() * 2.0);
    for part in &visible {
        let bucket = buckets.get(part.month)?;
        let month = month_id(bucket);
        for index in part.photos.clone() {
            let (_, cell_top) = layout.cell_origin(part.month, index);
            if cell_top + 0.5 < top {
                continue;
            }
            if let Some(photo) = cache.photo(month, index) {
                return Some(Anchor {
                    month,
                    photo: Some((photo.id, index)),
                    offset: cell_top - top,
                });
            }
        }
    }
    let part = visible.first()?;
    let bucket = buckets.get(part.month)?;
    Some(Anchor {
        month: month_id(bucket),
        photo: None,
        offset: layout.month_top(part.month) - top,
    })
}

/// The view's top that puts the anchor (at `index` of its month, or the month's top) where it
/// was on screen.
fn landing(
    layout: &Layout,
    buckets: &[MonthBucket],
    anchor: Anchor,
    index: Option<u64>,
) -> Option<f64> {
    let position = buckets.iter().position(|b| month_id(b) == anchor.month)?;
    let top = match index {
        Some(index) => layout.cell_origin(position, index).1,
        None => layout.month_top(position),
    };
    Some((top - anchor.offset).max(0.0))
}

/// The items of the window `[top, bottom)`: month headings and rows, leaving out what the
/// server's first screen still draws. Rows in `full_rows` are drawn in full, the others as
/// their colours until `rows_to_complete` picks them.
fn window_items(
    layout: &Layout,
    months: &[MonthBucket],
    cache: &SegmentCache,
    adopted: &Adopted,
    (top, bottom): (f64, f64),
    full_rows: &HashSet<RowPlace>,
) -> Vec<Item> {
    let mut items = Vec::new();
    let columns = layout.columns;
    for visible in layout.visible(top, bottom) {
        let Some(bucket) = months.get(visible.month).copied() else {
            continue;
        };
        let month = month_id(&bucket);
        if !adopted.has_header(month) {
            items.push(Item::Header {
                bucket,
                top: layout.month_top(visible.month),
            });
        }
        let mut start = visible.photos.start;
        while start < visible.photos.end {
            let row = start / columns;
            let end = ((row + 1) * columns).min(bucket.count);
            let first = (start..end)
                .find(|&index| !adopted.covers(month, index))
                .unwrap_or(end);
            if first < end {
                let id = RowId {
                    month,
                    row,
                    serials: (cache.serial(month, first), cache.serial(month, end - 1)),
                };
                items.push(Item::Row {
                    id,
                    top: layout.cell_origin(visible.month, row * columns).1,
                    first,
                    end,
                    full: full_rows.contains(&(month, row)),
                });
            }
            start = end;
        }
    }
    items
}

/// The next rows to draw in full: loaded rows of `items` starting within `band`, not full
/// yet, at most `limit`, nearest to `centre` first.
fn rows_to_complete(
    items: &[Item],
    (from, to): (f64, f64),
    centre: f64,
    limit: usize,
) -> Vec<RowPlace> {
    let mut waiting: Vec<(f64, RowPlace)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Row {
                id,
                top,
                full: false,
                ..
            } if *top >= from && *top < to && id.serials.0 > 0 && id.serials.1 > 0 => {
                Some(((top - centre).abs(), (id.month, id.row)))
            }
            _ => None,
        })
        .collect();
    waiting.sort_by(|a, b| a.0.total_cmp(&b.0));
    waiting
        .into_iter()
        .take(limit)
        .map(|(_, row)| row)
        .collect()
}

/// Fetches a segment into the cache; the drawing follows its arrival (`revision`).
fn fetch_into_cache(key: SegmentKey, cache: StoredValue<SegmentCache>, revision: RwSignal<u64>) {
    leptos::task::spawn_local(async move {
        let fetched = client::fetch_segment(key).await;
        // A live refresh may have dropped this request meanwhile: its answer may predate the
        // change, so it is not kept.
        let kept = cache
            .try_update_value(|c| match fetched {
                Ok(segment) if c.in_flight.contains(&key) => {
                    c.insert(key, segment.into());
                    true
                }
                Ok(_) => false,
                Err(error) => {
                    leptos::logging::warn!("timeline segment {key:?}: {error}");
                    c.in_flight.remove(&key);
                    false
                }
            })
            .unwrap_or(false);
        if kept {
            revision.update(|n| *n += 1);
        }
    });
}

/// The segments holding the photos of `[top, bottom)`.
fn segments_in(layout: &Layout, months: &[MonthBucket], top: f64, bottom: f64) -> Vec<SegmentKey> {
    let mut keys = Vec::new();
    for visible in layout.visible(top, bottom) {
        let Some(bucket) = months.get(visible.month) else {
            continue;
        };
        if visible.photos.is_empty() {
            continue;
        }
        let first = visible.photos.start / SEGMENT_SIZE;
        let last = (visible.photos.end - 1) / SEGMENT_SIZE;
        keys.extend((first..=last).map(|segment| (month_id(bucket), segment)));
    }
    keys
}

/// The month rail: years along a track as tall as the screen, a thumb where the view is, and
/// a slider that jumps to any month by pointer or keyboard. Drawn by the server too, so the
/// island changes nothing on waking.
#[component]
fn Rail(
    buckets: RwSignal<Vec<MonthBucket>>,
    layout: Memo<Layout>,
    view_top: RwSignal<f64>,
    viewport: RwSignal<f64>,
    // The top to show, and whether the view stays there (a key) or moves on (a drag).
    jump_to: impl Fn(f64, bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // Positions on the rail follow photo counts, which the server knows too.
    let starts = Memo::new(move |_| buckets.with(|b| month_starts(b)));
    let dragging = RwSignal::new(false);
    let current = Memo::new(move |_| {
        let top = view_top.get();
        let height = viewport.get();
        let months = buckets.with(Vec::len);
        layout.with(|l| {
            if months > 0 && l.total_height() > height && top >= l.total_height() - height - 1.0 {
                return months - 1;
            }
            (0..months)
                .rev()
                .find(|&m| l.month_top(m) <= top + 1.0)
                .unwrap_or(0)
        })
    });
    // Where the thumb sits: the share of the library above the view.
    let position = Memo::new(move |_| {
        let month = current.get();
        let top = view_top.get();
        starts.with(|starts| {
            layout.with(|l| {
                let (start, end) = (starts.get(month).copied(), starts.get(month + 1).copied());
                let (Some(start), Some(end)) = (start, end) else {
                    return 0.0;
                };
                let month_height = (l.month_top(month + 1) - l.month_top(month)).max(1.0);
                let within = ((top - l.month_top(month)) / month_height).clamp(0.0, 1.0);
                start + (end - start) * within
            })
        })
    });
    let label = move || {
        buckets.with(|b| {
            b.get(current.get())
                .map(|bucket| month_label(bucket.year, bucket.month))
                .unwrap_or_default()
        })
    };
    let go_to_month = move |month: usize| {
        let top = layout.with_untracked(|l| l.month_top(month));
        jump_to(top, true);
    };
    // A point on the rail, as a share of its height, to a place in the library.
    let go_to_share = move |share: f64| {
        let share = share.clamp(0.0, 1.0);
        let target = starts.with_untracked(|starts| {
            let month = starts
                .partition_point(|&start| start <= share)
                .saturating_sub(1)
                .min(starts.len().saturating_sub(2));
            let (start, end) = (starts[month], starts.get(month + 1).copied().unwrap_or(1.0));
            let within = if end > start {
                (share - start) / (end - start)
            } else {
                0.0
            };
            (month, within)
        });
        let (month, within) = target;
        let top = layout.with_untracked(|l| {
            l.month_top(month) + (l.month_top(month + 1) - l.month_top(month)) * within
        });
        jump_to(top, false);
    };
    // Pointer moves come faster than frames: only the latest is followed, once a frame.
    let pending_share = StoredValue::new(None::<f64>);
    let follow = move |share: f64| {
        let waiting = pending_share.get_value().is_some();
        pending_share.set_value(Some(share));
        if !waiting {
            request_animation_frame(move || {
                if let Some(share) = pending_share.get_value() {
                    pending_share.set_value(None);
                    go_to_share(share);
                }
            });
        }
    };
    let on_key = move |event: leptos::ev::KeyboardEvent| {
        let months = buckets.with_untracked(Vec::len);
        if months == 0 {
            return;
        }
        let now = current.get_untracked();
        let year_of = |m: usize| buckets.with_untracked(|b| b.get(m).map(|b| b.year));
        let target = match event.key().as_str() {
            "ArrowDown" | "ArrowRight" => (now + 1).min(months - 1),
            "ArrowUp" | "ArrowLeft" => now.saturating_sub(1),
            "PageDown" => (now..months)
                .find(|&m| year_of(m) != year_of(now))
                .unwrap_or(months - 1),
            "PageUp" => {
                // The first month of the year above, or of this year when not at its start.
                let year = if now > 0 && year_of(now - 1) == year_of(now) {
                    year_of(now)
                } else {
                    year_of(now.saturating_sub(1))
                };
                (0..=now).find(|&m| year_of(m) == year).unwrap_or(0)
            }
            "Home" => 0,
            "End" => months - 1,
            _ => return,
        };
        event.prevent_default();
        go_to_month(target);
    };
    let on_pointer_down = move |event: leptos::ev::PointerEvent| {
        event.prevent_default();
        dragging.set(true);
        let share = client::pointer_share(&event, true);
        follow(share);
    };
    let on_pointer_move = move |event: leptos::ev::PointerEvent| {
        if dragging.get_untracked() {
            follow(client::pointer_share(&event, false));
        }
    };
    let stop = move |_: leptos::ev::PointerEvent| dragging.set(false);
    view! {
        <nav class="vt-rail" aria-label="Jump to a month">
            <div
                class="vt-track"
                role="slider"
                tabindex="0"
                aria-label="Month"
                aria-orientation="vertical"
                aria-valuemin="0"
                aria-valuemax=move || buckets.with(|b| b.len().saturating_sub(1))
                aria-valuenow=move || current.get()
                aria-valuetext=label
                data-dragging=move || dragging.get().then_some("true")
                on:keydown=on_key
                on:pointerdown=on_pointer_down
                on:pointermove=on_pointer_move
                on:pointerup=stop
                on:pointercancel=stop
            >
                {move || {
                    buckets.with(|b| starts.with(|starts| rail_years(b, starts)))
                        .into_iter()
                        .map(|(year, share)| {
                            view! {
                                <span class="vt-year" style=format!("top:{}%", decimal(share * 100.0, 3))>
                                    {year}
                                </span>
                            }
                        })
                        .collect_view()
                }}
                <span class="vt-thumb" style:top=move || format!("{}%", decimal(position.get() * 100.0, 3))>
                    <span class="vt-tip">{label}</span>
                </span>
            </div>
        </nav>
    }
}

/// Where each month starts on the rail, as a share of the library's photos; one extra entry
/// (1.0) closes the last month.
fn month_starts(buckets: &[MonthBucket]) -> Vec<f64> {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let mut starts = Vec::with_capacity(buckets.len() + 1);
    let mut before = 0u64;
    for bucket in buckets {
        starts.push(if total == 0 {
            0.0
        } else {
            before as f64 / total as f64
        });
        before += bucket.count;
    }
    starts.push(1.0);
    starts
}

/// The year labels of the rail and where they sit, leaving out those that would overlap.
fn rail_years(buckets: &[MonthBucket], starts: &[f64]) -> Vec<(i32, f64)> {
    let mut years: Vec<(i32, f64)> = Vec::new();
    for (bucket, &share) in buckets.iter().zip(starts) {
        let new_year = years.last().is_none_or(|&(year, _)| year != bucket.year);
        let room = years
            .last()
            .is_none_or(|&(_, last)| share - last >= RAIL_LABEL_GAP);
        if new_year && room && share <= 1.0 - RAIL_LABEL_GAP / 2.0 {
            years.push((bucket.year, share));
        }
    }
    years
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

/// What drawing an item needs besides the item.
#[derive(Clone, Copy)]
struct ItemContext {
    layout: Memo<Layout>,
    base: f64,
    cache: StoredValue<SegmentCache>,
    media_access: StoredValue<String>,
}

fn render_item(item: Item, context: ItemContext) -> AnyView {
    let ItemContext {
        layout,
        base,
        cache,
        media_access,
    } = context;
    match item {
        Item::Header { bucket, top } => view! {
            <h2 class="vt-month" style=format!("top:{}px", decimal(top - base, 2))>
                {month_label(bucket.year, bucket.month)}
                <span class="count">{crate::format::photo_count(bucket.count)}</span>
            </h2>
        }
        .into_any(),
        Item::Row {
            id,
            top,
            first,
            end,
            full,
            ..
        } => {
            let column = first - id.row * layout.with_untracked(|l| l.columns);
            let html = cache.with_value(|cache| {
                media_access.with_value(|access| {
                    let photos = (first..end).map(|index| {
                        cache.photo(id.month, index).map(|photo| {
                            let favourite = cache.favourite(id.month, index);
                            (photo, favourite)
                        })
                    });
                    row_html(photos, column, full.then_some(access.as_str()))
                })
            });
            // Colours alone say nothing to a screen reader; the full row names its photos.
            view! {
                <ul
                    class="grid vt-row"
                    style=format!("top:{}px", decimal(top - base, 2))
                    aria-hidden=(!full).then_some("true")
                    inner_html=html
                ></ul>
            }
            .into_any()
        }
    }
}

/// The cells of one row as HTML. In full (with `media_access`), the same markup as the
/// server's cells but for a plain button where the server has a form; otherwise each cell is
/// its placeholder colour alone. `column` is where the first one goes. Every text is escaped:
/// file names are whatever was uploaded.
fn row_html(
    photos: impl Iterator<Item = Option<(ShownPhoto, bool)>>,
    column: u64,
    media_access: Option<&str>,
) -> String {
    use std::fmt::Write;
    let mut html = String::with_capacity(2048);
    for (at, photo) in photos.enumerate() {
        let place = if at == 0 && column > 0 {
            format!(" style=\"grid-column-start:{}\"", column + 1)
        } else {
            String::new()
        };
        let Some((photo, favourite)) = photo else {
            let _ = write!(html, "<li class=\"cell vt-cell vt-loading\"{place}></li>");
            continue;
        };
        let [r, g, b] = photo.rgb;
        let id = photo.id;
        let place = if place.is_empty() {
            format!(" style=\"background-color:rgb({r},{g},{b})\"")
        } else {
            format!(
                " style=\"grid-column-start:{};background-color:rgb({r},{g},{b})\"",
                column + 1
            )
        };
        let Some(access) = media_access else {
            let _ = write!(
                html,
                "<li class=\"cell vt-cell\" data-photo-id=\"{id}\"{place}></li>"
            );
            continue;
        };
        let _ = write!(
            html,
            "<li class=\"cell vt-cell\" data-photo-id=\"{id}\"{place}><a class=\"cell-link\" href=\"{}\" aria-label=\"{}\">",
            super::photo_href(id),
            escape_html(&cell_name(&photo.name, photo.taken_at)),
        );
        if let Some(key) = photo.media {
            let media = format!("{access}/{}", crate::format::hex(&key));
            let _ = write!(
                html,
                "<img class=\"thumb\" src=\"{}\" srcset=\"{} 2x\" alt=\"\" decoding=\"async\">",
                escape_html(&media_url(&media, "thumb.webp")),
                escape_html(&media_url(&media, crate::model::THUMB_2X)),
            );
        }
        let _ = write!(
            html,
            "</a><button type=\"button\" class=\"fav\" aria-pressed=\"{favourite}\" aria-label=\"{}\"></button></li>",
            favourite_label(favourite)
        );
    }
    html
}

/// Text made safe inside HTML text and double-quoted attributes.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Browser-only measurements, requests and DOM touches; inert on the server, where effects
/// never run.
mod client {
    use leptos::prelude::*;

    use super::SegmentKey;
    use crate::codec::Segment;
    use crate::model::PhotoId;

    #[cfg(feature = "hydrate")]
    pub async fn fetch_segment(key: SegmentKey) -> Result<Segment, String> {
        use crate::model::MonthBucket;
        use leptos::wasm_bindgen::JsCast;
        let ((year, month), segment) = key;
        let bucket = MonthBucket {
            year,
            month,
            count: 0,
        };
        let url = format!(
            "/api/timeline/buckets/{}?offset={}&limit={}",
            bucket.key(),
            segment * super::SEGMENT_SIZE,
            super::SEGMENT_SIZE
        );
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
    pub async fn fetch_segment(_key: SegmentKey) -> Result<Segment, String> {
        Err("segments are fetched in the browser only".into())
    }

    /// Milliseconds on a steady clock.
    pub fn now() -> f64 {
        #[cfg(feature = "hydrate")]
        {
            js_sys::Date::now()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            0.0
        }
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

    /// The grid's width as layout knows it, fractions included, as CSS grid divides it.
    pub fn element_width(root: NodeRef<leptos::html::Div>) -> f64 {
        root.get_untracked()
            .map(|element| element.get_bounding_client_rect().width())
            .unwrap_or(0.0)
    }

    /// Sizes the scroll range at once, before a scroll that needs it in the same frame.
    pub fn set_min_height(root: NodeRef<leptos::html::Div>, height: f64) {
        if let Some(element) = root.get_untracked() {
            // The DOM's own `style`, not the view builder's method of the same name.
            let _ = web_sys::HtmlElement::style(&element).set_property(
                "min-height",
                &format!("{}px", crate::format::decimal(height, 2)),
            );
        }
    }

    /// Takes the server's first screen out of the page; the island draws those rows now.
    pub fn remove_first_screen(root: NodeRef<leptos::html::Div>) {
        if let Some(first) = root
            .get_untracked()
            .and_then(|element| element.query_selector(".sections").ok().flatten())
        {
            first.remove();
        }
    }

    /// Shows a favourite flag on every heart of photo `id` on the page: the server's cell and
    /// the island's alike.
    pub fn show_favourite(root: NodeRef<leptos::html::Div>, id: PhotoId, favourite: bool) {
        let selector = format!("[data-photo-id=\"{id}\"] button.fav");
        let Some(hearts) = root
            .get_untracked()
            .and_then(|element| element.query_selector_all(&selector).ok())
        else {
            return;
        };
        for at in 0..hearts.length() {
            let Some(heart) = hearts.item(at).and_then(|node| {
                leptos::wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(node).ok()
            }) else {
                continue;
            };
            let _ = heart.set_attribute("aria-pressed", &favourite.to_string());
            let _ = heart.set_attribute("aria-label", super::favourite_label(favourite));
            if heart.has_attribute("value") {
                let _ = heart.set_attribute("value", &(!favourite).to_string());
            }
        }
    }

    /// The photo and the wanted flag of a server cell's favourite form being submitted.
    pub fn favourite_form_of(event: &leptos::ev::SubmitEvent) -> Option<(PhotoId, bool)> {
        use leptos::wasm_bindgen::JsCast;
        let form: web_sys::Element = event.target()?.dyn_into().ok()?;
        if !form.class_list().contains("fav-form") {
            return None;
        }
        heart_of(form.query_selector("button.fav").ok()??)
    }

    /// The photo and the wanted flag of an island cell's heart being clicked.
    pub fn favourite_button_of(event: &leptos::ev::MouseEvent) -> Option<(PhotoId, bool)> {
        use leptos::wasm_bindgen::JsCast;
        let target: web_sys::Element = event.target()?.dyn_into().ok()?;
        let button = target.closest("button.fav").ok()??;
        // The server's buttons submit their form; the submit listener has those.
        if button.get_attribute("type").as_deref() != Some("button") {
            return None;
        }
        heart_of(button)
    }

    fn heart_of(button: web_sys::Element) -> Option<(PhotoId, bool)> {
        let cell = button.closest("[data-photo-id]").ok()??;
        let id = cell.get_attribute("data-photo-id")?.parse().ok()?;
        let pressed = button.get_attribute("aria-pressed")?;
        Some((id, pressed != "true"))
    }

    /// Where the pointer is on the rail's track, as a share of its height. On the first
    /// touch the track keeps the pointer, so a drag may leave it.
    pub fn pointer_share(event: &leptos::ev::PointerEvent, capture: bool) -> f64 {
        use leptos::wasm_bindgen::JsCast;
        let Some(track) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        else {
            return 0.0;
        };
        if capture {
            let _ = track.set_pointer_capture(event.pointer_id());
        }
        let rect = track.get_bounding_client_rect();
        ((f64::from(event.client_y()) - rect.top()) / rect.height().max(1.0)).clamp(0.0, 1.0)
    }

    /// Keeps the page's "in N months" current.
    pub fn show_month_count(months: usize) {
        if let Some(element) = document()
            .query_selector("[data-live-months]")
            .ok()
            .flatten()
        {
            element.set_text_content(Some(&super::super::month_count(months)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::tests::WIDE;
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
            taken_at: vec![0; ids.len()],
            rgb: vec![[0, 0, 0]; ids.len()],
            favourite: vec![false; ids.len()],
            media: vec![None; ids.len()],
            names: vec![Arc::from("IMG.JPG"); ids.len()],
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
        assert!(cache.favourite((2026, 11), 1));
        assert!(!cache.set_favourite(1, true));
    }

    /// Ten columns, rows of 100 px: November's 25 photos (loaded), then October's 10.
    fn november_loaded_october_not() -> ([MonthBucket; 2], Layout, SegmentCache) {
        let months = [bucket(2026, 11, 25), bucket(2026, 10, 10)];
        let layout = Layout::new(&months, 1000.0, WIDE);
        let mut cache = SegmentCache::default();
        cache.insert(((2026, 11), 0), segment(&(0..25).collect::<Vec<_>>()));
        (months, layout, cache)
    }

    #[test]
    fn the_window_leaves_the_server_grid_alone_while_it_is_there() {
        // Ten columns; the server drew twelve November photos: a row and two cells.
        let (months, layout, cache) = november_loaded_october_not();
        let adopted = Adopted {
            months: vec![((2026, 11), 12)],
        };
        let full = HashSet::from([((2026, 11), 1), ((2026, 11), 2)]);
        let items = window_items(&layout, &months, &cache, &adopted, (0.0, 1000.0), &full);
        let rows: Vec<(MonthId, u64, u64, u64, bool)> = items
            .iter()
            .filter_map(|item| match item {
                Item::Row {
                    id,
                    first,
                    end,
                    full,
                    ..
                } => Some((id.month, id.row, *first, *end, id.serials.0 > 0 && *full)),
                _ => None,
            })
            .collect();
        assert_eq!(
            rows,
            [
                ((2026, 11), 1, 12, 20, true),
                ((2026, 11), 2, 20, 25, true),
                ((2026, 10), 0, 0, 10, false),
            ]
        );
        // November's heading is the server's; October's is drawn.
        let headers: Vec<MonthBucket> = items
            .iter()
            .filter_map(|item| match item {
                Item::Header { bucket, .. } => Some(*bucket),
                _ => None,
            })
            .collect();
        assert_eq!(headers, [months[1]]);
        // The server's grid ends with the row holding its last cell: 50 + 2 rows of 100.
        assert_eq!(adopted.bottom(&layout, &months), 250.0);
        let none = HashSet::new();
        let all = window_items(
            &layout,
            &months,
            &cache,
            &Adopted::default(),
            (0.0, 1000.0),
            &none,
        );
        assert_eq!(all.len(), 2 + 3 + 1);
        assert!(all
            .iter()
            .all(|item| !matches!(item, Item::Row { full: true, .. })));
    }

    #[test]
    fn rows_near_the_screen_are_completed_a_few_a_frame_nearest_first() {
        let (months, layout, cache) = november_loaded_october_not();
        let draw = |full: &HashSet<RowPlace>| {
            window_items(
                &layout,
                &months,
                &cache,
                &Adopted::default(),
                (0.0, 1000.0),
                full,
            )
        };
        // The middle row first, then the one above; October is not loaded yet.
        let centre = layout.cell_origin(0, 10).1 - 10.0;
        let first = rows_to_complete(&draw(&HashSet::new()), (0.0, 1000.0), centre, 2);
        assert_eq!(first, [((2026, 11), 1), ((2026, 11), 0)]);
        let items = draw(&first.into_iter().collect());
        assert_eq!(
            rows_to_complete(&items, (0.0, 1000.0), centre, 2),
            [((2026, 11), 2)]
        );
        // Rows starting outside the band wait.
        assert_eq!(
            rows_to_complete(&items, (0.0, layout.cell_origin(0, 20).1), centre, 2),
            []
        );
    }

    #[test]
    fn a_row_is_the_server_grid_markup_with_every_name_escaped() {
        let photo = ShownPhoto {
            id: 7,
            taken_at: 1_793_491_200,
            rgb: [1, 2, 3],
            media: Some([0xab; 8]),
            name: Arc::from("\"><img src=x onerror=alert(1)>&'.jpg"),
        };
        let html = row_html(
            [Some((photo.clone(), true)), None].into_iter(),
            3,
            Some("1-2-sig"),
        );
        assert!(html.starts_with(
            "<li class=\"cell vt-cell\" data-photo-id=\"7\" style=\"grid-column-start:4;background-color:rgb(1,2,3)\">"
        ));
        assert!(html.contains(
            "aria-label=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#39;.jpg, 1 November 2026\""
        ));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("src=\"/media/1-2-sig/abababababababab/thumb.webp\""));
        assert!(html.contains("srcset=\"/media/1-2-sig/abababababababab/thumb-512.webp 2x\""));
        assert!(html.contains("aria-pressed=\"true\" aria-label=\"Remove from favourites\""));
        assert!(html.ends_with("<li class=\"cell vt-cell vt-loading\"></li>"));
        // Not in full (flicking past): the colour alone, no link, heart or thumbnail.
        let quick = row_html([Some((photo, false))].into_iter(), 0, None);
        assert_eq!(
            quick,
            "<li class=\"cell vt-cell\" data-photo-id=\"7\" style=\"background-color:rgb(1,2,3)\"></li>"
        );
    }

    #[test]
    fn an_arrival_above_keeps_the_anchor_photo_where_it_was() {
        // Looking at October, 30 px below the top of its second row.
        let before = [bucket(2026, 11, 25), bucket(2026, 10, 40)];
        let layout = Layout::new(&before, 1000.0, WIDE);
        let mut cache = SegmentCache::default();
        cache.insert(((2026, 10), 0), segment(&(100..140).collect::<Vec<_>>()));
        let row_top = layout.cell_origin(1, 10).1;
        let anchor = find_anchor(&layout, &before, &cache, row_top - 30.0).expect("an anchor");
        assert_eq!(anchor.photo, Some((110, 10)));
        assert_eq!(anchor.offset, 30.0);
        // Eight photos arrive in November: one more row above.
        let after = [bucket(2026, 11, 33), bucket(2026, 10, 40)];
        let new_layout = Layout::new(&after, 1000.0, WIDE);
        let top = landing(&new_layout, &after, anchor, Some(10)).expect("lands");
        assert_eq!(top, row_top - 30.0 + 100.0);
        assert_eq!(new_layout.cell_origin(1, 10).1 - top, 30.0);
    }

    #[test]
    fn the_rail_places_years_by_photo_share_without_overlap() {
        let months = [
            bucket(2026, 11, 50),
            bucket(2026, 1, 50),
            bucket(2025, 6, 2),
            bucket(2024, 3, 98),
        ];
        let starts = month_starts(&months);
        assert_eq!(starts, [0.0, 0.25, 0.5, 0.51, 1.0]);
        // 2024 starts 1 % below 2025: too close, so only 2025 is named.
        assert_eq!(rail_years(&months, &starts), [(2026, 0.0), (2025, 0.5)]);
        assert_eq!(month_starts(&[]), [1.0]);
    }
}
