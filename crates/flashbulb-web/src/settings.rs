//! The web layer's section of the configuration, derived by the binary from the one flat file
//! and environment (the keys keep their users' names; their meaning is documented where the
//! binary reads them).

use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Where the server listens: Leptos' options carry it.
    pub listen: SocketAddr,
    /// The folder the site was built into (`pkg/` with the scripts, WASM and styles).
    pub site_root: PathBuf,
    pub max_upload_bytes: u64,
    pub session_days: u32,
    pub secure_cookies: Option<bool>,
    pub signins_per_minute: u32,
    pub uploads_per_minute: u32,
    pub trust_forwarded_for: bool,
}
