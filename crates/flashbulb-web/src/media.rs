//! `GET /media/{access}/{key}/{variant}`: derivatives at content-addressed URLs. The key is the
//! first 8 bytes of the original's SHA-256, so a response never changes and is cached for a
//! year; the access is the owner's signed grant (see [`flashbulb_core::media`]), checked
//! without a cookie.

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use flashbulb_core::{pipeline::VARIANTS, storage, CoreError};
use flashbulb_types::ApiError;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::state::AppState;
use crate::WebResult;

pub(crate) async fn derivative(
    State(state): State<AppState>,
    Path((access, key_hex, variant)): Path<(String, String, String)>,
    request: Request,
) -> WebResult<Response> {
    if !VARIANTS.contains(&variant.as_str()) {
        return Err(ApiError::NotFound.into());
    }
    let key = parse_key(&key_hex).ok_or(ApiError::NotFound)?;
    let owner = state.media.verify(&access).await?;
    // Only the owner's photos are served.
    let sha = flashbulb_store::photos::derivatives_by_media_key(&state.db, owner, key).await?;
    let sha = sha.ok_or(ApiError::NotFound)?;
    let path = storage::derivative_path(&state.settings.data_dir, &sha, &variant);
    let mut response = ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|error| CoreError::Internal(error.into()))?
        .map(Body::new);
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    Ok(response.into_response())
}

/// 16 lower-case hex digits, exactly: one address per content.
fn parse_key(hex: &str) -> Option<[u8; 8]> {
    if hex.len() != 16 {
        return None;
    }
    let mut bytes = [0u8; 8];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    (storage::hex(&bytes) == hex).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lower_case_full_keys_are_addresses() {
        let hex = "ab".repeat(8);
        assert_eq!(parse_key(&hex), Some([0xab; 8]));
        assert_eq!(parse_key(&hex.to_uppercase()), None);
        assert_eq!(parse_key(&hex[..14]), None);
        assert_eq!(parse_key(&format!("{}zz", &hex[..14])), None);
        assert_eq!(parse_key("../../etc/passwd"), None);
    }
}
