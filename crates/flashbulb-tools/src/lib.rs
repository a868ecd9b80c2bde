//! Flashbulb's tools beside the server, linked by the binary for its subcommands: `seed`
//! (a synthetic library for demos and benchmarks) and `live-load` (a load client of the live
//! hub over real sockets). Production code never calls them.

pub mod load;
pub mod seed;
