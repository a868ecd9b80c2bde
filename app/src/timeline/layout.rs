//! Timeline geometry by arithmetic alone: square cells, month blocks, and the mapping of a
//! virtual height of any size onto a scroll range every browser can represent.

use std::ops::Range;

use crate::model::MonthBucket;

/// Firefox stops near 17.9M px and Chromium near 33.5M px; stay well under both.
pub const MAX_SCROLL_HEIGHT: f64 = 8_000_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Smallest cell edge; cells grow to fill the row.
    pub min_cell: f64,
    pub gap: f64,
    /// Height of a month heading above its grid.
    pub header: f64,
    /// Space after a month's last row.
    pub after: f64,
}

impl Metrics {
    /// The same sizes as the server-rendered grid (style/main.css), per viewport width.
    pub fn for_width(width: f64) -> Self {
        if width <= 720.0 {
            Metrics {
                min_cell: 96.0,
                gap: 2.0,
                header: 44.0,
                after: 16.0,
            }
        } else {
            Metrics {
                min_cell: 132.0,
                gap: 4.0,
                header: 48.0,
                after: 20.0,
            }
        }
    }
}

/// Where every month and cell is, for one container width.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub metrics: Metrics,
    pub columns: u64,
    pub cell: f64,
    counts: Vec<u64>,
    /// Top of each month block; one extra entry holds the total height.
    tops: Vec<f64>,
}

/// The part of one month that intersects a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleMonth {
    pub month: usize,
    pub header_visible: bool,
    /// Photo indexes inside the month, whole rows.
    pub photos: Range<u64>,
}

impl Layout {
    pub fn new(buckets: &[MonthBucket], width: f64, metrics: Metrics) -> Self {
        let width = width.max(metrics.min_cell);
        let columns =
            (((width + metrics.gap) / (metrics.min_cell + metrics.gap)).floor() as u64).max(1);
        let cell = (width - metrics.gap * (columns - 1) as f64) / columns as f64;
        let counts: Vec<u64> = buckets.iter().map(|bucket| bucket.count).collect();
        let mut tops = Vec::with_capacity(counts.len() + 1);
        let mut top = 0.0;
        for &count in &counts {
            tops.push(top);
            let rows = count.div_ceil(columns);
            top += metrics.header + rows as f64 * (cell + metrics.gap) + metrics.after;
        }
        tops.push(top);
        Layout {
            metrics,
            columns,
            cell,
            counts,
            tops,
        }
    }

    pub fn total_height(&self) -> f64 {
        self.tops.last().copied().unwrap_or(0.0)
    }

    pub fn month_top(&self, month: usize) -> f64 {
        self.tops
            .get(month)
            .copied()
            .unwrap_or_else(|| self.total_height())
    }

    pub fn row_height(&self) -> f64 {
        self.cell + self.metrics.gap
    }

    /// Top-left corner of photo `index` of `month`, in virtual coordinates.
    pub fn cell_origin(&self, month: usize, index: u64) -> (f64, f64) {
        let row = index / self.columns;
        let column = index % self.columns;
        (
            column as f64 * self.row_height(),
            self.month_top(month) + self.metrics.header + row as f64 * self.row_height(),
        )
    }

    /// Months and rows intersecting `[top, bottom)`, in order.
    pub fn visible(&self, top: f64, bottom: f64) -> Vec<VisibleMonth> {
        let mut out = Vec::new();
        if self.counts.is_empty() || bottom <= top {
            return out;
        }
        // The last month whose top is at or above `top`.
        let first = self.tops[..self.counts.len()]
            .partition_point(|&t| t <= top)
            .saturating_sub(1);
        for month in first..self.counts.len() {
            let month_top = self.tops[month];
            if month_top >= bottom {
                break;
            }
            let grid_top = month_top + self.metrics.header;
            let rows = self.counts[month].div_ceil(self.columns);
            let first_row =
                (((top - grid_top) / self.row_height()).floor().max(0.0) as u64).min(rows);
            let end_row =
                (((bottom - grid_top) / self.row_height()).ceil().max(0.0) as u64).min(rows);
            let photos = (first_row * self.columns).min(self.counts[month])
                ..(end_row * self.columns).min(self.counts[month]);
            out.push(VisibleMonth {
                month,
                header_visible: grid_top > top,
                photos,
            });
        }
        out
    }
}

/// Maps the native scroll position onto the virtual timeline.
///
/// Up to [`MAX_SCROLL_HEIGHT`] the two are the same. Beyond, the scroll range is a scaled
/// copy: a jump (scrollbar drag, scrubber, End key) lands proportionally, while small
/// movements (wheel, touch, arrow keys) move the content exactly as far as the finger or
/// wheel did; the difference is kept as a correction and folded back into the native
/// position once scrolling pauses ([`Scroller::settle`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Scroller {
    pub total: f64,
    pub viewport: f64,
    /// Height given to the scrollable element.
    pub scroll_height: f64,
    scale: f64,
    last_native: f64,
    correction: f64,
}

impl Scroller {
    pub fn new(total: f64, viewport: f64) -> Self {
        let viewport = viewport.max(1.0);
        let scroll_height = total.min(MAX_SCROLL_HEIGHT);
        let scale = if total > scroll_height && scroll_height > viewport {
            (total - viewport) / (scroll_height - viewport)
        } else {
            1.0
        };
        Scroller {
            total,
            viewport,
            scroll_height,
            scale,
            last_native: 0.0,
            correction: 0.0,
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn max_native(&self) -> f64 {
        (self.scroll_height - self.viewport).max(0.0)
    }

    fn max_virtual(&self) -> f64 {
        (self.total - self.viewport).max(0.0)
    }

    /// The virtual top for a native scroll position reported by the browser.
    pub fn on_scroll(&mut self, native: f64) -> f64 {
        let delta = native - self.last_native;
        self.last_native = native;
        if delta.abs() > self.viewport || native <= 0.0 || native >= self.max_native() {
            self.correction = 0.0;
        } else {
            self.correction += delta - delta * self.scale;
        }
        self.virtual_top()
    }

    pub fn virtual_top(&self) -> f64 {
        (self.last_native * self.scale + self.correction).clamp(0.0, self.max_virtual())
    }

    /// How far the virtual position is ahead of the native one: content drawn at virtual `y`
    /// belongs at native `y - drift`.
    pub fn drift(&self) -> f64 {
        self.virtual_top() - self.last_native
    }

    /// After scrolling pauses: the whole-pixel native position that shows the same content
    /// with the smallest correction, if it differs from the current one. The caller scrolls
    /// there; what is on screen does not move.
    pub fn settle(&mut self) -> Option<f64> {
        // Whole native pixels leave up to half a pixel's worth of virtual distance.
        if self.correction.abs() <= self.scale / 2.0 + 1e-6 {
            return None;
        }
        let top = self.virtual_top();
        Some(self.anchor(top))
    }

    /// The whole-pixel native position that shows virtual position `top` exactly (for jumps
    /// and for keeping a photo in place); the sub-pixel rest is kept as the correction. The
    /// caller scrolls there.
    pub fn anchor(&mut self, top: f64) -> f64 {
        let top = top.clamp(0.0, self.max_virtual());
        let native = (top / self.scale).round().clamp(0.0, self.max_native());
        self.last_native = native;
        self.correction = if native <= 0.0 || native >= self.max_native() {
            0.0
        } else {
            top - native * self.scale
        };
        native
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn buckets(counts: &[u64]) -> Vec<MonthBucket> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| MonthBucket {
                year: 2026 - i as i32 / 12,
                month: 12 - (i % 12) as u8,
                count,
            })
            .collect()
    }

    /// Cells of at least 100 px, no gaps, 50 px headings: easy arithmetic for tests.
    pub(crate) const WIDE: Metrics = Metrics {
        min_cell: 100.0,
        gap: 0.0,
        header: 50.0,
        after: 0.0,
    };

    #[test]
    fn cells_are_square_and_fill_the_row() {
        let layout = Layout::new(&buckets(&[10]), 1050.0, WIDE);
        assert_eq!(layout.columns, 10);
        assert_eq!(layout.cell, 105.0);
        let narrow = Layout::new(&buckets(&[10]), 10.0, WIDE);
        assert_eq!(narrow.columns, 1);
    }

    #[test]
    fn month_blocks_stack_by_arithmetic() {
        let layout = Layout::new(&buckets(&[25, 10, 1]), 1000.0, WIDE);
        // 3 rows, 1 row, 1 row; each month has a 50 px header.
        assert_eq!(layout.month_top(0), 0.0);
        assert_eq!(layout.month_top(1), 350.0);
        assert_eq!(layout.month_top(2), 500.0);
        assert_eq!(layout.total_height(), 650.0);
        assert_eq!(layout.cell_origin(0, 24), (400.0, 250.0));
        assert_eq!(layout.cell_origin(2, 0), (0.0, 550.0));
    }

    #[test]
    fn the_visible_window_lists_whole_rows_across_month_edges() {
        let layout = Layout::new(&buckets(&[25, 10, 1]), 1000.0, WIDE);
        let visible = layout.visible(200.0, 420.0);
        assert_eq!(
            visible,
            vec![
                VisibleMonth {
                    month: 0,
                    header_visible: false,
                    photos: 10..25
                },
                VisibleMonth {
                    month: 1,
                    header_visible: true,
                    photos: 0..10
                },
            ]
        );
        let last = layout.visible(640.0, 10_000.0);
        assert_eq!(
            last,
            vec![VisibleMonth {
                month: 2,
                header_visible: false,
                photos: 0..1
            }]
        );
        assert!(layout
            .visible(10_000.0, 20_000.0)
            .iter()
            .all(|m| m.photos.is_empty()));
    }

    #[test]
    fn two_million_photos_fit_the_scroll_limit_and_every_one_is_reachable() {
        let counts = vec![7_000u64; 286]; // 2,002,000 photos
        let layout = Layout::new(&buckets(&counts), 1000.0, WIDE);
        let total = layout.total_height();
        assert!(total > 20_000_000.0);
        let mut scroller = Scroller::new(total, 900.0);
        assert!(scroller.scroll_height <= MAX_SCROLL_HEIGHT);
        let bottom = scroller.anchor(f64::MAX);
        assert_eq!(bottom, scroller.scroll_height - 900.0);
        let top = scroller.on_scroll(bottom);
        let seen = layout.visible(top, top + 900.0);
        let last = seen.last().expect("something visible at the bottom");
        assert_eq!(last.month, 285);
        assert_eq!(last.photos.end, 7_000, "the oldest photo is not reachable");
    }

    #[test]
    fn small_movements_are_exact_and_settle_back_to_proportional() {
        let mut scroller = Scroller::new(40_000_000.0, 1000.0);
        assert!(scroller.scale() > 4.0);
        let start = scroller.anchor(10_000_000.0);
        assert!((scroller.on_scroll(start) - 10_000_000.0).abs() < 1e-3);
        // Ten wheel notches of 100 px move the content exactly 1000 px.
        let mut native = start;
        for _ in 0..10 {
            native += 100.0;
            scroller.on_scroll(native);
        }
        assert!((scroller.virtual_top() - 10_001_000.0).abs() < 1e-3);
        let settled = scroller.settle().expect("a correction to fold back");
        assert!((scroller.on_scroll(settled) - 10_001_000.0).abs() < 1e-3);
        assert_eq!(scroller.settle(), None);
        // A jump lands proportionally.
        let jumped = scroller.on_scroll(settled + 500_000.0);
        assert!((jumped - (settled + 500_000.0) * scroller.scale()).abs() < 1e-3);
    }

    #[test]
    fn an_anchored_position_is_exact_to_the_fraction_and_survives_small_scrolls() {
        for total in [50_000.0, 40_000_000.0] {
            let mut scroller = Scroller::new(total, 900.0);
            let wanted = 12_345.678;
            let native = scroller.anchor(wanted);
            assert_eq!(native, native.round(), "scroll to whole pixels");
            assert!((scroller.on_scroll(native) - wanted).abs() < 1e-6);
            // Content drawn at virtual y sits at native y - drift.
            assert!((native + scroller.drift() - wanted).abs() < 1e-6);
            assert!((scroller.on_scroll(native + 40.0) - (wanted + 40.0)).abs() < 1e-6);
        }
    }

    #[test]
    fn small_libraries_scroll_natively() {
        let mut scroller = Scroller::new(5_000.0, 1000.0);
        assert_eq!(scroller.scale(), 1.0);
        assert_eq!(scroller.on_scroll(1234.0), 1234.0);
        assert_eq!(scroller.on_scroll(99_999.0), 4_000.0);
        assert_eq!(scroller.settle(), None);
    }
}
