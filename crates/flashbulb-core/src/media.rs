//! Signed media URLs. A derivative's URL carries its owner, an expiry rounded up to a window
//! and an HMAC of both (`/media/{owner}-{expiry}-{signature}/{key}/{variant}`), so a CDN or the
//! nginx edge can serve it without cookies, and the URL stays the same, cacheable, for a whole
//! window. The key lives in the database, so every instance signs and checks alike.

use std::sync::Arc;

use flashbulb_store::secrets;
use flashbulb_store::Pool;
use flashbulb_types::model::{
    AlbumSummary, AlbumView, PhotoCell, PhotoDetail, PhotoPage, SearchResults, TimelineFirstScreen,
    UserId,
};
use flashbulb_types::ApiError;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::{storage, CoreError, CoreResult};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC a URL carries: 128 bits, as many as a share link's.
const SIGNATURE_BYTES: usize = 16;
/// The row of `server_secrets` holding the key.
const KEY_NAME: &str = "media_url_key";

/// Signs and checks the access part of media URLs. Cheap to clone.
#[derive(Clone)]
pub struct MediaSigner {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    window_secs: i64,
    key: OnceCell<[u8; 32]>,
}

impl MediaSigner {
    pub fn new(pool: Pool, window_secs: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                window_secs: i64::try_from(window_secs.max(1)).unwrap_or(i64::MAX),
                key: OnceCell::new(),
            }),
        }
    }

    /// The access part of `owner`'s media URLs now: valid for one to two windows.
    pub async fn access(&self, owner: UserId) -> CoreResult<String> {
        let key = self.key().await?;
        Ok(sign(
            key,
            owner,
            expiry(flashbulb_store::now(), self.inner.window_secs),
        ))
    }

    /// What `access` opens, if its signature holds and it has not expired.
    pub async fn verify(&self, access: &str) -> CoreResult<Grant> {
        let key = self.key().await?;
        check(key, access, flashbulb_store::now())
    }

    /// Reads (or makes) the key now, so that showing pages later never has to write: called
    /// at start.
    pub async fn prepare(&self) -> CoreResult<()> {
        self.key().await.map(|_| ())
    }

    /// The key every instance shares: made by the first one that needs it, kept in the database.
    async fn key(&self) -> CoreResult<&[u8; 32]> {
        self.inner
            .key
            .get_or_try_init(|| load_or_create_key(&self.inner.pool))
            .await
    }
}

async fn load_or_create_key(pool: &Pool) -> CoreResult<[u8; 32]> {
    // Read first: once the key exists, showing a page never writes (a full disk, a read-only
    // replica, a busy writer cannot stop it).
    let stored = match secrets::get(pool, KEY_NAME).await? {
        Some(stored) => stored,
        None => {
            let candidate: [u8; 32] = rand::random();
            secrets::offer(pool, KEY_NAME, &candidate).await?;
            secrets::get(pool, KEY_NAME).await?.ok_or_else(|| {
                CoreError::Internal(anyhow::anyhow!("the media URL key was not stored"))
            })?
        }
    };
    stored.try_into().map_err(|stored: Vec<u8>| {
        CoreError::Internal(anyhow::anyhow!(
            "the stored media URL key has {} bytes, not 32",
            stored.len()
        ))
    })
}

/// The end of the window after the current one: every URL made in a window expires together,
/// at least one whole window later.
fn expiry(now: i64, window_secs: i64) -> i64 {
    (now.div_euclid(window_secs) + 2).saturating_mul(window_secs)
}

fn mac(key: &[u8; 32], owner: UserId, expiry: i64) -> HmacSha256 {
    // An HMAC takes a key of any length; 32 bytes never fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(format!("media:{owner}:{expiry}").as_bytes());
    mac
}

/// `{owner}-{expiry}-{signature}`, the signature in lower-case hex.
fn sign(key: &[u8; 32], owner: UserId, expiry: i64) -> String {
    let tag = mac(key, owner, expiry).finalize().into_bytes();
    format!("{owner}-{expiry}-{}", storage::hex(&tag[..SIGNATURE_BYTES]))
}

/// What a valid media access opens, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub owner: UserId,
    /// Unix seconds: past this the URL is refused, so no shared cache may keep its answer longer.
    pub expires_at: i64,
}

impl Grant {
    /// Seconds from now until the URL expires (0 once it has): a shared cache's lifetime.
    pub fn seconds_left(&self) -> u64 {
        u64::try_from(self.expires_at.saturating_sub(flashbulb_store::now())).unwrap_or(0)
    }
}

fn check(key: &[u8; 32], access: &str, now: i64) -> CoreResult<Grant> {
    let refused = || CoreError::Refused(ApiError::Forbidden("this media link is not valid".into()));
    let mut parts = access.splitn(3, '-');
    let (Some(owner), Some(expiry), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let owner: UserId = parse_decimal(owner).ok_or_else(refused)?;
    let expiry: i64 = parse_decimal(expiry).ok_or_else(refused)?;
    let signature = parse_hex(signature).ok_or_else(refused)?;
    mac(key, owner, expiry)
        .verify_truncated_left(&signature)
        .map_err(|_| refused())?;
    if expiry < now {
        return Err(ApiError::Forbidden(
            "this media link has expired: reload the page for a new one".into(),
        )
        .into());
    }
    Ok(Grant {
        owner,
        expires_at: expiry,
    })
}

/// Digits only, no sign or padding: one spelling per number, so one URL per access.
fn parse_decimal(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn parse_hex(text: &str) -> Option<[u8; SIGNATURE_BYTES]> {
    if text.len() != SIGNATURE_BYTES * 2 {
        return None;
    }
    let mut bytes = [0u8; SIGNATURE_BYTES];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    (storage::hex(&bytes) == text).then_some(bytes)
}

/// Values that carry photo cells, whose media keys become signed paths.
pub trait SignMedia {
    /// Puts `access` in front of every media key: `{access}/{key}`.
    fn sign_media(&mut self, access: &str);
}

impl SignMedia for PhotoCell {
    fn sign_media(&mut self, access: &str) {
        if let Some(key) = self.media.as_mut() {
            *key = format!("{access}/{key}");
        }
    }
}

impl<T: SignMedia> SignMedia for Vec<T> {
    fn sign_media(&mut self, access: &str) {
        self.iter_mut().for_each(|item| item.sign_media(access));
    }
}

impl<T: SignMedia> SignMedia for Option<T> {
    fn sign_media(&mut self, access: &str) {
        if let Some(item) = self {
            item.sign_media(access);
        }
    }
}

impl SignMedia for PhotoPage {
    fn sign_media(&mut self, access: &str) {
        self.photos.sign_media(access);
    }
}

impl SignMedia for PhotoDetail {
    fn sign_media(&mut self, access: &str) {
        self.cell.sign_media(access);
    }
}

impl SignMedia for AlbumSummary {
    fn sign_media(&mut self, access: &str) {
        self.cover.sign_media(access);
    }
}

impl SignMedia for AlbumView {
    fn sign_media(&mut self, access: &str) {
        self.album.sign_media(access);
        self.page.sign_media(access);
    }
}

impl SignMedia for SearchResults {
    fn sign_media(&mut self, access: &str) {
        self.page.sign_media(access);
    }
}

impl SignMedia for TimelineFirstScreen {
    fn sign_media(&mut self, access: &str) {
        self.photos.sign_media(access);
        self.media_access = access.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const DAY: i64 = 86_400;

    #[test]
    fn urls_of_one_window_are_the_same_and_last_at_least_a_window() {
        let start = 1_800_000_000 / DAY * DAY;
        let early = expiry(start, DAY);
        let late = expiry(start + DAY - 1, DAY);
        assert_eq!(early, late);
        assert_eq!(early - (start + DAY - 1), DAY + 1);
        assert_eq!(expiry(start + DAY, DAY), early + DAY);
        assert_eq!(sign(&KEY, 3, early), sign(&KEY, 3, late));
    }

    #[test]
    fn a_signed_access_opens_its_owner_until_it_expires() {
        let access = sign(&KEY, 42, 2_000);
        let opens = |now| check(&KEY, &access, now).ok();
        let grant = Grant {
            owner: 42,
            expires_at: 2_000,
        };
        assert_eq!(opens(1_999), Some(grant));
        assert_eq!(opens(2_000), Some(grant));
        let expired = check(&KEY, &access, 2_001).err().map(|e| e.to_string());
        assert!(expired.is_some_and(|message| message.contains("expired")));
    }

    #[test]
    fn tampered_or_malformed_accesses_are_refused() {
        let access = sign(&KEY, 42, 2_000);
        let signature = access.rsplit('-').next().unwrap_or_default().to_string();
        for hostile in [
            // Another owner or a later expiry with the same signature.
            format!("43-2000-{signature}"),
            format!("42-9999-{signature}"),
            // Another key.
            sign(&[8; 32], 42, 2_000),
            // Spellings of the same numbers, case, length, junk.
            format!("042-2000-{signature}"),
            format!("+42-2000-{signature}"),
            format!("42-2000-{}", signature.to_uppercase()),
            format!("42-2000-{}", &signature[..30]),
            format!("42-2000-{signature}00"),
            "42-2000".to_string(),
            "".to_string(),
            "-".repeat(3),
            "../../etc/passwd".to_string(),
            format!("{}-2000-{signature}", "9".repeat(40)),
        ] {
            assert!(check(&KEY, &hostile, 0).is_err(), "accepted {hostile:?}");
        }
    }

    #[test]
    fn cells_get_their_access_in_front_of_the_key() {
        let mut page = PhotoPage {
            photos: vec![
                PhotoCell {
                    id: 1,
                    file_name: "a.jpg".into(),
                    taken_at: 0,
                    width: 1,
                    height: 1,
                    favourite: false,
                    placeholder_rgb: [0; 3],
                    media: Some("00112233aabbccdd".into()),
                },
                PhotoCell {
                    id: 2,
                    file_name: "b.jpg".into(),
                    taken_at: 0,
                    width: 1,
                    height: 1,
                    favourite: false,
                    placeholder_rgb: [0; 3],
                    media: None,
                },
            ],
            next: None,
            total: 2,
        };
        page.sign_media("1-2-ff");
        assert_eq!(
            page.photos[0].media.as_deref(),
            Some("1-2-ff/00112233aabbccdd")
        );
        assert_eq!(page.photos[1].media, None);
    }
}
