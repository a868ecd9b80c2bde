//! A Web Vitals beacon as browsers post it: JSON checked field by field.
//! The check lives in `flashbulb::fuzzing`, where the test command replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::vitals_beacon(data));
