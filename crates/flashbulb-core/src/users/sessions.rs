//! Sessions: a random token in an HttpOnly cookie, its SHA-256 in the database, and a
//! short-lived memory of recent lookups so a page view does not cost a query. The statements
//! are the store's (`flashbulb_store::sessions`).

use std::time::Duration;

use flashbulb_store::sessions;
use flashbulb_store::Pool;
use flashbulb_types::model::{UserId, Viewer};
use http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use crate::{error::CoreResult, storage};

/// The cookie's name.
pub const COOKIE: &str = "flashbulb_session";
/// Random bytes in a token: 256 bits, written as 64 hex digits.
const TOKEN_BYTES: usize = 32;
/// How long a looked-up session is trusted without asking the database again. Signing out
/// forgets it here at once; other instances notice within this time.
const REMEMBERED_FOR: Duration = Duration::from_secs(5);

/// The sessions of this process: the database behind a small memory of recent lookups.
#[derive(Clone)]
pub struct Sessions {
    pool: Pool,
    lifetime_secs: i64,
    recent: moka::future::Cache<[u8; 32], Option<Viewer>>,
}

impl Sessions {
    pub fn new(pool: Pool, lifetime_days: u32) -> Self {
        Self {
            pool,
            lifetime_secs: i64::from(lifetime_days) * 86_400,
            recent: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(REMEMBERED_FOR)
                .build(),
        }
    }

    /// Seconds a new session lasts.
    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    /// Opens a session for `user`; returns the cookie's token. Sessions that have run out are
    /// cleared away on the way.
    pub async fn start(&self, user: UserId) -> CoreResult<String> {
        let token: [u8; TOKEN_BYTES] = rand::random();
        let token = storage::hex(&token);
        let now = flashbulb_store::now();
        sessions::insert(
            &self.pool,
            &digest(&token),
            user,
            now,
            now + self.lifetime_secs,
        )
        .await?;
        Ok(token)
    }

    /// The user signed in with `token`, if the session exists and has not run out.
    pub async fn viewer(&self, token: &str) -> CoreResult<Option<Viewer>> {
        if !is_token(token) {
            return Ok(None);
        }
        let key = digest(token);
        let pool = self.pool.clone();
        self.recent
            .try_get_with(key, async move {
                sessions::viewer(&pool, &key, flashbulb_store::now()).await
            })
            .await
            .map_err(|error| match std::sync::Arc::try_unwrap(error) {
                Ok(error) => error.into(),
                // Requests that waited on the same lookup share its error: keep its class, so an
                // unreachable database stays a 503 for each of them.
                Err(shared) => flashbulb_store::StoreError::again(&shared).into(),
            })
    }

    /// Ends the session of `token`, here and in the database.
    pub async fn end(&self, token: &str) -> CoreResult<()> {
        if !is_token(token) {
            return Ok(());
        }
        let key = digest(token);
        sessions::delete(&self.pool, &key).await?;
        self.recent.invalidate(&key).await;
        Ok(())
    }
}

/// Ends every session of `user` (a new password). Other processes' memories of them last
/// a few seconds more.
pub async fn end_all(pool: &Pool, user: UserId) -> CoreResult<()> {
    Ok(sessions::delete_all(pool, user).await?)
}

/// The session token the request's cookies carry, if any.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value that hands `token` to the browser for `max_age_secs`.
pub fn cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("flashbulb_session=; Path=/; Max-Age=0"))
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn removal_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

fn is_token(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2 && token.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; flashbulb_session=abc ; x=1"),
        );
        assert_eq!(token(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("flashbulb_sessions=1"),
        );
        assert_eq!(token(&headers), None);
    }

    #[test]
    fn cookies_are_http_only_and_same_site_lax() {
        let value = cookie("00ff", 60, false);
        let text = value.to_str().expect("ascii");
        assert!(
            text.contains("HttpOnly") && text.contains("SameSite=Lax"),
            "{text}"
        );
        assert!(!text.contains("Secure"));
        assert!(cookie("00ff", 60, true)
            .to_str()
            .expect("ascii")
            .ends_with("; Secure"));
        assert!(removal_cookie(false)
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0"));
    }

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        assert!(is_token(&"a".repeat(64)));
        assert!(!is_token(&"a".repeat(63)));
        assert!(!is_token(&"g".repeat(64)));
        assert!(!is_token("' OR 1=1 --"));
    }
}
