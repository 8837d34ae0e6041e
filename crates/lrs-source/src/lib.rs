//! Backup sources: the blob folder a restore job watches.
//!
//! One trait, [`Source`], with one conformance suite (module `conformance`, feature `testing`)
//! that every implementation runs (the object_store pattern). A source lists a flat folder and
//! hands out ranged readers ([`lrs_backup::RangeRead`]) so that the backup reader fetches
//! headers only. [`Scanner`] turns successive listings into what changed, so that a poll of an
//! unchanged folder costs one listing and no reads.
//!
//! One implementation, [`ObjectStoreSource`], covers every backend; [`open_source`] builds it
//! from a job's container URI and credential: local folders (`file://` or a path), Azure Blob
//! Storage and Azurite (container URI + SAS token, or account keys configured on the emulator
//! standing in for a managed identity), and S3-compatible stores. Storage errors become
//! [`SourceError`]s that say what to do (retry, fail as denied, fail as missing) in the words
//! of the real service, after bounded retries with backoff ([`RetrySettings`]).
//!
//! [`sas`] holds the SAS rules LRS applies before a job may start, and the redaction every
//! log line and API answer goes through.

use std::fmt;
use std::io;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lrs_backup::RangeRead;
use serde::{Deserialize, Serialize};

mod classify;
mod location;
mod object;
mod open;
mod retry;
pub mod sas;
mod scanner;
mod settings;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod testing;

pub use object::ObjectStoreSource;
pub use open::{SourceAuth, SourceSpec, check_location, install_crypto_provider, open_source};
pub use scanner::{ScanDelta, Scanner};
pub use settings::{
    AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, RetrySettings, S3Settings, Secret, SourceSettings,
};

/// One blob (file) in a source folder, as the listing reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    /// Name relative to the folder (no folder prefix, no leading `/`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag when the store has one; with `size` the key that tells a changed blob.
    pub etag: Option<String>,
    /// Last-modified time (the "upload time" LRS reports as `lastUploadedFileTime`).
    pub last_modified: DateTime<Utc>,
}

/// A flat folder of backup files.
pub trait Source: Send + Sync + fmt::Debug {
    /// The folder's location for messages and logs, with any secret redacted.
    fn describe(&self) -> &str;

    /// Every blob directly in the folder (nested folders are not part of it), sorted by name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<BlobEntry>, SourceError>>;

    /// A ranged reader over one listed blob. Reads go to the store only when the reader is used.
    fn open(&self, entry: &BlobEntry) -> Arc<dyn RangeRead>;
}

/// Why a source operation failed, classified by what the job should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// A network or server hiccup worth retrying with backoff; never fails a job by itself.
    #[error("transient storage error on {location}: {message}")]
    Transient {
        /// Redacted location.
        location: String,
        /// What happened.
        message: String,
    },
    /// The store refused the credentials (expired or revoked SAS, missing permission): fatal.
    #[error("access to {location} was denied: {message}")]
    AccessDenied {
        /// Redacted location.
        location: String,
        /// What the store said.
        message: String,
    },
    /// The container or folder does not exist.
    #[error("{location} was not found: {message}")]
    NotFound {
        /// Redacted location.
        location: String,
        /// What the store said.
        message: String,
    },
    /// The source cannot be built from what was given (bad URI, unsupported scheme, ...).
    #[error("invalid source: {0}")]
    Invalid(String),
    /// A managed-identity job on an account the emulator has no key for. Emulates the real
    /// service's `ManagedIdentityIssueDetectedFromTheStart` (the instance's identity was not
    /// granted access to the storage account).
    #[error(
        "Managed identity is not set up properly. Please verify and try again. (the emulator has no account key configured for storage account '{account}': add it to the source settings)"
    )]
    ManagedIdentityNotConfigured {
        /// The storage account.
        account: String,
    },
    /// A failure that retrying will not fix and that is not about access or existence (a
    /// rejected request, an unreadable answer, a blob that shrank while being read).
    #[error("storage error on {location}: {message}")]
    Other {
        /// Redacted location.
        location: String,
        /// What happened.
        message: String,
    },
}

impl SourceError {
    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Transient { .. })
    }

    /// The source error behind an I/O error returned by a reader from [`Source::open`], if
    /// there is one (the engine tells a denied read from a hiccup with it).
    pub fn from_io(err: &io::Error) -> Option<&SourceError> {
        err.get_ref()?.downcast_ref::<SourceError>()
    }

    /// Wrap in an `io::Error` (what [`RangeRead`] returns), keeping the classification
    /// reachable through [`SourceError::from_io`].
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            SourceError::Transient { .. } => io::ErrorKind::TimedOut,
            SourceError::AccessDenied { .. } | SourceError::ManagedIdentityNotConfigured { .. } => {
                io::ErrorKind::PermissionDenied
            }
            SourceError::NotFound { .. } => io::ErrorKind::NotFound,
            SourceError::Invalid(_) => io::ErrorKind::InvalidInput,
            SourceError::Other { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}
