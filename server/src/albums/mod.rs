//! Albums over HTTP: their ZIP downloads, for the owner and through share links. Their
//! statements are the store's (`flashbulb_store::albums`).

mod zip;

pub use zip::router;
