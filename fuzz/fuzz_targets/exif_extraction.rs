//! EXIF extraction from an uploaded file: camera, lens, time and orientation, or nothing.
//! The check lives in `flashbulb::fuzzing`, where the test command replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::exif_extraction(data));
