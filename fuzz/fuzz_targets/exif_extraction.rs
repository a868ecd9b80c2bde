//! EXIF extraction from an uploaded file: camera, lens, time and orientation, or nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = flashbulb::pipeline::metadata::read(data);
});
