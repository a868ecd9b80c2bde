//! `POST /api/vitals`: takes the beacon every page sends when hidden; refuses anything
//! oversized, of another type, too frequent (and, through `flashbulb_core::vitals`, malformed or
//! implausible) with its reason; counts the rest.

use app::vitals::MAX_BEACON_BYTES;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
};
use flashbulb_core::{
    vitals::{parse, record},
    CoreError, CoreResult,
};
use flashbulb_types::ApiError;

use crate::state::AppState;
use crate::WebError;

/// `POST /api/vitals`: 204 when counted; 400, 413, 415, 422 or 429 (with the reason) when not.
pub(crate) async fn ingest(
    State(state): State<AppState>,
    request: Request,
) -> Result<StatusCode, WebError> {
    let outcome = accept(&state, request).await;
    state.metrics.record_beacon(match &outcome {
        Ok(()) => "accepted",
        Err(CoreError::Refused(ApiError::RateLimited)) => "rate_limited",
        Err(CoreError::Refused(ApiError::TooLarge(_))) => "too_large",
        Err(CoreError::Refused(ApiError::UnsupportedMediaType(_))) => "unsupported_media_type",
        Err(CoreError::Refused(ApiError::BadRequest(_))) => "malformed",
        Err(_) => "failed",
    });
    Ok(outcome.map(|()| StatusCode::NO_CONTENT)?)
}

async fn accept(state: &AppState, request: Request) -> CoreResult<()> {
    let sender = state.access.client_address(&request);
    if !state.vitals.allow(sender) {
        return Err(ApiError::RateLimited.into());
    }
    check_content_type(request.headers())?;
    let body = axum::body::to_bytes(request.into_body(), MAX_BEACON_BYTES)
        .await
        .map_err(|_| {
            CoreError::Refused(ApiError::TooLarge(format!(
                "a beacon is at most {MAX_BEACON_BYTES} bytes"
            )))
        })?;
    let beacon = parse(&body)?;
    record(&state.db, &beacon, flashbulb_store::now() / 60).await?;
    state.vitals.mark_changed();
    Ok(())
}

/// `sendBeacon` sends a string as `text/plain` and a JSON blob as `application/json`.
fn check_content_type(headers: &HeaderMap) -> CoreResult<()> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("text/plain")
    {
        Ok(())
    } else {
        Err(
            ApiError::UnsupportedMediaType("a beacon is application/json or text/plain".into())
                .into(),
        )
    }
}
