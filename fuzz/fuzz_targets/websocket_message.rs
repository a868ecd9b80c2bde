//! A message a browser sends over the live-updates socket: a subscription request, or a
//! reason to refuse it that is itself sendable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(reason) = flashbulb::live::socket::read_client_message(text) {
        // The refusal travels back as JSON on one line.
        let refusal = app::live::ServerMessage::Refused { reason };
        let encoded = serde_json::to_string(&refusal).expect("a refusal encodes");
        assert!(!encoded.contains('\n'));
    }
});
