//! The compact columnar encoding of a bucket segment: what the timeline fetches per month.
//!
//! Layout (little endian), one column after another so each compresses well:
//! `b"FBS1"`, `u32` count, then per photo in order: id deltas (zigzag varint), `taken_at`
//! deltas (zigzag varint, the first from 0), aspect ratio × 1000 (`u16`), favourite flags
//! (one bit each), thumbhash (`u8` length then bytes), media presence (one bit each), the
//! 8-byte media key of each photo that has derivatives, then file names (`u8` length then
//! UTF-8 bytes, cut to 255 bytes at a character boundary): the grid names each cell with them.

use crate::{
    model::PhotoId,
    wire::{unzigzag, write_bits, write_varint, zigzag, Reader, WireError},
};

const MAGIC: &[u8; 4] = b"FBS3";
/// Longest file name the format carries, in bytes; longer names are cut at a character boundary.
pub const MAX_NAME: usize = 255;
/// No segment is ever this large; a count above it is corrupt input, not an allocation to make.
pub const MAX_SEGMENT: usize = 100_000;
/// Longest thumbhash the format accepts (real ones are 20–25 bytes).
pub const MAX_THUMBHASH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Segment {
    pub ids: Vec<PhotoId>,
    pub taken_at: Vec<i64>,
    /// Width / height × 1000, capped at `u16::MAX`; 1000 is square.
    pub aspect_milli: Vec<u16>,
    pub favourite: Vec<bool>,
    pub thumbhash: Vec<Vec<u8>>,
    /// The key of the photo's derivative URLs, once it has derivatives.
    pub media: Vec<Option<[u8; 8]>>,
    /// The file name each photo was uploaded as.
    pub names: Vec<String>,
}

/// One photo as [`Segment::push`] appends it.
#[derive(Debug, Clone, Copy)]
pub struct SegmentEntry<'a> {
    pub id: PhotoId,
    pub taken_at: i64,
    pub aspect_milli: u16,
    pub favourite: bool,
    pub thumbhash: &'a [u8],
    pub media: Option<[u8; 8]>,
    pub name: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a bucket segment (bad magic)")]
    BadMagic,
    #[error("segment ends early in {0}")]
    Truncated(&'static str),
    #[error("segment claims {0} photos, more than the maximum")]
    TooLarge(usize),
    #[error("malformed number in {0}")]
    BadVarint(&'static str),
    #[error("thumbhash of {0} bytes exceeds the maximum")]
    ThumbhashTooLong(usize),
    #[error("{0} trailing bytes after the segment")]
    Trailing(usize),
}

impl From<WireError> for DecodeError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::Truncated(column) => DecodeError::Truncated(column),
            WireError::BadVarint(column) => DecodeError::BadVarint(column),
        }
    }
}

impl Segment {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn push(&mut self, entry: SegmentEntry<'_>) {
        let hash = entry.thumbhash;
        self.ids.push(entry.id);
        self.taken_at.push(entry.taken_at);
        self.aspect_milli.push(entry.aspect_milli);
        self.favourite.push(entry.favourite);
        self.thumbhash
            .push(hash[..hash.len().min(MAX_THUMBHASH)].to_vec());
        self.media.push(entry.media);
        let mut end = entry.name.len().min(MAX_NAME);
        while !entry.name.is_char_boundary(end) {
            end -= 1;
        }
        self.names.push(entry.name[..end].to_owned());
    }

    pub fn encode(&self) -> Vec<u8> {
        let count = self.len();
        let mut out = Vec::with_capacity(8 + count * 34);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(count as u32).to_le_bytes());
        let mut previous = 0i64;
        for &id in &self.ids {
            write_varint(&mut out, zigzag(id.wrapping_sub(previous)));
            previous = id;
        }
        previous = 0;
        for &taken in &self.taken_at {
            write_varint(&mut out, zigzag(taken.wrapping_sub(previous)));
            previous = taken;
        }
        for &aspect in &self.aspect_milli {
            out.extend_from_slice(&aspect.to_le_bytes());
        }
        write_bits(&mut out, &self.favourite);
        for hash in &self.thumbhash {
            out.push(hash.len() as u8);
            out.extend_from_slice(hash);
        }
        let present: Vec<bool> = self.media.iter().map(Option::is_some).collect();
        write_bits(&mut out, &present);
        for key in self.media.iter().flatten() {
            out.extend_from_slice(key);
        }
        for name in &self.names {
            // `push` keeps names within MAX_NAME; a hand-built segment is cut here.
            let bytes = &name.as_bytes()[..name.len().min(MAX_NAME)];
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.take(4, "header")? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let count_bytes: [u8; 4] = reader
            .take(4, "header")?
            .try_into()
            .map_err(|_| DecodeError::Truncated("header"))?;
        let count = u32::from_le_bytes(count_bytes) as usize;
        if count > MAX_SEGMENT {
            return Err(DecodeError::TooLarge(count));
        }
        let mut segment = Segment {
            ids: Vec::with_capacity(count),
            taken_at: Vec::with_capacity(count),
            aspect_milli: Vec::with_capacity(count),
            favourite: Vec::with_capacity(count),
            thumbhash: Vec::with_capacity(count),
            media: Vec::with_capacity(count),
            names: Vec::with_capacity(count),
        };
        let mut previous = 0i64;
        for _ in 0..count {
            previous = previous.wrapping_add(unzigzag(reader.varint("ids")?));
            segment.ids.push(previous);
        }
        previous = 0;
        for _ in 0..count {
            previous = previous.wrapping_add(unzigzag(reader.varint("taken_at")?));
            segment.taken_at.push(previous);
        }
        for _ in 0..count {
            let pair = reader.take(2, "aspect")?;
            segment
                .aspect_milli
                .push(u16::from_le_bytes([pair[0], pair[1]]));
        }
        let flags = reader.take(count.div_ceil(8), "favourite")?;
        for index in 0..count {
            segment
                .favourite
                .push(flags[index / 8] & (1 << (index % 8)) != 0);
        }
        for _ in 0..count {
            let length = usize::from(reader.take(1, "thumbhash")?[0]);
            if length > MAX_THUMBHASH {
                return Err(DecodeError::ThumbhashTooLong(length));
            }
            segment
                .thumbhash
                .push(reader.take(length, "thumbhash")?.to_vec());
        }
        let present = reader.take(count.div_ceil(8), "media")?;
        for index in 0..count {
            if present[index / 8] & (1 << (index % 8)) != 0 {
                let key = reader.take(8, "media")?;
                segment.media.push(key.try_into().ok());
            } else {
                segment.media.push(None);
            }
        }
        for _ in 0..count {
            let length = usize::from(reader.take(1, "names")?[0]);
            let name = reader.take(length, "names")?;
            segment
                .names
                .push(String::from_utf8_lossy(name).into_owned());
        }
        match reader.remaining() {
            0 => Ok(segment),
            extra => Err(DecodeError::Trailing(extra)),
        }
    }
}

/// Width / height × 1000 for the encoding; degenerate sizes count as square.
pub fn aspect_milli(width: u32, height: u32) -> u16 {
    if width == 0 || height == 0 {
        return 1000;
    }
    (u64::from(width) * 1000 / u64::from(height)).min(u64::from(u16::MAX)) as u16
}

/// The average colour a thumbhash encodes; `None` for bytes that are not a thumbhash.
pub fn thumbhash_rgb(hash: &[u8]) -> Option<[u8; 3]> {
    // The header is 5 bytes (6 with alpha); shorter input would be misread.
    if hash.len() < 5 {
        return None;
    }
    let (r, g, b, _) = thumbhash::thumb_hash_to_average_rgba(hash).ok()?;
    let channel = |value: f32| (value.clamp(0.0, 1.0) * 255.0).round() as u8;
    Some([channel(r), channel(g), channel(b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbhash_colour_survives_garbage() {
        assert_eq!(thumbhash_rgb(&[]), None);
        assert_eq!(thumbhash_rgb(&[1, 2]), None);
        let _ = thumbhash_rgb(&[0xff; 64]);
    }

    fn sample(count: usize) -> Segment {
        let mut segment = Segment::default();
        for index in 0..count {
            let id = 1_000_000 - (index as i64) * 37 + (index as i64 % 5) * 1000;
            let hash: Vec<u8> = (0..(20 + index % 6))
                .map(|b| (b * 7 + index) as u8)
                .collect();
            let name = format!("IMG_{index:04}.JPG");
            segment.push(SegmentEntry {
                id,
                taken_at: 1_790_000_000 - index as i64 * 600,
                aspect_milli: 1000 + index as u16,
                favourite: index % 3 == 0,
                thumbhash: &hash,
                media: (index % 4 != 0).then_some([index as u8; 8]),
                name: &name,
            });
        }
        segment
    }

    #[test]
    fn segments_round_trip() {
        for count in [0, 1, 7, 8, 9, 1000] {
            let segment = sample(count);
            assert_eq!(Segment::decode(&segment.encode()), Ok(segment));
        }
        let mut extremes = Segment::default();
        extremes.push(SegmentEntry {
            id: i64::MAX,
            taken_at: i64::MIN,
            aspect_milli: u16::MAX,
            favourite: true,
            thumbhash: &[],
            media: Some([0xff; 8]),
            name: "",
        });
        let long_name = "é".repeat(200);
        extremes.push(SegmentEntry {
            id: i64::MIN,
            taken_at: i64::MAX,
            aspect_milli: 0,
            favourite: false,
            thumbhash: &[0xff; MAX_THUMBHASH],
            media: None,
            name: &long_name,
        });
        // 400 bytes of two-byte characters: cut to 254, not mid-character.
        assert_eq!(extremes.names[1].len(), 254);
        assert_eq!(Segment::decode(&extremes.encode()), Ok(extremes));
    }

    #[test]
    fn the_encoding_is_compact() {
        let segment = sample(1000);
        let bytes = segment.encode();
        // Names are as long as they are; everything else stays under 40 bytes a photo.
        let names: usize = segment.names.iter().map(|name| name.len() + 1).sum();
        assert!(
            bytes.len() - names < 1000 * 40,
            "{} bytes for 1000 photos, {names} of them names",
            bytes.len()
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = sample(20).encode();
        for end in 0..bytes.len() {
            assert!(
                Segment::decode(&bytes[..end]).is_err(),
                "prefix of {end} bytes accepted"
            );
        }
    }

    #[test]
    fn hostile_headers_are_rejected() {
        assert_eq!(Segment::decode(b"NOPE\0\0\0\0"), Err(DecodeError::BadMagic));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Segment::decode(&huge),
            Err(DecodeError::TooLarge(u32::MAX as usize))
        );
        let mut endless = MAGIC.to_vec();
        endless.extend_from_slice(&1u32.to_le_bytes());
        endless.extend_from_slice(&[0xff; 11]);
        assert_eq!(
            Segment::decode(&endless),
            Err(DecodeError::BadVarint("ids"))
        );
        let mut trailing = sample(2).encode();
        trailing.push(0);
        assert_eq!(Segment::decode(&trailing), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn aspect_handles_degenerate_sizes() {
        assert_eq!(aspect_milli(4000, 3000), 1333);
        assert_eq!(aspect_milli(0, 10), 1000);
        assert_eq!(aspect_milli(u32::MAX, 1), u16::MAX);
    }
}
