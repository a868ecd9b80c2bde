//! The plans the databases choose for the statements that must stay fast at a million photos.
//! Each test explains the store's own statements (never a copy of their text) over a small
//! library, so a statement that stops walking its index fails here: SQLite's plans on a
//! database of the test's own, PostgreSQL's in a schema of the test's own on the shared server
//! (`FLASHBULB_TEST_POSTGRES`, else `postgres://postgres@127.0.0.1:5432/test`), whichever
//! backend the rest of the suite runs on.

mod postgres;
mod sqlite;

use std::time::Duration;

use flashbulb_store::{
    bulk::{self, GeneratedPhoto},
    migrate, open, users, Pool, StoreOptions,
};

/// Cameras and lenses the generated photos were taken with.
const CAMERAS: [(&str, &str, &str); 3] = [
    ("FUJIFILM", "X-T5", "XF16-80mmF4 R OIS WR"),
    ("SONY", "ILCE-7M4", "FE 35mm F1.8"),
    ("Canon", "Canon EOS R6", "RF24-105mm F4 L IS USM"),
];

/// When the generated library's newest photo was taken.
const NOW: i64 = 1_800_000_000;

/// A migrated database with `photos` generated photos of one owner, "demo" (id 1).
pub struct Library {
    pub pool: Pool,
    /// The SQLite file's folder, removed with the library.
    _folder: Option<tempfile::TempDir>,
}

impl Library {
    async fn open(url: String, folder: Option<tempfile::TempDir>, photos: u64) -> Self {
        let pool = open(&StoreOptions {
            url,
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
            slow_statement: Duration::from_secs(10),
        })
        .await
        .expect("open the database");
        migrate(&pool).await.expect("migrate");
        users::insert_if_missing(&pool, "demo", true)
            .await
            .expect("the owner");
        let owner = users::find(&pool, "demo")
            .await
            .expect("the owner")
            .expect("the owner exists");
        assert_eq!(owner, 1, "the statements below are explained for owner 1");
        let mut made = 0u64;
        bulk::insert_photos(
            &pool,
            owner,
            NOW,
            photos,
            false,
            |count| (0..count).map(|_| generated(&mut made)).collect(),
            |_| {},
        )
        .await
        .expect("generated photos");
        Self {
            pool,
            _folder: folder,
        }
    }
}

/// The next generated photo: a few a day going back from [`NOW`], cameras in turn.
fn generated(made: &mut u64) -> GeneratedPhoto {
    *made += 1;
    let number = *made;
    let (make, model, lens) = CAMERAS[(number % 3) as usize];
    let mut sha256 = [0u8; 32];
    sha256[..8].copy_from_slice(&number.to_be_bytes());
    GeneratedPhoto {
        file_name: format!("IMG_{number:07}.JPG"),
        taken_at: NOW - number as i64 * 30_000,
        width: 6000,
        height: 4000,
        byte_size: 4_000_000,
        sha256,
        thumbhash: vec![0x1f; 24],
        camera_make: make,
        camera_model: model,
        lens,
        shows: None,
    }
}
