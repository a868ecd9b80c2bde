//! The trash `/trash`: photos moved out of the library, each restorable; emptying it asks
//! first, and what it empties stays restorable under "Recently emptied" for the grace period.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    error::ApiError,
    format::photo_count,
    listing::{with_after, NextPage},
    model::{PhotoCell, TrashView},
    photo::SetTrashed,
    timeline::{cell_name, photo_href, thumbnail, LoadFailed, EAGER_CELLS},
};

pub const TRASH_PAGE_PHOTOS: u32 = 120;

/// The query of the "Recently emptied" list: `/trash?list=emptied`.
const EMPTIED_LIST: &str = "emptied";

/// The query that asks to confirm emptying the trash: `/trash?confirm=empty`.
const CONFIRM_EMPTY: &str = "empty";

/// One of the trash's lists: the photos in it, or (`emptied`, false when left out) those
/// emptied from it that can still be restored.
#[server(prefix = "/api", endpoint = "trash")]
pub async fn load_trash(
    after: Option<String>,
    emptied: Option<bool>,
) -> Result<TrashView, ApiError> {
    let after = crate::model::Cursor::parse_argument(after.as_deref())?;
    let (library, owner) = crate::backend::owner_library().await?;
    let emptied = emptied.unwrap_or(false);
    library
        .trash(owner, emptied, after, TRASH_PAGE_PHOTOS)
        .await
}

/// Empties the trash: its photos stay restorable for the grace period, then go for good.
/// Returns how many; a plain form continues on the trash.
#[server(prefix = "/api", endpoint = "empty_trash")]
pub async fn empty_trash() -> Result<u64, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    let emptied = library.empty_trash(owner).await?;
    leptos_axum::redirect("/trash");
    Ok(emptied)
}

#[component]
pub fn TrashPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new_blocking(
        move || {
            let query = query.read();
            (
                query.get("after"),
                query.get("list").as_deref() == Some(EMPTIED_LIST),
            )
        },
        |(after, emptied)| load_trash(after, Some(emptied)),
    );
    let confirming = move || query.read().get("confirm").as_deref() == Some(CONFIRM_EMPTY);
    view! {
        <Title text="Trash" />
        <Suspense fallback=|| view! { <p class="notice">"Loading the trash…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => {
                        let confirming = confirming();
                        view! { <Trash view confirming /> }.into_any()
                    }
                    Err(error) => view! { <LoadFailed error title="The trash could not be loaded" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// "30 days", "1 day".
fn days(count: u32) -> String {
    if count == 1 {
        "1 day".into()
    } else {
        format!("{count} days")
    }
}

#[component]
fn Trash(view: TrashView, confirming: bool) -> impl IntoView {
    let TrashView {
        page,
        emptied,
        in_trash,
        recently_emptied,
        grace_days,
    } = view;
    let total = page.total;
    let path = if emptied {
        "/trash?list=emptied"
    } else {
        "/trash"
    };
    let lists = (emptied || recently_emptied > 0).then(|| {
        let current = |this: bool| (this == emptied).then_some("page");
        view! {
            <nav class="tabs" aria-label="Trash lists">
                <a href="/trash" aria-current=current(false)>
                    "In the trash " <span class="count">{crate::format::thousands(in_trash)}</span>
                </a>
                <a href="/trash?list=emptied" aria-current=current(true)>
                    "Recently emptied " <span class="count">{crate::format::thousands(recently_emptied)}</span>
                </a>
            </nav>
        }
    });
    let actions = if emptied {
        view! {
            <p class="muted">
                {format!(
                    "Photos emptied from the trash are deleted for good {} after. Until then, restore one to put it back in the timeline.",
                    days(grace_days),
                )}
            </p>
        }
            .into_any()
    } else if total == 0 {
        view! {
            <p class="notice">
                "The trash is empty. Photos you move to the trash wait here until you empty it."
            </p>
        }
        .into_any()
    } else if confirming {
        let consequence = if grace_days == 0 {
            format!(
                "{} will be deleted for good, with their originals. This cannot be undone.",
                photo_count(total)
            )
        } else {
            format!(
                "{} will leave the trash and be deleted for good after {}. Until then you can restore them from “Recently emptied”.",
                photo_count(total),
                days(grace_days),
            )
        };
        view! {
            <form class="confirm" method="post" action=EmptyTrash::url() role="alertdialog" aria-labelledby="confirm-title">
                <h2 id="confirm-title">"Empty the trash?"</h2>
                <p>{consequence}</p>
                <div class="confirm-actions">
                    <button type="submit" class="button danger">"Empty trash"</button>
                    <a class="button" href="/trash">"Cancel"</a>
                </div>
            </form>
        }
            .into_any()
    } else {
        view! {
            <div class="inline-form">
                <p class="muted">"Restore a photo to put it back in the timeline."</p>
                <a class="button danger" href="/trash?confirm=empty">"Empty trash…"</a>
            </div>
        }
        .into_any()
    };
    view! {
        <div class="listing trash">
            <div class="timeline-head">
                <h1>{if emptied { "Recently emptied" } else { "Trash" }}</h1>
                <p class="summary" data-total=total>{photo_count(total)}</p>
            </div>
            {lists}
            {actions}
            <ul class="grid">
                {page
                    .photos
                    .into_iter()
                    .enumerate()
                    .map(|(index, cell)| view! { <TrashedCell cell eager=index < EAGER_CELLS /> })
                    .collect_view()}
            </ul>
            <NextPage href=page.next.map(|cursor| with_after(path, cursor)) label="More" />
        </div>
    }
}

/// A photo in the trash: its thumbnail, a link to its page, and a button that restores it.
#[component]
fn TrashedCell(cell: PhotoCell, eager: bool) -> impl IntoView {
    let [r, g, b] = cell.placeholder_rgb;
    let description = cell_name(&cell.file_name, cell.taken_at);
    let restore_label = format!("Restore {}", cell.file_name);
    view! {
        <li class="cell" data-photo-id=cell.id style=format!("background-color:rgb({r},{g},{b})")>
            <a class="cell-link" href=photo_href(cell.id) aria-label=description.clone() title=description>
                {thumbnail(cell.media.as_deref(), eager)}
            </a>
            <form class="restore-form" method="post" action=SetTrashed::url()>
                <input type="hidden" name="photo_id" value=cell.id />
                <input type="hidden" name="trashed" value="false" />
                <button type="submit" class="chip" aria-label=restore_label>"Restore"</button>
            </form>
        </li>
    }
}
