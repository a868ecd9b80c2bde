//! `GET /media/{access}/{key}/{variant}`: derivatives at content-addressed URLs. The key is the
//! first 8 bytes of the original's SHA-256, so a response never changes and is cached for a
//! year; the access is the owner's signed grant (see [`flashbulb_core::media`]), checked
//! without a cookie. Small derivatives are answered from memory once read (the cache's, under
//! their owner, so the owner's next write drops them with the pages: a deleted photo's are
//! never served from memory after the write that deleted it). A size a photo lacks (derived
//! by an earlier version, or too small for it) is answered by the size it has, `no-cache`.
//! Browsers keep an answer for a year; shared caches (the nginx edge, a CDN) only until the
//! URL expires (`s-maxage`), so no edge serves a signed URL past its expiry.

use std::sync::LazyLock;

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use flashbulb_core::{
    files::{FileStore, Small, Stored},
    media::Grant,
    pipeline::VARIANTS,
    storage,
};
use flashbulb_types::{model::UserId, ApiError};

use crate::state::AppState;
use crate::WebResult;

/// Derivatives up to this size are kept in the cache's memory once read (a thumbnail is a few
/// kilobytes, a preview a few hundred); larger ones stream from where the files are each time.
pub const MAX_REMEMBERED_BYTES: u64 = 1024 * 1024;
/// The URL names the content: a response never changes. Browsers keep it for a year; shared
/// caches until the URL's expiry, after which it must be refused everywhere.
fn immutable_until_expiry(grant: Grant) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "public, max-age=31536000, immutable, s-maxage={}",
        grant.seconds_left()
    ))
    .unwrap_or(HeaderValue::from_static("no-cache"))
}

pub(crate) async fn derivative(
    State(state): State<AppState>,
    Path((access, key_hex, variant)): Path<(String, String, String)>,
    request: Request,
) -> WebResult<Response> {
    let Some(variant) = VARIANTS.iter().find(|known| **known == variant) else {
        return Err(ApiError::NotFound.into());
    };
    let key = parse_key(&key_hex).ok_or(ApiError::NotFound)?;
    let grant = state.media.verify(&access).await?;
    let owner = grant.owner;
    // Ranges, and whatever is not in memory, are streamed from where the files are.
    if !request.headers().contains_key(header::RANGE) {
        let name = format!("media {key_hex} {variant}");
        let remembered = state
            .cache
            .get_or_load_here(owner, &name, || read_small(&state, owner, key, variant))
            .await;
        match remembered {
            Ok(bytes) => {
                return Ok(from_memory(
                    &key_hex,
                    variant,
                    bytes,
                    grant,
                    request.headers(),
                ))
            }
            // Found but not kept: no second lookup to stream it.
            Err(not) => {
                if let NotRemembered::Stored(sha) = &*not {
                    return serve_derivative(&state, sha, variant, grant, request).await;
                }
            }
        }
    }
    let sha = derivatives_of(&state, owner, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    serve_derivative(&state, &sha, variant, grant, request).await
}

/// The variant whose file answers for `variant` when a photo has none: photos derived before
/// the high-density thumbnail and the other preview widths existed, and originals too small
/// for them. Pages name those files from the photo's size alone; the stand-in shows the same
/// picture at the size there is. AVIF has none: pages name it only when it exists.
fn stand_in(variant: &str) -> Option<&'static str> {
    match variant {
        flashbulb_core::pipeline::THUMB_2X => Some("thumb.webp"),
        "preview-720.webp" | "preview-2560.webp" => Some("preview.webp"),
        _ => None,
    }
}

/// [`serve_stored`], or the stand-in's file when the variant's is missing, sent `no-cache`:
/// the photo's next derivation may make the real one under the same address.
async fn serve_derivative(
    state: &AppState,
    sha: &[u8],
    variant: &str,
    grant: Grant,
    request: Request,
) -> WebResult<Response> {
    let files = &state.settings.files;
    if let Some(stand_in) = stand_in(variant) {
        let has_own = files
            .exists(Stored::Derivative(sha, variant))
            .await
            .unwrap_or(true);
        if !has_own {
            let mut response =
                serve_stored(files, Stored::Derivative(sha, stand_in), grant, request).await?;
            if response.status().is_success() {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            }
            return Ok(response);
        }
    }
    serve_stored(files, Stored::Derivative(sha, variant), grant, request).await
}

/// Why a derivative was not kept in memory; it is streamed instead.
#[derive(Debug)]
enum NotRemembered {
    /// No photo of the owner's has the key, or the database could not say: the lookup is
    /// made again, and answers with the status it deserves.
    Unknown,
    /// Too large to keep, missing, or unreadable now: streamed from where the files are (or
    /// answered with why not), the content's SHA-256 known.
    Stored(Vec<u8>),
}

/// The whole derivative, if it is one of the owner's photos and small enough to keep.
async fn read_small(
    state: &AppState,
    owner: UserId,
    key: [u8; 8],
    variant: &str,
) -> Result<Bytes, NotRemembered> {
    let sha = derivatives_of(state, owner, key)
        .await
        .ok()
        .flatten()
        .ok_or(NotRemembered::Unknown)?;
    match state
        .settings
        .files
        .read_small(Stored::Derivative(&sha, variant), MAX_REMEMBERED_BYTES)
        .await
    {
        Ok(Small::Bytes(bytes)) => Ok(bytes),
        _ => Err(NotRemembered::Stored(sha)),
    }
}

/// The SHA-256 naming `owner`'s derivatives of media key `key`; `None` when no photo of
/// theirs has that key.
async fn derivatives_of(
    state: &AppState,
    owner: UserId,
    key: [u8; 8],
) -> WebResult<Option<Vec<u8>>> {
    // Only the owner's photos are served.
    Ok(flashbulb_store::photos::derivatives_by_media_key(&state.db, owner, key).await?)
}

/// A derivative already in memory, answered as [`derivative`] answers it; `None` for
/// anything else. For the hot path, which calls it before routing (and so also while the
/// database is away: what is in memory needs none).
pub(crate) async fn remembered(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let mut segments = path.strip_prefix("/media/")?.split('/');
    let (access, key_hex, variant) = (segments.next()?, segments.next()?, segments.next()?);
    if segments.next().is_some() || headers.contains_key(header::RANGE) {
        return None;
    }
    let variant = VARIANTS.iter().find(|known| **known == variant)?;
    parse_key(key_hex)?;
    let grant = state.media.verify(access).await.ok()?;
    let name = format!("media {key_hex} {variant}");
    let bytes = state.cache.peek(grant.owner, &name).await?;
    Some(from_memory(key_hex, variant, bytes, grant, headers))
}

/// A remembered derivative, with 304 when the browser names its ETag.
fn from_memory(
    key_hex: &str,
    variant: &str,
    bytes: Bytes,
    grant: Grant,
    request: &HeaderMap,
) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{key_hex}-{variant}-{}\"", bytes.len()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|listed| crate::pages::etag_matches(listed, &etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = HeaderValue::from(bytes.len());
        let mut response = Response::new(Body::from(bytes));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, length);
        if let Some(content_type) = content_type(variant) {
            headers.insert(header::CONTENT_TYPE, content_type);
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, immutable_until_expiry(grant));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// The content type of a variant, guessed once per process rather than once per answer.
fn content_type(variant: &str) -> Option<HeaderValue> {
    static TYPES: LazyLock<Vec<(&str, HeaderValue)>> = LazyLock::new(|| {
        VARIANTS
            .iter()
            .filter_map(|variant| {
                let mime = mime_guess::from_path(variant).first_or_octet_stream();
                Some((*variant, HeaderValue::from_str(mime.as_ref()).ok()?))
            })
            .collect()
    });
    TYPES
        .iter()
        .find(|(known, _)| *known == variant)
        .map(|(_, content_type)| content_type.clone())
}

/// The stored file's answer: ranges, conditional requests, large files, and the 404s.
async fn serve_stored(
    files: &FileStore,
    file: Stored<'_>,
    grant: Grant,
    request: Request,
) -> WebResult<Response> {
    let mut response = crate::stored::answer(files, file, request)
        .await?
        .ok_or(ApiError::NotFound)?;
    if response.status().is_success() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, immutable_until_expiry(grant));
    }
    Ok(response)
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
