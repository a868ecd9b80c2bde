//! Answers with a stored file's bytes: from the data folder through the file service (ranges,
//! conditional requests, large files), or streamed from object storage with one byte range
//! (`Range: bytes=a-b`, `a-` or `-n`; a list of ranges gets the whole file, as RFC 9110
//! allows).

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use flashbulb_core::{
    files::{FileStore, Span, Stored},
    CoreError,
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::WebResult;

/// The file's answer, `None` when it is not stored. The caller adds its own headers (type,
/// caching, tags) to a successful one.
pub(crate) async fn answer(
    files: &FileStore,
    file: Stored<'_>,
    request: Request,
) -> WebResult<Option<Response>> {
    if let Some(path) = files.local_path(file) {
        if !tokio::fs::try_exists(&path).await.unwrap_or(true) {
            return Ok(None);
        }
        let response = ServeFile::new(path)
            .oneshot(request)
            .await
            .map_err(|error| CoreError::Internal(error.into()))?
            .map(Body::new);
        return Ok(Some(response.into_response()));
    }
    let span = requested_span(request.headers());
    let streamed = match files.stream(file, span).await {
        Ok(Some(streamed)) => streamed,
        Ok(None) => return Ok(None),
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
            let size = files
                .stream(file, Span::Whole)
                .await
                .map_err(CoreError::from_io)?
                .map_or(0, |whole| whole.size);
            let mut refused = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(range) = HeaderValue::from_str(&format!("bytes */{size}")) {
                refused.headers_mut().insert(header::CONTENT_RANGE, range);
            }
            return Ok(Some(refused));
        }
        Err(error) => return Err(CoreError::from_io(error).into()),
    };
    let length = streamed.range.end - streamed.range.start;
    let partial = span != Span::Whole;
    let mut response = Response::new(Body::from_stream(streamed.body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(content_type) = mime_guess::from_path(file_name(file))
        .first()
        .and_then(|mime| HeaderValue::from_str(mime.as_ref()).ok())
    {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    if partial {
        let range = format!(
            "bytes {}-{}/{}",
            streamed.range.start,
            streamed.range.end.saturating_sub(1),
            streamed.size
        );
        if let Ok(range) = HeaderValue::from_str(&range) {
            headers.insert(header::CONTENT_RANGE, range);
        }
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(Some(response))
}

/// The last part of the file's name, for its type.
fn file_name(file: Stored<'_>) -> &str {
    match file {
        Stored::Derivative(_, variant) => variant,
        Stored::Original(_) => "",
    }
}

/// The one byte range a request asks for; anything else (none, several, malformed, another
/// unit) is the whole file.
fn requested_span(headers: &HeaderMap) -> Span {
    let Some(value) = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
    else {
        return Span::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Span::Whole;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Span::Whole;
    };
    let number = |text: &str| {
        (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
    };
    match (number(start), number(end)) {
        (Some(start), None) if end.is_empty() => Span::From(start),
        (None, Some(count)) if start.is_empty() && count > 0 => Span::Last(count),
        (Some(start), Some(last)) if start <= last => Span::Between(start, last.saturating_add(1)),
        _ => Span::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_well_formed_range_is_honoured_and_anything_else_is_the_whole_file() {
        let span = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::RANGE, HeaderValue::from_str(value).expect("ascii"));
            requested_span(&headers)
        };
        assert_eq!(span("bytes=0-99"), Span::Between(0, 100));
        assert_eq!(span("bytes=100-"), Span::From(100));
        assert_eq!(span("bytes=-500"), Span::Last(500));
        for whole in [
            "bytes=5-1",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=-",
            "bytes=-0",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(span(whole), Span::Whole, "{whole}");
        }
        assert_eq!(requested_span(&HeaderMap::new()), Span::Whole);
    }
}
