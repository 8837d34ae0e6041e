//! Backup sources: the blob folder a restore job watches.
//!
//! One trait, [`Source`], with one conformance suite ([`conformance`]) that every implementation
//! runs (the object_store pattern). A source lists a flat folder and hands out ranged readers
//! ([`lrs_backup::RangeRead`]) so that the backup reader fetches headers only.
//!
//! Implementations: local folders (`file://`), Azure Blob Storage and Azurite (container URI +
//! SAS token, or account credentials configured on the emulator for managed identity), and
//! S3-compatible stores. [`sas`] holds the SAS rules LRS applies before a job may start, and the
//! redaction every log line and API answer goes through.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lrs_backup::RangeRead;

pub mod sas;

/// One blob (file) in a source folder, as the listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl SourceError {
    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Transient { .. })
    }
}
