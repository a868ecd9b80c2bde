//! Arguments pages and server functions take from URLs: search forms and paging cursors.
#![no_main]

use app::{model::Cursor, search::SearchForm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Cursor::parse_argument(Some(text));
    let mut fields = text.split('\u{1f}').map(|field| Some(field.to_string()));
    let form = SearchForm {
        q: fields.next().flatten(),
        camera: fields.next().flatten(),
        lens: fields.next().flatten(),
        from: fields.next().flatten(),
        to: fields.next().flatten(),
        album: fields.next().flatten(),
    };
    if form.parse().is_ok() {
        // A search that parses links back to a search page of this site, and nowhere else.
        let href = form.href();
        assert!(href.starts_with("/search?"));
        assert!(!href.contains(['"', '<', '>', ' ', '\n']));
    }
});
