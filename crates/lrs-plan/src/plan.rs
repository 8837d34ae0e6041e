//! What the planner answers: the [`Plan`] and its parts.

use std::sync::Arc;

use lrs_backup::{BackupDateTime, Guid, Lsn};
use serde::Serialize;

use crate::errors::SqlError;
use crate::sets::{SetKind, StripeRef};

/// Where a backup set stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SetStatus {
    /// In the restore sequence, not restored yet.
    Queued,
    /// Being restored now.
    Restoring,
    /// Restored.
    Restored,
    /// Not needed or not applicable (see `reason`).
    Skipped,
}

/// One backup set in the plan (the restore-details API's `*BackupSets` entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedSet {
    /// Full, differential or log.
    pub kind: SetKind,
    /// The set's BackupSetGUID.
    #[serde(serialize_with = "as_string")]
    pub backup_set_guid: Guid,
    /// Name of the file holding media family 1 (or the first present).
    pub first_stripe_name: Arc<str>,
    /// Every media family present, in family order.
    pub stripes: Arc<[StripeRef]>,
    /// Media families the set has.
    pub number_of_stripes: u16,
    /// FirstLSN.
    #[serde(serialize_with = "as_string")]
    pub first_lsn: Lsn,
    /// LastLSN.
    #[serde(serialize_with = "as_string")]
    pub last_lsn: Lsn,
    /// BackupSize in bytes.
    pub backup_size: u64,
    /// When the backup started.
    #[serde(serialize_with = "as_opt_string")]
    pub backup_start_date: Option<BackupDateTime>,
    /// Queued, Restoring, Restored or Skipped.
    pub status: SetStatus,
    /// Why it is skipped (or what it waits for).
    pub reason: Option<String>,
    /// The SQL Server error a restore of this set would raise, when there is one.
    pub sql_error: Option<SqlError>,
}

fn as_string<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn as_opt_string<T: std::fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// A file that cannot take part in the restore, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unrestorable {
    /// File name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Why the restore cannot proceed now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    /// What is missing, in words.
    pub reason: String,
    /// The LSN the next backup must include, when the wait is for a log.
    #[serde(serialize_with = "as_opt_string")]
    pub waiting_for_lsn: Option<Lsn>,
    /// The SQL Server error the next file would raise (4305 for a gap).
    pub sql_error: Option<SqlError>,
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The source database being restored (when known).
    pub database: Option<String>,
    /// Every set of that database: restore sequence first, then the rest.
    pub sets: Vec<PlannedSet>,
    /// Indices into `sets` of the restore sequence, in order.
    pub order: Vec<usize>,
    /// Files that cannot be used, with reasons.
    pub unrestorable: Vec<Unrestorable>,
    /// The redo point once the sequence is restored (LastLSN of its last set).
    #[serde(serialize_with = "as_opt_string")]
    pub redo_lsn: Option<Lsn>,
    /// Set when the restore is waiting for something.
    pub blocked: Option<Blocked>,
}

impl Plan {
    /// The sets of the restore sequence, in order.
    pub fn sequence(&self) -> impl Iterator<Item = &PlannedSet> {
        self.order.iter().filter_map(|&i| self.sets.get(i))
    }

    /// Sets of one kind (restore-details `fullBackupSets` etc.), by LSN.
    pub fn of_kind(&self, kind: SetKind) -> impl Iterator<Item = &PlannedSet> {
        self.sets.iter().filter(move |s| s.kind == kind)
    }

    /// Autocomplete: the position in the restore sequence of the set that a file named
    /// `name` belongs to, or `None` when no set of the sequence has such a file.
    pub fn position_of(&self, name: &str) -> Option<usize> {
        self.sequence()
            .position(|s| s.stripes.iter().any(|st| &*st.file == name))
    }

    /// Files of the sequence that come after the set holding `name` (autocomplete: backups
    /// newer than the named last one).
    pub fn files_after(&self, name: &str) -> Vec<String> {
        let Some(at) = self.position_of(name) else {
            return Vec::new();
        };
        self.sequence()
            .skip(at + 1)
            .map(|s| s.first_stripe_name.to_string())
            .collect()
    }
}
