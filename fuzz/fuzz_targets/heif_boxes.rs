//! A HEIF or AVIF file's brands and boxes: the format told by its `ftyp` box, then what
//! libheif's parser makes of the boxes (the primary image's size, the price of decoding it),
//! never a pixel decoded. The check lives in `flashbulb::fuzzing`, where the test command
//! replays every kept input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashbulb::fuzzing::heif_boxes(data));
