//! Users: who owns which photos.

use app::model::UserId;

use crate::{db::Pool, error::ServerResult};

/// The library shown to visitors while the server runs in single-library mode:
/// the oldest user, i.e. the one created first.
pub async fn library_owner(pool: &Pool) -> ServerResult<Option<(UserId, String)>> {
    Ok(
        sqlx::query_as("SELECT id, username FROM users ORDER BY id LIMIT 1")
            .fetch_optional(pool)
            .await?,
    )
}

/// Returns the id of `username`, creating the user if needed.
pub async fn find_or_create(pool: &Pool, username: &str, is_admin: bool) -> ServerResult<UserId> {
    let username = username.trim();
    if username.is_empty() || username.len() > 64 {
        return Err(crate::ServerError::BadRequest(
            "a user name has 1 to 64 characters".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO users (username, is_admin, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(username)
    .bind(i64::from(is_admin))
    .bind(crate::db::now())
    .execute(pool)
    .await?;
    Ok(
        // Names are unique regardless of case (NOCASE in SQLite, an index on lower() in
        // PostgreSQL).
        sqlx::query_scalar("SELECT id FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_one(pool)
            .await?,
    )
}
