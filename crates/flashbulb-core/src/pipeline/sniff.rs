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
    /// HEIF/HEIC: iPhones' photos, Canon's HIF, many Android phones'.
    Heif,
    Avif,
}

/// Bytes needed to tell every format apart: an ISO base media file's `ftyp` box lists its
/// compatible brands after the first 16 bytes.
pub const SNIFF_BYTES: usize = 64;

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
        // ISO base media: a `ftyp` box whose brands name the codec. The major brand may be
        // the generic image-file one (`mif1`), with the codec among the compatible brands.
        if head.len() >= 12 && &head[4..8] == b"ftyp" {
            let declared = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let compatible = head.get(16..declared.min(head.len())).unwrap_or_default();
            let brands = std::iter::once(&head[8..12]).chain(compatible.chunks_exact(4));
            let mut generic = false;
            for brand in brands {
                match brand {
                    b"avif" | b"avis" => return Some(Format::Avif),
                    b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => {
                        return Some(Format::Heif)
                    }
                    b"mif1" | b"msf1" | b"miaf" => generic = true,
                    _ => {}
                }
            }
            // An image file of another codec: libheif says which, or that it lacks it.
            return generic.then_some(Format::Heif);
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
        // The codec among the compatible brands, after a generic major brand.
        assert_eq!(
            Format::sniff(b"\0\0\0\x1cftypmif1\0\0\0\0mif1miafavif"),
            Some(Format::Avif)
        );
        assert_eq!(
            Format::sniff(b"\0\0\0\x18ftypmif1\0\0\0\0heic"),
            Some(Format::Heif)
        );
        // Brands past the box's declared end are not its own.
        assert_eq!(Format::sniff(b"\0\0\0\x14ftypmp42\0\0\0\0isomavif"), None);
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
    }
}
