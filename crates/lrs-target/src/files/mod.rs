//! The files target: the emulated target's rules, catalog and durable log, plus the files a
//! RESTORE writes — one folder per database with its data files and its log file.
//!
//! * **Data files.** A full creates each data file of its FILELISTONLY (`<logical
//!   name>.mdf` for file 1, `.ndf` for the others) at its listed size and writes every page it
//!   carries at `page number × 8192`; a differential overwrites the pages it carries. Pages
//!   the backups do not carry are zeros. The pages are exactly the backup's pages, verified
//!   (page checksums, backup checksum) before they are kept.
//! * **Log file.** `<logical name>.ldf`: the log streams of the sets restored (the full's, a
//!   differential's, each log backup's), concatenated in restore order. There is no redo of
//!   the log into the data files and no recovery, so the folder is not a database SQL Server
//!   could attach: it is what RESTORE copied, page-accurate for the pages the backups carry.
//! * **Atomicity.** A full is written into a staging folder and replaces the database's folder
//!   only once its log entry is durable; a differential's pages are journaled and written into
//!   the files after its entry; a log stream is appended past the log file's committed length,
//!   which the entry records. So a damaged or interrupted restore leaves no new database and
//!   does not change an existing one's files, and a set retried after a crash lands once (see
//!   `disk.rs` for the layout and the crash cases).
//! * **Names.** The database folder is the name lower-cased (names are case-insensitive, as in
//!   the catalog) with everything outside `[a-z0-9_-]` written as `%XX`, cut with a hash when
//!   long; file names are encoded the same way. No name can leave the target's folder.

mod disk;
mod names;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;

use self::disk::DiskFiles;
pub use self::names::database_folder_name;
use crate::emulated::restorer::Restorer;
use crate::{EmulatedOptions, RestoreOutcome, StripeInput, Target, TargetDatabase, TargetError};

/// Folder (inside the target's folder) holding one folder per database.
pub const DATABASES_DIR: &str = "databases";
/// Folder (inside the target's folder) holding restores written but not yet installed.
pub const STAGING_DIR: &str = "staging";

/// Where a simulated crash stops the next restore (tests of exactly-once): the call fails with
/// [`TargetError::Io`] and leaves the disk as a crash at that point would. Reopen the target
/// to recover, as after a real crash.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The set's files are durable, its log entry is not written.
    BeforeCommit,
    /// The log entry is durable, the staged full or differential is not installed.
    AfterCommit,
}

/// The files target over a folder that holds its log and the databases' files. Cheap to clone
/// (clones share the target).
#[derive(Debug, Clone)]
pub struct FilesTarget {
    inner: Arc<Restorer<DiskFiles>>,
}

impl FilesTarget {
    /// Open the target kept in `dir` (created if needed): replay its log to rebuild the
    /// catalog, then bring the files in line with it (finish an install a crash cut short,
    /// remove what never committed, cut uncommitted log streams). Backups are read as the
    /// emulated target reads them (`options`). Only one target may have a folder open at a
    /// time; several nodes need it on shared storage.
    pub fn open(dir: &Path, options: EmulatedOptions) -> Result<FilesTarget, TargetError> {
        Ok(FilesTarget {
            inner: Restorer::open(dir, options, DiskFiles::new(dir))?,
        })
    }

    /// The folder holding the target's log and files.
    pub fn dir(&self) -> &Path {
        self.inner.dir()
    }

    /// The options the target was opened with.
    pub fn options(&self) -> &EmulatedOptions {
        self.inner.options()
    }

    /// The folder of `database`'s files (whether or not it exists).
    pub fn database_dir(&self, database: &str) -> PathBuf {
        self.inner.files().database_dir(database)
    }

    /// Make the next restore stop at `at` as if the process died there (tests).
    #[cfg(feature = "testing")]
    pub fn crash_next(&self, at: CrashPoint) {
        self.inner.files().crash_next(at);
    }
}

impl Target for FilesTarget {
    fn restore(
        &self,
        database: &str,
        stripes: Vec<StripeInput>,
    ) -> BoxFuture<'_, Result<RestoreOutcome, TargetError>> {
        Box::pin(Arc::clone(&self.inner).restore(database.to_string(), stripes))
    }

    fn recover(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(Arc::clone(&self.inner).recover(database.to_string()))
    }

    fn drop_database(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(Arc::clone(&self.inner).drop_database(database.to_string()))
    }

    fn database(
        &self,
        database: &str,
    ) -> BoxFuture<'_, Result<Option<TargetDatabase>, TargetError>> {
        let view = self.inner.view(database);
        Box::pin(async move { view })
    }
}
