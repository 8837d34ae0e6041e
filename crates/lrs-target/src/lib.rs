//! Restore targets: where backup sets are applied WITH NORECOVERY and finally recovered.
//!
//! One trait, [`Target`], with one conformance suite that every implementation runs. The default
//! implementation is the emulated target ([`emulated`]): it tracks each database's redo point,
//! refuses out-of-order sets with SQL Server's own error numbers and messages, reads and
//! verifies every byte of each set's data streams, and keeps a durable, append-only log of what
//! it applied. The files target ([`files`]) is the same machinery that also writes what
//! RESTORE writes: each database's data files and log file.
//!
//! * [`sql`]: SQL Server's RESTORE errors (numbers and texts), shared by every target.
//! * [`emulated`]: [`EmulatedTarget`], the default target, and the machinery both share.
//! * [`files`]: [`FilesTarget`], which writes the databases' files.
//! * `conformance` (cargo feature `testing`): one async check per restore behaviour, to run
//!   against any [`Target`].

#[cfg(feature = "testing")]
pub mod conformance;
pub mod emulated;
pub mod files;
mod media;
pub mod sql;

pub use emulated::{
    EmulatedOptions, EmulatedTarget, Journal, LogEntry, decode_entry, encode_entry, read_log,
};
pub use files::FilesTarget;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lrs_backup::{BackupSet, Guid, Lsn, RangeRead};

/// One media family of the set being restored: where to read it and where the set sits in it.
#[derive(Debug, Clone)]
pub struct StripeInput {
    /// Reader over the whole backup file (`FROM DISK = …`).
    pub reader: Arc<dyn RangeRead>,
    /// The set as the header reader found it in this file (position, header, data range).
    pub set: BackupSet,
}

/// What a restore applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// Bytes of the set's data consumed across its stripes: for each stripe, its set's MTF bytes
    /// from the SSET block to the soft filemark closing its data (`BackupSet::start_offset ..
    /// data_end_offset`). For a compressed file these are decoded bytes, so a set reports the
    /// same count compressed or plain.
    pub bytes: u64,
    /// The database's redo point after the restore.
    pub redo_lsn: Lsn,
}

/// A database's state on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseState {
    /// Restored WITH NORECOVERY at least once, waiting for more.
    Restoring,
    /// Recovered and readable: nothing can be restored into it any more.
    Online,
}

/// A database on the target, as the target's catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDatabase {
    /// Database name (case as created).
    pub name: String,
    /// Restoring or Online.
    pub state: DatabaseState,
    /// The point the next log must cover (None until the first full is restored).
    pub redo_lsn: Option<Lsn>,
    /// BackupSetGUID of the last set applied, so a restarted job can tell whether its in-flight
    /// set landed before a crash.
    pub last_applied_set: Option<Guid>,
    /// When it was created on the target.
    pub created_at: DateTime<Utc>,
}

/// Why the target refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// SQL Server refused the RESTORE (error number and message as SQL Server prints them).
    #[error("Msg {number}: {message}")]
    Sql {
        /// SQL Server error number (4305, 4326, 3136, 3154, 3117, ...).
        number: u32,
        /// Message text.
        message: String,
    },
    /// RESTORE found the backup itself damaged (a corrupt page, a broken backup checksum, a
    /// malformed block): SQL Server's number and text, and which kind of damage, so that the
    /// service can answer with its own code. Retrying cannot help.
    #[error("Msg {number}: {message}")]
    Damaged {
        /// What was damaged.
        damage: Damage,
        /// SQL Server error number (3183, 3189, 3241).
        number: u32,
        /// Message text, with the file, offset and detail appended.
        message: String,
    },
    /// Reading the backup failed (storage or format); the set can be retried.
    #[error("reading the backup failed: {0}")]
    Read(String),
    /// The target's own storage failed.
    #[error("target storage failed: {0}")]
    Io(String),
}

/// The kinds of damage RESTORE reports, which the service reports with different codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// A data page failed its checksum, torn-page or placement check (3183).
    CorruptPage,
    /// The backup set's structure or backup checksum is damaged (3189, 3241).
    DamagedSet,
}

/// A SQL Server-like restore target.
pub trait Target: Send + Sync + fmt::Debug {
    /// `RESTORE DATABASE|LOG name FROM DISK = … WITH FILE = n, NORECOVERY`, stripes in family
    /// order. A full backup creates the database when it does not exist.
    fn restore(
        &self,
        database: &str,
        stripes: Vec<StripeInput>,
    ) -> BoxFuture<'_, Result<RestoreOutcome, TargetError>>;

    /// `RESTORE DATABASE name WITH RECOVERY`: bring the database online.
    fn recover(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>>;

    /// `DROP DATABASE name`; dropping a database that does not exist is not an error.
    fn drop_database(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>>;

    /// The database's state, or None when the target has no such database.
    fn database(
        &self,
        database: &str,
    ) -> BoxFuture<'_, Result<Option<TargetDatabase>, TargetError>>;
}
