//! The photo page `/p/{id}`: one photo, its metadata, its albums, and the actions on it.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    albums::{SetAlbumCover, SetInAlbum},
    error::ApiError,
    format::{byte_size, moment_label, taken_label},
    model::{
        fitted, media_url, preview_edges, preview_variant, PhotoDetail, PhotoId, PREVIEW_EDGE,
    },
    timeline::{photo_href, LoadFailed, SetFavourite, HEART_PATH},
};

#[server(prefix = "/api", endpoint = "photo")]
pub async fn load_photo(photo_id: PhotoId) -> Result<PhotoDetail, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.photo(owner, photo_id).await
}

/// Moves a photo to the trash or back; the photo stays reachable from `/trash` until emptied.
#[server(prefix = "/api", endpoint = "set_trashed")]
pub async fn set_trashed(photo_id: PhotoId, trashed: bool) -> Result<(), ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.set_trashed(owner, photo_id, trashed).await
}

#[component]
pub fn PhotoPage() -> impl IntoView {
    let params = use_params_map();
    let photo = Resource::new_blocking(
        move || params.read().get("id"),
        |id| async move {
            // Anything that is not a photo id is simply a photo that does not exist.
            let id = id
                .and_then(|id| id.parse::<PhotoId>().ok())
                .ok_or(ApiError::NotFound)?;
            load_photo(id).await
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="notice">"Loading the photo…"</p> }>
            {move || Suspend::new(async move {
                match photo.await {
                    Ok(photo) => view! { <Photo photo /> }.into_any(),
                    Err(error) => {
                        view! {
                            <Title text="Photo not found" />
                            <LoadFailed error title="The photo could not be loaded" />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Photo(photo: PhotoDetail) -> impl IntoView {
    let cell = photo.cell.clone();
    let [r, g, b] = cell.placeholder_rgb;
    let (width, height) = (cell.width.max(1), cell.height.max(1));
    let frame_style = format!(
        "aspect-ratio:{width}/{height};background-color:rgb({r},{g},{b});max-width:calc(78vh * {width} / {height})"
    );
    let newer = photo.newer;
    let older = photo.older;
    let responsive = photo.responsive;
    view! {
        <Title text=cell.file_name.clone() />
        <div class="photo-page" data-photo-id=cell.id>
            <nav class="photo-nav" aria-label="Photo">
                {newer.map(|id| view! { <a href=photo_href(id) rel="prev">"← Newer"</a> })}
                <a href="/" class="back">"Timeline"</a>
                {older.map(|id| view! { <a href=photo_href(id) rel="next">"Older →"</a> })}
            </nav>
            <figure class="photo-stage">
                <div
                    class="photo-frame"
                    style=frame_style
                    role="img"
                    aria-label=format!("{}, {width} × {height}", cell.file_name)
                >
                    {cell.media.clone().map(|key| view! {
                        <picture>
                            {responsive.then(|| view! {
                                <source
                                    type="image/avif"
                                    media=avif_media(width, height)
                                    srcset=srcset(&key, width, height, "avif")
                                    sizes=preview_slot(width, height)
                                />
                            })}
                            {if responsive {
                                view! {
                                    <source
                                        type="image/webp"
                                        srcset=srcset(&key, width, height, "webp")
                                        sizes=preview_slot(width, height)
                                    />
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <source type="image/webp" srcset=media_url(&key, "preview.webp") />
                                }
                                    .into_any()
                            }}
                            // The page's largest paint: asked for before anything else.
                            <img
                                class="preview"
                                src=media_url(&key, "preview.jpg")
                                alt=""
                                decoding="async"
                                fetchpriority="high"
                            />
                        </picture>
                    })}
                </div>
            </figure>
            <PhotoInfo photo />
            <PhotoKeys newer older />
        </div>
    }
}

/// `…/preview-720.webp 720w, …/preview.webp 1440w, …`: each preview the photo has in
/// `extension` (AVIF only up to the middle edge), by its width, so the browser fetches the
/// smallest that fills the frame.
fn srcset(key: &str, width: u32, height: u32, extension: &str) -> String {
    preview_edges(width, height)
        .filter(|&edge| extension != "avif" || edge <= PREVIEW_EDGE)
        .map(|edge| {
            let url = media_url(key, &preview_variant(edge, extension));
            format!("{url} {}w", fitted(width, height, edge).0)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// When the AVIF previews are enough: the largest (the middle edge) is at least as wide as the
/// viewport in device pixels. A media query cannot multiply, so each common density gets its
/// bound; the viewport is wider than the frame, so it errs towards the larger WebP.
fn avif_media(width: u32, height: u32) -> String {
    let widest = fitted(width, height, PREVIEW_EDGE).0;
    [("1", 1, 1), ("1.5", 2, 3), ("2", 1, 2), ("3", 1, 3)]
        .iter()
        .map(|(density, times, over)| {
            format!(
                "(max-resolution: {density}dppx) and (max-width: {}px)",
                widest * times / over
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How wide the frame is drawn (see `.photo-frame` in the style sheet): the page's width less
/// its margins, and beside the facts column on wide screens, but never taller than 78 % of the
/// viewport.
fn preview_slot(width: u32, height: u32) -> String {
    let tallest = format!("calc(78vh * {width} / {height})");
    format!(
        "(max-width: 720px) min(calc(100vw - 16px), {tallest}), \
         min(calc(100vw - 408px), {tallest})"
    )
}

#[component]
fn PhotoInfo(photo: PhotoDetail) -> impl IntoView {
    let PhotoDetail {
        cell,
        byte_size: size,
        mime_type,
        camera,
        lens,
        focal_length_mm,
        aperture,
        exposure_time,
        iso,
        taken_offset_minutes,
        trashed_at,
        has_original,
        status,
        failure,
        albums,
        all_albums,
        ..
    } = photo;
    let exposure = exposure_summary(exposure_time, aperture, focal_length_mm, iso);
    let zone = use_context::<crate::zone::ViewerZone>().unwrap_or_default();
    let megapixels = f64::from(cell.width) * f64::from(cell.height) / 1e6;
    let photo_id = cell.id;
    let has_albums = !all_albums.is_empty();
    let addable: Vec<_> = all_albums
        .into_iter()
        .filter(|album| !albums.iter().any(|member| member.id == album.id))
        .collect();
    let row = |term: &'static str, value: Option<String>| {
        value.map(|value| view! { <dt>{term}</dt> <dd>{value}</dd> })
    };
    view! {
        <aside class="photo-info">
            <h1>{cell.file_name.clone()}</h1>
            {(status == "pending").then(|| view! {
                <p class="in-trash" role="status">
                    "Still being processed: its thumbnail and details appear in a moment."
                </p>
            })}
            {(status == "failed").then(|| view! {
                <p class="in-trash" role="alert">
                    "This photo could not be read: "
                    {failure.unwrap_or_else(|| "no reason was recorded".into())}
                </p>
            })}
            {trashed_at.map(|at| view! {
                <p class="in-trash" role="status">
                    "In the trash since " {moment_label(at, &zone)} "."
                </p>
            })}
            <dl class="facts">
                {row("Taken", Some(taken_label(cell.taken_at, taken_offset_minutes)))}
                {row("Size", Some(format!(
                    "{}\u{a0}×\u{a0}{} ({megapixels:.1}\u{a0}MP), {}",
                    cell.width, cell.height, byte_size(size)
                )))}
                {row("Type", mime_type)}
                {row("Original", (!has_original).then(|| "not stored on this server".to_string()))}
                {row("Camera", camera)}
                {row("Lens", lens)}
                {row("Exposure", exposure)}
            </dl>
            <div class="actions">
                {trashed_at.is_none().then(|| {
                    let favourite = cell.favourite;
                    view! {
                        <form method="post" action=SetFavourite::url()>
                            <input type="hidden" name="photo_id" value=photo_id />
                            <input type="hidden" name="favourite" value=(!favourite).to_string() />
                            <button type="submit" class="button fav-button" aria-pressed=favourite.to_string()>
                                <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                                    <path d=HEART_PATH />
                                </svg>
                                {if favourite { "Favourite" } else { "Add to favourites" }}
                            </button>
                        </form>
                    }
                })}
                {has_original.then(|| view! {
                    <a class="button" href=format!("/api/photos/{photo_id}/original") download>
                        "Download original"
                    </a>
                })}
                <form method="post" action=SetTrashed::url()>
                    <input type="hidden" name="photo_id" value=photo_id />
                    <input type="hidden" name="trashed" value=trashed_at.is_none().to_string() />
                    <button type="submit" class="button">
                        {if trashed_at.is_some() { "Restore to the library" } else { "Move to trash" }}
                    </button>
                </form>
            </div>
            <section class="photo-albums" aria-labelledby="albums-heading">
                <h2 id="albums-heading">"Albums"</h2>
                {albums.is_empty().then(|| view! { <p class="muted">"In no album."</p> })}
                <ul>
                    {albums
                        .into_iter()
                        .map(|album| view! {
                            <li>
                                <a href=format!("/albums/{}", album.id)>{album.title}</a>
                                <form method="post" action=SetAlbumCover::url()>
                                    <input type="hidden" name="album_id" value=album.id />
                                    <input type="hidden" name="photo_id" value=photo_id />
                                    <button type="submit" class="link-button">"Make cover"</button>
                                </form>
                                <form method="post" action=SetInAlbum::url()>
                                    <input type="hidden" name="album_id" value=album.id />
                                    <input type="hidden" name="photo_id" value=photo_id />
                                    <input type="hidden" name="member" value="false" />
                                    <button type="submit" class="link-button">"Remove"</button>
                                </form>
                            </li>
                        })
                        .collect_view()}
                </ul>
                {if !has_albums {
                    view! {
                        <p class="muted">
                            <a href="/albums">"Create an album"</a> " to collect photos."
                        </p>
                    }
                        .into_any()
                } else if addable.is_empty() {
                    ().into_any()
                } else {
                    view! {
                        <form class="add-to-album" method="post" action=SetInAlbum::url()>
                            <input type="hidden" name="photo_id" value=photo_id />
                            <input type="hidden" name="member" value="true" />
                            <label for="album-choice">"Add to album"</label>
                            <select id="album-choice" name="album_id" required>
                                {addable
                                    .into_iter()
                                    .map(|album| view! { <option value=album.id>{album.title}</option> })
                                    .collect_view()}
                            </select>
                            <button type="submit" class="button">"Add"</button>
                        </form>
                    }
                        .into_any()
                }}
            </section>
        </aside>
    }
}

/// `1/250 s · f/2.8 · 35 mm · ISO 200`, from whatever the camera recorded.
fn exposure_summary(
    time: Option<String>,
    aperture: Option<f64>,
    focal_length_mm: Option<f64>,
    iso: Option<i64>,
) -> Option<String> {
    let parts: Vec<String> = [
        time.map(|time| format!("{time} s")),
        aperture.map(|f| format!("f/{f:.1}")),
        focal_length_mm.map(|mm| format!("{mm:.0} mm")),
        iso.map(|iso| format!("ISO {iso}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// ← and → step through the timeline, Esc goes back to it; keys typed into a form are left alone.
#[island(lazy)]
fn PhotoKeys(newer: Option<PhotoId>, older: Option<PhotoId>) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let handle = window_event_listener(leptos::ev::keydown, move |event| {
            if event.alt_key() || event.ctrl_key() || event.meta_key() || event.shift_key() {
                return;
            }
            let typing = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|element| {
                    matches!(element.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                });
            if typing {
                return;
            }
            let destination = match event.key().as_str() {
                "ArrowLeft" => newer.map(photo_href),
                "ArrowRight" => older.map(photo_href),
                "Escape" => Some("/".to_string()),
                _ => None,
            };
            if let Some(destination) = destination {
                event.prevent_default();
                let _ = window().location().set_href(&destination);
            }
        });
        on_cleanup(move || handle.remove());
    }
    let _ = (newer, older);
    view! { <p class="keys-hint muted">"Keys: ← newer · → older · Esc timeline"</p> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_lists_only_what_was_recorded() {
        assert_eq!(exposure_summary(None, None, None, None), None);
        assert_eq!(
            exposure_summary(Some("1/250".into()), Some(2.8), Some(35.0), Some(200)).as_deref(),
            Some("1/250 s · f/2.8 · 35 mm · ISO 200")
        );
        assert_eq!(
            exposure_summary(None, None, None, Some(100)).as_deref(),
            Some("ISO 100")
        );
    }
}
