//! [`ObjectStoreSource`]: a folder in any object_store backend (local filesystem, Azure Blob
//! Storage and Azurite, S3, in-memory) listed flat and read by range.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use lrs_backup::{ObjectStoreReader, RangeRead};
use object_store::ObjectStore;
use object_store::path::{Path, PathPart};

use crate::retry::with_retry;
use crate::settings::RetrySettings;
use crate::{BlobEntry, Source, SourceError, classify};

/// A flat folder in an object store.
pub struct ObjectStoreSource {
    store: Arc<dyn ObjectStore>,
    folder: Path,
    describe: String,
    retry: RetrySettings,
    local_dir: Option<PathBuf>,
}

impl fmt::Debug for ObjectStoreSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's own Debug may show credentials (a SAS token's pairs): leave it out.
        f.debug_struct("ObjectStoreSource")
            .field("location", &self.describe)
            .field("folder", &self.folder.as_ref())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ObjectStoreSource {
    /// The folder `folder` (`a/b`, empty for the store's root) of `store`. `describe` names it
    /// in messages and must not contain credentials.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        folder: &str,
        describe: impl Into<String>,
        retry: RetrySettings,
    ) -> Result<Self, SourceError> {
        let describe = describe.into();
        let folder = folder_path(folder).map_err(|why| {
            SourceError::Invalid(format!("folder '{folder}' of {describe}: {why}"))
        })?;
        Ok(ObjectStoreSource {
            store,
            folder,
            describe,
            retry,
            local_dir: None,
        })
    }

    /// For a local folder: `dir` must exist when listing (a missing folder is
    /// [`SourceError::NotFound`] like a missing container, not an empty folder).
    pub(crate) fn with_local_dir(mut self, dir: PathBuf) -> Self {
        self.local_dir = Some(dir);
        self
    }

    /// The store path of `name` in the folder.
    fn path_of(&self, name: &str) -> Result<Path, String> {
        let part = PathPart::parse(name).map_err(|e| e.to_string())?;
        Ok(self.folder.clone().join(part))
    }

    async fn list_once(&self) -> Result<Vec<BlobEntry>, SourceError> {
        if let Some(dir) = &self.local_dir {
            match tokio::fs::metadata(dir).await {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(SourceError::NotFound {
                        location: self.describe.clone(),
                        message: "it is a file, not a folder".into(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(SourceError::NotFound {
                        location: self.describe.clone(),
                        message: "the folder does not exist".into(),
                    });
                }
                Err(e) => return Err(classify::from_io(&e, &self.describe)),
            }
        }
        let prefix = (!self.folder.as_ref().is_empty()).then_some(&self.folder);
        let listing = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| classify::from_object_store(&e, &self.describe))?;
        let mut entries: Vec<BlobEntry> = listing
            .objects
            .into_iter()
            .filter_map(|meta| {
                // Objects directly in the folder only (the delimiter listing already excludes
                // nested ones; a store that does not is filtered here).
                let name = meta.location.filename()?.to_string();
                if meta.location.parts().count() != self.folder.parts().count() + 1 {
                    return None;
                }
                Some(BlobEntry {
                    name,
                    size: meta.size,
                    etag: meta.e_tag,
                    last_modified: meta.last_modified,
                })
            })
            .collect();
        if let Some(dir) = &self.local_dir {
            // A symlink in a local folder could point anywhere on this machine: not followed.
            entries.retain(|e| {
                std::fs::symlink_metadata(dir.join(&e.name))
                    .is_ok_and(|m| !m.file_type().is_symlink())
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}

fn folder_path(folder: &str) -> Result<Path, String> {
    let mut path = Path::default();
    for segment in folder.split('/').filter(|s| !s.is_empty()) {
        let part = PathPart::parse(segment).map_err(|e| e.to_string())?;
        path = path.join(part);
    }
    Ok(path)
}

impl Source for ObjectStoreSource {
    fn describe(&self) -> &str {
        &self.describe
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<BlobEntry>, SourceError>> {
        Box::pin(with_retry(&self.retry, "listing", move || self.list_once()))
    }

    fn open(&self, entry: &BlobEntry) -> Arc<dyn RangeRead> {
        let location = format!("{}/{}", self.describe, entry.name);
        let inner = match self.path_of(&entry.name) {
            Ok(path) => Ok(ObjectStoreReader::new(
                Arc::clone(&self.store),
                path,
                Some(entry.size),
            )),
            Err(why) => Err(why),
        };
        Arc::new(BlobReader {
            name: entry.name.clone(),
            location,
            size: entry.size,
            inner,
            retry: self.retry.clone(),
        })
    }
}

/// A ranged reader over one listed blob: checks ranges against the listed size, retries
/// transient failures, and turns store errors into [`SourceError`]s inside `io::Error`.
struct BlobReader {
    name: String,
    location: String,
    size: u64,
    inner: Result<ObjectStoreReader, String>,
    retry: RetrySettings,
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The inner reader's Debug includes the store, whose credentials may be a SAS token.
        f.debug_struct("BlobReader")
            .field("location", &self.location)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl BlobReader {
    async fn read_once(
        &self,
        reader: &ObjectStoreReader,
        range: Range<u64>,
    ) -> Result<Bytes, SourceError> {
        let bytes = reader
            .read_range(range.clone())
            .await
            .map_err(|e| classify::from_io(&e, &self.location))?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(SourceError::Other {
                location: self.location.clone(),
                message: format!(
                    "asked for bytes {}..{} and got {} bytes (did the blob shrink since it was listed?)",
                    range.start,
                    range.end,
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }
}

impl RangeRead for BlobReader {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        let size = self.size;
        Box::pin(async move { Ok(size) })
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        Box::pin(async move {
            let reader = self.inner.as_ref().map_err(|why| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("blob name '{}' cannot be read: {why}", self.name),
                )
            })?;
            if range.start > range.end || range.end > self.size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "range {}..{} is outside blob '{}' of {} bytes",
                        range.start, range.end, self.name, self.size
                    ),
                ));
            }
            if range.start == range.end {
                return Ok(Bytes::new());
            }
            with_retry(&self.retry, "read", || {
                self.read_once(reader, range.clone())
            })
            .await
            .map_err(SourceError::into_io)
        })
    }
}
