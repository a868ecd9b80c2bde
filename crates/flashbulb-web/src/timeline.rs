//! The timeline's HTTP side: bucket segments in the columnar encoding, for the months the
//! page's island scrolls to. The statements are the store's (`flashbulb_store::timeline`).

use axum::{
    extract::{Path, Query, State},
    http::header,
    response::IntoResponse,
};
use flashbulb_core::CoreError;
use flashbulb_types::ApiError;
use serde::Deserialize;

use crate::WebResult;
use crate::{access::SignedIn, state::AppState};

/// Photos per segment when the client does not say.
pub const DEFAULT_SEGMENT: u32 = 500;
/// Upper bound of one segment: keeps a response (and its query) small.
pub const MAX_SEGMENT: u32 = 5_000;

pub const SEGMENT_CONTENT_TYPE: &str = "application/vnd.flashbulb.segment";

#[derive(Debug, Deserialize)]
pub(crate) struct SegmentQuery {
    #[serde(default)]
    offset: u32,
    limit: Option<u32>,
}

/// `GET /api/timeline/buckets/{yyyy-mm}?offset=&limit=`: one segment of one month.
pub(crate) async fn get_bucket_segment(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    Path(month): Path<String>,
    query: Result<Query<SegmentQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<impl IntoResponse> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let month = parse_month(&month)?;
    let limit = query.limit.unwrap_or(DEFAULT_SEGMENT);
    if limit == 0 || limit > MAX_SEGMENT {
        return Err(CoreError::Refused(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_SEGMENT}"
        )))
        .into());
    }
    let owner = viewer.id;
    let segment =
        flashbulb_store::timeline::bucket_segment(&state.db, owner, month, query.offset, limit)
            .await?;
    Ok((
        [
            (header::CONTENT_TYPE, SEGMENT_CONTENT_TYPE),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        segment.encode(),
    ))
}

/// `2026-11` → (2026, 11); anything else is a 400 that says what was expected.
pub fn parse_month(text: &str) -> flashbulb_core::CoreResult<(i32, u8)> {
    let invalid = || {
        CoreError::Refused(ApiError::BadRequest(format!(
            "{text:?} is not a month like 2026-11"
        )))
    };
    let (year, month) = text.split_once('-').ok_or_else(invalid)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let month: u8 = month.parse().map_err(|_| invalid())?;
    if !(1..=12).contains(&month) || year < 1 {
        return Err(invalid());
    }
    Ok((year, month))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(parse_month("2026-11").ok(), Some((2026, 11)));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026_11",
            "",
            "-",
            "abcd-ef",
            "2026-11-01",
        ] {
            assert!(parse_month(bad).is_err(), "{bad:?} accepted");
        }
    }
}
