//! Password hashes: Argon2id in PHC string form, computed off the async threads.

use std::sync::OnceLock;

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::{error::CoreResult, CoreError};

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's first choice). The
/// parameters travel in each stored hash, so raising them later keeps old hashes verifiable.
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// The PHC string of `password` under a fresh random salt.
pub async fn hash(password: &str) -> CoreResult<String> {
    let password = password.to_owned();
    blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|error| anyhow::anyhow!("salt: {error}"))?;
        let hash = hasher()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))?;
        Ok(hash.to_string())
    })
    .await
}

/// True when `password` matches `stored`. A stored value that is not a PHC string matches
/// nothing.
pub async fn verify(password: &str, stored: &str) -> CoreResult<bool> {
    let password = password.to_owned();
    let stored = stored.to_owned();
    blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::warn!("a stored password hash is not in PHC form");
            return Ok(false);
        };
        Ok(hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
}

/// Spends the time a verification takes, for an unknown user name: both answers then take
/// as long, so timing does not tell which names exist.
pub async fn verify_decoy(password: &str) -> CoreResult<()> {
    let password = password.to_owned();
    blocking(move || {
        if let Ok(parsed) = PasswordHash::new(decoy_hash()) {
            let _ = hasher().verify_password(password.as_bytes(), &parsed);
        }
        Ok(())
    })
    .await
}

/// A hash of random bytes nobody knows.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).ok();
        salt.and_then(|salt| {
            hasher()
                .hash_password(&rand::random::<[u8; 32]>(), &salt)
                .ok()
                .map(|hash| hash.to_string())
        })
        .unwrap_or_default()
    })
}

/// Argon2 takes tens of milliseconds of CPU by design: never on a thread that serves sockets.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> CoreResult<T> + Send + 'static,
) -> CoreResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| CoreError::Internal(anyhow::anyhow!("password task: {error}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").await.expect("hash");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse", &stored).await.expect("verify"));
        assert!(!verify("correct horse ", &stored).await.expect("verify"));
        assert!(!verify("", &stored).await.expect("verify"));
        assert_ne!(stored, hash("correct horse").await.expect("hash"), "salted");
    }

    #[tokio::test]
    async fn malformed_stored_hashes_match_nothing() {
        assert!(!verify("x", "").await.expect("verify"));
        assert!(!verify("x", "$argon2id$garbage").await.expect("verify"));
        assert!(!verify("x", decoy_hash()).await.expect("verify"));
    }
}
