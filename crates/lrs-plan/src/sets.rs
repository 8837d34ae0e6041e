//! Backup sets as the planner sees them: grouped across files by BackupSetGUID.

use std::collections::BTreeMap;

use lrs_backup::{BackupHeader, BackupMedia, BackupType, Guid, Lsn};
use serde::Serialize;

/// A file found in the backup folder, with what its headers said.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Name (blob path or file name): a label only, never used for ordering.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The parsed headers, or why the file is not a usable backup.
    pub content: Result<BackupMedia, String>,
}

/// Planner settings (the service's behaviour profile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Backups without CHECKSUM are unrestorable (the 2021 preview required CHECKSUM).
    pub require_checksum: bool,
    /// Only backups of this source database (case-insensitive); by default the database with
    /// the most backup sets in the folder.
    pub database: Option<String>,
}

/// The kind of restore step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SetKind {
    /// Full database backup.
    Full,
    /// Differential database backup.
    Diff,
    /// Transaction log backup.
    Log,
}

/// One media family (file) of a backup set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StripeRef {
    /// File name.
    pub file: String,
    /// `WITH FILE = n`.
    pub position: u16,
    /// Media family number.
    pub family: u16,
}

/// A backup set gathered from all the files that hold a piece of it.
#[derive(Debug, Clone)]
pub(crate) struct SetGroup {
    pub(crate) guid: Guid,
    pub(crate) kind: Option<SetKind>,
    pub(crate) header: BackupHeader,
    pub(crate) family_count: u16,
    pub(crate) media_set_id: Guid,
    /// Stripes by family number (a re-uploaded copy of a family keeps the first name).
    pub(crate) stripes: BTreeMap<u16, StripeRef>,
    pub(crate) size: u64,
}

impl SetGroup {
    pub(crate) fn complete(&self) -> bool {
        self.stripes.len() == usize::from(self.family_count)
    }

    pub(crate) fn missing_families(&self) -> Vec<u16> {
        (1..=self.family_count)
            .filter(|f| !self.stripes.contains_key(f))
            .collect()
    }

    pub(crate) fn first_lsn(&self) -> Lsn {
        self.header.first_lsn
    }

    pub(crate) fn last_lsn(&self) -> Lsn {
        self.header.last_lsn
    }

    /// Recovery fork the set's first log record belongs to.
    pub(crate) fn first_fork(&self) -> Guid {
        self.header.first_recovery_fork_id
    }

    pub(crate) fn first_file(&self) -> String {
        self.stripes
            .values()
            .next()
            .map(|s| s.file.clone())
            .unwrap_or_default()
    }
}

pub(crate) fn kind_of(t: BackupType) -> Option<SetKind> {
    match t {
        BackupType::Database => Some(SetKind::Full),
        BackupType::DifferentialDatabase => Some(SetKind::Diff),
        BackupType::TransactionLog => Some(SetKind::Log),
        _ => None,
    }
}
