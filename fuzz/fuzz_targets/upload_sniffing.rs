//! An uploaded file's first bytes and header: the format sniffed from its magic bytes, then
//! the dimensions its header declares, read the way uploads read them (never decoded whole).
#![no_main]

use flashbulb::pipeline::{
    derive::{declared_size_of, Limits},
    sniff::Format,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(format) = Format::sniff(data) else {
        return;
    };
    let _ = format.mime_type();
    if !format.is_supported() {
        return;
    }
    let limits = Limits {
        max_pixels: 50_000_000,
    };
    if let Ok((width, height)) = declared_size_of(std::io::Cursor::new(data), format, limits) {
        assert!(u64::from(width) * u64::from(height) <= limits.max_pixels);
    }
});
