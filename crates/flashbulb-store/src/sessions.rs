//! Sessions' statements: each row holds the SHA-256 of a token, never the token itself.

use flashbulb_types::model::{UserId, Viewer};

use crate::{Pool, StoreResult};

/// Stores a session of `user` for the token whose digest is `token_hash`, valid from `now`
/// until `expires_at`; sessions that have run out are cleared away on the way.
pub async fn insert(
    pool: &Pool,
    token_hash: &[u8; 32],
    user: UserId,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash.to_vec())
    .bind(user)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The user of the session whose token digest is `token_hash`, if it has not run out by `now`.
pub async fn viewer(pool: &Pool, token_hash: &[u8; 32], now: i64) -> StoreResult<Option<Viewer>> {
    let row: Option<(UserId, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, u.is_admin FROM sessions s
         JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash.to_vec())
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, name, admin)| Viewer {
        id,
        name,
        admin: admin == 1,
    }))
}

/// Ends the session whose token digest is `token_hash`.
pub async fn delete(pool: &Pool, token_hash: &[u8; 32]) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash.to_vec())
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends every session of `user`.
pub async fn delete_all(pool: &Pool, user: UserId) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}
