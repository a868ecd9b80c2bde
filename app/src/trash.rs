//! The trash `/trash`: photos moved out of the library, each restorable until the trash is emptied.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    error::ApiError,
    format::{day_label, photo_count},
    listing::{with_after, NextPage},
    model::{PhotoCell, PhotoPage},
    photo::SetTrashed,
    timeline::{photo_href, LoadFailed},
};

pub const TRASH_PAGE_PHOTOS: u32 = 120;

#[server(prefix = "/api", endpoint = "trash")]
pub async fn load_trash(after: Option<String>) -> Result<PhotoPage, ApiError> {
    let after = crate::model::Cursor::parse_argument(after.as_deref())?;
    let (library, owner) = crate::backend::owner_library().await?;
    library.trash(owner, after, TRASH_PAGE_PHOTOS).await
}

/// Deletes every photo in the trash for good; returns how many.
#[server(prefix = "/api", endpoint = "empty_trash")]
pub async fn empty_trash() -> Result<u64, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.empty_trash(owner).await
}

#[component]
pub fn TrashPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new_blocking(move || query.read().get("after"), load_trash);
    view! {
        <Title text="Trash" />
        <Suspense fallback=|| view! { <p class="notice">"Loading the trash…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Trash page /> }.into_any(),
                    Err(error) => view! { <LoadFailed error title="The trash could not be loaded" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Trash(page: PhotoPage) -> impl IntoView {
    let PhotoPage {
        photos,
        next,
        total,
    } = page;
    view! {
        <div class="listing trash">
            <div class="timeline-head">
                <h1>"Trash"</h1>
                <p class="summary" data-total=total>{photo_count(total)}</p>
            </div>
            {if total == 0 {
                view! {
                    <p class="notice">
                        "The trash is empty. Photos you move to the trash wait here until you empty it."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <form
                        class="inline-form"
                        method="post"
                        action=EmptyTrash::url()
                    >
                        <p class="muted">"Restore a photo to put it back in the timeline. Emptying the trash deletes its photos for good."</p>
                        <button type="submit" class="button danger">"Empty trash"</button>
                    </form>
                }
                    .into_any()
            }}
            <ul class="grid">
                {photos.into_iter().map(|cell| view! { <TrashedCell cell /> }).collect_view()}
            </ul>
            <NextPage href=next.map(|cursor| with_after("/trash", cursor)) label="More" />
        </div>
    }
}

#[component]
fn TrashedCell(cell: PhotoCell) -> impl IntoView {
    let [r, g, b] = cell.placeholder_rgb;
    let description = format!("{}, {}", cell.file_name, day_label(cell.taken_at));
    view! {
        <li class="cell" data-photo-id=cell.id style=format!("background-color:rgb({r},{g},{b})")>
            <a class="cell-link" href=photo_href(cell.id)>
                <span class="cell-label" role="img" aria-label=description.clone() title=description>
                    {cell.file_name}
                </span>
            </a>
            <form class="restore-form" method="post" action=SetTrashed::url()>
                <input type="hidden" name="photo_id" value=cell.id />
                <input type="hidden" name="trashed" value="false" />
                <button type="submit" class="chip">"Restore"</button>
            </form>
        </li>
    }
}
