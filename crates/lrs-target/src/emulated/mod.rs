//! The emulated SQL Server target: applies backup sets the way SQL Server's RESTORE does —
//! same checks, same error numbers and texts — without a SQL Server.
//!
//! * **Rules.** Each database has a redo point, a recovery fork and a differential base; a set
//!   that does not fit is refused as SQL Server refuses it (3154, 3159, 3118, 3117, 3136, 3120,
//!   4326, 4305, 4330: the rules, with the evidence for each, are documented in the source,
//!   `emulated/rules.rs`), and a striped set needs all its media families (3132 and the other
//!   device errors of `media.rs`).
//! * **Data.** Every byte of the set's data is read from each stripe in `chunk_size` pieces
//!   (compressed files are decoded), so restore throughput is real; an optional limit keeps each
//!   restore's average rate under a configured number of bytes per second.
//! * **Durability.** Every change is one line of an append-only JSON-lines log
//!   (`target-log.jsonl`), synced before the call returns: a set is applied exactly when its
//!   line is on disk. [`EmulatedTarget::open`] replays the log, dropping a torn final line left
//!   by a crash. [`read_log`] lets tests count what was applied.
//! * **Concurrency.** Restores into different databases run in parallel; appends are serialized
//!   by one writer. A second operation on a database that is being restored is refused with
//!   3101 (3702 for a drop), as SQL Server refuses it while the first holds the database.
//!
//! The machinery (`restorer.rs`) is generic over where the data read goes: nowhere here, into
//! the databases' files in the files target ([`crate::files`]), which shares all of the above.
//!
//! Decisions where SQL Server's behaviour is not certain (documented on the rules): recovering
//! an online database is an error (3153); recovering a missing one is 3118; a full over a
//! restoring database of the same family restarts the sequence; names are case-insensitive.

pub(crate) mod catalog;
pub(crate) mod consume;
mod log;
pub(crate) mod restorer;
mod rules;

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;

pub use self::log::{
    AppliedSet, BackupKind, Journal, LOG_FILE, LogEntry, LogOp, decode_entry, encode_entry,
    read_log,
};
use self::restorer::{NoFiles, Restorer};
use crate::{RestoreOutcome, StripeInput, Target, TargetDatabase, TargetError};

/// Default size of each read from a plain backup file: 2 MiB (two are in flight: the next piece is
/// read while this one is verified; smaller pieces made the hand-over cost more than it hid).
pub const DEFAULT_CHUNK_SIZE: usize = 2 * 1024 * 1024;

/// Largest database name SQL Server accepts (`sysname`).
pub(crate) const MAX_NAME_CHARS: usize = 128;

/// How the emulated target (and the files target) reads backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedOptions {
    /// Keep each restore's average read rate at or under this many bytes per second (realistic
    /// demos); `None` reads as fast as the source allows.
    pub throughput_bytes_per_sec: Option<u64>,
    /// Bytes per read from a plain backup file (at least 1; compressed files are read as their
    /// chunks decode).
    pub chunk_size: usize,
    /// Restore as `RESTORE … WITH NO_CHECKSUM`: check only the MTF structure, not the pages and
    /// backup checksums of sets taken WITH CHECKSUM (which SQL Server, and so LRS, checks by
    /// default). For measuring what verification costs; `false` emulates the service.
    pub no_checksum: bool,
}

impl Default for EmulatedOptions {
    fn default() -> Self {
        EmulatedOptions {
            throughput_bytes_per_sec: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
            no_checksum: false,
        }
    }
}

/// The emulated SQL Server target over a directory that holds its log. Cheap to clone (clones
/// share the target).
#[derive(Debug, Clone)]
pub struct EmulatedTarget {
    inner: Arc<Restorer<NoFiles>>,
}

impl EmulatedTarget {
    /// An emulated target whose record is `journal` (for instance one several nodes share in
    /// the state store) instead of the log file in `dir`: any node sharing the journal sees the
    /// databases, redo points and applied sets of all of them, so it can continue any migration.
    pub fn open_with_journal(
        dir: &Path,
        options: EmulatedOptions,
        journal: Box<dyn Journal>,
    ) -> Result<EmulatedTarget, TargetError> {
        Ok(EmulatedTarget {
            inner: Restorer::open_with(dir, options, NoFiles, journal)?,
        })
    }

    /// Open the target kept in `dir` (created if needed): replay its log to rebuild the
    /// catalog, truncating a torn final line (a write cut by a crash); a bad line anywhere else
    /// is an error naming it. Only one target may have a directory open at a time.
    pub fn open(dir: &Path, options: EmulatedOptions) -> Result<EmulatedTarget, TargetError> {
        Ok(EmulatedTarget {
            inner: Restorer::open(dir, options, NoFiles)?,
        })
    }

    /// The directory holding the target's log.
    pub fn dir(&self) -> &Path {
        self.inner.dir()
    }

    /// The options the target was opened with.
    pub fn options(&self) -> &EmulatedOptions {
        self.inner.options()
    }
}

impl Target for EmulatedTarget {
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
