//! ObjectStoreSource at the store level: what reaches the store (one listing per poll, ranged
//! GETs without HEAD), retries of injected transient faults, folder isolation, and local
//! folder specifics.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use lrs_source::{
    ObjectStoreSource, RetrySettings, Scanner, Source, SourceAuth, SourceError, SourceSettings,
    SourceSpec, open_source,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// InMemory that counts requests and fails the next N listings or GETs with a timeout.
#[derive(Debug, Default)]
struct Instrumented {
    inner: InMemory,
    listings: AtomicU64,
    gets: AtomicU64,
    heads: AtomicU64,
    ranges: Mutex<Vec<Option<GetRange>>>,
    fail_listings: AtomicU32,
    fail_gets: AtomicU32,
}

impl fmt::Display for Instrumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Instrumented(InMemory)")
    }
}

fn timeout() -> object_store::Error {
    object_store::Error::Generic {
        store: "Instrumented",
        source: Box::new(object_store::client::HttpError::new(
            object_store::client::HttpErrorKind::Timeout,
            std::io::Error::new(std::io::ErrorKind::TimedOut, "injected timeout"),
        )),
    }
}

fn take_fault(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[async_trait]
impl ObjectStore for Instrumented {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            self.heads.fetch_add(1, Ordering::SeqCst);
        } else {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.ranges
                .lock()
                .expect("lock")
                .push(options.range.clone());
        }
        if take_fault(&self.fail_gets) {
            return Err(timeout());
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        if take_fault(&self.fail_listings) {
            return Err(timeout());
        }
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn fast_retry(max_attempts: u32) -> RetrySettings {
    RetrySettings {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..RetrySettings::default()
    }
}

async fn setup(max_attempts: u32) -> (Arc<Instrumented>, ObjectStoreSource) {
    let store = Arc::new(Instrumented::default());
    for (name, len) in [
        ("db1/a.bak", 5000usize),
        ("db1/b.trn", 300),
        ("db10/x.bak", 1),
        ("db1/sub/c.bak", 2),
    ] {
        store
            .put(&Path::from(name), PutPayload::from(vec![1u8; len]))
            .await
            .expect("put");
    }
    let source = ObjectStoreSource::new(
        Arc::clone(&store) as Arc<dyn ObjectStore>,
        "db1",
        "memory:///db1",
        fast_retry(max_attempts),
    )
    .expect("source");
    (store, source)
}

#[tokio::test]
async fn polling_an_unchanged_folder_costs_one_listing_and_no_reads() {
    let (store, source) = setup(3).await;
    let mut scanner = Scanner::new();
    let first = scanner.scan(&source).await.expect("scan");
    // db10 shares a name prefix but is another folder; sub/ is nested.
    let names: Vec<_> = first
        .listing
        .iter()
        .map(|e| (e.name.as_str(), e.size))
        .collect();
    assert_eq!(names, [("a.bak", 5000), ("b.trn", 300)]);
    for _ in 0..5 {
        assert!(scanner.scan(&source).await.expect("scan").is_unchanged());
    }
    assert_eq!(store.listings.load(Ordering::SeqCst), 6);
    assert_eq!(store.gets.load(Ordering::SeqCst), 0);
    assert_eq!(store.heads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn reads_are_ranged_gets_without_head() {
    let (store, source) = setup(3).await;
    let listing = source.list().await.expect("list");
    let reader = source.open(&listing[0]);
    assert_eq!(reader.name(), "a.bak");
    assert_eq!(reader.size().await.expect("size"), 5000);
    let bytes = reader.read_range(100..164).await.expect("read");
    assert_eq!(bytes.len(), 64);
    assert_eq!(store.heads.load(Ordering::SeqCst), 0);
    assert_eq!(
        *store.ranges.lock().expect("lock"),
        vec![Some(GetRange::Bounded(100..164))]
    );
    // Out of range: refused before any request.
    let err = reader
        .read_range(4990..5010)
        .await
        .expect_err("beyond the end");
    assert_eq!(
        err.to_string(),
        "range 4990..5010 is outside blob 'a.bak' of 5000 bytes"
    );
    assert_eq!(store.gets.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn transient_faults_are_retried() {
    let (store, source) = setup(3).await;
    store.fail_listings.store(2, Ordering::SeqCst);
    let listing = source.list().await.expect("third attempt succeeds");
    assert_eq!(listing.len(), 2);
    assert_eq!(store.listings.load(Ordering::SeqCst), 3);

    store.fail_gets.store(2, Ordering::SeqCst);
    let reader = source.open(&listing[1]);
    assert_eq!(reader.read_range(0..300).await.expect("read").len(), 300);
    assert_eq!(store.gets.load(Ordering::SeqCst), 3);

    // More faults than attempts: Transient, reachable through the io::Error.
    store.fail_gets.store(3, Ordering::SeqCst);
    let err = reader.read_range(0..10).await.expect_err("gives up");
    let source_err = SourceError::from_io(&err).expect("classified");
    assert!(source_err.is_transient(), "{source_err:?}");
    assert!(
        source_err
            .to_string()
            .ends_with("(gave up after 3 attempts)"),
        "{source_err}"
    );
    assert_eq!(store.gets.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn a_deleted_blob_reads_as_not_found() {
    let (store, source) = setup(3).await;
    let listing = source.list().await.expect("list");
    store
        .delete(&Path::from("db1/b.trn"))
        .await
        .expect("delete");
    let err = source
        .open(&listing[1])
        .read_range(0..10)
        .await
        .expect_err("gone");
    assert!(
        matches!(SourceError::from_io(&err), Some(SourceError::NotFound { location, .. }) if location == "memory:///db1/b.trn"),
        "{err:?}"
    );
    // Not retried.
    assert_eq!(store.gets.load(Ordering::SeqCst), 1);
}

fn local(uri: String) -> Arc<dyn Source> {
    open_source(
        &SourceSpec {
            uri,
            auth: SourceAuth::Sas("sp=rl&se=2099-01-01&sig=ignored".into()),
        },
        &SourceSettings::default(),
    )
    .expect("open")
}

#[tokio::test]
async fn local_folders_missing_or_not_a_folder_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let err = local(missing.display().to_string())
        .list()
        .await
        .expect_err("missing");
    assert_eq!(
        err,
        SourceError::NotFound {
            location: format!("file://{}", missing.display()),
            message: "the folder does not exist".into()
        }
    );
    let file = dir.path().join("file.bak");
    std::fs::write(&file, b"x").expect("write");
    let err = local(format!("file://{}", file.display()))
        .list()
        .await
        .expect_err("a file");
    assert!(
        matches!(&err, SourceError::NotFound { message, .. } if message == "it is a file, not a folder"),
        "{err:?}"
    );
}

#[tokio::test]
async fn local_names_are_kept_verbatim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = [
        "plain.bak",
        "with space.bak",
        "percent%41.bak",
        "dollar$.trn",
        "ünïcode.bak",
    ];
    for name in names {
        std::fs::write(dir.path().join(name), name.as_bytes()).expect("write");
    }
    let source = local(dir.path().display().to_string());
    let listing = source.list().await.expect("list");
    let mut want: Vec<&str> = names.to_vec();
    want.sort_unstable();
    assert_eq!(
        listing.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        want
    );
    for entry in &listing {
        let bytes = source
            .open(entry)
            .read_range(0..entry.size)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        assert_eq!(bytes.as_ref(), entry.name.as_bytes());
    }
}
