//! The timeline page `/`: month sections of square cells, newest first, and the virtual timeline island.

mod grid;
pub mod layout;

pub use grid::VirtualTimeline;

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;

use crate::{
    error::ApiError,
    format::{day_label, month_label, photo_count},
    model::{media_url, MonthBucket, PhotoCell, PhotoId, TimelineFirstScreen},
};

/// The heart icon of the photo page's favourite button (the grid's hearts are drawn by CSS).
pub(crate) const HEART_PATH: &str = "M12 21s-7.5-4.6-9.6-9.2C.9 8.4 3 4.5 6.7 4.5c2.1 0 3.6 1.1 5.3 3 1.7-1.9 3.2-3 5.3-3 3.7 0 5.8 3.9 4.3 7.3C19.5 16.4 12 21 12 21z";

/// How many photos the server renders into the first screen.
pub const FIRST_SCREEN_PHOTOS: u32 = 120;

#[server(prefix = "/api", endpoint = "timeline")]
pub async fn load_timeline() -> Result<TimelineFirstScreen, ApiError> {
    let viewer = crate::backend::viewer().ok_or(ApiError::Unauthorized)?;
    let mut screen = crate::backend::library()?
        .timeline_first_screen(viewer.id, FIRST_SCREEN_PHOTOS)
        .await?;
    screen.owner_name = Some(viewer.name);
    Ok(screen)
}

#[server(prefix = "/api", endpoint = "set_favourite")]
pub async fn set_favourite(photo_id: PhotoId, favourite: bool) -> Result<bool, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.set_favourite(owner, photo_id, favourite).await
}

#[component]
pub fn TimelinePage() -> impl IntoView {
    let first_screen = Resource::new_blocking(|| (), |_| load_timeline());
    view! {
        <Title text="Timeline" />
        <Suspense fallback=|| view! { <p class="notice">"Loading your library…"</p> }>
            {move || Suspend::new(async move {
                match first_screen.await {
                    Ok(screen) if screen.total == 0 => view! { <EmptyLibrary /> }.into_any(),
                    Ok(screen) => view! { <Timeline screen /> }.into_any(),
                    Err(error) => view! { <LoadFailed error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Timeline(screen: TimelineFirstScreen) -> impl IntoView {
    let TimelineFirstScreen {
        buckets,
        photos,
        total,
        owner_name,
        media_access,
    } = screen;
    let sections = group_by_month(&buckets, photos);
    let shown: u64 = sections.iter().map(|(_, cells)| cells.len() as u64).sum();
    // How many photos of each leading month the server draws: the island leaves those to the
    // server's grid until they scroll out of reach.
    let first_screen: Vec<u64> = sections
        .iter()
        .map(|(_, cells)| cells.len() as u64)
        .collect();
    let months = buckets.len();
    view! {
        <div class="timeline">
            <div class="timeline-head">
                <h1>{owner_name.map(|name| format!("{name}’s library")).unwrap_or_default()}</h1>
                <p class="summary" data-total=total>
                    <span data-live-count="photos">{photo_count(total)}</span>
                    " in "
                    <span data-live-months="">{month_count(months)}</span>
                </p>
                <crate::upload::Uploader />
                // Inside the head: the page's grid places its other children by area.
                <crate::live::LiveUpdates topics=vec![crate::live::Topic::Library] notice=false />
            </div>
            <VirtualTimeline buckets media_access first_screen>
                <div class="sections">
                    {sections
                        .into_iter()
                        .enumerate()
                        .map(|(position, (bucket, cells))| {
                            view! { <MonthSection bucket cells eager=position == 0 /> }
                        })
                        .collect_view()}
                    <p class="shown" data-shown=shown>
                        "Showing the newest " {photo_count(shown)} ". "
                        <a href="/search">"Search"</a>
                        " finds the others by date, camera or name."
                    </p>
                </div>
            </VirtualTimeline>
        </div>
    }
}

/// `12 months`, `1 month`.
pub(crate) fn month_count(months: usize) -> String {
    if months == 1 {
        "1 month".into()
    } else {
        format!("{} months", crate::format::thousands(months as u64))
    }
}

/// Cells of the first screen that load their thumbnail at once: about a phone's or a laptop's
/// first view. Later ones wait until they come near (`loading="lazy"`).
pub(crate) const EAGER_CELLS: usize = 24;

#[component]
fn MonthSection(bucket: MonthBucket, cells: Vec<PhotoCell>, eager: bool) -> impl IntoView {
    let section_id = format!("m-{}", bucket.key());
    let label = month_label(bucket.year, bucket.month);
    let heading = label.clone();
    view! {
        <section class="month" id=section_id aria-label=label>
            <h2>{heading} <span class="count">{photo_count(bucket.count)}</span></h2>
            <ul class="grid">
                {cells
                    .into_iter()
                    .enumerate()
                    .map(|(index, cell)| {
                        view! { <Cell cell eager=eager && index < EAGER_CELLS /> }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// One square of a grid: the placeholder colour, a link to the photo page named after the file
/// and the day, and, for the owner, the heart. Six elements, so a screen of them stays light.
#[component]
pub(crate) fn Cell(
    cell: PhotoCell,
    #[prop(default = true)] owned: bool,
    #[prop(default = false)] eager: bool,
) -> impl IntoView {
    let [r, g, b] = cell.placeholder_rgb;
    let description = cell_name(&cell.file_name, cell.taken_at);
    let thumbnail = thumbnail(cell.media.as_deref(), eager);
    view! {
        <li
            class="cell"
            data-photo-id=cell.id
            style=format!("background-color:rgb({r},{g},{b})")
        >
            {if owned {
                view! {
                    <a
                        class="cell-link"
                        href=photo_href(cell.id)
                        aria-label=description.clone()
                        title=description
                    >
                        {thumbnail}
                    </a>
                    <FavouriteForm photo_id=cell.id favourite=cell.favourite />
                }
                    .into_any()
            } else {
                view! {
                    <span class="cell-link" role="img" aria-label=description.clone() title=description>
                        {thumbnail}
                    </span>
                }
                    .into_any()
            }}
        </li>
    }
}

/// A cell's thumbnail, once its derivatives exist, at twice the size on high-density screens.
/// Every browser in use decodes WebP; one `<img>` instead of a `<picture>` with a JPEG source
/// keeps the grid at half the elements.
pub(crate) fn thumbnail(media: Option<&str>, eager: bool) -> Option<impl IntoView> {
    media.map(|key| {
        view! {
            <img
                class="thumb"
                src=media_url(key, "thumb.webp")
                srcset=format!("{} 2x", media_url(key, crate::model::THUMB_2X))
                alt=""
                width="256"
                height="256"
                loading=if eager { "eager" } else { "lazy" }
                decoding="async"
            />
        }
    })
}

/// What a cell is called, for people and for screen readers: `IMG_0042.JPG, 3 November 2026`.
pub(crate) fn cell_name(file_name: &str, taken_at: i64) -> String {
    format!("{file_name}, {}", day_label(taken_at))
}

/// The photo page of `id`.
pub fn photo_href(id: PhotoId) -> String {
    format!("/p/{id}")
}

/// Toggles a photo's favourite flag with a plain form, for browsers without JavaScript; the
/// timeline island answers these forms itself, at once. The button carries the new value as
/// its own name and value, which a form submits with the button that sent it.
#[component]
pub(crate) fn FavouriteForm(photo_id: PhotoId, favourite: bool) -> impl IntoView {
    view! {
        <form class="fav-form" method="post" action=SetFavourite::url()>
            <input type="hidden" name="photo_id" value=photo_id />
            <button
                type="submit"
                class="fav"
                name="favourite"
                value=(!favourite).to_string()
                aria-pressed=favourite.to_string()
                aria-label=favourite_label(favourite)
            ></button>
        </form>
    }
}

/// What the heart button does next.
pub(crate) fn favourite_label(favourite: bool) -> &'static str {
    if favourite {
        "Remove from favourites"
    } else {
        "Add to favourites"
    }
}

#[component]
fn EmptyLibrary() -> impl IntoView {
    view! {
        <section class="notice">
            <h1>"Your library is empty"</h1>
            <p>
                "Upload photos, import a folder with " <code>"flashbulb import DIR"</code>
                ", or add a demo library with " <code>"flashbulb seed --photos 5000"</code> "."
            </p>
            <crate::upload::Uploader />
        </section>
    }
}

/// Why a page could not be shown. `missing` says, in the page's own words, what a "not found"
/// means there (a deleted album, a share link that was stopped) instead of the bare code.
#[component]
pub(crate) fn LoadFailed(
    error: ApiError,
    #[prop(default = "The timeline could not be loaded")] title: &'static str,
    #[prop(optional)] missing: Option<(&'static str, &'static str)>,
) -> impl IntoView {
    set_error_status(&error);
    if let (ApiError::NotFound, Some((title, explanation))) = (&error, missing) {
        return view! {
            <section class="notice error" role="alert">
                <h1>{title}</h1>
                <p>{explanation}</p>
            </section>
        }
        .into_any();
    }
    let title = if error == ApiError::NotFound {
        "Not found"
    } else {
        title
    };
    view! {
        <section class="notice error" role="alert">
            <h1>{title}</h1>
            <p>{error.to_string()} " (" <code>{error.code()}</code> ")"</p>
        </section>
    }
    .into_any()
}

/// Gives the page the status its error means: it tells the truth to crawlers and scripts
/// too (a missing photo is a 404). Only effective before the response starts streaming.
pub(crate) fn set_error_status(error: &ApiError) {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                response.set_status(status);
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = error;
}

/// Splits the newest photos (newest first) into the month sections they belong to.
fn group_by_month(
    buckets: &[MonthBucket],
    photos: Vec<PhotoCell>,
) -> Vec<(MonthBucket, Vec<PhotoCell>)> {
    let mut sections: Vec<(MonthBucket, Vec<PhotoCell>)> = Vec::new();
    for photo in photos {
        let (year, month, _) = crate::format::civil_date(photo.taken_at);
        match sections.last_mut() {
            Some((bucket, cells)) if bucket.year == year && bucket.month == month => {
                cells.push(photo)
            }
            _ => {
                let bucket = buckets
                    .iter()
                    .find(|bucket| bucket.year == year && bucket.month == month)
                    .copied()
                    .unwrap_or(MonthBucket {
                        year,
                        month,
                        count: 0,
                    });
                sections.push((bucket, vec![photo]));
            }
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: PhotoId, taken_at: i64) -> PhotoCell {
        PhotoCell {
            id,
            file_name: format!("IMG_{id}.JPG"),
            taken_at,
            width: 4,
            height: 3,
            favourite: false,
            placeholder_rgb: [0, 0, 0],
            media: None,
        }
    }

    #[test]
    fn photos_are_grouped_into_their_months_in_order() {
        let nov = MonthBucket {
            year: 2026,
            month: 11,
            count: 2,
        };
        let oct = MonthBucket {
            year: 2026,
            month: 10,
            count: 7,
        };
        let photos = vec![
            cell(3, 1_795_996_799), // 29 Nov 2026, last second
            cell(2, 1_793_491_200), // 1 Nov 2026, first second
            cell(1, 1_793_491_199), // 31 Oct 2026, last second
        ];
        let sections = group_by_month(&[nov, oct], photos);
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].0, nov);
        assert_eq!(
            sections[0].1.iter().map(|c| c.id).collect::<Vec<_>>(),
            [3, 2]
        );
        assert_eq!(sections[1].0, oct);
        assert_eq!(sections[1].1[0].id, 1);
    }
}
