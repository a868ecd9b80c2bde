//! What the camera recorded (EXIF): when, with what, how, where, and which way up.

use exif::{In, Tag, Value};
use flashbulb_store::photos::Facts;

use super::sniff::Format;

/// Reads the EXIF block of a JPEG, PNG, WebP, TIFF, HEIF or AVIF as the camera recorded it;
/// a file without one (or with a broken one) has no facts, which is not an error: the photo
/// is still a photo.
pub fn read(bytes: &[u8]) -> Facts {
    read_exif(std::io::Cursor::new(bytes))
}

/// Bytes of a file the EXIF reader may look at. It reads a whole TIFF into memory, and a PNG's
/// or WebP's EXIF chunk at whatever size it declares; EXIF itself is at most 64 KiB in a JPEG
/// and rarely more than a few hundred elsewhere.
pub const METADATA_BYTES: u64 = 16 << 20;

/// The facts of a file of `format`, with the orientation the decoded pixels still need.
/// HEIF and AVIF carry their rotation and mirroring in the container (`irot`, `imir`), which
/// libheif applies while decoding; their EXIF orientation (an iPhone writes both) is only
/// informative, as the HEIF standard says, and applying it too would turn the photo twice.
pub fn read_from<R: std::io::BufRead + std::io::Seek>(reader: R, format: Format) -> Facts {
    let mut facts = read_exif(reader);
    if matches!(format, Format::Heif | Format::Avif) {
        facts.orientation = 1;
    }
    facts
}

/// [`read`] from a reader: only the container's EXIF block is read, wherever it is in the
/// first [`METADATA_BYTES`].
fn read_exif<R: std::io::BufRead + std::io::Seek>(reader: R) -> Facts {
    let mut reader = Capped {
        inner: reader,
        left: METADATA_BYTES,
    };
    let Ok(exif) = exif::Reader::new().read_from_container(&mut reader) else {
        return Facts {
            orientation: 1,
            ..Facts::default()
        };
    };
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY);
    let text = |tag: Tag| -> Option<String> {
        match &field(tag)?.value {
            Value::Ascii(parts) => {
                let joined = parts
                    .iter()
                    .map(|part| {
                        String::from_utf8_lossy(part)
                            .trim_matches(char::from(0))
                            .trim()
                            .to_string()
                    })
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.is_empty()).then(|| joined.chars().take(200).collect())
            }
            _ => None,
        }
    };
    let rational = |tag: Tag| -> Option<f64> {
        match &field(tag)?.value {
            Value::Rational(values) => values.first().filter(|r| r.denom != 0).map(|r| r.to_f64()),
            Value::SRational(values) => values.first().filter(|r| r.denom != 0).map(|r| r.to_f64()),
            _ => None,
        }
    };
    let orientation = field(Tag::Orientation)
        .and_then(|field| field.value.get_uint(0))
        .filter(|value| (1..=8).contains(value))
        .unwrap_or(1) as u8;
    let exposure_time =
        match field(Tag::ExposureTime).map(|field| &field.value) {
            Some(Value::Rational(values)) => values
                .first()
                .filter(|r| r.denom != 0 && r.num != 0)
                .map(|r| {
                    if r.num < r.denom {
                        format!(
                            "1/{}",
                            (f64::from(r.denom) / f64::from(r.num)).round() as u64
                        )
                    } else {
                        format!("{}", (r.to_f64() * 10.0).round() / 10.0)
                    }
                }),
            _ => None,
        };
    let iso = field(Tag::PhotographicSensitivity)
        .and_then(|field| field.value.get_uint(0))
        .map(i64::from);
    let taken = taken_at(&exif);
    Facts {
        taken_at: taken.map(|(at, _)| at),
        taken_offset_minutes: taken.and_then(|(_, offset)| offset),
        orientation,
        camera_make: text(Tag::Make),
        camera_model: text(Tag::Model),
        lens: text(Tag::LensModel),
        exposure_time,
        aperture: rational(Tag::FNumber).filter(|f| f.is_finite() && *f > 0.0),
        iso,
        focal_length_mm: rational(Tag::FocalLength).filter(|mm| mm.is_finite() && *mm > 0.0),
        gps: gps(&exif),
    }
}

/// A reader that ends after `left` more bytes.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let most = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..most])?;
        self.left -= read as u64;
        Ok(read)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Capped<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let left = usize::try_from(self.left).unwrap_or(usize::MAX);
        let buffer = self.inner.fill_buf()?;
        Ok(&buffer[..buffer.len().min(left)])
    }

    fn consume(&mut self, amount: usize) {
        self.left -= amount as u64;
        self.inner.consume(amount);
    }
}

impl<R: std::io::Seek> std::io::Seek for Capped<R> {
    fn seek(&mut self, position: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(position)
    }
}

/// DateTimeOriginal (else DateTime) as the place's clock read it, with OffsetTimeOriginal when
/// the camera wrote it.
fn taken_at(exif: &exif::Exif) -> Option<(i64, Option<i64>)> {
    let (tag, offset_tag) = [
        (Tag::DateTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTimeDigitized, Tag::OffsetTimeDigitized),
        (Tag::DateTime, Tag::OffsetTime),
    ]
    .into_iter()
    .find(|(tag, _)| exif.get_field(*tag, In::PRIMARY).is_some())?;
    let Value::Ascii(parts) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    let mut moment = exif::DateTime::from_ascii(parts.first()?).ok()?;
    if let Some(Value::Ascii(offset)) = exif.get_field(offset_tag, In::PRIMARY).map(|f| &f.value) {
        if let Some(offset) = offset.first() {
            let _ = moment.parse_offset(offset);
        }
    }
    if !(1..=12).contains(&moment.month) || !(1..=31).contains(&moment.day) || moment.year < 1826 {
        return None;
    }
    let day = flashbulb_types::format::month_start(i32::from(moment.year), moment.month)
        + i64::from(moment.day - 1) * 86_400;
    let local = day
        + i64::from(moment.hour.min(23)) * 3600
        + i64::from(moment.minute.min(59)) * 60
        + i64::from(moment.second.min(59));
    let offset = moment
        .offset
        .map(i64::from)
        .filter(|minutes| minutes.abs() <= 1440);
    Some((local, offset))
}

fn gps(exif: &exif::Exif) -> Option<(f64, f64)> {
    let coordinate = |value_tag: Tag, ref_tag: Tag, negative: u8| -> Option<f64> {
        let Value::Rational(parts) = &exif.get_field(value_tag, In::PRIMARY)?.value else {
            return None;
        };
        if parts.len() < 3 || parts.iter().any(|part| part.denom == 0) {
            return None;
        }
        let degrees = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
        let sign = match &exif.get_field(ref_tag, In::PRIMARY)?.value {
            Value::Ascii(reference) if reference.first()?.first() == Some(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * degrees).filter(|value| value.is_finite())
    };
    let latitude = coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let longitude = coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    ((-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude))
        .then_some((latitude, longitude))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_exif_are_upright_with_no_facts() {
        assert_eq!(read(b"not an image").orientation, 1);
        assert_eq!(
            read(&[0xFF, 0xD8, 0xFF, 0xE1, 0, 4, b'E', b'x']).taken_at,
            None
        );
    }

    /// A TIFF holding only the given EXIF text fields.
    fn tiff_with(fields: &[(Tag, &str)]) -> Vec<u8> {
        let fields: Vec<exif::Field> = fields
            .iter()
            .map(|(tag, text)| exif::Field {
                tag: *tag,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![text.as_bytes().to_vec()]),
            })
            .collect();
        let mut writer = exif::experimental::Writer::new();
        for field in &fields {
            writer.push_field(field);
        }
        let mut out = std::io::Cursor::new(Vec::new());
        writer.write(&mut out, false).expect("a TIFF");
        out.into_inner()
    }

    #[test]
    fn the_place_clock_is_kept_with_the_offset_the_camera_recorded() {
        let facts = read(&tiff_with(&[
            (Tag::DateTimeOriginal, "2024:07:08 23:30:00"),
            (Tag::OffsetTimeOriginal, "+05:30"),
        ]));
        // 8 July 2024, 23:30 where it was taken, whatever that was in UTC.
        assert_eq!(facts.taken_at, Some(1_720_481_400));
        assert_eq!(facts.taken_offset_minutes, Some(330));

        let facts = read(&tiff_with(&[(
            Tag::DateTimeOriginal,
            "2024:07:08 23:30:00",
        )]));
        assert_eq!(facts.taken_at, Some(1_720_481_400));
        assert_eq!(facts.taken_offset_minutes, None);
    }
}
