//! Accounts' statements. Names are unique regardless of case (NOCASE in SQLite, an index on
//! lower() in PostgreSQL), so every lookup by name compares lower-cased.

use flashbulb_types::model::{UserId, UserSummary};

use crate::{Pool, StoreResult};

/// The id of `username`.
pub async fn find(pool: &Pool, username: &str) -> StoreResult<Option<UserId>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(pool)
            .await?,
    )
}

/// Creates `username` without a password unless a user of that name exists.
pub async fn insert_if_missing(pool: &Pool, username: &str, is_admin: bool) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (username, is_admin, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(username)
    .bind(i64::from(is_admin))
    .bind(crate::now())
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives user `id` the password `hash` (and administration when `is_admin`) if they have no
/// password yet; returns whether they had none.
pub async fn set_first_password(
    pool: &Pool,
    id: UserId,
    hash: &str,
    is_admin: bool,
) -> StoreResult<bool> {
    let updated = sqlx::query(
        "UPDATE users SET password_hash = $1, is_admin = CASE WHEN $2 = 1 THEN 1 ELSE is_admin END
         WHERE id = $3 AND password_hash IS NULL",
    )
    .bind(hash)
    .bind(i64::from(is_admin))
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Replaces the password of `username`; returns their id, or `None` without such a user.
pub async fn replace_password(
    pool: &Pool,
    username: &str,
    hash: &str,
) -> StoreResult<Option<UserId>> {
    Ok(sqlx::query_scalar(
        "UPDATE users SET password_hash = $1 WHERE lower(username) = lower($2) RETURNING id",
    )
    .bind(hash)
    .bind(username)
    .fetch_optional(pool)
    .await?)
}

/// Whether any account can sign in.
pub async fn any_can_sign_in(pool: &Pool) -> StoreResult<bool> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL)
         THEN 1 ELSE 0 END",
    )
    .fetch_one(pool)
    .await?;
    Ok(exists == 1)
}

/// What signing in as `username` checks against.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    #[sqlx(try_from = "crate::Flag")]
    pub is_admin: bool,
}

/// The credentials of `username`, if that user can sign in.
pub async fn credentials(pool: &Pool, username: &str) -> StoreResult<Option<Credentials>> {
    Ok(sqlx::query_as(
        "SELECT id, username, password_hash, is_admin FROM users
         WHERE lower(username) = lower($1) AND password_hash IS NOT NULL",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?)
}

/// Every account, oldest first, for the administrators' list.
pub async fn list(pool: &Pool) -> StoreResult<Vec<UserSummary>> {
    let rows: Vec<(UserId, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, u.is_admin,
                CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END,
                (SELECT count(*) FROM photos p WHERE p.owner_id = u.id)
         FROM users u ORDER BY u.id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, admin, can_sign_in, photos)| UserSummary {
            id,
            name,
            admin: admin == 1,
            can_sign_in: can_sign_in == 1,
            photos,
        })
        .collect())
}
