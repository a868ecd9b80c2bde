//! The binary form of the hub's frames, its hot path: a favourite costs a few bytes per
//! socket, not a hundred of JSON.
//!
//! A WebSocket binary message holds one or more frames back to back (a connection that fell
//! behind gets what waited in one message). Every other message of the protocol is JSON text.
//!
//! ```text
//! frame    := 0xF1, topic, seq (varint), changes, additions
//! topic    := 0 (library) | 1, album id (varint) | 2 (ops)
//! changes  := count (varint), change*
//! change   := 0, id delta from the frame's previous photo (zigzag varint), state, [failure: text]
//!                 state: status in bits 0–1 (pending, ready, failed), favourite bit 2,
//!                 trashed bit 3, a failure follows when bit 4
//!           | 1, counter (0 photos, 1 queued), value (varint)
//!           | 2, album id (varint), photos (varint), deleted (0 or 1), title: text
//!           | 3, the console's figures as JSON: text
//! additions:= count (varint), addition*
//! addition := 0, id (varint), taken_at (zigzag varint), width, height (varints),
//!             favourite (0 or 1), placeholder r, g, b (bytes), file name: text,
//!             media: 0 | 1, text
//! text     := length in bytes (varint), UTF-8
//! ```

use crate::{
    model::PhotoCell,
    ops::OpsSnapshot,
    wire::{unzigzag, write_varint, zigzag, Reader, WireError},
};

use super::{Addition, Change, Counter, PhotoStatus, ServerMessage, Topic};

/// The first byte of every frame: names the format's version.
pub const FRAME_TAG: u8 = 0xF1;
/// No frame carries more changes or additions than this; a larger count is corrupt input,
/// not an allocation to make. (The hub sends at most a few thousand, then a `resync`.)
pub const MAX_ITEMS: u64 = 100_000;
/// Longest text a frame carries (the console's figures are the longest, a few KiB).
pub const MAX_TEXT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a live frame ends early in its {0}")]
    Truncated(&'static str),
    #[error("malformed number in a live frame's {0}")]
    BadVarint(&'static str),
    #[error("unknown {0} {1} in a live frame")]
    Unknown(&'static str, u64),
    #[error("a live frame's {0} claims {1}, more than the maximum")]
    TooLarge(&'static str, u64),
    #[error("a live frame's {0} is not UTF-8")]
    NotText(&'static str),
    #[error("a live frame's console figures are not understood: {0}")]
    Console(String),
}

impl From<WireError> for FrameError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::Truncated(part) => FrameError::Truncated(part),
            WireError::BadVarint(part) => FrameError::BadVarint(part),
        }
    }
}

/// Appends one frame to `out`: what happened on `topic` since its previous frame.
pub fn encode_frame<'a>(
    out: &mut Vec<u8>,
    topic: Topic,
    seq: u64,
    changes: impl ExactSizeIterator<Item = &'a Change>,
    additions: impl ExactSizeIterator<Item = &'a Addition>,
) {
    out.push(FRAME_TAG);
    match topic {
        Topic::Library => out.push(0),
        Topic::Album(id) => {
            out.push(1);
            write_varint(out, id as u64);
        }
        Topic::Ops => out.push(2),
    }
    write_varint(out, seq);
    write_varint(out, changes.len() as u64);
    let mut previous_photo = 0i64;
    for change in changes {
        match change {
            Change::Photo {
                id,
                status,
                favourite,
                trashed,
                failure,
            } => {
                out.push(0);
                write_varint(out, zigzag(id.wrapping_sub(previous_photo)));
                previous_photo = *id;
                let status = match status {
                    PhotoStatus::Pending => 0,
                    PhotoStatus::Ready => 1,
                    PhotoStatus::Failed => 2,
                };
                out.push(
                    status
                        | u8::from(*favourite) << 2
                        | u8::from(*trashed) << 3
                        | u8::from(failure.is_some()) << 4,
                );
                if let Some(failure) = failure {
                    write_text(out, failure);
                }
            }
            Change::Count { counter, value } => {
                out.push(1);
                out.push(match counter {
                    Counter::Photos => 0,
                    Counter::Queued => 1,
                });
                write_varint(out, *value);
            }
            Change::Album {
                id,
                title,
                photos,
                deleted,
            } => {
                out.push(2);
                write_varint(out, *id as u64);
                write_varint(out, *photos);
                out.push(u8::from(*deleted));
                write_text(out, title);
            }
            Change::Ops(snapshot) => {
                out.push(3);
                // The console's figures change shape with the console; once a second to
                // administrators only, so JSON costs nothing that matters.
                let json = serde_json::to_string(snapshot).unwrap_or_default();
                write_text(out, &json);
            }
        }
    }
    write_varint(out, additions.len() as u64);
    for addition in additions {
        let Addition::Photo(cell) = addition;
        out.push(0);
        write_varint(out, cell.id as u64);
        write_varint(out, zigzag(cell.taken_at));
        write_varint(out, u64::from(cell.width));
        write_varint(out, u64::from(cell.height));
        out.push(u8::from(cell.favourite));
        out.extend_from_slice(&cell.placeholder_rgb);
        write_text(out, &cell.file_name);
        match &cell.media {
            None => out.push(0),
            Some(media) => {
                out.push(1);
                write_text(out, media);
            }
        }
    }
}

/// Every frame of a binary message, in order, as protocol messages.
pub fn decode_frames(bytes: &[u8]) -> Result<Vec<ServerMessage>, FrameError> {
    let mut reader = Reader::new(bytes);
    let mut frames = Vec::new();
    while reader.remaining() > 0 {
        frames.push(decode_frame(&mut reader)?);
    }
    Ok(frames)
}

fn decode_frame(reader: &mut Reader<'_>) -> Result<ServerMessage, FrameError> {
    let tag = reader.byte("tag")?;
    if tag != FRAME_TAG {
        return Err(FrameError::Unknown("frame tag", u64::from(tag)));
    }
    let topic = match reader.byte("topic")? {
        0 => Topic::Library,
        1 => Topic::Album(id(reader, "album id")?),
        2 => Topic::Ops,
        other => return Err(FrameError::Unknown("topic", u64::from(other))),
    };
    let seq = reader.varint("seq")?;
    let count = items(reader, "changes")?;
    // Every change takes at least two bytes: what remains bounds what is allocated.
    let mut state = Vec::with_capacity(count.min(reader.remaining() / 2));
    let mut previous_photo = 0i64;
    for _ in 0..count {
        let change = match reader.byte("change kind")? {
            0 => {
                previous_photo = previous_photo.wrapping_add(unzigzag(reader.varint("photo id")?));
                let flags = reader.byte("photo state")?;
                let status = match flags & 0b11 {
                    0 => PhotoStatus::Pending,
                    1 => PhotoStatus::Ready,
                    2 => PhotoStatus::Failed,
                    other => return Err(FrameError::Unknown("photo status", u64::from(other))),
                };
                if flags >> 5 != 0 {
                    return Err(FrameError::Unknown("photo state", u64::from(flags)));
                }
                Change::Photo {
                    id: previous_photo,
                    status,
                    favourite: flags & 0b100 != 0,
                    trashed: flags & 0b1000 != 0,
                    failure: if flags & 0b1_0000 != 0 {
                        Some(read_text(reader, "failure")?)
                    } else {
                        None
                    },
                }
            }
            1 => Change::Count {
                counter: match reader.byte("counter")? {
                    0 => Counter::Photos,
                    1 => Counter::Queued,
                    other => return Err(FrameError::Unknown("counter", u64::from(other))),
                },
                value: reader.varint("count")?,
            },
            2 => Change::Album {
                id: id(reader, "album id")?,
                photos: reader.varint("album photos")?,
                deleted: flag(reader, "album deleted")?,
                title: read_text(reader, "album title")?,
            },
            3 => {
                let json = read_text(reader, "console figures")?;
                let snapshot: OpsSnapshot = serde_json::from_str(&json)
                    .map_err(|error| FrameError::Console(error.to_string()))?;
                Change::Ops(Box::new(snapshot))
            }
            other => return Err(FrameError::Unknown("change kind", u64::from(other))),
        };
        state.push(change);
    }
    let count = items(reader, "additions")?;
    let mut added = Vec::with_capacity(count.min(reader.remaining() / 12));
    for _ in 0..count {
        match reader.byte("addition kind")? {
            0 => {}
            other => return Err(FrameError::Unknown("addition kind", u64::from(other))),
        }
        let id = id(reader, "added photo id")?;
        let taken_at = unzigzag(reader.varint("added photo time")?);
        let width = size(reader, "added photo width")?;
        let height = size(reader, "added photo height")?;
        let favourite = flag(reader, "added photo favourite")?;
        let rgb = reader.take(3, "added photo placeholder")?;
        let file_name = read_text(reader, "added photo name")?;
        let media = if flag(reader, "added photo media")? {
            Some(read_text(reader, "added photo media")?)
        } else {
            None
        };
        added.push(Addition::Photo(PhotoCell {
            id,
            file_name,
            taken_at,
            width,
            height,
            favourite,
            placeholder_rgb: [rgb[0], rgb[1], rgb[2]],
            media,
        }));
    }
    Ok(ServerMessage::Frame {
        topic,
        seq,
        state,
        added,
    })
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn read_text(reader: &mut Reader<'_>, part: &'static str) -> Result<String, FrameError> {
    let length = reader.varint(part)?;
    if length > MAX_TEXT {
        return Err(FrameError::TooLarge(part, length));
    }
    let bytes = reader.take(length as usize, part)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::NotText(part))
}

fn items(reader: &mut Reader<'_>, part: &'static str) -> Result<usize, FrameError> {
    let count = reader.varint(part)?;
    if count > MAX_ITEMS {
        return Err(FrameError::TooLarge(part, count));
    }
    Ok(count as usize)
}

/// Ids are positive `i64`s.
fn id(reader: &mut Reader<'_>, part: &'static str) -> Result<i64, FrameError> {
    let value = reader.varint(part)?;
    i64::try_from(value).map_err(|_| FrameError::TooLarge(part, value))
}

fn size(reader: &mut Reader<'_>, part: &'static str) -> Result<u32, FrameError> {
    let value = reader.varint(part)?;
    u32::try_from(value).map_err(|_| FrameError::TooLarge(part, value))
}

fn flag(reader: &mut Reader<'_>, part: &'static str) -> Result<bool, FrameError> {
    match reader.byte(part)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(FrameError::Unknown(part, u64::from(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(id: i64, favourite: bool) -> Change {
        Change::Photo {
            id,
            status: PhotoStatus::Ready,
            favourite,
            trashed: false,
            failure: None,
        }
    }

    fn every_kind() -> (Vec<Change>, Vec<Addition>) {
        let changes = vec![
            photo(1_000_001, true),
            photo(999_998, false),
            Change::Photo {
                id: 7,
                status: PhotoStatus::Failed,
                favourite: false,
                trashed: true,
                failure: Some("not a picture: «ünknown»".into()),
            },
            Change::Photo {
                id: i64::MAX,
                status: PhotoStatus::Pending,
                favourite: true,
                trashed: true,
                failure: None,
            },
            Change::Count {
                counter: Counter::Photos,
                value: 1_000_000,
            },
            Change::Count {
                counter: Counter::Queued,
                value: 0,
            },
            Change::Album {
                id: 3,
                title: "Été 2026".into(),
                photos: 12,
                deleted: false,
            },
            Change::Ops(Box::default()),
        ];
        let additions = vec![
            Addition::Photo(PhotoCell {
                id: 42,
                file_name: "IMG_0042.jpg".into(),
                taken_at: -86_400,
                width: 4032,
                height: 3024,
                favourite: false,
                placeholder_rgb: [1, 2, 3],
                media: Some("1-1797465600-abc/46cdfa450f33ed8c".into()),
            }),
            Addition::Photo(PhotoCell {
                id: 43,
                file_name: String::new(),
                taken_at: 1_790_000_000,
                width: 1,
                height: u32::MAX,
                favourite: true,
                placeholder_rgb: [255, 255, 255],
                media: None,
            }),
        ];
        (changes, additions)
    }

    #[test]
    fn frames_read_back_what_they_write_one_after_another() {
        let (changes, additions) = every_kind();
        let mut message = Vec::new();
        encode_frame(
            &mut message,
            Topic::Library,
            9,
            changes.iter(),
            additions.iter(),
        );
        encode_frame(&mut message, Topic::Album(77), 1, [].iter(), [].iter());
        encode_frame(
            &mut message,
            Topic::Ops,
            u64::MAX,
            changes[..1].iter(),
            [].iter(),
        );
        assert_eq!(
            decode_frames(&message),
            Ok(vec![
                ServerMessage::Frame {
                    topic: Topic::Library,
                    seq: 9,
                    state: changes.clone(),
                    added: additions,
                },
                ServerMessage::Frame {
                    topic: Topic::Album(77),
                    seq: 1,
                    state: vec![],
                    added: vec![],
                },
                ServerMessage::Frame {
                    topic: Topic::Ops,
                    seq: u64::MAX,
                    state: changes[..1].to_vec(),
                    added: vec![],
                },
            ])
        );
    }

    #[test]
    fn a_favourite_costs_a_few_bytes() {
        // A frame of 50 favourites of nearby photos, as a busy library sends them.
        let changes: Vec<Change> = (0..50).map(|n| photo(1_000_000 - n * 3, true)).collect();
        let mut message = Vec::new();
        encode_frame(&mut message, Topic::Library, 1, changes.iter(), [].iter());
        assert!(
            message.len() <= 8 + 50 * 3,
            "{} bytes for 50 favourites",
            message.len()
        );
        let json: usize = changes
            .iter()
            .map(|change| serde_json::to_string(change).expect("json").len())
            .sum();
        assert!(
            json > 10 * message.len(),
            "JSON {json}, binary {}",
            message.len()
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let (changes, additions) = every_kind();
        let mut message = Vec::new();
        encode_frame(
            &mut message,
            Topic::Album(5),
            2,
            changes.iter(),
            additions.iter(),
        );
        for end in 1..message.len() {
            assert!(
                decode_frames(&message[..end]).is_err(),
                "a frame cut at {end} of {} bytes was accepted",
                message.len()
            );
        }
        assert_eq!(decode_frames(&[]), Ok(vec![]));
    }

    #[test]
    fn hostile_frames_are_refused_without_allocating_what_they_claim() {
        let huge = |part: u8| {
            let mut bytes = vec![FRAME_TAG, 0, 1];
            if part == 1 {
                bytes.push(0);
            }
            write_varint(&mut bytes, u64::MAX >> 1);
            bytes
        };
        assert!(matches!(
            decode_frames(&huge(0)),
            Err(FrameError::TooLarge("changes", _))
        ));
        assert!(matches!(
            decode_frames(&huge(1)),
            Err(FrameError::TooLarge("additions", _))
        ));
        // A count within the bound but far beyond the bytes that follow.
        let mut many = vec![FRAME_TAG, 0, 1];
        write_varint(&mut many, MAX_ITEMS);
        assert_eq!(
            decode_frames(&many),
            Err(FrameError::Truncated("change kind"))
        );
        // A text claiming gigabytes.
        let mut long = vec![FRAME_TAG, 0, 1, 1, 2, 1, 1, 0];
        write_varint(&mut long, 1 << 40);
        assert!(matches!(
            decode_frames(&long),
            Err(FrameError::TooLarge("album title", _))
        ));
        for (bytes, expected) in [
            (
                vec![b'{'],
                FrameError::Unknown("frame tag", u64::from(b'{')),
            ),
            (vec![FRAME_TAG, 9], FrameError::Unknown("topic", 9)),
            (
                vec![FRAME_TAG, 0, 1, 1, 7],
                FrameError::Unknown("change kind", 7),
            ),
            (
                vec![FRAME_TAG, 0, 1, 1, 0, 2, 3],
                FrameError::Unknown("photo status", 3),
            ),
            (
                vec![FRAME_TAG, 0, 1, 1, 0, 2, 0x21],
                FrameError::Unknown("photo state", 0x21),
            ),
            (
                vec![FRAME_TAG, 0, 1, 1, 1, 5, 0],
                FrameError::Unknown("counter", 5),
            ),
            (
                vec![FRAME_TAG, 0, 1, 1, 2, 1, 1, 2, 0],
                FrameError::Unknown("album deleted", 2),
            ),
            (
                vec![FRAME_TAG, 0, 1, 1, 2, 1, 1, 0, 1, 0xff],
                FrameError::NotText("album title"),
            ),
            (
                vec![FRAME_TAG, 0, 1, 0, 1, 4],
                FrameError::Unknown("addition kind", 4),
            ),
        ] {
            assert_eq!(decode_frames(&bytes), Err(expected), "{bytes:?}");
        }
        let mut bad_console = vec![FRAME_TAG, 2, 1, 1, 3, 5];
        bad_console.extend_from_slice(b"[1,2]");
        assert!(matches!(
            decode_frames(&bad_console),
            Err(FrameError::Console(_))
        ));
    }
}
