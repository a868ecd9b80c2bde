//! Where originals and derivatives are kept: the data folder (the default, for one machine)
//! or S3-compatible object storage shared by every machine (`storage_url = "s3://bucket/…"`).
//! Both hold the same names (`originals/ab/ab12…`, `derivatives/ab/ab12…/thumb.webp`); scratch
//! files (uploads arriving, originals fetched for a job) always stay in the data folder.

use std::{
    io,
    ops::Range,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use futures_util::{stream::BoxStream, StreamExt, TryStreamExt};
use object_store::{
    aws::AmazonS3Builder, path::Path as ObjectPath, ClientOptions, GetOptions, GetRange,
    ObjectStore, PutPayload, RetryConfig, WriteMultipart,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::storage::{self, ScratchFile};

/// Parts of a multipart upload: S3 asks for at least 5 MiB but the last; 8 MiB keeps an
/// upload of a 200 MB original to 25 parts and its memory to two parts in flight.
const PART_BYTES: usize = 8 << 20;
/// Parts in flight at once while an original streams up.
const PARTS_IN_FLIGHT: usize = 2;

/// One stored file, by what it holds.
#[derive(Debug, Clone, Copy)]
pub enum Stored<'a> {
    Original(&'a [u8]),
    Derivative(&'a [u8], &'a str),
}

impl Stored<'_> {
    /// Its name below the storage's root, `/`-separated.
    fn name(&self) -> String {
        let relative = match self {
            Stored::Original(sha) => storage::original_path(Path::new(""), sha),
            Stored::Derivative(sha, variant) => {
                storage::derivative_path(Path::new(""), sha, variant)
            }
        };
        relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The library's files; cheap to clone.
#[derive(Clone)]
pub struct FileStore {
    data_dir: PathBuf,
    objects: Option<Arc<Objects>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

struct Objects {
    store: Box<dyn ObjectStore>,
    /// `bucket/prefix`, for messages.
    place: String,
    prefix: String,
}

/// A stored file's bytes, or part of them, on their way to a client.
pub struct Streamed {
    /// The whole file's size.
    pub size: u64,
    /// The bytes the stream carries.
    pub range: Range<u64>,
    pub body: BoxStream<'static, io::Result<Bytes>>,
}

/// A stored file as a path to read: the file itself in the data folder, or a copy fetched
/// from object storage into the scratch folder, removed when this is dropped.
#[derive(Debug)]
pub struct Readable {
    path: PathBuf,
    _copy: Option<ScratchFile>,
}

impl Readable {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Which bytes of a file to stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Whole,
    /// From this offset to the end.
    From(u64),
    /// The last this many bytes.
    Last(u64),
    /// `start..end`, end excluded.
    Between(u64, u64),
}

impl Span {
    /// The bytes this span names of a file of `size`, if it names any.
    pub fn within(self, size: u64) -> Option<Range<u64>> {
        let range = match self {
            Span::Whole => 0..size,
            Span::From(start) => start..size,
            Span::Last(count) => size.saturating_sub(count)..size,
            Span::Between(start, end) => start..end.min(size),
        };
        (range.start < range.end || (size == 0 && self == Span::Whole)).then_some(range)
    }
}

/// What [`FileStore::read_small`] found.
pub enum Small {
    Bytes(Bytes),
    /// Larger than asked: to be streamed.
    TooLarge,
    Missing,
}

impl FileStore {
    /// FileStore in the data folder only, as on one machine.
    pub fn in_folder(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            objects: None,
        }
    }

    /// FileStore where `storage_url` says: `None` (the data folder) or `s3://bucket[/prefix]`,
    /// with endpoint, region and credentials from the usual `AWS_*` variables
    /// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ALLOW_HTTP=true` for an endpoint without TLS).
    pub fn new(data_dir: &Path, storage_url: Option<&str>) -> anyhow::Result<Self> {
        let Some(url) = storage_url else {
            return Ok(Self::in_folder(data_dir));
        };
        let (bucket, prefix) = parse_url(url).map_err(anyhow::Error::msg)?;
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // Few, quick retries: a store that is away must turn into a clear 503 within
            // seconds, not hold an upload for the client's default three minutes.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(5),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(2))
                    .with_timeout(Duration::from_secs(120)),
            )
            // The client options above replace those read from the environment.
            .with_allow_http(std::env::var("AWS_ALLOW_HTTP").is_ok_and(|allow| allow == "true"))
            .build()?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            objects: Some(Arc::new(Objects {
                store: Box::new(store),
                place: url.trim_start_matches("s3://").to_string(),
                prefix: prefix.to_string(),
            })),
        })
    }

    /// Why `url` cannot be a `storage_url`, if it cannot.
    pub fn url_problem(url: &str) -> Option<String> {
        parse_url(url).err()
    }

    /// The data folder: scratch files, and the files themselves without object storage.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the files are, for the operator: the data folder or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match &self.objects {
            Some(objects) => format!("s3://{}", objects.place),
            None => self.data_dir.display().to_string(),
        }
    }

    /// Whether object storage answers (a `HEAD` of a name that need not exist); `None` when
    /// the files are in the data folder. For readiness.
    pub async fn probe(&self) -> Option<io::Result<()>> {
        let objects = self.objects.as_ref()?;
        let probe = ObjectPath::from(format!("{}/readiness-probe", objects.prefix));
        Some(match objects.store.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(objects.failed(error)),
        })
    }

    /// The file in the data folder, when files are kept there (it may not exist).
    pub fn local_path(&self, file: Stored<'_>) -> Option<PathBuf> {
        self.objects
            .is_none()
            .then(|| self.data_dir.join(file.name()))
    }

    pub async fn exists(&self, file: Stored<'_>) -> io::Result<bool> {
        match &self.objects {
            None => tokio::fs::try_exists(self.data_dir.join(file.name())).await,
            Some(objects) => match objects.store.head(&objects.path(file)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(error) => Err(objects.failed(error)),
            },
        }
    }

    /// Keeps the finished file at `from` (in the scratch folder) as `file`: moved into place
    /// in the data folder, or streamed up in parts (never whole in memory) and then removed.
    pub async fn put_file(&self, file: Stored<'_>, from: &Path) -> io::Result<()> {
        let Some(objects) = &self.objects else {
            let path = self.data_dir.join(file.name());
            if let Some(folder) = path.parent() {
                tokio::fs::create_dir_all(folder).await?;
            }
            return tokio::fs::rename(from, &path).await;
        };
        let upload = objects
            .store
            .put_multipart(&objects.path(file))
            .await
            .map_err(|error| objects.failed(error))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut source = tokio::fs::File::open(from).await?;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = match source.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(error);
                }
            };
            if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                // The parts sent so far are dropped rather than left incomplete in the bucket.
                let _ = writer.abort().await;
                return Err(objects.failed(error));
            }
            writer.write(&buffer[..read]);
        }
        writer
            .finish()
            .await
            .map_err(|error| objects.failed(error))?;
        let _ = tokio::fs::remove_file(from).await;
        Ok(())
    }

    /// Writes `bytes` as `file`, whole: readers never see part of it.
    pub async fn put_bytes(&self, file: Stored<'_>, bytes: &[u8]) -> io::Result<()> {
        match &self.objects {
            None => {
                let path = self.data_dir.join(file.name());
                storage::write_atomically(&self.data_dir, &path, bytes).await
            }
            Some(objects) => objects
                .store
                .put(
                    &objects.path(file),
                    PutPayload::from(Bytes::copy_from_slice(bytes)),
                )
                .await
                .map(|_| ())
                .map_err(|error| objects.failed(error)),
        }
    }

    /// Removes `file`; one that is not there is no error.
    pub async fn remove(&self, file: Stored<'_>) -> io::Result<()> {
        let outcome = match &self.objects {
            None => tokio::fs::remove_file(self.data_dir.join(file.name())).await,
            Some(objects) => match objects.store.delete(&objects.path(file)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(objects.failed(error)),
            },
        };
        match outcome {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// `file` as a path to read, `None` when it is not stored. From object storage the file
    /// is streamed into the scratch folder first.
    pub async fn readable(&self, file: Stored<'_>) -> io::Result<Option<Readable>> {
        let Some(objects) = &self.objects else {
            let path = self.data_dir.join(file.name());
            return match tokio::fs::metadata(&path).await {
                Ok(_) => Ok(Some(Readable { path, _copy: None })),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            };
        };
        let Some(mut streamed) = self.stream(file, Span::Whole).await? else {
            return Ok(None);
        };
        let copy = ScratchFile::new(&self.data_dir, "fetched").await?;
        let mut target = tokio::fs::File::create(copy.path()).await?;
        while let Some(chunk) = streamed.body.next().await {
            target
                .write_all(&chunk.map_err(|error| {
                    io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("reading from {}: {error}", objects.place),
                    )
                })?)
                .await?;
        }
        target.flush().await?;
        Ok(Some(Readable {
            path: copy.path().to_path_buf(),
            _copy: Some(copy),
        }))
    }

    /// The whole of `file` when it is at most `max_bytes`.
    pub async fn read_small(&self, file: Stored<'_>, max_bytes: u64) -> io::Result<Small> {
        let Some(objects) = &self.objects else {
            let path = self.data_dir.join(file.name());
            return match tokio::fs::metadata(&path).await {
                Ok(metadata) if metadata.len() > max_bytes => Ok(Small::TooLarge),
                Ok(_) => Ok(Small::Bytes(Bytes::from(tokio::fs::read(&path).await?))),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Small::Missing),
                Err(error) => Err(error),
            };
        };
        let got = match objects.store.get(&objects.path(file)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(Small::Missing),
            Err(error) => return Err(objects.failed(error)),
        };
        if got.meta.size > max_bytes {
            return Ok(Small::TooLarge);
        }
        got.bytes()
            .await
            .map(Small::Bytes)
            .map_err(|error| objects.failed(error))
    }

    /// The bytes `span` names of `file` as a stream; `None` when it is not stored. A span
    /// that names no byte of it is an `InvalidInput` error.
    pub async fn stream(&self, file: Stored<'_>, span: Span) -> io::Result<Option<Streamed>> {
        let Some(objects) = &self.objects else {
            return self.stream_local(file, span).await;
        };
        let path = objects.path(file);
        // A part: its bounds checked against the size first, so that a span naming no byte is
        // told apart from a store that failed.
        let range = match span {
            Span::Whole => None,
            _ => {
                let size = match objects.store.head(&path).await {
                    Ok(meta) => meta.size,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(error) => return Err(objects.failed(error)),
                };
                let range = span.within(size).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "the range is outside the file")
                })?;
                Some(GetRange::Bounded(range))
            }
        };
        let options = GetOptions {
            range,
            ..GetOptions::default()
        };
        let got = match objects.store.get_opts(&path, options).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(objects.failed(error)),
        };
        let place = objects.place.clone();
        Ok(Some(Streamed {
            size: got.meta.size,
            range: got.range.clone(),
            body: got
                .into_stream()
                .map_err(move |error| {
                    io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("reading from {place}: {error}"),
                    )
                })
                .boxed(),
        }))
    }

    async fn stream_local(&self, file: Stored<'_>, span: Span) -> io::Result<Option<Streamed>> {
        use tokio::io::AsyncSeekExt;
        let path = self.data_dir.join(file.name());
        let mut opened = match tokio::fs::File::open(&path).await {
            Ok(opened) => opened,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let size = opened.metadata().await?.len();
        let range = span.within(size).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the range is outside the file")
        })?;
        opened.seek(io::SeekFrom::Start(range.start)).await?;
        let limited = opened.take(range.end - range.start);
        Ok(Some(Streamed {
            size,
            range,
            body: tokio_util::io::ReaderStream::new(limited).boxed(),
        }))
    }
}

impl Objects {
    fn path(&self, file: Stored<'_>) -> ObjectPath {
        let name = file.name();
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// A failure of the object store as an I/O error that says so: the requests that met it
    /// answer 503 (see [`crate::CoreError::from_io`]), and the log names the store.
    fn failed(&self, error: object_store::Error) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotConnected,
            format!("object storage {} failed: {error}", self.place),
        )
    }
}

/// `s3://bucket[/prefix]` → (bucket, prefix without slashes at either end).
fn parse_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        format!(
            "storage_url must start with s3:// (got {url:?}); leave it unset for the data folder"
        )
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b".-".contains(&byte)
        });
    if !valid_bucket {
        return Err(format!(
            "storage_url names no valid bucket ({bucket:?}: 3 to 63 lower-case letters, digits, dots and dashes)"
        ));
    }
    Ok((bucket, prefix.trim_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_data_folders_and_urls_are_checked() {
        let sha = [0xab; 32];
        let hex = "ab".repeat(32);
        assert_eq!(Stored::Original(&sha).name(), format!("originals/ab/{hex}"));
        assert_eq!(
            Stored::Derivative(&sha, "thumb.webp").name(),
            format!("derivatives/ab/{hex}/thumb.webp")
        );
        assert_eq!(parse_url("s3://photos"), Ok(("photos", "")));
        assert_eq!(
            parse_url("s3://photos/library/one/"),
            Ok(("photos", "library/one"))
        );
        for wrong in [
            "photos",
            "file:///x",
            "s3://",
            "s3://UPPER",
            "s3://a",
            "s3://a b/c",
        ] {
            assert!(parse_url(wrong).is_err(), "accepted {wrong:?}");
        }
    }

    #[tokio::test]
    async fn the_data_folder_streams_ranges_and_refuses_those_past_the_end() {
        let data = tempfile::tempdir().expect("a folder");
        let files = FileStore::in_folder(data.path());
        let sha = [7; 32];
        let file = Stored::Derivative(&sha, "preview.webp");
        assert!(files
            .stream(file, Span::Whole)
            .await
            .expect("stream")
            .is_none());
        files.put_bytes(file, b"0123456789").await.expect("put");
        let streamed = files
            .stream(file, Span::Between(2, 5))
            .await
            .expect("stream")
            .expect("stored");
        assert_eq!((streamed.size, streamed.range.clone()), (10, 2..5));
        let body: Vec<Bytes> = streamed.body.try_collect().await.expect("read");
        assert_eq!(body.concat(), b"234");
        let last = files.stream(file, Span::Last(3)).await.expect("stream");
        assert_eq!(last.map(|streamed| streamed.range), Some(7..10));
        let past = files.stream(file, Span::From(10)).await.err();
        assert_eq!(
            past.map(|error| error.kind()),
            Some(io::ErrorKind::InvalidInput)
        );
        files.remove(file).await.expect("remove");
        files
            .remove(file)
            .await
            .expect("removing twice is no error");
        assert!(!files.exists(file).await.expect("exists"));
    }
}
