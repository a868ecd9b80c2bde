//! The favourites page `/favourites`: every favourite photo, newest first, a page at a time.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    error::ApiError,
    format::photo_count,
    listing::{with_after, NextPage, PhotoGrid},
    model::PhotoPage,
    timeline::LoadFailed,
};

/// Photos per page of favourites.
pub const FAVOURITES_PER_PAGE: u32 = 120;

#[server(prefix = "/api", endpoint = "favourites")]
pub async fn load_favourites(after: Option<String>) -> Result<PhotoPage, ApiError> {
    let after = crate::model::Cursor::parse_argument(after.as_deref())?;
    let (library, owner) = crate::backend::owner_library().await?;
    library.favourites(owner, after, FAVOURITES_PER_PAGE).await
}

#[component]
pub fn FavouritesPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new_blocking(move || query.read().get("after"), load_favourites);
    view! {
        <Title text="Favourites" />
        <Suspense fallback=|| view! { <p class="notice">"Loading favourites…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Favourites page /> }.into_any(),
                    Err(error) => view! { <LoadFailed error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Favourites(page: PhotoPage) -> impl IntoView {
    let PhotoPage {
        photos,
        next,
        total,
    } = page;
    let empty = photos.is_empty();
    view! {
        <div class="listing">
            <div class="timeline-head">
                <h1>"Favourites"</h1>
                <p class="summary" data-total=total>{photo_count(total)}</p>
            </div>
            {empty.then(|| view! {
                <p class="notice">
                    "No favourites here. Tap the heart on any photo in the "
                    <a href="/">"timeline"</a> " to keep it here."
                </p>
            })}
            <PhotoGrid photos />
            <NextPage
                href=next.map(|cursor| with_after("/favourites", cursor))
                label="Older favourites"
            />
        </div>
    }
}
