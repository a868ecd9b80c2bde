//! Album downloads: a ZIP of the originals, streamed as it is written, in bounded memory.
//! The owner's is tagged with the library's tag (asked again while nothing changed: 304);
//! a visitor's, by share link, is never stored.

use std::{
    collections::HashSet,
    io::{self, BufWriter, Write},
};

use app::{format::civil_date, model::AlbumId};
use axum::{
    body::{Body, Bytes},
    extract::{Path as UrlPath, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use flashbulb_core::files::{FileStore, Stored};
use flashbulb_store::albums;
use flashbulb_store::Pool;
use flashbulb_types::ApiError;
use tokio::{runtime::Handle, sync::mpsc};
use zip::{write::SimpleFileOptions, CompressionMethod, ZipWriter};

use crate::conditional::{self, REVALIDATE};
use crate::WebResult;
use crate::{access::SignedIn, attachment, state::AppState};

/// Bytes handed to the response per chunk, and how many chunks may wait for a slow client:
/// the archive never holds more than this in memory, whatever the album's size.
const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;
/// Photos read from the database per query while writing.
const ROWS_PER_QUERY: i64 = 500;
/// The entry listing photos whose original is not stored on this server.
pub const MISSING_LIST: &str = "missing.txt";

/// `GET /api/albums/{id}/zip`: the owner's download, tagged with the library's tag.
pub(crate) async fn owner_zip(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    UrlPath(id): UrlPath<String>,
    request_headers: HeaderMap,
) -> WebResult<Response> {
    let id: AlbumId = id.parse().map_err(|_| ApiError::NotFound)?;
    let owner = viewer.id;
    // Read before the album: a write while it is archived changes the tag.
    let etag = conditional::tag(&state.cache.library_tag(owner).await, true);
    let (id, title) = albums::titled(&state.db, owner, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(unchanged) = conditional::not_modified(&request_headers, &etag, REVALIDATE) {
        return Ok(unchanged);
    }
    let mut response = stream_album(&state, id, &title);
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, REVALIDATE);
    Ok(response)
}

/// `GET /api/shared/{token}/zip`: the same archive for a visitor holding the share link.
pub(crate) async fn shared_zip(
    State(state): State<AppState>,
    UrlPath(token): UrlPath<String>,
) -> WebResult<Response> {
    if !albums::is_share_token(&token) {
        return Err(ApiError::NotFound.into());
    }
    let (id, title) = albums::titled_by_token(&state.db, &token)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(stream_album(&state, id, &title))
}

fn stream_album(state: &AppState, album: AlbumId, title: &str) -> Response {
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let pool = state.db.clone();
    let files = state.settings.files.clone();
    let runtime = Handle::current();
    tokio::task::spawn_blocking(move || {
        let out = BufWriter::with_capacity(CHUNK, ChannelWriter(sender.clone()));
        if let Err(error) = write_album(&runtime, &pool, &files, album, out) {
            // The status line is gone already: cutting the stream short is the one signal
            // left, and a client then sees a truncated (invalid) archive, never a wrong one.
            tracing::warn!(%error, album, "album download stopped");
            let _ = sender.blocking_send(Err(io::Error::other(error.to_string())));
        }
    });
    // `poll_recv` keeps answering "finished" once the writer is done, as body layers expect.
    let mut receiver = receiver;
    let chunks = futures_util::stream::poll_fn(move |context| receiver.poll_recv(context));
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                attachment(&format!("{title}.zip")),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// Hands each buffer to the response; fails when the client has gone, which ends the writing.
struct ChannelWriter(mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the album's visible photos as stored (photos do not compress) entries, named after
/// their files, plus a list of the photos whose original this server does not have.
fn write_album<W: Write>(
    runtime: &Handle,
    pool: &Pool,
    files: &FileStore,
    album: AlbumId,
    out: W,
) -> anyhow::Result<()> {
    let mut zip = ZipWriter::new_stream(out);
    let mut names = EntryNames::default();
    let mut missing = Vec::new();
    let mut after = 0i64;
    loop {
        let rows = runtime.block_on(albums::archive_entries(pool, album, after, ROWS_PER_QUERY))?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            // From object storage, each original is fetched into the scratch folder first
            // (and removed once copied into the archive).
            let Some(readable) = runtime.block_on(files.readable(Stored::Original(&row.sha256)))?
            else {
                missing.push(row.file_name);
                continue;
            };
            let mut file = std::fs::File::open(readable.path())?;
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Stored)
                .large_file(file.metadata()?.len() >= u64::from(u32::MAX))
                .last_modified_time(zip_time(row.taken_at));
            zip.start_file(names.claim(&row.file_name), options)?;
            io::copy(&mut file, &mut zip)?;
        }
    }
    if !missing.is_empty() {
        zip.start_file(
            names.claim(MISSING_LIST),
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
        )?;
        writeln!(
            zip,
            "These photos are in the album, but their original files are not stored on this server:"
        )?;
        for name in &missing {
            writeln!(zip, "{name}")?;
        }
    }
    zip.finish()?.flush()?;
    Ok(())
}

/// The entry's time: when the photo was taken (ZIP times run from 1980 to 2107).
fn zip_time(unix_seconds: i64) -> zip::DateTime {
    let (year, month, day) = civil_date(unix_seconds);
    let second_of_day = unix_seconds.rem_euclid(86_400);
    u16::try_from(year)
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                month,
                day,
                (second_of_day / 3600) as u8,
                (second_of_day % 3600 / 60) as u8,
                (second_of_day % 60) as u8,
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Entry names: safe to extract anywhere (no folders, no `..`), unique without regard to case.
#[derive(Default)]
struct EntryNames {
    taken: HashSet<String>,
}

impl EntryNames {
    fn claim(&mut self, file_name: &str) -> String {
        let base = safe_name(file_name);
        let (stem, extension) = match base.rsplit_once('.') {
            Some((stem, extension)) if !stem.is_empty() => {
                (stem.to_string(), format!(".{extension}"))
            }
            _ => (base.clone(), String::new()),
        };
        let mut candidate = base;
        let mut counter = 1;
        while !self.taken.insert(candidate.to_lowercase()) {
            counter += 1;
            candidate = format!("{stem} ({counter}){extension}");
        }
        candidate
    }
}

/// Replaces path separators and control characters; a name of dots only becomes `photo`.
fn safe_name(file_name: &str) -> String {
    let cleaned: String = file_name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(200)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.chars().all(|c| c == '.') {
        "photo".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_safe_and_unique() {
        let mut names = EntryNames::default();
        assert_eq!(names.claim("IMG_1.JPG"), "IMG_1.JPG");
        assert_eq!(names.claim("img_1.jpg"), "img_1 (2).jpg");
        assert_eq!(names.claim("IMG_1.JPG"), "IMG_1 (3).JPG");
        assert_eq!(names.claim("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(names.claim(".."), "photo");
        assert_eq!(names.claim("a\u{0}b"), "a_b");
        assert_eq!(names.claim(".hidden"), ".hidden");
    }

    #[test]
    fn entry_times_follow_the_photo() {
        // DOS times count seconds in pairs.
        let time = zip_time(1_793_491_200 + 3_662);
        assert_eq!((time.year(), time.month(), time.day()), (2026, 11, 1));
        assert_eq!((time.hour(), time.minute(), time.second()), (1, 1, 2));
        assert_eq!(zip_time(0), zip::DateTime::default());
    }
}
