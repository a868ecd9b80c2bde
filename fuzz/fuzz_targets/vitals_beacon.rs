//! A Web Vitals beacon as browsers post it: JSON checked field by field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(beacon) = flashbulb::vitals::parse(&bytes::Bytes::copy_from_slice(data)) {
        // What is accepted is what the checks promise: a plausible, finite value each.
        for sample in &beacon.metrics {
            assert!(sample.value.is_finite() && sample.value >= 0.0);
        }
    }
});
