//! The hydrate entry point: the browser calls `hydrate()` and only the islands wake up. Pages
//! without islands never load it; Web Vitals are measured by a script of their own
//! (`frontend/vitals/`), on every page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pull the islands into this crate's link graph so their hydration code ships.
    app::register_islands();
    leptos::mount::hydrate_islands();
}
