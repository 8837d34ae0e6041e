//! The target's databases and their restore state, rebuilt from the log by applying its entries
//! in order (live changes go through the same [`Catalog::apply`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lrs_backup::{Guid, Lsn};

use super::log::{BackupKind, LogEntry, LogOp};
use crate::{DatabaseState, TargetDatabase};

/// One database on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbRecord {
    /// Name, case as created.
    pub(crate) name: String,
    pub(crate) state: DatabaseState,
    /// The redo point: LastLSN of the last set applied.
    pub(crate) redo: Lsn,
    pub(crate) last_applied: Guid,
    pub(crate) created_at: DateTime<Utc>,
    /// FamilyGUID of the database the restored full came from.
    pub(crate) family: Guid,
    /// The recovery fork the database is on (RecoveryForkID of the last set applied).
    pub(crate) fork: Guid,
    /// BackupSetGUID of the full the restore sequence started from: the differential base.
    pub(crate) base_full: Guid,
    /// Files target: the log file (in the database's folder) that receives the log streams,
    /// named by the full.
    pub(crate) log_file: Option<String>,
    /// Files target: the committed length of that log file (0 for the emulated target).
    pub(crate) log_len: u64,
}

impl DbRecord {
    fn view(&self) -> TargetDatabase {
        TargetDatabase {
            name: self.name.clone(),
            state: self.state,
            redo_lsn: Some(self.redo),
            last_applied_set: Some(self.last_applied),
            created_at: self.created_at,
        }
    }
}

/// Names compare case-insensitively, as under SQL Server's default (`_CI_`) collations.
pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

/// Every database, by [`key`].
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    dbs: BTreeMap<String, DbRecord>,
}

impl Catalog {
    /// The database named `name` (any case).
    pub(crate) fn get(&self, name: &str) -> Option<&DbRecord> {
        self.dbs.get(&key(name))
    }

    /// The public view of `name`.
    pub(crate) fn view(&self, name: &str) -> Option<TargetDatabase> {
        self.get(name).map(DbRecord::view)
    }

    /// Every database, in key order.
    pub(crate) fn records(&self) -> impl Iterator<Item = &DbRecord> {
        self.dbs.values()
    }

    /// Apply one log entry. Entries were checked before they were written, so this only fails
    /// on a log that contradicts itself (e.g. a log restore into a database it never created).
    pub(crate) fn apply(&mut self, entry: &LogEntry) -> Result<(), String> {
        let k = key(&entry.database);
        let missing = || {
            format!(
                "{:?} of database '{}', which does not exist at that point",
                entry.op, entry.database
            )
        };
        match entry.op {
            LogOp::Restore => {
                let set = entry
                    .set
                    .as_ref()
                    .ok_or_else(|| "a restore entry without its backup set".to_string())?;
                match set.backup_type {
                    BackupKind::Full => {
                        // A full restarts the sequence; the database object (name, creation
                        // time) stays when it already existed.
                        let (name, created_at) = match self.dbs.get(&k) {
                            Some(db) => (db.name.clone(), db.created_at),
                            None => (entry.database.clone(), entry.at),
                        };
                        self.dbs.insert(
                            k,
                            DbRecord {
                                name,
                                state: DatabaseState::Restoring,
                                redo: set.redo_lsn_after,
                                last_applied: set.backup_set_guid,
                                created_at,
                                family: set.family_guid,
                                fork: set.recovery_fork_id,
                                base_full: set.backup_set_guid,
                                log_file: set.log_file.clone(),
                                log_len: set.log_file_len.unwrap_or(0),
                            },
                        );
                    }
                    BackupKind::Differential | BackupKind::Log => {
                        let db = self.dbs.get_mut(&k).ok_or_else(missing)?;
                        db.redo = set.redo_lsn_after;
                        db.last_applied = set.backup_set_guid;
                        db.fork = set.recovery_fork_id;
                        // The log file is the full's; a set that wrote no log keeps the length.
                        if let Some(name) = &set.log_file {
                            db.log_file = Some(name.clone());
                        }
                        if let Some(len) = set.log_file_len {
                            db.log_len = len;
                        }
                    }
                }
            }
            LogOp::Recover => {
                let db = self.dbs.get_mut(&k).ok_or_else(missing)?;
                db.state = DatabaseState::Online;
            }
            LogOp::Drop => {
                self.dbs.remove(&k).ok_or_else(missing)?;
            }
        }
        Ok(())
    }
}
