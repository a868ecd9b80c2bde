//! Secrets every instance shares (the media URL key), kept in the database so the first
//! instance that needs one makes it and the others read it.

use crate::{Pool, StoreResult};

/// The secret called `name`, if stored.
pub async fn get(pool: &Pool, name: &str) -> StoreResult<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

/// Stores `value` as the secret `name` unless one is stored already: two instances starting
/// together both offer one, and the first stored wins for both.
pub async fn offer(pool: &Pool, name: &str, value: &[u8]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(value)
    .execute(pool)
    .await?;
    Ok(())
}
