//! Search `/search`: file name, camera, lens, date range and album, combined; results stream in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    error::ApiError,
    format::{encode_component, iso_day, parse_day, photo_count, thousands},
    listing::{with_after, NextPage, PhotoGrid},
    model::{AlbumId, SearchFacets, SearchQuery, SearchResults, PHOTO_EXPORT_PATH},
    timeline::LoadFailed,
};

pub const SEARCH_PAGE_PHOTOS: u32 = 120;

/// The search form's fields as the URL carries them; empty fields mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SearchForm {
    pub q: Option<String>,
    pub camera: Option<String>,
    pub lens: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub album: Option<String>,
}

impl SearchForm {
    /// Checks every field; the error names the field and what it expects.
    pub fn parse(&self) -> Result<SearchQuery, ApiError> {
        fn given(field: &Option<String>) -> Option<&str> {
            field
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
        }
        let bad = |message: String| ApiError::BadRequest(message);
        let text = given(&self.q).map(str::to_string);
        if let Some(text) = &text {
            let length = text.chars().count();
            if length < SearchQuery::MIN_TEXT {
                return Err(bad(format!(
                    "type at least {} characters of a file name",
                    SearchQuery::MIN_TEXT
                )));
            }
            if length > SearchQuery::MAX_TEXT {
                return Err(bad(format!(
                    "a file name has at most {} characters",
                    SearchQuery::MAX_TEXT
                )));
            }
        }
        let bounded = |field: &Option<String>, name: &str| -> Result<Option<String>, ApiError> {
            match given(field) {
                Some(value) if value.chars().count() > SearchQuery::MAX_TEXT => {
                    Err(bad(format!("the {name} is too long")))
                }
                value => Ok(value.map(str::to_string)),
            }
        };
        let day = |field: &Option<String>, name: &str| -> Result<Option<i64>, ApiError> {
            given(field)
                .map(|text| {
                    parse_day(text)
                        .ok_or_else(|| bad(format!("{name} {text:?} is not a day like 2026-11-24")))
                })
                .transpose()
        };
        let from = day(&self.from, "from")?;
        let to = day(&self.to, "to")?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(bad("the first day comes after the last".into()));
            }
        }
        let album = given(&self.album)
            .map(|text| {
                text.parse::<AlbumId>()
                    .map_err(|_| bad(format!("album {text:?} is not an album id")))
            })
            .transpose()?;
        Ok(SearchQuery {
            text,
            camera: bounded(&self.camera, "camera")?,
            lens: bounded(&self.lens, "lens")?,
            from,
            to,
            album,
        })
    }

    /// `/search?q=…&camera=…`, the fields in a stable order, empty ones left out.
    pub fn href(&self) -> String {
        let fields = [
            ("q", &self.q),
            ("camera", &self.camera),
            ("lens", &self.lens),
            ("from", &self.from),
            ("to", &self.to),
            ("album", &self.album),
        ];
        let query: Vec<String> = fields
            .iter()
            .filter_map(|(name, value)| {
                let value = value.as_deref()?.trim();
                (!value.is_empty()).then(|| format!("{name}={}", encode_component(value)))
            })
            .collect();
        format!("/search?{}", query.join("&"))
    }
}

#[server(prefix = "/api", endpoint = "search")]
pub async fn search_photos(
    form: SearchForm,
    after: Option<String>,
) -> Result<SearchResults, ApiError> {
    let query = form.parse()?;
    let after = crate::model::Cursor::parse_argument(after.as_deref())?;
    let (library, owner) = crate::backend::owner_library().await?;
    library
        .search(owner, &query, after, SEARCH_PAGE_PHOTOS)
        .await
}

#[server(prefix = "/api", endpoint = "search_facets")]
pub async fn load_search_facets() -> Result<SearchFacets, ApiError> {
    let (library, owner) = crate::backend::owner_library().await?;
    library.search_facets(owner).await
}

fn form_of(query: &leptos_router::params::ParamsMap) -> SearchForm {
    SearchForm {
        q: query.get("q"),
        camera: query.get("camera"),
        lens: query.get("lens"),
        from: query.get("from"),
        to: query.get("to"),
        album: query.get("album"),
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let form = move || query.with(form_of);
    // Criteria are checked before anything is sent, so a bad one still gets its 400.
    let checked = query.with_untracked(|query| {
        form_of(query).parse()?;
        crate::model::Cursor::parse_argument(query.get_str("after"))
    });
    if let Err(error) = checked {
        crate::timeline::set_error_status(&error);
    }
    let facets = Resource::new_blocking(|| (), |_| load_search_facets());
    // Not blocking: the page streams up to the form at once and the results follow in the
    // same response when the database has them.
    let results = Resource::new(
        move || (form(), query.read().get("after")),
        |(form, after)| async move {
            match form.parse() {
                Ok(parsed) if parsed.is_empty() => Ok(None),
                _ => search_photos(form, after).await.map(Some),
            }
        },
    );
    view! {
        <Title text="Search" />
        <div class="listing search">
            <div class="timeline-head">
                <h1>"Search"</h1>
                <p class="muted">
                    "Or take every photo's details with you: "
                    <a href=PHOTO_EXPORT_PATH download>"export the library as CSV"</a>
                </p>
            </div>
            // Two boundaries, streamed in order: the form (with the library's cameras, lenses
            // and albums) is sent and painted before the results are found and counted.
            <Suspense fallback=|| view! { <p class="muted">"Loading the search form…"</p> }>
                {move || Suspend::new(async move {
                    let facets = facets.await.unwrap_or_default();
                    view! { <SearchFields facets form=form() /> }
                })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="muted" role="status">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(Some(results)) => view! { <Results results form=form() /> }.into_any(),
                        Ok(None) => view! {
                            <p class="notice">
                                "Find photos by part of their file name, the camera or lens, "
                                "a range of days or an album. Combine as many as you like."
                            </p>
                        }.into_any(),
                        Err(error) => view! { <LoadFailed error title="The search could not run" /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn SearchFields(facets: SearchFacets, form: SearchForm) -> impl IntoView {
    let choice = |values: Vec<(String, String)>, chosen: Option<String>| {
        values
            .into_iter()
            .map(|(value, label)| {
                let selected = chosen.as_deref() == Some(value.as_str());
                view! { <option value=value selected=selected>{label}</option> }
            })
            .collect_view()
    };
    let pairs = |values: Vec<String>| -> Vec<(String, String)> {
        values
            .into_iter()
            .map(|value| (value.clone(), value))
            .collect()
    };
    let albums: Vec<(String, String)> = facets
        .albums
        .into_iter()
        .map(|album| (album.id.to_string(), album.title))
        .collect();
    // Dates come back as typed; an unparsable one is shown so it can be corrected.
    let day_value =
        |value: Option<String>| value.map(|text| parse_day(&text).map(iso_day).unwrap_or(text));
    view! {
        <form class="search-form" method="get" action="/search" role="search">
            <label class="wide">
                <span>"File name"</span>
                <input type="search" name="q" value=form.q minlength=SearchQuery::MIN_TEXT
                    maxlength=SearchQuery::MAX_TEXT placeholder="IMG_0042" autocomplete="off" />
            </label>
            <label>
                <span>"Camera"</span>
                <select name="camera">
                    <option value="">"Any camera"</option>
                    {choice(pairs(facets.cameras), form.camera)}
                </select>
            </label>
            <label>
                <span>"Lens"</span>
                <select name="lens">
                    <option value="">"Any lens"</option>
                    {choice(pairs(facets.lenses), form.lens)}
                </select>
            </label>
            <label>
                <span>"Album"</span>
                <select name="album">
                    <option value="">"Any album"</option>
                    {choice(albums, form.album)}
                </select>
            </label>
            <label>
                <span>"From"</span>
                <input type="date" name="from" value=day_value(form.from) />
            </label>
            <label>
                <span>"To"</span>
                <input type="date" name="to" value=day_value(form.to) />
            </label>
            <button type="submit" class="button">"Search"</button>
        </form>
    }
}

#[component]
fn Results(results: SearchResults, form: SearchForm) -> impl IntoView {
    let SearchResults {
        page,
        total_is_lower_bound,
    } = results;
    let summary = if total_is_lower_bound {
        format!("More than {} photos", thousands(SearchResults::COUNT_LIMIT))
    } else {
        photo_count(page.total)
    };
    let empty = page.photos.is_empty();
    view! {
        <p class="summary results-summary" data-total=page.total>{summary}</p>
        {empty.then(|| view! { <p class="notice">"No photo matches. Try fewer or broader criteria."</p> })}
        <PhotoGrid photos=page.photos />
        <NextPage href=page.next.map(|cursor| with_after(&form.href(), cursor)) label="More results" />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(q: &str, from: &str, to: &str, album: &str) -> SearchForm {
        let some = |text: &str| Some(text.to_string());
        SearchForm {
            q: some(q),
            camera: None,
            lens: None,
            from: some(from),
            to: some(to),
            album: some(album),
        }
    }

    #[test]
    fn empty_fields_mean_any() {
        let parsed = form(" ", "", "", "").parse();
        assert_eq!(parsed, Ok(SearchQuery::default()));
        assert!(SearchForm::default()
            .parse()
            .is_ok_and(|query| query.is_empty()));
    }

    #[test]
    fn every_field_is_checked() {
        assert!(form("ab", "", "", "").parse().is_err());
        assert!(form(&"x".repeat(201), "", "", "").parse().is_err());
        assert!(form("", "2026-02-30", "", "").parse().is_err());
        assert!(form("", "2026-03-02", "2026-03-01", "").parse().is_err());
        assert!(form("", "", "", "seven").parse().is_err());
        let parsed = form(" IMG_1 ", "2026-03-01", "2026-03-01", "7").parse();
        assert_eq!(
            parsed,
            Ok(SearchQuery {
                text: Some("IMG_1".into()),
                from: parse_day("2026-03-01"),
                to: parse_day("2026-03-01"),
                album: Some(7),
                ..SearchQuery::default()
            })
        );
    }

    #[test]
    fn links_carry_only_given_fields_encoded() {
        let mut form = form("a b&c", "", "", "");
        form.camera = Some("X-T5".into());
        assert_eq!(form.href(), "/search?q=a%20b%26c&camera=X-T5");
    }
}
