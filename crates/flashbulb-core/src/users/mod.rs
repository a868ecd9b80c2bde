//! Users: accounts and their passwords, sessions, the rules of who may reach which route, and
//! the forms that sign in, set up the first account and add users. The statements are the
//! store's (`flashbulb_store::users`).

pub mod password;
pub mod sessions;

use flashbulb_store::users;
use flashbulb_store::Pool;
use flashbulb_types::model::{UserId, Viewer};
use flashbulb_types::ApiError;

use crate::{error::CoreResult, CoreError};

/// Longest user name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in bytes: hashing cost grows with length, and nobody types more.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A user name as stored: trimmed, 1 to 64 characters, none of them control characters.
pub fn valid_name(username: &str) -> CoreResult<&str> {
    let username = username.trim();
    let length = username.chars().count();
    if length == 0 || length > MAX_NAME_CHARS || username.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "a user name has 1 to {MAX_NAME_CHARS} characters, none of them control characters"
        ))
        .into());
    }
    Ok(username)
}

/// A password worth hashing: 8 characters at least, 1 KiB at most.
pub fn check_password(password: &str) -> CoreResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::BadRequest(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters and at most \
             {MAX_PASSWORD_BYTES} bytes"
        ))
        .into());
    }
    Ok(())
}

/// Returns the id of `username`, creating the user (without a password) if needed: the
/// owner of a seeded or imported library.
pub async fn find_or_create(pool: &Pool, username: &str, is_admin: bool) -> CoreResult<UserId> {
    let username = valid_name(username)?;
    // Looked up first: PostgreSQL spends an id on every insert, even one that conflicts.
    if let Some(id) = users::find(pool, username).await? {
        return Ok(id);
    }
    users::insert_if_missing(pool, username, is_admin).await?;
    users::find(pool, username)
        .await?
        .ok_or_else(|| CoreError::Internal(anyhow::anyhow!("user {username} vanished")))
}

/// Adds an account that can sign in. A user that exists without a password (made by `seed` or
/// `import`) gets this one, so a demo library can be handed to a person; a user that already
/// has a password is a conflict.
pub async fn add(
    pool: &Pool,
    username: &str,
    password: &str,
    is_admin: bool,
) -> CoreResult<UserId> {
    let username = valid_name(username)?;
    check_password(password)?;
    let hash = password::hash(password).await?;
    let id = find_or_create(pool, username, is_admin).await?;
    if !users::set_first_password(pool, id, &hash, is_admin).await? {
        return Err(
            ApiError::Conflict(format!("there is already a user called {username}")).into(),
        );
    }
    Ok(id)
}

/// Replaces the password of an existing user and ends their sessions.
pub async fn reset_password(pool: &Pool, username: &str, password: &str) -> CoreResult<UserId> {
    let username = valid_name(username)?;
    check_password(password)?;
    let hash = password::hash(password).await?;
    let id = users::replace_password(pool, username, &hash)
        .await?
        .ok_or(ApiError::NotFound)?;
    sessions::end_all(pool, id).await?;
    Ok(id)
}

/// True until some account can sign in: the first visitor is then offered to set one up.
pub async fn needs_setup(pool: &Pool) -> CoreResult<bool> {
    Ok(!users::any_can_sign_in(pool).await?)
}

/// The account `username` signs in to with `password`, or `None`. Unknown names cost as much
/// time as wrong passwords, so the answer's timing does not tell which names exist.
pub async fn authenticate(
    pool: &Pool,
    username: &str,
    password: &str,
) -> CoreResult<Option<Viewer>> {
    if password.len() > MAX_PASSWORD_BYTES || username.len() > MAX_NAME_CHARS * 4 {
        return Ok(None);
    }
    let Some(account) = users::credentials(pool, username.trim()).await? else {
        password::verify_decoy(password).await?;
        return Ok(None);
    };
    Ok(password::verify(password, &account.password_hash)
        .await?
        .then_some(Viewer {
            id: account.id,
            name: account.username,
            admin: account.is_admin,
        }))
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
