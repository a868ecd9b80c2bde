//! The error every server function returns: stable codes, safe messages, one JSON encoding.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", content = "message", rename_all = "snake_case")]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The thing exists, but what was asked of it is not available (an original not stored).
    #[error("{0}")]
    Gone(String),
    /// Nobody is signed in, and what was asked needs an account.
    #[error("sign in first")]
    Unauthorized,
    /// What was asked clashes with what exists (a user name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is understood and refused: it came from another site, or asks for what
    /// is not the viewer's.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request body is larger than this endpoint takes.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The request body is of a type this endpoint does not read.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The client sent too much too quickly; it may try again later.
    #[error("too many requests, slow down")]
    RateLimited,
    /// The server's disk is full: nothing of the request was stored.
    #[error("the server's storage is full; nothing was stored")]
    StorageFull,
    /// A dependency (the database) is down or saturated; retrying later can succeed.
    #[error("temporarily unavailable, try again shortly")]
    Unavailable,
    /// Details are logged on the server, never sent.
    #[error("internal error")]
    Internal,
    /// The request never reached the function: network, encoding, or routing trouble.
    #[error("request failed: {0}")]
    Transport(String),
}

impl ApiError {
    /// Stable machine-readable code, the same one the JSON envelope carries.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Gone(_) => "gone",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Conflict(_) => "conflict",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RateLimited => "rate_limited",
            ApiError::StorageFull => "storage_full",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
            ApiError::Transport(_) => "transport",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::NotFound => 404,
            ApiError::BadRequest(_) | ApiError::Transport(_) => 400,
            ApiError::Gone(_) => 410,
            ApiError::Unauthorized => 401,
            ApiError::Conflict(_) => 409,
            ApiError::Forbidden(_) => 403,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::RateLimited => 429,
            ApiError::StorageFull => 507,
            ApiError::Unavailable => 503,
            ApiError::Internal => 500,
        }
    }
}

/// Server functions (Leptos' `server_fn`) return it as their error, encoded as JSON.
#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for ApiError {
    type Encoder = server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr;
        match value {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                ApiError::BadRequest(message)
            }
            ServerFnErrorErr::Deserialization(message) => ApiError::BadRequest(message),
            other => ApiError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        let all = [
            ApiError::NotFound,
            ApiError::BadRequest(String::new()),
            ApiError::Gone(String::new()),
            ApiError::Unauthorized,
            ApiError::Conflict(String::new()),
            ApiError::Forbidden(String::new()),
            ApiError::TooLarge(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::RateLimited,
            ApiError::StorageFull,
            ApiError::Unavailable,
            ApiError::Internal,
            ApiError::Transport(String::new()),
        ];
        for error in all {
            let json = serde_json::to_string(&error).unwrap_or_default();
            assert!(json.contains(error.code()), "{json} lacks {}", error.code());
        }
    }
}
