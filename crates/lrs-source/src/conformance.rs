//! The conformance suite every [`Source`] implementation runs (feature `testing`): flat sorted
//! listings with exact sizes, overwrites that show, exact ranged reads, header reads through
//! [`Source::open`] within the request budget, and the [`Scanner`]'s delta semantics at the
//! cost of one listing per poll.
//!
//! A backend's test provides a [`FolderFactory`]: a fresh empty folder per check, as the
//! [`Source`] that reads it plus a [`FolderFixture`] that writes into it. [`run_all`] runs
//! every check; each check is also public, to run alone.
//!
//! Checks return `Err` with what differed instead of panicking, so that the caller's test
//! names the backend and the check in its failure.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use lrs_backup::{MemoryReader, read_backup};
use lrs_forge::{ChainSpec, DatabaseSpec};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::testing::CountingSource;
use crate::{BlobEntry, Scanner, Source};

/// Largest number of range requests a header read of a plain backup may take.
pub const HEADER_READ_BUDGET: u64 = 3;

/// Writes files into the folder a source reads.
pub trait FolderFixture: Send + Sync + Debug {
    /// Create or overwrite `name` (may contain `/` for a nested folder) with `bytes`.
    fn put<'a>(&'a self, name: &'a str, bytes: Bytes) -> BoxFuture<'a, Result<(), String>>;
    /// Delete `name`.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// A source and the fixture that writes into its folder.
pub type Folder = (Arc<dyn Source>, Box<dyn FolderFixture>);

/// Makes a fresh, empty folder for each check.
pub trait FolderFactory: Send + Sync {
    /// A new empty folder; `label` names the check (usable in the folder's name).
    fn fresh<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<Folder, String>>;
}

/// Run every check, each in a fresh folder. The error names the failing check.
pub async fn run_all(factory: &dyn FolderFactory) -> Result<(), String> {
    macro_rules! check {
        ($name:ident) => {{
            let (source, fixture) = factory.fresh(stringify!($name)).await?;
            $name(source, fixture.as_ref())
                .await
                .map_err(|e| format!("{}: {e}", stringify!($name)))?;
        }};
    }
    check!(listing_is_flat_sorted_and_exact);
    check!(overwrites_change_size_or_etag);
    check!(ranged_reads_are_exact);
    check!(headers_read_through_open);
    check!(scanner_reports_deltas_with_one_listing_per_poll);
    Ok(())
}

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

fn ensure_eq<T: PartialEq + Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    ensure(got == want, || {
        format!("{what}: got {got:?}, want {want:?}")
    })
}

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| {
            let i = i as u64;
            // Truncation intended: a byte pattern.
            #[allow(clippy::cast_possible_truncation)]
            let b = (i.wrapping_mul(31).wrapping_add(u64::from(seed)) % 251) as u8;
            b
        })
        .collect::<Vec<u8>>()
        .into()
}

fn names(entries: &[BlobEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

/// Files directly in the folder are listed, sorted by name, with exact sizes; files in a
/// nested folder are not.
pub async fn listing_is_flat_sorted_and_exact(
    source: Arc<dyn Source>,
    fixture: &dyn FolderFixture,
) -> Result<(), String> {
    let empty = source.list().await.map_err(|e| e.to_string())?;
    ensure_eq("listing of an empty folder", names(&empty), vec![])?;
    fixture.put("b_FULL.bak", pattern(10, 1)).await?;
    fixture.put("a_LOG_00001.trn", pattern(3, 2)).await?;
    fixture.put("c db FULL.bak", pattern(7, 3)).await?;
    fixture.put("B_upper.bak", pattern(1, 4)).await?;
    fixture.put("nested/ignored.bak", pattern(5, 5)).await?;
    let listing = source.list().await.map_err(|e| e.to_string())?;
    ensure_eq(
        "names",
        names(&listing),
        vec![
            "B_upper.bak",
            "a_LOG_00001.trn",
            "b_FULL.bak",
            "c db FULL.bak",
        ],
    )?;
    ensure_eq(
        "sizes",
        listing.iter().map(|e| e.size).collect::<Vec<_>>(),
        vec![1, 3, 10, 7],
    )?;
    Ok(())
}

/// Overwriting a file changes its size or its entity tag, and the scanner reports it.
pub async fn overwrites_change_size_or_etag(
    source: Arc<dyn Source>,
    fixture: &dyn FolderFixture,
) -> Result<(), String> {
    let mut scanner = Scanner::new();
    fixture.put("x.bak", pattern(100, 1)).await?;
    let first = scanner
        .scan(source.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    ensure_eq("added", names(&first.added), vec!["x.bak"])?;
    let before = first.listing.first().cloned();
    ensure(before.as_ref().is_some_and(|e| e.etag.is_some()), || {
        format!("the store reports no entity tag: {before:?}")
    })?;
    // Same size, other content: only the entity tag can tell.
    fixture.put("x.bak", pattern(100, 2)).await?;
    let second = scanner
        .scan(source.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    ensure_eq(
        "changed after a same-size overwrite",
        names(&second.changed),
        vec!["x.bak"],
    )?;
    let after = second.listing.first().cloned();
    ensure(
        before.as_ref().map(|e| &e.etag) != after.as_ref().map(|e| &e.etag),
        || format!("entity tag unchanged by an overwrite: {before:?} then {after:?}"),
    )?;
    fixture.put("x.bak", pattern(150, 3)).await?;
    let third = scanner
        .scan(source.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    ensure_eq(
        "changed after a resize",
        names(&third.changed),
        vec!["x.bak"],
    )?;
    ensure_eq(
        "size after the resize",
        third.changed.first().map(|e| e.size),
        Some(150),
    )?;
    ensure(third.added.is_empty() && third.removed.is_empty(), || {
        format!("an overwrite is neither an addition nor a removal: {third:?}")
    })
}

/// Readers return exactly the bytes asked for, and a range beyond the blob is an error.
pub async fn ranged_reads_are_exact(
    source: Arc<dyn Source>,
    fixture: &dyn FolderFixture,
) -> Result<(), String> {
    const LEN: u64 = 100_000;
    let data = pattern(100_000, 7);
    fixture.put("r.bin", data.clone()).await?;
    let listing = source.list().await.map_err(|e| e.to_string())?;
    let entry = listing
        .iter()
        .find(|e| e.name == "r.bin")
        .ok_or_else(|| format!("r.bin not listed: {listing:?}"))?;
    ensure_eq("listed size", entry.size, LEN)?;
    let reader = source.open(entry);
    ensure_eq(
        "reader size",
        reader.size().await.map_err(|e| e.to_string())?,
        LEN,
    )?;
    for (start, end) in [
        (0u64, 16u64),
        (4096, 8192),
        (LEN - 10, LEN),
        (5, 5),
        (0, LEN),
    ] {
        let got = reader
            .read_range(start..end)
            .await
            .map_err(|e| format!("read {start}..{end}: {e}"))?;
        let (s, e) = (
            usize::try_from(start).map_err(|e| e.to_string())?,
            usize::try_from(end).map_err(|e| e.to_string())?,
        );
        ensure(got == data.slice(s..e), || {
            format!("bytes {start}..{end} differ ({} bytes returned)", got.len())
        })?;
    }
    for (start, end) in [(LEN - 5, LEN + 5), (LEN, LEN + 1), (200, 100)] {
        let got = reader.read_range(start..end).await;
        ensure(got.is_err(), || {
            format!("read {start}..{end} of a {LEN}-byte blob succeeded: {got:?}")
        })?;
    }
    Ok(())
}

/// The headers of forged backups read through [`Source::open`] equal those read from memory,
/// in at most [`HEADER_READ_BUDGET`] range requests per file.
pub async fn headers_read_through_open(
    source: Arc<dyn Source>,
    fixture: &dyn FolderFixture,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut db = DatabaseSpec::new("ConformanceDb");
    db.data_size = 2 << 20;
    db.log_size = 256 << 10;
    let mut spec = ChainSpec::new(db);
    spec.diffs = 1;
    spec.logs = 2;
    let forged = lrs_forge::write_chain(&spec, dir.path()).map_err(|e| e.to_string())?;
    let mut expected = Vec::new();
    for file in &forged {
        let name = file
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("forged file without a name: {file:?}"))?
            .to_string();
        let bytes = Bytes::from(std::fs::read(&file.path).map_err(|e| e.to_string())?);
        let from_memory = read_backup(&MemoryReader::new(name.clone(), bytes.clone()))
            .await
            .map_err(|e| format!("{name} from memory: {e}"))?;
        fixture.put(&name, bytes).await?;
        expected.push((name, from_memory));
    }
    let counting = CountingSource::new(Arc::clone(&source));
    let listing = counting.list().await.map_err(|e| e.to_string())?;
    ensure_eq("forged files listed", listing.len(), expected.len())?;
    for (name, from_memory) in &expected {
        let entry = listing
            .iter()
            .find(|e| &e.name == name)
            .ok_or_else(|| format!("{name} not listed"))?;
        let reads_before = counting.reads();
        let reader = counting.open(entry);
        let media = read_backup(reader.as_ref())
            .await
            .map_err(|e| format!("{name} through open(): {e}"))?;
        ensure(&media == from_memory, || {
            format!("{name}: headers read through open() differ from those read from memory")
        })?;
        let requests = counting.reads() - reads_before;
        ensure(requests <= HEADER_READ_BUDGET, || {
            format!("{name}: {requests} range requests, budget {HEADER_READ_BUDGET}")
        })?;
    }
    Ok(())
}

/// The scanner reports added, changed and removed blobs; an unchanged folder costs one
/// listing and no reads.
pub async fn scanner_reports_deltas_with_one_listing_per_poll(
    source: Arc<dyn Source>,
    fixture: &dyn FolderFixture,
) -> Result<(), String> {
    let counting = CountingSource::new(source);
    let mut scanner = Scanner::new();
    fixture.put("a.bak", pattern(10, 1)).await?;
    fixture.put("b.trn", pattern(20, 2)).await?;
    let first = scanner.scan(&counting).await.map_err(|e| e.to_string())?;
    ensure_eq(
        "first scan: added",
        names(&first.added),
        vec!["a.bak", "b.trn"],
    )?;
    ensure(first.changed.is_empty() && first.removed.is_empty(), || {
        format!("first scan: {first:?}")
    })?;
    for poll in 2..=3 {
        let again = scanner.scan(&counting).await.map_err(|e| e.to_string())?;
        ensure(again.is_unchanged(), || {
            format!("poll {poll} of an unchanged folder: {again:?}")
        })?;
        ensure_eq(
            "listing of the unchanged folder",
            names(&again.listing),
            vec!["a.bak", "b.trn"],
        )?;
    }
    ensure_eq("listings for three polls", counting.lists(), 3)?;
    ensure_eq("readers opened by scanning", counting.opens(), 0)?;
    ensure_eq("range reads by scanning", counting.reads(), 0)?;

    fixture.put("b.trn", pattern(25, 3)).await?;
    fixture.put("c.trn", pattern(30, 4)).await?;
    fixture.delete("a.bak").await?;
    let delta = scanner.scan(&counting).await.map_err(|e| e.to_string())?;
    ensure_eq("added", names(&delta.added), vec!["c.trn"])?;
    ensure_eq("changed", names(&delta.changed), vec!["b.trn"])?;
    ensure_eq("removed", delta.removed.clone(), vec!["a.bak".to_string()])?;
    ensure_eq("listing", names(&delta.listing), vec!["b.trn", "c.trn"])?;
    ensure_eq("listings in all", counting.lists(), 4)?;
    ensure_eq("range reads in all", counting.reads(), 0)
}

/// A local folder written the way a careful copier does: a temporary file renamed into
/// place (so an overwrite is a new file, as on blob storage).
#[derive(Debug, Clone)]
pub struct LocalFolder {
    dir: PathBuf,
}

impl LocalFolder {
    /// Write into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalFolder { dir: dir.into() }
    }
}

impl FolderFixture for LocalFolder {
    fn put<'a>(&'a self, name: &'a str, bytes: Bytes) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = self.dir.join(name);
            let parent = path
                .parent()
                .ok_or_else(|| format!("{} has no parent folder", path.display()))?;
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("create {}: {e}", parent.display()))?;
            let temp = parent.join(format!(".{}.partial", uuid_like()));
            tokio::fs::write(&temp, &bytes)
                .await
                .map_err(|e| format!("write {}: {e}", temp.display()))?;
            tokio::fs::rename(&temp, &path)
                .await
                .map_err(|e| format!("rename to {}: {e}", path.display()))
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = self.dir.join(name);
            tokio::fs::remove_file(&path)
                .await
                .map_err(|e| format!("delete {}: {e}", path.display()))
        })
    }
}

/// A name unique within this process (temporary files).
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A folder in an object store, written through the store itself.
#[derive(Debug, Clone)]
pub struct StoreFolder {
    store: Arc<dyn ObjectStore>,
    folder: String,
}

impl StoreFolder {
    /// Write into `folder` (`a/b`) of `store`.
    pub fn new(store: Arc<dyn ObjectStore>, folder: &str) -> Self {
        StoreFolder {
            store,
            folder: folder.trim_matches('/').to_string(),
        }
    }

    fn path(&self, name: &str) -> Path {
        if self.folder.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.folder))
        }
    }
}

impl FolderFixture for StoreFolder {
    fn put<'a>(&'a self, name: &'a str, bytes: Bytes) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.store
                .put(&self.path(name), PutPayload::from_bytes(bytes))
                .await
                .map(|_| ())
                .map_err(|e| format!("put {name}: {e}"))
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.store
                .delete(&self.path(name))
                .await
                .map_err(|e| format!("delete {name}: {e}"))
        })
    }
}
