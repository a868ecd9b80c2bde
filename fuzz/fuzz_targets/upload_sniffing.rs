//! An uploaded file's first bytes and header: the format sniffed from its magic bytes, then
//! the dimensions its header declares, read the way uploads read them (never decoded whole).
//! The check lives in `flashbulb::fuzzing`, where the test command replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::upload_sniffing(data));
