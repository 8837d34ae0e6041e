//! Errors of the backup reader: what went wrong, at which byte of which file.
//!
//! The pure parsers return [`FormatError`] (offset + reason); the readers that know the file
//! name wrap it into [`BackupError`]. Every variant says *why* in words a DBA understands.

use std::fmt;

/// Why a backup file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a SQL Server backup at all (wrong magic, empty file, ...).
    #[error("not a SQL Server backup: {0}")]
    NotABackup(String),
    /// A valid backup using a feature this reader does not support (e.g. QAT_DEFLATE).
    #[error("unsupported backup feature: {0}")]
    Unsupported(String),
    /// The backup was written `WITH ENCRYPTION`; its headers need the certificate's private key.
    #[error("encrypted backup (BACKUP ... WITH ENCRYPTION): {0}")]
    Encrypted(String),
    /// The file ends before the backup does (partial upload or cut copy).
    #[error("truncated backup: {0}")]
    Truncated(String),
    /// A block or stream header checksum does not match its contents.
    #[error("bad {what} checksum: stored {stored:#06x}, computed {computed:#06x}")]
    BadChecksum {
        /// Which structure failed (e.g. "SSET block header").
        what: &'static str,
        /// Checksum stored in the file.
        stored: u16,
        /// Checksum computed over the bytes.
        computed: u16,
    },
    /// A structure is present but its contents are inconsistent or out of range.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// Which structure (e.g. "SCIN record").
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The storage below the reader failed (file system, blob store).
    #[error("read failed: {0}")]
    Io(String),
}

/// A format problem at an absolute byte offset of the backup stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte offset {offset})")]
pub struct FormatError {
    /// Absolute byte offset in the file where the problem was found.
    pub offset: u64,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl FormatError {
    /// A new error at `offset`.
    pub fn new(offset: u64, kind: ErrorKind) -> Self {
        Self { offset, kind }
    }

    /// Shorthand for [`ErrorKind::Malformed`].
    pub fn malformed(offset: u64, what: &'static str, why: impl Into<String>) -> Self {
        Self::new(
            offset,
            ErrorKind::Malformed {
                what,
                why: why.into(),
            },
        )
    }

    /// Attach the file (or blob) name, producing the error users see.
    pub fn in_file(self, file: impl Into<String>) -> BackupError {
        BackupError {
            file: file.into(),
            offset: self.offset,
            kind: self.kind,
        }
    }
}

/// A backup that could not be read: which file, where, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupError {
    /// File path or blob name as given by the caller.
    pub file: String,
    /// Absolute byte offset of the problem.
    pub offset: u64,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (at byte offset {})",
            self.file, self.kind, self.offset
        )
    }
}

impl std::error::Error for BackupError {}
