//! A message a browser sends over the live-updates socket: a subscription request, or a
//! reason to refuse it that is itself sendable.
//! The check lives in `flashbulb::fuzzing`, where the test command replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::websocket_message(data));
