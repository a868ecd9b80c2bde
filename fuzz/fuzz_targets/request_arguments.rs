//! Arguments pages and server functions take from URLs: search forms and paging cursors.
//! The check lives in `flashbulb::fuzzing`, where the test command replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::request_arguments(data));
