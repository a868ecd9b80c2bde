//! A file decoded as its derivatives job decodes it, through every decoder (libjpeg's C code
//! among them), up to 4 megapixels: derivatives or a reason, never a panic.
//! The check lives in `flashbulb::fuzzing`, where the test command replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::image_decoding(data));
