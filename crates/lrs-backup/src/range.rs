//! The async range-read seam: one code path reads headers from a local file, a buffer or a
//! blob without downloading the whole object.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::future::BoxFuture;

/// Random access to the bytes of one backup file, wherever it lives.
///
/// Implementations must return exactly the requested range or an error; the reader never asks
/// beyond [`RangeRead::size`].
pub trait RangeRead: Send + Sync + fmt::Debug {
    /// Name used in error messages (path or blob name); never contains credentials.
    fn name(&self) -> &str;
    /// Total size of the object in bytes.
    fn size(&self) -> BoxFuture<'_, io::Result<u64>>;
    /// The bytes of `range` (end exclusive).
    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>>;
}

/// An in-memory backup (tests, fuzzing, already-downloaded data).
#[derive(Debug, Clone)]
pub struct MemoryReader {
    name: String,
    data: Bytes,
}

impl MemoryReader {
    /// Wrap `data`, naming it `name` in errors.
    pub fn new(name: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Self {
            name: name.into(),
            data: data.into(),
        }
    }
}

impl RangeRead for MemoryReader {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        let len = self.data.len() as u64;
        Box::pin(async move { Ok(len) })
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        let out = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .filter(|(s, e)| s <= e && *e <= self.data.len())
            .map(|(s, e)| self.data.slice(s..e))
            .ok_or_else(|| out_of_bounds(&range, self.data.len() as u64));
        Box::pin(async move { out })
    }
}

fn out_of_bounds(range: &Range<u64>, size: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "range {}..{} is outside the object of {size} bytes",
            range.start, range.end
        ),
    )
}

/// A local file read with positioned reads on the blocking thread pool.
#[derive(Debug, Clone)]
pub struct FileReader {
    path: PathBuf,
    name: String,
    file: Arc<std::fs::File>,
}

impl FileReader {
    /// Open `path` for reading.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = std::fs::File::open(&path)?;
        Ok(Self {
            name: path.display().to_string(),
            path,
            file: Arc::new(file),
        })
    }

    /// The path this reader was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl RangeRead for FileReader {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        let file = Arc::clone(&self.file);
        Box::pin(async move { Ok(file.metadata()?.len()) })
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        let file = Arc::clone(&self.file);
        Box::pin(async move {
            let len = usize::try_from(range.end.saturating_sub(range.start))
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range too large"))?;
            // Off the async threads inside a tokio runtime; directly under other executors
            // (e.g. `futures::executor::block_on`), where there is no blocking pool.
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => handle
                    .spawn_blocking(move || read_exact_at(&file, range.start, len))
                    .await
                    .map_err(io::Error::other)?,
                Err(_) => read_exact_at(&file, range.start, len),
            }
        })
    }
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(Bytes::from(buf))
}

#[cfg(windows)]
fn read_exact_at(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Bytes> {
    use std::os::windows::fs::FileExt;
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = file.seek_read(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n;
    }
    Ok(Bytes::from(buf))
}

/// Wraps a reader and counts what it reads (tests assert the header-read budget with it;
/// the engine reports it as a metric).
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    bytes: AtomicU64,
    requests: AtomicU64,
}

impl<R: RangeRead> CountingReader<R> {
    /// Count reads going through `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Bytes returned by `read_range` so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Number of `read_range` calls so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl<R: RangeRead> RangeRead for CountingReader<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.inner.size()
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        Box::pin(async move {
            let out = self.inner.read_range(range).await?;
            self.bytes.fetch_add(out.len() as u64, Ordering::Relaxed);
            self.requests.fetch_add(1, Ordering::Relaxed);
            Ok(out)
        })
    }
}

/// Reads ranges of one object in any [`object_store::ObjectStore`] (Azure Blob/Azurite, S3,
/// local folders) with ranged GETs.
#[cfg(feature = "object-store")]
#[derive(Debug, Clone)]
pub struct ObjectStoreReader {
    store: Arc<dyn object_store::ObjectStore>,
    path: object_store::path::Path,
    name: String,
    size: Option<u64>,
}

#[cfg(feature = "object-store")]
impl ObjectStoreReader {
    /// Read `path` in `store`. `size` may come from a listing to save a HEAD request.
    pub fn new(
        store: Arc<dyn object_store::ObjectStore>,
        path: object_store::path::Path,
        size: Option<u64>,
    ) -> Self {
        Self {
            name: path.to_string(),
            store,
            path,
            size,
        }
    }
}

#[cfg(feature = "object-store")]
impl RangeRead for ObjectStoreReader {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        use object_store::ObjectStoreExt;
        Box::pin(async move {
            match self.size {
                Some(size) => Ok(size),
                None => Ok(self
                    .store
                    .head(&self.path)
                    .await
                    .map_err(io::Error::other)?
                    .size),
            }
        })
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        use object_store::ObjectStoreExt;
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(io::Error::other)
        })
    }
}
