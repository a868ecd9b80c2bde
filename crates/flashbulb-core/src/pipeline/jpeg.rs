//! JPEG decoding through libjpeg-turbo (the decoder browsers and libvips use, as the `mozjpeg`
//! crate builds it): shrunk inside the inverse DCT, with its errors turned into values and the
//! job's clock read at every marker and every few rows. What it allocates is priced from the
//! frame header before it starts (`decode::JpegFrame`).
//!
//! libjpeg reports errors by calling back into the application, which must not return. The
//! callbacks here unwind instead (the crate builds the C code to let unwinding through it), and
//! [`decode`] catches the unwind and says what stopped the decoder.

use std::{
    cell::{Cell, RefCell},
    io::{BufRead, Read},
    os::raw::c_int,
    panic::{self, AssertUnwindSafe},
    rc::Rc,
    time::Instant,
};

use image::RgbImage;
use mozjpeg::{ColorSpace, Decompress};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, JWRN_JPEG_EOF};

use super::derive::DeriveError;

/// What stopped libjpeg: carried by the unwind from its callbacks to [`decode`].
enum Stop {
    /// An error libjpeg raised, in its words.
    Fatal(String),
    /// The file ended before its image did.
    Truncated,
    /// The job's deadline passed.
    TimedOut,
}

thread_local! {
    /// The deadline of the decode running on this thread: libjpeg's callbacks receive only its
    /// own state, and a job runs on one thread from its start to its end.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Decodes a JPEG shrunk by `factor` (1, 2, 4 or 8) to RGB, stopping once `deadline` passes.
pub fn decode(
    reader: impl BufRead,
    factor: u32,
    deadline: Option<Instant>,
) -> Result<RgbImage, DeriveError> {
    let read_error = Rc::new(RefCell::new(None));
    let reader = Remembering {
        inner: reader,
        error: Rc::clone(&read_error),
    };
    DEADLINE.set(deadline);
    let result = panic::catch_unwind(AssertUnwindSafe(|| decode_unguarded(reader, factor)));
    DEADLINE.set(None);
    let failure = match result {
        Ok(Ok(decoded)) => return Ok(decoded),
        Ok(Err(failure)) => failure,
        Err(payload) => match payload.downcast::<Stop>() {
            Ok(stop) => match *stop {
                Stop::Fatal(message) => DeriveError::Corrupt(message),
                Stop::Truncated => {
                    DeriveError::Corrupt("the file ends before its image does".into())
                }
                Stop::TimedOut => DeriveError::Corrupt("the time limit passed".into()),
            },
            // Not ours: a bug elsewhere, which must not pass for a damaged file.
            Err(payload) => panic::resume_unwind(payload),
        },
    };
    Err(match read_error.take() {
        Some(error) => DeriveError::Read(error),
        None => failure,
    })
}

fn decode_unguarded(reader: impl BufRead, factor: u32) -> Result<RgbImage, DeriveError> {
    let corrupt = |error: std::io::Error| DeriveError::Corrupt(error.to_string());
    // SAFETY: `jpeg_std_error` fills in every field of the zeroed struct.
    let mut errors: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { mozjpeg_sys::jpeg_std_error(&mut errors) };
    errors.error_exit = Some(error_exit);
    errors.emit_message = Some(emit_message);
    let mut decompress = Decompress::with_err(errors)
        .from_reader(reader)
        .map_err(corrupt)?;
    if factor > 1 {
        decompress.scale(u8::try_from(8 / factor.min(8)).unwrap_or(1));
    }
    let cmyk = matches!(
        decompress.color_space(),
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK
    );
    let mut started = if cmyk {
        decompress.to_colorspace(ColorSpace::JCS_CMYK)
    } else {
        // libjpeg-turbo turns greyscale, YCbCr and RGB files into RGB itself.
        decompress.rgb()
    }
    .map_err(corrupt)?;
    let (width, height) = (started.width() as u32, started.height() as u32);
    let row_bytes = started.width() * if cmyk { 4 } else { 3 };
    let mut pixels = Vec::new();
    pixels
        .try_reserve_exact(row_bytes * started.height())
        .map_err(|_| DeriveError::Corrupt("the decoded image does not fit in memory".into()))?;
    pixels.resize(row_bytes * started.height(), 0);
    // A single-scan file is decoded as its rows are read, with no marker in between for the
    // clock: it is read here, every few rows.
    for rows in pixels.chunks_mut(row_bytes * ROWS_BETWEEN_CLOCKS) {
        if past_deadline() {
            panic::resume_unwind(Box::new(Stop::TimedOut));
        }
        started.read_scanlines_into(rows).map_err(|error| {
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                DeriveError::Corrupt("the file ends before its image does".into())
            } else {
                corrupt(error)
            }
        })?;
    }
    if cmyk {
        // In place, so the pixels are never held twice: pixel `i` moves from 4i to 3i.
        let count = pixels.len() / 4;
        for i in 0..count {
            let [c, m, y, k] = [0, 1, 2, 3].map(|at| u16::from(pixels[4 * i + at]));
            // Adobe writes CMYK inverted; this is the common reading of it.
            let rgb = [c, m, y].map(|value| (value * k / 255) as u8);
            pixels[3 * i..3 * i + 3].copy_from_slice(&rgb);
        }
        pixels.truncate(count * 3);
    }
    RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| DeriveError::Corrupt("the decoded image is incomplete".into()))
}

/// libjpeg's fatal errors: unwind to [`decode`] with its message.
unsafe extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
    let message = format_message(cinfo);
    panic::resume_unwind(Box::new(Stop::Fatal(message)));
}

/// libjpeg's warnings (level -1) and trace messages, which it emits at every marker it reads
/// (every scan of a progressive file, every restart interval): where the clock is read.
unsafe extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    // SAFETY: libjpeg passes its own state, whose `err` is the manager `decode` installed.
    let code = unsafe { (*cinfo.err).msg_code };
    if level < 0 && code == JWRN_JPEG_EOF as c_int {
        panic::resume_unwind(Box::new(Stop::Truncated));
    }
    if past_deadline() {
        panic::resume_unwind(Box::new(Stop::TimedOut));
    }
}

/// Output rows decoded between two readings of the clock: at 1/8 scale, 16 rows are 128 of
/// the file's, a few milliseconds of work.
const ROWS_BETWEEN_CLOCKS: usize = 16;

fn past_deadline() -> bool {
    DEADLINE
        .get()
        .is_some_and(|deadline| Instant::now() >= deadline)
}

/// The message of libjpeg's current error, in its words.
fn format_message(cinfo: &mut jpeg_common_struct) -> String {
    // JMSG_LENGTH_MAX in jpeglib.h.
    let mut buffer = [0u8; 200];
    // SAFETY: `err` is the manager `decode` installed; `format_message` writes at most
    // JMSG_LENGTH_MAX bytes, NUL included, into the buffer it is given (the binding declares
    // the buffer shorter and shared; the pointer is what C receives).
    unsafe {
        if let Some(format) = (*cinfo.err).format_message {
            let format: unsafe extern "C-unwind" fn(&mut jpeg_common_struct, *mut u8) =
                std::mem::transmute(format);
            format(cinfo, buffer.as_mut_ptr());
        }
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// A reader that keeps its first error: libjpeg only learns that reading failed, and a
/// failing disk is not a damaged file.
struct Remembering<R> {
    inner: R,
    error: Rc<RefCell<Option<std::io::Error>>>,
}

/// Keeps a copy of `error` in `slot` unless an earlier one is there.
fn remember(slot: &RefCell<Option<std::io::Error>>, error: std::io::Error) -> std::io::Error {
    let kept = std::io::Error::new(error.kind(), error.to_string());
    slot.borrow_mut().get_or_insert(kept);
    error
}

impl<R: Read> Read for Remembering<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|error| remember(&self.error, error))
    }
}

impl<R: BufRead> BufRead for Remembering<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner
            .fill_buf()
            .map_err(|error| remember(&self.error, error))
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{codecs::jpeg::JpegEncoder, GrayImage, RgbImage};

    use super::*;

    fn photo(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        super::super::derive::encode_jpeg(&image).expect("jpeg")
    }

    #[test]
    fn jpegs_shrink_inside_the_decoder_and_greys_become_rgb() {
        let decoded = decode(Cursor::new(photo(200, 100)), 1, None).expect("decode");
        assert_eq!(decoded.dimensions(), (200, 100));
        let eighth = decode(Cursor::new(photo(203, 100)), 8, None).expect("decode");
        assert_eq!(eighth.dimensions(), (26, 13));

        let mut grey = Vec::new();
        JpegEncoder::new(&mut grey)
            .encode_image(&GrayImage::from_pixel(64, 32, image::Luma([200])))
            .expect("grey jpeg");
        let decoded = decode(Cursor::new(grey), 2, None).expect("decode");
        assert_eq!(decoded.dimensions(), (32, 16));
        let [r, g, b] = decoded.get_pixel(5, 5).0;
        assert!(r.abs_diff(200) <= 2 && r == g && g == b, "{r} {g} {b}");
    }

    #[test]
    fn damage_time_and_failing_reads_come_back_as_their_reasons() {
        let jpeg = photo(256, 256);
        // Cut in the middle of its pixels.
        let cut = decode(Cursor::new(&jpeg[..jpeg.len() / 2]), 1, None).expect_err("cut");
        assert!(cut.to_string().contains("ends before its image"), "{cut}");
        // A frame header with no image after it: libjpeg's own words.
        let empty = decode(Cursor::new(&b"\xFF\xD8\xFF\xD9"[..]), 1, None).expect_err("empty");
        assert!(matches!(empty, DeriveError::Corrupt(_)), "{empty}");
        // Past its deadline, it stops at the first marker.
        let late = decode(Cursor::new(&jpeg), 1, Some(Instant::now())).expect_err("late");
        assert!(late.to_string().contains("time limit"), "{late}");
        // A disk failing is not a damaged photo.
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("the disk is gone"))
            }
        }
        let failing = decode(std::io::BufReader::new(Failing), 1, None).expect_err("failing");
        assert!(matches!(failing, DeriveError::Read(_)), "{failing}");
        // The thread is left without a deadline for the next decode.
        decode(Cursor::new(&jpeg), 1, None).expect("decode after a stop");
    }
}
