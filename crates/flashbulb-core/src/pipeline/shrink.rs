//! Shrinking while decoding: rows (or pieces of rows) go in as the decoder makes them, and
//! only the shrunk image and one band of sums are ever held, whatever the original's size or
//! shape. A 1 × 100,000,000 strip costs a few kilobytes here, not gigabytes.

use image::RgbImage;

use super::derive::{AtLeast, DeriveError};

/// Averages each `factor` × `factor` block of an image into one pixel (a box filter, as a JPEG
/// decoder's shrink-on-load does), taking the rows in order.
pub struct Shrinker {
    width: u32,
    height: u32,
    factor: u32,
    out_width: u32,
    out_height: u32,
    /// Finished output rows, `out_width × 3` bytes each.
    out: Vec<u8>,
    /// Sums of the output rows still open, from `first_open` on, `out_width × 3` each.
    sums: Vec<u64>,
    first_open: u32,
}

impl Shrinker {
    /// A shrinker for a `width` × `height` image that keeps at least the pixels `at_least`
    /// asks for, and whose result stays within `max_out_bytes` whatever the image's shape.
    pub fn new(
        width: u32,
        height: u32,
        at_least: AtLeast,
        max_out_bytes: u64,
    ) -> Result<Shrinker, DeriveError> {
        let factor = factor_for(width, height, at_least, max_out_bytes);
        let out_width = width.div_ceil(factor);
        let out_height = height.div_ceil(factor);
        usize::try_from(u64::from(out_width) * u64::from(out_height) * 3)
            .map_err(|_| DeriveError::Corrupt("the image is too large to shrink".into()))?;
        Ok(Shrinker {
            width,
            height,
            factor,
            out_width,
            out_height,
            // Reserved when the first row is done: a shrinker made only to price a file
            // costs nothing.
            out: Vec::new(),
            sums: Vec::new(),
            first_open: 0,
        })
    }

    /// The bytes the result takes.
    pub fn output_bytes(&self) -> u64 {
        u64::from(self.out_width) * u64::from(self.out_height) * 3
    }

    /// Adds the pixels of input row `y` starting at column `x`, laid out as `layout` says
    /// (8 bits a sample). Rows may come in pieces (tiles) and in any order within the band not
    /// yet [finished](Self::rows_done); sums are held for every output row from the first
    /// unfinished one to `y`'s, so callers finish rows as soon as they can. Written as one
    /// plain loop: it runs once per pixel of every original.
    pub fn add(&mut self, x: u32, y: u32, samples: &[u8], layout: Samples) {
        let out_row = y / self.factor;
        if y >= self.height || out_row < self.first_open || x >= self.width {
            return;
        }
        let row_len = self.out_width as usize * 3;
        let open = (out_row - self.first_open) as usize;
        if self.sums.len() < (open + 1) * row_len {
            self.sums.resize((open + 1) * row_len, 0);
        }
        let sums = &mut self.sums[open * row_len..(open + 1) * row_len];
        let channels = layout.channels();
        let count = ((self.width - x) as usize).min(samples.len() / channels);
        let factor = self.factor as usize;
        let mut column = x as usize / factor * 3;
        let mut within = x as usize % factor;
        let mut at = 0;
        for _ in 0..count {
            let (red, green, blue) = match layout {
                Samples::Gray | Samples::GrayAlpha => (samples[at], samples[at], samples[at]),
                Samples::Rgb | Samples::Rgba => (samples[at], samples[at + 1], samples[at + 2]),
                Samples::Cmyk => {
                    // Ink amounts: 0 is none. Paper white times what each ink lets through.
                    let white = 255 - u16::from(samples[at + 3]);
                    let through = |ink: u8| ((255 - u16::from(ink)) * white / 255) as u8;
                    (
                        through(samples[at]),
                        through(samples[at + 1]),
                        through(samples[at + 2]),
                    )
                }
            };
            sums[column] += u64::from(red);
            sums[column + 1] += u64::from(green);
            sums[column + 2] += u64::from(blue);
            at += channels;
            within += 1;
            if within == factor {
                within = 0;
                column += 3;
            }
        }
    }

    /// Every input row above `y` has been added whole: the output rows they make are final.
    pub fn rows_done(&mut self, y: u32) {
        let row_len = self.out_width as usize * 3;
        if self.out.capacity() == 0 {
            self.out.reserve_exact(row_len * self.out_height as usize);
        }
        while self.first_open < self.out_height {
            let block_end = ((self.first_open + 1) * self.factor).min(self.height);
            if block_end > y {
                break;
            }
            let block_height = block_end - self.first_open * self.factor;
            if self.sums.len() < row_len {
                self.sums.resize(row_len, 0);
            }
            for column in 0..self.out_width {
                let block_width =
                    ((column + 1) * self.factor).min(self.width) - column * self.factor;
                let count = u64::from(block_width) * u64::from(block_height);
                for channel in 0..3 {
                    let sum = self.sums[column as usize * 3 + channel];
                    self.out.push(((sum + count / 2) / count) as u8);
                }
            }
            self.sums.drain(..row_len);
            self.first_open += 1;
        }
    }

    /// The shrunk image; rows never added are black.
    pub fn finish(mut self) -> Result<RgbImage, DeriveError> {
        self.rows_done(self.height);
        RgbImage::from_raw(self.out_width, self.out_height, self.out)
            .ok_or_else(|| DeriveError::Corrupt("the decoded image is incomplete".into()))
    }
}

/// The whole-number factor that still leaves what `at_least` asks for, raised until the
/// result fits `max_out_bytes` (extreme shapes: a thin strip's short edge asks for no
/// shrinking at all).
pub fn factor_for(width: u32, height: u32, at_least: AtLeast, max_out_bytes: u64) -> u32 {
    let (wanted, edge) = match at_least {
        AtLeast::LongEdge(wanted) => (wanted, width.max(height)),
        AtLeast::ShortEdge(wanted) => (wanted, width.min(height)),
    };
    let mut factor = (edge / wanted.max(1)).max(1);
    let out_bytes =
        |factor: u32| u64::from(width.div_ceil(factor)) * u64::from(height.div_ceil(factor)) * 3;
    if out_bytes(factor) > max_out_bytes {
        // Within a few steps of the square root of the ratio; walk the rest.
        let ratio = out_bytes(1) as f64 / max_out_bytes.max(1) as f64;
        factor = factor.max(ratio.sqrt().floor() as u32).max(1);
        while out_bytes(factor) > max_out_bytes && factor < width.max(height) {
            factor += 1;
        }
    }
    factor
}

/// 16-bit samples (native byte order, as decoders hand them out) to their high bytes.
pub fn narrow(wide: impl Iterator<Item = u16>, out: &mut Vec<u8>) {
    out.clear();
    out.extend(wide.map(|sample| (sample >> 8) as u8));
}

/// How the samples of a pixel are laid out in an 8-bit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Samples {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
    /// Ink amounts, 0 = no ink (TIFF's convention).
    Cmyk,
}

impl Samples {
    pub fn channels(self) -> usize {
        match self {
            Samples::Gray => 1,
            Samples::GrayAlpha => 2,
            Samples::Rgb => 3,
            Samples::Rgba | Samples::Cmyk => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_averaged_and_edges_counted_by_what_they_hold() {
        // 5 × 3, factor 2: a 3 × 2 result whose right column and bottom row average fewer
        // pixels.
        let mut shrinker = Shrinker::new(5, 3, AtLeast::LongEdge(2), u64::MAX).expect("shrinker");
        for y in 0..3u32 {
            let row: Vec<u8> = (0..5u32)
                .flat_map(|x| [(x * 10 + y) as u8, 0, 255])
                .collect();
            shrinker.add(0, y, &row, Samples::Rgb);
            shrinker.rows_done(y + 1);
        }
        let image = shrinker.finish().expect("image");
        assert_eq!(image.dimensions(), (3, 2));
        // (0,0),(1,0),(0,1),(1,1): 0,10,1,11 → 5.5 rounds to 6.
        assert_eq!(image.get_pixel(0, 0).0, [6, 0, 255]);
        // Column 4 alone, rows 0 and 1: 40, 41 → 40.5 → 41.
        assert_eq!(image.get_pixel(2, 0).0, [41, 0, 255]);
        // Row 2 alone, column 4: 42.
        assert_eq!(image.get_pixel(2, 1).0, [42, 0, 255]);
    }

    #[test]
    fn tiles_may_arrive_in_pieces() {
        let mut whole = Shrinker::new(8, 8, AtLeast::LongEdge(4), u64::MAX).expect("shrinker");
        let mut tiled = Shrinker::new(8, 8, AtLeast::LongEdge(4), u64::MAX).expect("shrinker");
        let pixel = |x: u32, y: u32| [(x * 31 + y * 7) as u8, (x * y) as u8, 9];
        for y in 0..8 {
            let row: Vec<u8> = (0..8).flat_map(|x| pixel(x, y)).collect();
            whole.add(0, y, &row, Samples::Rgb);
        }
        // Two 4 × 8 tiles side by side, the right one first.
        for x0 in [4u32, 0] {
            for y in 0..8 {
                let piece: Vec<u8> = (x0..x0 + 4).flat_map(|x| pixel(x, y)).collect();
                tiled.add(x0, y, &piece, Samples::Rgb);
            }
        }
        assert_eq!(whole.finish().ok(), tiled.finish().ok());
    }

    #[test]
    fn a_strip_shrinks_to_fit_its_bound_whatever_its_short_edge_asks() {
        // A 1 × 100,000,000 strip: its short edge asks for no shrinking; the bound wins.
        let factor = factor_for(1, 100_000_000, AtLeast::ShortEdge(256), 8 << 20);
        assert!(u64::from(100_000_000u32.div_ceil(factor)) * 3 <= 8 << 20);
        assert_eq!(
            factor_for(1, 100_000_000, AtLeast::LongEdge(1440), u64::MAX),
            69_444
        );
        assert_eq!(factor_for(6000, 4000, AtLeast::LongEdge(1440), u64::MAX), 4);
        assert_eq!(factor_for(1000, 800, AtLeast::LongEdge(1440), u64::MAX), 1);
    }

    #[test]
    fn every_layout_becomes_rgb() {
        for (samples, layout, rgb) in [
            (&[7u8][..], Samples::Gray, [7, 7, 7]),
            (&[7, 0], Samples::GrayAlpha, [7, 7, 7]),
            (&[1, 2, 3, 4], Samples::Rgba, [1, 2, 3]),
            (&[0, 255, 0, 0], Samples::Cmyk, [255, 0, 255]),
            (&[0, 0, 0, 255], Samples::Cmyk, [0, 0, 0]),
        ] {
            let mut shrinker = Shrinker::new(1, 1, AtLeast::LongEdge(1), u64::MAX).expect("one");
            shrinker.add(0, 0, samples, layout);
            assert_eq!(
                shrinker.finish().expect("image").get_pixel(0, 0).0,
                rgb,
                "{layout:?}"
            );
        }
    }
}
