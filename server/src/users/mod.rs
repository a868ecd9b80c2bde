//! Users: accounts and their passwords, sessions, the rules of who may reach which route, and
//! the forms that sign in, set up the first account and add users.

pub mod access;
pub mod forms;
pub mod password;
pub mod sessions;

use app::model::{UserId, UserSummary, Viewer};

use crate::{db::Pool, error::ServerResult, ServerError};

/// Longest user name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in bytes: hashing cost grows with length, and nobody types more.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A user name as stored: trimmed, 1 to 64 characters, none of them control characters.
pub fn valid_name(username: &str) -> ServerResult<&str> {
    let username = username.trim();
    let length = username.chars().count();
    if length == 0 || length > MAX_NAME_CHARS || username.chars().any(char::is_control) {
        return Err(ServerError::BadRequest(format!(
            "a user name has 1 to {MAX_NAME_CHARS} characters, none of them control characters"
        )));
    }
    Ok(username)
}

/// A password worth hashing: 8 characters at least, 1 KiB at most.
pub fn check_password(password: &str) -> ServerResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ServerError::BadRequest(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters and at most \
             {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Returns the id of `username`, creating the user (without a password) if needed: the
/// owner of a seeded or imported library.
pub async fn find_or_create(pool: &Pool, username: &str, is_admin: bool) -> ServerResult<UserId> {
    let username = valid_name(username)?;
    // Looked up first: PostgreSQL spends an id on every insert, even one that conflicts.
    if let Some(id) = find(pool, username).await? {
        return Ok(id);
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
    find(pool, username)
        .await?
        .ok_or_else(|| ServerError::Internal(anyhow::anyhow!("user {username} vanished")))
}

/// The id of `username`. Names are unique regardless of case (NOCASE in SQLite, an index on
/// lower() in PostgreSQL).
async fn find(pool: &Pool, username: &str) -> ServerResult<Option<UserId>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(pool)
            .await?,
    )
}

/// Adds an account that can sign in. A user that exists without a password (made by `seed` or
/// `import`) gets this one, so a demo library can be handed to a person; a user that already
/// has a password is a conflict.
pub async fn add(
    pool: &Pool,
    username: &str,
    password: &str,
    is_admin: bool,
) -> ServerResult<UserId> {
    let username = valid_name(username)?;
    check_password(password)?;
    let hash = password::hash(password).await?;
    let id = find_or_create(pool, username, is_admin).await?;
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
    if updated == 0 {
        return Err(ServerError::Conflict(format!(
            "there is already a user called {username}"
        )));
    }
    Ok(id)
}

/// Replaces the password of an existing user and ends their sessions.
pub async fn reset_password(pool: &Pool, username: &str, password: &str) -> ServerResult<UserId> {
    let username = valid_name(username)?;
    check_password(password)?;
    let hash = password::hash(password).await?;
    let id: Option<UserId> = sqlx::query_scalar(
        "UPDATE users SET password_hash = $1 WHERE lower(username) = lower($2) RETURNING id",
    )
    .bind(hash)
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let id = id.ok_or(ServerError::NotFound)?;
    sessions::end_all(pool, id).await?;
    Ok(id)
}

/// True until some account can sign in: the first visitor is then offered to set one up.
pub async fn needs_setup(pool: &Pool) -> ServerResult<bool> {
    let exists: bool = sqlx::query_scalar::<_, i64>(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL)
         THEN 1 ELSE 0 END",
    )
    .fetch_one(pool)
    .await?
        == 1;
    Ok(!exists)
}

/// The account `username` signs in to with `password`, or `None`. Unknown names cost as much
/// time as wrong passwords, so the answer's timing does not tell which names exist.
pub async fn authenticate(
    pool: &Pool,
    username: &str,
    password: &str,
) -> ServerResult<Option<Viewer>> {
    if password.len() > MAX_PASSWORD_BYTES || username.len() > MAX_NAME_CHARS * 4 {
        return Ok(None);
    }
    let row: Option<(UserId, String, String, i64)> = sqlx::query_as(
        "SELECT id, username, password_hash, is_admin FROM users
         WHERE lower(username) = lower($1) AND password_hash IS NOT NULL",
    )
    .bind(username.trim())
    .fetch_optional(pool)
    .await?;
    let Some((id, name, hash, is_admin)) = row else {
        password::verify_decoy(password).await?;
        return Ok(None);
    };
    Ok(password::verify(password, &hash).await?.then_some(Viewer {
        id,
        name,
        admin: is_admin == 1,
    }))
}

/// Every account, oldest first, for the administrators' list.
pub async fn list(pool: &Pool) -> ServerResult<Vec<UserSummary>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(valid_name("  ana ").ok(), Some("ana"));
        assert!(valid_name("").is_err());
        assert!(valid_name("   ").is_err());
        assert!(valid_name(&"x".repeat(65)).is_err());
        assert!(valid_name(&"é".repeat(64)).is_ok());
        assert!(valid_name("a\u{0}b").is_err());
        assert!(valid_name("a\nb").is_err());
    }

    #[test]
    fn passwords_are_bounded() {
        assert!(check_password("short").is_err());
        assert!(check_password("eight ch").is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
