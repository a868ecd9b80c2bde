//! What a file is, from its first bytes: never from its name or the type a browser claims.

/// The image formats Flashbulb knows by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
    Tiff,
    Bmp,
    /// HEIF/HEIC (iPhone photos): recognised so the refusal can say what it is.
    Heif,
    Avif,
}

/// Bytes needed to tell every format apart.
pub const SNIFF_BYTES: usize = 32;

impl Format {
    /// The format of a file starting with `head`, `None` for anything else.
    pub fn sniff(head: &[u8]) -> Option<Format> {
        let starts = |magic: &[u8]| head.starts_with(magic);
        if starts(&[0xFF, 0xD8, 0xFF]) {
            return Some(Format::Jpeg);
        }
        if starts(b"\x89PNG\r\n\x1a\n") {
            return Some(Format::Png);
        }
        if starts(b"GIF87a") || starts(b"GIF89a") {
            return Some(Format::Gif);
        }
        if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            return Some(Format::Webp);
        }
        if starts(b"II*\0") || starts(b"MM\0*") {
            return Some(Format::Tiff);
        }
        if starts(b"BM") && head.len() >= 14 {
            return Some(Format::Bmp);
        }
        // ISO base media: a `ftyp` box whose brand names the codec.
        if head.len() >= 12 && &head[4..8] == b"ftyp" {
            return match &head[8..12] {
                b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                    Some(Format::Heif)
                }
                b"avif" | b"avis" => Some(Format::Avif),
                _ => None,
            };
        }
        None
    }

    /// The MIME type stored with the photo and sent with its original.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Webp => "image/webp",
            Format::Tiff => "image/tiff",
            Format::Bmp => "image/bmp",
            Format::Heif => "image/heic",
            Format::Avif => "image/avif",
        }
    }

    /// Whether this server can decode the format into derivatives.
    pub fn is_supported(self) -> bool {
        !matches!(self, Format::Heif | Format::Avif)
    }

    pub fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Gif => image::ImageFormat::Gif,
            Format::Webp => image::ImageFormat::WebP,
            Format::Tiff => image::ImageFormat::Tiff,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Heif | Format::Avif => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_magic_bytes() {
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE1]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(Format::sniff(b"GIF89a......"), Some(Format::Gif));
        assert_eq!(Format::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(Format::sniff(b"II*\0\x08\0\0\0"), Some(Format::Tiff));
        assert_eq!(
            Format::sniff(b"\0\0\0\x18ftypheic\0\0\0\0"),
            Some(Format::Heif)
        );
        assert_eq!(
            Format::sniff(b"\0\0\0\x18ftypavif\0\0\0\0"),
            Some(Format::Avif)
        );
        for other in [
            &b""[..],
            b"\xFF\xD8",
            b"<html>",
            b"%PDF-1.7",
            b"RIFF\0\0\0\0WAVE",
            b"\0\0\0\x18ftypmp42",
        ] {
            assert_eq!(Format::sniff(other), None, "{other:?}");
        }
        assert!(!Format::Heif.is_supported());
        assert!(Format::Jpeg.is_supported());
    }
}
