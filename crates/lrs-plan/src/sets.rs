//! Backup sets as the planner sees them: grouped across files by BackupSetGUID.

use std::collections::BTreeMap;
use std::sync::Arc;

use lrs_backup::{BackupDateTime, BackupHeader, BackupMedia, BackupType, Guid, Lsn};
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
    /// File name (shared: a plan names every file many times).
    pub file: Arc<str>,
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
    pub(crate) header: SetFacts,
    pub(crate) family_count: u16,
    pub(crate) media_set_id: Guid,
    /// Stripes by family number (a re-uploaded copy of a family keeps the first name).
    pub(crate) stripes: BTreeMap<u16, StripeRef>,
    /// `stripes` in family order, shared by every report row of this set (rebuilt by
    /// [`SetGroup::stripes_changed`]).
    pub(crate) stripe_list: Arc<[StripeRef]>,
    pub(crate) size: u64,
}

impl SetGroup {
    /// Call after changing `stripes`.
    pub(crate) fn stripes_changed(&mut self) {
        self.stripe_list = self.stripes.values().cloned().collect();
    }

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

    pub(crate) fn first_file(&self) -> Arc<str> {
        self.stripes
            .values()
            .next()
            .map_or_else(|| Arc::from(""), |s| Arc::clone(&s.file))
    }
}

/// The header values planning needs: a compact copy of the HEADERONLY row, so that a folder of
/// 100,000 backups costs little memory and planning it allocates little.
#[derive(Debug, Clone)]
pub(crate) struct SetFacts {
    pub(crate) database_name: Arc<str>,
    pub(crate) backup_type_description: &'static str,
    pub(crate) first_lsn: Lsn,
    pub(crate) last_lsn: Lsn,
    pub(crate) family_guid: Guid,
    pub(crate) recovery_fork_id: Guid,
    pub(crate) first_recovery_fork_id: Guid,
    pub(crate) differential_base_guid: Option<Guid>,
    pub(crate) has_backup_checksums: bool,
    pub(crate) is_copy_only: bool,
    pub(crate) backup_start_date: Option<BackupDateTime>,
}

impl SetFacts {
    /// The facts of `h`, with the database name shared through `names`.
    pub(crate) fn of(h: &BackupHeader, names: &mut BTreeMap<String, Arc<str>>) -> Self {
        let name = h.database_name.as_deref().unwrap_or_default();
        let database_name = match names.get(name) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = Arc::from(name);
                names.insert(name.to_string(), Arc::clone(&shared));
                shared
            }
        };
        SetFacts {
            database_name,
            backup_type_description: h.backup_type_description,
            first_lsn: h.first_lsn,
            last_lsn: h.last_lsn,
            family_guid: h.family_guid,
            recovery_fork_id: h.recovery_fork_id,
            first_recovery_fork_id: h.first_recovery_fork_id,
            differential_base_guid: h.differential_base_guid,
            has_backup_checksums: h.has_backup_checksums,
            is_copy_only: h.is_copy_only,
            backup_start_date: h.backup_start_date,
        }
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

/// Hashes GUIDs by folding their bytes: BackupSetGUIDs are random, so no mixing is needed, and
/// a plan of 100,000 sets looks them up hundreds of thousands of times.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GuidHasher(u64);

impl std::hash::Hasher for GuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(29) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
}

/// A map keyed by GUID with [`GuidHasher`].
pub(crate) type GuidMap<V> =
    std::collections::HashMap<Guid, V, std::hash::BuildHasherDefault<GuidHasher>>;
/// A set of GUIDs with [`GuidHasher`].
pub(crate) type GuidSet =
    std::collections::HashSet<Guid, std::hash::BuildHasherDefault<GuidHasher>>;
