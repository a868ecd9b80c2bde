//! `GET /media/{access}/{key}/{variant}`: derivatives at content-addressed URLs. The key is the
//! first 8 bytes of the original's SHA-256, so a response never changes and is cached for a
//! year; the access is the owner's signed grant (see [`super::signing`]), checked without a
//! cookie.

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::{error::ServerResult, pipeline::VARIANTS, state::AppState, storage, ServerError};

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{access}/{key}/{variant}", get(derivative))
}

async fn derivative(
    State(state): State<AppState>,
    Path((access, key_hex, variant)): Path<(String, String, String)>,
    request: Request,
) -> ServerResult<Response> {
    if !VARIANTS.contains(&variant.as_str()) {
        return Err(ServerError::NotFound);
    }
    let key = parse_key(&key_hex).ok_or(ServerError::NotFound)?;
    let owner = state.media.verify(&access).await?;
    // Only the owner's photos are served. The key is a prefix of the hash: a range of the
    // UNIQUE (owner_id, sha256) index finds it. A demo photo shows its shared picture's files.
    let query = match next_prefix(key) {
        Some(upper) => sqlx::query_scalar(
            "SELECT coalesce(derivatives_of, sha256) FROM photos
             WHERE owner_id = $1 AND sha256 >= $2 AND sha256 < $3 AND media_key = $4 LIMIT 1",
        )
        .bind(owner)
        .bind(key.to_vec())
        .bind(upper.to_vec()),
        None => sqlx::query_scalar(
            "SELECT coalesce(derivatives_of, sha256) FROM photos
             WHERE owner_id = $1 AND sha256 >= $2 AND $3 IS NOT NULL AND media_key = $4 LIMIT 1",
        )
        .bind(owner)
        .bind(key.to_vec())
        .bind(key.to_vec()),
    };
    let sha: Option<Vec<u8>> = query.bind(key.to_vec()).fetch_optional(&state.db).await?;
    let sha = sha.ok_or(ServerError::NotFound)?;
    let path = storage::derivative_path(&state.config.data_dir, &sha, &variant);
    let mut response = ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|error| ServerError::Internal(error.into()))?
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

/// The smallest 8-byte string after every hash that starts with `key`; `None` past the end.
fn next_prefix(key: [u8; 8]) -> Option<[u8; 8]> {
    u64::from_be_bytes(key).checked_add(1).map(u64::to_be_bytes)
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
        assert_eq!(
            next_prefix([0, 0, 0, 0, 0, 0, 0, 0xff]),
            Some([0, 0, 0, 0, 0, 0, 1, 0])
        );
        assert_eq!(next_prefix([0xff; 8]), None);
    }
}
