//! Building blocks of every page that lists photos: the grid and the link to the next page.

use leptos::prelude::*;

use crate::{
    model::PhotoCell,
    timeline::{Cell, EAGER_CELLS},
};

/// A grid of square cells in the order given.
#[component]
pub fn PhotoGrid(
    photos: Vec<PhotoCell>,
    /// Cells of the viewer's own photos link to the photo page and carry the heart.
    #[prop(default = true)]
    owned: bool,
) -> impl IntoView {
    view! {
        <ul class="grid">
            {photos
                .into_iter()
                .enumerate()
                .map(|(index, cell)| view! { <Cell cell owned eager=index < EAGER_CELLS /> })
                .collect_view()}
        </ul>
    }
}

/// The link to the next page of a keyset-paged list, when there is one.
#[component]
pub fn NextPage(href: Option<String>, label: &'static str) -> impl IntoView {
    href.map(|href| {
        view! {
            <p class="more">
                <a href=href rel="next">{label}</a>
            </p>
        }
    })
}

/// `path?after=cursor`, or `path&after=cursor` when the path already has a query.
pub fn with_after(path: &str, cursor: impl std::fmt::Display) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}after={cursor}")
}
