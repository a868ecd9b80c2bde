//! The hydrate entry point: the browser calls `hydrate()` and only the islands wake up.

mod vitals;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Measuring starts before hydration, so that a page whose islands fail still reports.
    vitals::start();
    // Pull the islands into this crate's link graph so their hydration code ships.
    app::register_islands();
    leptos::mount::hydrate_islands();
}
