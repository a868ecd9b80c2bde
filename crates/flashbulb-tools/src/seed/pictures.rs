//! The demo library's pictures: small landscapes drawn from a number (a sky graded to the
//! horizon, a sun, three ranges of hills, grain), each made into real derivatives once and
//! shared by the seeded rows, so a new library looks like photographs rather than coloured
//! tiles while a million rows still seed in seconds.

use anyhow::Context;
use flashbulb_core::{
    files::{FileStore, Stored},
    pipeline,
};
use image::{Rgb, RgbImage};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// How many different pictures a demo library shows.
pub const PICTURES: usize = 24;

/// One drawn picture: where its derivatives are, its size and its placeholder.
#[derive(Debug, Clone)]
pub struct DemoPicture {
    /// The content key its derivatives are stored under.
    pub sha256: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub thumbhash: Vec<u8>,
}

/// The pictures and their derivatives, drawn and encoded once per process: a process that
/// seeds several libraries (the test suite) pays for the encoders once.
static DRAWN: tokio::sync::OnceCell<Vec<(DemoPicture, pipeline::Files)>> =
    tokio::sync::OnceCell::const_new();

/// Draws the pictures (once per process) and writes their derivatives to `store`. The same
/// number always gives the same picture, so seeding again rewrites the same files.
pub async fn prepare(store: &FileStore) -> anyhow::Result<Vec<DemoPicture>> {
    let drawn = DRAWN.get_or_try_init(draw_all).await?;
    let mut pictures = Vec::with_capacity(PICTURES);
    for (picture, files) in drawn {
        for (variant, bytes) in files {
            store
                .put_bytes(Stored::Derivative(&picture.sha256, variant), bytes)
                .await
                .with_context(|| format!("writing a demo picture's {variant} to {store:?}"))?;
        }
        pictures.push(picture.clone());
    }
    Ok(pictures)
}

/// Every picture with its derivatives, half on each of two blocking threads.
async fn draw_all() -> anyhow::Result<Vec<(DemoPicture, pipeline::Files)>> {
    let halves = [0..PICTURES / 2, PICTURES / 2..PICTURES].map(|range| {
        tokio::task::spawn_blocking(move || {
            range
                .map(|index| {
                    let pixels = draw(index);
                    let (thumbhash, files) = pipeline::derive_pixels(&pixels)
                        .context("making a demo picture's derivatives")?;
                    let preview = files
                        .iter()
                        .find(|(variant, _)| *variant == "preview.jpg")
                        .map(|(_, bytes)| bytes.as_slice())
                        .unwrap_or_default();
                    let picture = DemoPicture {
                        sha256: Sha256::digest(preview).to_vec(),
                        width: pixels.width(),
                        height: pixels.height(),
                        thumbhash,
                    };
                    Ok((picture, files))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
    });
    let mut drawn = Vec::with_capacity(PICTURES);
    for half in halves {
        drawn.extend(half.await.context("drawing the demo pictures")??);
    }
    Ok(drawn)
}

/// Sky at the top, sky at the horizon, land: noon in summer, dusk, a winter day, the desert,
/// night, a spring morning.
const SCENES: [([f32; 3], [f32; 3], [f32; 3]); 6] = [
    (
        [50.0, 110.0, 200.0],
        [170.0, 210.0, 240.0],
        [70.0, 130.0, 60.0],
    ),
    ([40.0, 30.0, 90.0], [255.0, 140.0, 90.0], [90.0, 60.0, 70.0]),
    (
        [150.0, 180.0, 210.0],
        [230.0, 235.0, 240.0],
        [215.0, 220.0, 230.0],
    ),
    (
        [210.0, 150.0, 80.0],
        [250.0, 220.0, 160.0],
        [200.0, 150.0, 90.0],
    ),
    ([10.0, 15.0, 40.0], [40.0, 60.0, 110.0], [20.0, 30.0, 40.0]),
    (
        [120.0, 170.0, 230.0],
        [250.0, 210.0, 200.0],
        [110.0, 160.0, 90.0],
    ),
];

/// Picture `index`: landscape, or portrait one time in four, at 1,080 pixels on the long edge
/// (enough for a photo page; a third of the work of the full preview size). The sky is worked
/// out per row and the hills per column, so a pixel costs a few comparisons.
pub fn draw(index: usize) -> RgbImage {
    let mut rng = SmallRng::seed_from_u64(0x5eed_0000 + index as u64);
    let (width, height) = if index % 4 == 3 {
        (720, 1080)
    } else {
        (1080, 720)
    };
    // A season and a time of day: the sky from its top to the horizon, and the land.
    let (zenith, horizon, land) = SCENES[index % SCENES.len()];
    let shift: f32 = rng.random_range(-0.15..0.15);
    let zenith = scale(zenith, 1.0 + shift);
    let horizon = scale(horizon, 1.0 - shift / 2.0);
    let land = scale(land, 1.0 + shift);
    let sun = (
        rng.random_range(0.15..0.85) * width as f32,
        rng.random_range(0.2..0.5) * height as f32,
        rng.random_range(0.04..0.09) * width.min(height) as f32,
    );
    let sky: Vec<[f32; 3]> = (0..height)
        .map(|y| {
            mix(
                zenith,
                horizon,
                (y as f32 / (0.62 * height as f32)).min(1.0),
            )
        })
        .collect();
    // Three ranges of hills, nearer ones lower on the picture and darker: each column's ridge.
    let ranges: Vec<(Vec<f32>, [f32; 3])> = (0..3)
        .map(|range| {
            let base = (0.5 + 0.15 * range as f32) * height as f32;
            let amplitude = rng.random_range(0.03..0.09) * height as f32;
            let frequency = rng.random_range(1.5..4.0) / width as f32 * std::f32::consts::TAU;
            let phase = rng.random_range(0.0..std::f32::consts::TAU);
            let tone = mix(
                mix(horizon, land, 0.55),
                scale(land, 0.55),
                range as f32 / 2.0,
            );
            let ridge = (0..width)
                .map(|x| {
                    let x = x as f32;
                    base + amplitude * (x * frequency + phase).sin()
                        + 0.35 * amplitude * (x * frequency * 2.7 + phase * 1.3).sin()
                })
                .collect();
            (ridge, tone)
        })
        .collect();
    let glow_reach = 5.0 * sun.2;
    // Grain from a small linear congruential generator: cheap, and the same every time.
    let mut grain = 0x9e37_79b9_u32.wrapping_add(index as u32);
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let mut colour = sky[y as usize];
        let (dx, dy) = (fx - sun.0, fy - sun.1);
        if dx.abs() < glow_reach && dy.abs() < glow_reach {
            let distance = (dx * dx + dy * dy).sqrt();
            if distance < sun.2 {
                colour = [255.0, 240.0, 200.0];
            } else {
                let glow = (1.0 - (distance - sun.2) / (4.0 * sun.2)).max(0.0);
                colour = mix(colour, [255.0, 230.0, 180.0], 0.5 * glow * glow);
            }
        }
        for (ridge, tone) in &ranges {
            let top = ridge[x as usize];
            if fy > top {
                colour = mix(*tone, scale(*tone, 0.6), (fy - top) / height as f32);
            }
        }
        grain = grain.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (grain >> 24) as f32 / 21.0 - 6.0;
        Rgb(colour.map(|channel| (channel + noise).clamp(0.0, 255.0) as u8))
    })
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn scale(colour: [f32; 3], factor: f32) -> [f32; 3] {
    colour.map(|channel| channel * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_drawn_alike_every_time_and_differ_from_each_other() {
        let first = draw(0);
        assert_eq!(first, draw(0));
        assert_ne!(first, draw(1));
        assert_eq!((draw(3).width(), draw(3).height()), (720, 1080));
        // Not a flat tile: the sky alone spans many colours.
        let mut colours: Vec<_> = first.pixels().step_by(997).collect();
        colours.sort_by_key(|pixel| pixel.0);
        colours.dedup();
        assert!(colours.len() > 100, "{} colours", colours.len());
    }
}
