//! The hydrate entry point: the browser calls `hydrate()` and only the islands wake up.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pull the islands into this crate's link graph so their hydration code ships.
    app::register_islands();
    leptos::mount::hydrate_islands();
}
