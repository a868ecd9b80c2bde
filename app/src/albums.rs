//! Albums: the list `/albums`, one album `/albums/{id}`, and the visitors' share page `/s/{token}`.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    error::ApiError,
    format::photo_count,
    listing::{with_after, NextPage, PhotoGrid},
    model::{AlbumId, AlbumSummary, AlbumView, PhotoId},
    timeline::LoadFailed,
};

/// Photos per page of an album.
pub const ALBUM_PAGE_PHOTOS: u32 = 120;
/// Longest album title, in characters; the database enforces the same bound.
pub const MAX_TITLE: usize = 200;

#[server(prefix = "/api", endpoint = "albums")]
pub async fn load_albums() -> Result<Vec<AlbumSummary>, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.albums(owner).await
}

#[server(prefix = "/api", endpoint = "album")]
pub async fn load_album(album_id: AlbumId, after: Option<String>) -> Result<AlbumView, ApiError> {
    let after = crate::model::Cursor::parse_argument(after.as_deref())?;
    let (library, owner) = crate::backend::owner_library().await?;
    library
        .album(owner, album_id, after, ALBUM_PAGE_PHOTOS)
        .await
}

#[server(prefix = "/api", endpoint = "shared_album")]
pub async fn load_shared_album(
    token: String,
    after: Option<String>,
) -> Result<AlbumView, ApiError> {
    let after = crate::model::Cursor::parse_argument(after.as_deref())?;
    let library = crate::backend::library()?;
    library.shared_album(&token, after, ALBUM_PAGE_PHOTOS).await
}

/// Creates an album and, for a plain form, continues on its page.
#[server(prefix = "/api", endpoint = "create_album")]
pub async fn create_album(title: String) -> Result<AlbumId, ApiError> {
    let title = checked_title(&title)?;
    let (library, owner) = crate::backend::owner_library().await?;
    let id = library.create_album(owner, &title).await?;
    leptos_axum::redirect(&format!("/albums/{id}"));
    Ok(id)
}

#[server(prefix = "/api", endpoint = "rename_album")]
pub async fn rename_album(album_id: AlbumId, title: String) -> Result<(), ApiError> {
    let title = checked_title(&title)?;
    let (library, owner) = crate::backend::owner_library().await?;
    library.rename_album(owner, album_id, &title).await
}

/// Deletes the album, never its photos; a plain form continues on the album list.
#[server(prefix = "/api", endpoint = "delete_album")]
pub async fn delete_album(album_id: AlbumId) -> Result<(), ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.delete_album(owner, album_id).await?;
    leptos_axum::redirect("/albums");
    Ok(())
}

/// Shares the album with a new secret link, or stops sharing (the old link stops working).
#[server(prefix = "/api", endpoint = "share_album")]
pub async fn share_album(album_id: AlbumId, shared: bool) -> Result<Option<String>, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.share_album(owner, album_id, shared).await
}

#[server(prefix = "/api", endpoint = "set_in_album")]
pub async fn set_in_album(
    album_id: AlbumId,
    photo_id: PhotoId,
    member: bool,
) -> Result<(), ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library
        .set_in_album(owner, album_id, photo_id, member)
        .await
}

#[server(prefix = "/api", endpoint = "set_album_cover")]
pub async fn set_album_cover(album_id: AlbumId, photo_id: PhotoId) -> Result<(), ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.set_album_cover(owner, album_id, photo_id).await
}

/// A title as stored: trimmed, 1 to [`MAX_TITLE`] characters, no control characters.
pub fn checked_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(ApiError::BadRequest("an album needs a title".into()));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(ApiError::BadRequest(format!(
            "an album title has at most {MAX_TITLE} characters"
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "an album title cannot contain control characters".into(),
        ));
    }
    Ok(title.to_string())
}

#[component]
pub fn AlbumsPage() -> impl IntoView {
    let albums = Resource::new_blocking(|| (), |_| load_albums());
    view! {
        <Title text="Albums" />
        <Suspense fallback=|| view! { <p class="notice">"Loading albums…"</p> }>
            {move || Suspend::new(async move {
                match albums.await {
                    Ok(albums) => view! { <AlbumList albums /> }.into_any(),
                    Err(error) => view! { <LoadFailed error title="The albums could not be loaded" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AlbumList(albums: Vec<AlbumSummary>) -> impl IntoView {
    let count = albums.len();
    view! {
        <div class="listing">
            <div class="timeline-head">
                <h1>"Albums"</h1>
                <p class="summary">{if count == 1 { "1 album".to_string() } else { format!("{count} albums") }}</p>
            </div>
            <form class="inline-form" method="post" action=CreateAlbum::url()>
                <label for="new-album">"New album"</label>
                <input
                    id="new-album"
                    name="title"
                    required
                    maxlength=MAX_TITLE
                    placeholder="Summer in Lisbon"
                    autocomplete="off"
                />
                <button type="submit" class="button">"Create"</button>
            </form>
            {(count == 0).then(|| view! {
                <p class="notice">
                    "No albums yet. Create one above, then add photos from any photo’s page."
                </p>
            })}
            <ul class="albums">
                {albums.into_iter().map(|album| view! { <AlbumTile album /> }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn AlbumTile(album: AlbumSummary) -> impl IntoView {
    let [r, g, b] = album
        .cover
        .as_ref()
        .map(|cover| cover.placeholder_rgb)
        .unwrap_or([160, 160, 160]);
    view! {
        <li class="album-tile" data-album-id=album.id>
            <a href=format!("/albums/{}", album.id)>
                <span class="album-cover" style=format!("background-color:rgb({r},{g},{b})")></span>
                <span class="album-title">{album.title}</span>
                <span class="album-count">
                    {photo_count(album.count)}
                    {album.share_token.is_some().then_some(" · shared")}
                </span>
            </a>
        </li>
    }
}

#[component]
pub fn AlbumPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let album = Resource::new_blocking(
        move || (params.read().get("id"), query.read().get("after")),
        |(id, after)| async move {
            let id = id
                .and_then(|id| id.parse::<AlbumId>().ok())
                .ok_or(ApiError::NotFound)?;
            load_album(id, after).await
        },
    );
    album_or_error(
        album,
        |view| view! { <Album view /> }.into_any(),
        (
            "This album is gone",
            "It was deleted, or it belongs to someone else. Your albums are listed under Albums.",
        ),
    )
}

/// Waits for an album and shows it with `show`, or says why it could not be loaded.
fn album_or_error(
    album: Resource<Result<AlbumView, ApiError>>,
    show: fn(AlbumView) -> AnyView,
    missing: (&'static str, &'static str),
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="notice">"Loading the album…"</p> }>
            {move || Suspend::new(async move {
                match album.await {
                    Ok(view) => show(view),
                    Err(error) => view! {
                        <Title text="Album" />
                        <LoadFailed error title="The album could not be loaded" missing />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Album(view: AlbumView) -> impl IntoView {
    let AlbumView { album, page } = view;
    let id = album.id;
    let share_link = album
        .share_token
        .as_ref()
        .map(|token| format!("/s/{token}"));
    let empty = page.photos.is_empty() && album.count == 0;
    // "Delete album" asks first, on this page, in a way that works without JavaScript.
    let confirming = use_query_map().read_untracked().get("confirm").as_deref() == Some("delete");
    view! {
        <Title text=album.title.clone() />
        <div class="listing album" data-album-id=id>
            <div class="timeline-head">
                <h1>{album.title.clone()}</h1>
                <p class="summary" data-total=album.count>{photo_count(album.count)}</p>
            </div>
            <crate::live::LiveUpdates topics=vec![crate::live::Topic::Album(id)] notice=true />
            <div class="album-tools">
                <form class="inline-form" method="post" action=RenameAlbum::url()>
                    <input type="hidden" name="album_id" value=id />
                    <label for="album-title">"Title"</label>
                    <input id="album-title" name="title" required maxlength=MAX_TITLE value=album.title.clone() />
                    <button type="submit" class="button">"Rename"</button>
                </form>
                <form class="inline-form" method="post" action=ShareAlbum::url()>
                    <input type="hidden" name="album_id" value=id />
                    <input type="hidden" name="shared" value=share_link.is_none().to_string() />
                    {share_link.clone().map(|path| view! { <ShareLink path /> })}
                    <button type="submit" class="button">
                        {if share_link.is_some() { "Stop sharing" } else { "Share with a link" }}
                    </button>
                </form>
                <div class="album-actions">
                    {(!empty).then(|| view! {
                        <a class="button" href=format!("/api/albums/{id}/zip") download>"Download ZIP"</a>
                    })}
                    <a class="button danger" href=format!("/albums/{id}?confirm=delete")>"Delete album…"</a>
                </div>
            </div>
            {confirming.then(|| view! {
                <form class="confirm" method="post" action=DeleteAlbum::url() role="alertdialog" aria-labelledby="confirm-title">
                    <h2 id="confirm-title">{format!("Delete the album “{}”?", album.title)}</h2>
                    <p>
                        {format!("Its {} stay in your library; only the album goes", photo_count(album.count))}
                        {if share_link.is_some() { ", and its share link stops working." } else { "." }}
                    </p>
                    <input type="hidden" name="album_id" value=id />
                    <div class="confirm-actions">
                        <button type="submit" class="button danger">"Delete album"</button>
                        <a class="button" href=format!("/albums/{id}")>"Cancel"</a>
                    </div>
                </form>
            })}
            {empty.then(|| view! {
                <p class="notice">
                    "This album is empty. Open any photo from the " <a href="/">"timeline"</a>
                    " and use “Add to album”."
                </p>
            })}
            <PhotoGrid photos=page.photos />
            <NextPage
                href=page.next.map(|cursor| with_after(&format!("/albums/{id}"), cursor))
                label="More photos"
            />
        </div>
    }
}

/// A share link as people pass it on: the whole address in a field that selects itself, and
/// a button that copies it. The server knows only the path (pages are cached whatever name
/// the site was reached by); the browser adds the address it is using. Without JavaScript
/// the field shows the path and the link opens it.
#[island(lazy)]
fn ShareLink(path: String) -> impl IntoView {
    let address = RwSignal::new(path.clone());
    let copied = RwSignal::new(false);
    let awake = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let path = path.clone();
        Effect::new(move |_| {
            if let Ok(origin) = window().location().origin() {
                address.set(format!("{origin}{path}"));
            }
            awake.set(true);
        });
    }
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let written = clipboard.write_text(&address.get_untracked());
            leptos::task::spawn_local(async move {
                let done = wasm_bindgen_futures::JsFuture::from(written).await.is_ok();
                copied.set(done);
            });
        }
    };
    let select_all = move |event: leptos::ev::FocusEvent| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            if let Some(input) = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                input.select();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    view! {
        <span class="share">
            <label for="share-url">"Shared at"</label>
            <input id="share-url" class="share-url" readonly value=move || address.get() on:focus=select_all />
            <button type="button" class="button" hidden=move || !awake.get() on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy link" }}
            </button>
            <a class="share-link" href=path>"Open"</a>
        </span>
    }
}

#[component]
pub fn SharedAlbumPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let album = Resource::new_blocking(
        move || {
            (
                params.read().get("token").unwrap_or_default(),
                query.read().get("after"),
            )
        },
        |(token, after)| load_shared_album(token, after),
    );
    view! {
        // A share link is a secret: keep it out of search engines and other sites' logs.
        <Meta name="robots" content="noindex" />
        <Meta name="referrer" content="no-referrer" />
        {album_or_error(
            album,
            |view| view! { <SharedAlbum view /> }.into_any(),
            (
                "This share link no longer works",
                "The owner stopped sharing this album, or the link is incomplete. Ask them for a new link.",
            ),
        )}
    }
}

#[component]
fn SharedAlbum(view: AlbumView) -> impl IntoView {
    let AlbumView { album, page } = view;
    let token = album.share_token.clone().unwrap_or_default();
    view! {
        <Title text=album.title.clone() />
        <div class="listing album shared">
            <div class="timeline-head">
                <h1>{album.title}</h1>
                <p class="summary" data-total=album.count>
                    {photo_count(album.count)} " · shared with you"
                </p>
            </div>
            {(album.count > 0).then(|| view! {
                <p><a class="button" href=format!("/api/shared/{token}/zip") download>"Download ZIP"</a></p>
            })}
            <PhotoGrid photos=page.photos owned=false />
            <NextPage
                href=page.next.map(|cursor| with_after(&format!("/s/{token}"), cursor))
                label="More photos"
            />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(checked_title("  Lisbon ").as_deref(), Ok("Lisbon"));
        assert!(checked_title("   ").is_err());
        assert!(checked_title(&"é".repeat(MAX_TITLE)).is_ok());
        assert!(checked_title(&"é".repeat(MAX_TITLE + 1)).is_err());
        assert!(checked_title("a\u{0}b").is_err());
        assert!(checked_title("line\nbreak").is_err());
    }
}
