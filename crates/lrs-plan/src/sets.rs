//! Backup sets as the planner sees them: grouped across files by BackupSetGUID, and kept in a
//! dense table so that planning addresses them by `u32` id (GUIDs are looked up only when
//! files come and go).

use std::collections::BTreeMap;
use std::sync::Arc;

use lrs_backup::{BackupDateTime, BackupHeader, BackupMedia, BackupType, Guid, Lsn, MediaSetInfo};
use serde::Serialize;

use crate::chunked::Chunked;

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
///
/// Laid out for planning, which visits the sets in log order, not in memory order: what only a
/// report row copies fills the first cache line, what the chain walk reads for every log fills
/// the second ([`ChainFacts`]), and what matters only when files come and go follows. (The
/// `Option` of a free table slot is told by a niche in the second line, which the walk reads
/// anyway: rustc's choice, so a matter of speed only.)
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub(crate) struct SetGroup {
    pub(crate) guid: Guid,
    /// The file of the lowest family present (rebuilt by [`SetGroup::stripes_changed`]).
    pub(crate) first_file: Arc<str>,
    /// `stripes` in family order, shared by every report row of this set (rebuilt by
    /// [`SetGroup::stripes_changed`]).
    pub(crate) stripe_list: Arc<[StripeRef]>,
    /// HEADERONLY `BackupSize` of the lowest family present.
    pub(crate) size: u64,
    pub(crate) family_count: u16,
    pub(crate) kind: Option<SetKind>,
    pub(crate) chain: ChainFacts,
    pub(crate) header: SetFacts,
    pub(crate) media_set_id: Guid,
    /// Stripes by family number (a re-uploaded copy of a family keeps the first name).
    pub(crate) stripes: BTreeMap<u16, StripeRef>,
}

impl SetGroup {
    /// A set first seen as media family `stripe.family` of `media`.
    pub(crate) fn new(
        h: &BackupHeader,
        media: &MediaSetInfo,
        stripe: StripeRef,
        restored: bool,
        names: &mut BTreeMap<String, Arc<str>>,
    ) -> Self {
        let first_file = Arc::clone(&stripe.file);
        let mut stripes = BTreeMap::new();
        stripes.insert(stripe.family, stripe);
        let mut group = SetGroup {
            guid: h.backup_set_guid,
            first_file,
            stripe_list: Arc::new([]),
            size: h.backup_size,
            family_count: media.family_count,
            kind: kind_of(h.backup_type),
            chain: ChainFacts::of(h, restored),
            header: SetFacts::of(h, names),
            media_set_id: media.media_set_id,
            stripes,
        };
        group.stripes_changed();
        group
    }

    /// Take the header values of `h` (those of the lowest media family present).
    fn apply_header(&mut self, h: &BackupHeader, names: &mut BTreeMap<String, Arc<str>>) {
        self.size = h.backup_size;
        let complete = self.chain.complete;
        self.chain = ChainFacts::of(h, self.chain.restored);
        self.chain.complete = complete;
        self.header = SetFacts::of(h, names);
    }

    /// Call after changing `stripes`.
    pub(crate) fn stripes_changed(&mut self) {
        self.stripe_list = self.stripes.values().cloned().collect();
        self.first_file = self
            .stripe_list
            .first()
            .map_or_else(|| Arc::from(""), |s| Arc::clone(&s.file));
        self.chain.complete = self.stripes.len() == usize::from(self.family_count);
    }

    /// Every media family is present.
    pub(crate) fn complete(&self) -> bool {
        self.chain.complete
    }

    pub(crate) fn missing_families(&self) -> Vec<u16> {
        (1..=self.family_count)
            .filter(|f| !self.stripes.contains_key(f))
            .collect()
    }

    pub(crate) fn first_lsn(&self) -> Lsn {
        self.chain.lsns.first()
    }

    pub(crate) fn last_lsn(&self) -> Lsn {
        self.chain.lsns.last()
    }

    /// Recovery fork the set's first log record belongs to.
    pub(crate) fn first_fork(&self) -> Guid {
        self.chain.first_recovery_fork_id
    }

    /// Recovery fork at the end of the set.
    pub(crate) fn fork(&self) -> Guid {
        self.chain.recovery_fork_id
    }

    pub(crate) fn first_file(&self) -> Arc<str> {
        Arc::clone(&self.first_file)
    }
}

/// FirstLSN and LastLSN in 20 bytes (two [`Lsn`]s pad to 24), so that [`ChainFacts`] fits one
/// cache line: VLF and block of each, then both slots in one word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LsnRange([u32; 5]);

impl LsnRange {
    fn new(first: Lsn, last: Lsn) -> Self {
        LsnRange([
            first.vlf,
            first.block,
            last.vlf,
            last.block,
            u32::from(first.slot) | (u32::from(last.slot) << 16),
        ])
    }

    fn first(self) -> Lsn {
        let [a, b, _, _] = self.0[4].to_le_bytes();
        Lsn {
            vlf: self.0[0],
            block: self.0[1],
            slot: u16::from_le_bytes([a, b]),
        }
    }

    fn last(self) -> Lsn {
        let [_, _, c, d] = self.0[4].to_le_bytes();
        Lsn {
            vlf: self.0[2],
            block: self.0[3],
            slot: u16::from_le_bytes([c, d]),
        }
    }
}

/// What the chain walk reads for every log backup (and a report row copies), in one cache line.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub(crate) struct ChainFacts {
    lsns: LsnRange,
    pub(crate) first_recovery_fork_id: Guid,
    pub(crate) recovery_fork_id: Guid,
    /// When the backup started (HEADERONLY `BackupStartDate`).
    pub(crate) start: Option<BackupDateTime>,
    /// Every media family is present (kept by [`SetGroup::stripes_changed`]).
    pub(crate) complete: bool,
    /// The engine reported it restored ([`crate::Planner::mark_restored`]).
    pub(crate) restored: bool,
}

impl ChainFacts {
    fn of(h: &BackupHeader, restored: bool) -> Self {
        ChainFacts {
            lsns: LsnRange::new(h.first_lsn, h.last_lsn),
            first_recovery_fork_id: h.first_recovery_fork_id,
            recovery_fork_id: h.recovery_fork_id,
            start: h.backup_start_date,
            complete: false,
            restored,
        }
    }
}

/// Dense id of a backup set in a [`SetTable`].
pub(crate) type SetId = u32;

/// Where a set stands in log order: (FirstLSN, LastLSN, BackupSetGUID), unique per set.
pub(crate) type LogPosition = (Lsn, Lsn, Guid);

/// The log position of `g`.
pub(crate) fn log_position(g: &SetGroup) -> LogPosition {
    (g.first_lsn(), g.last_lsn(), g.guid)
}

/// The backup sets found so far: a slab addressed by [`SetId`], the GUID index used only when
/// files arrive or leave, and every set in log order. Ids of removed sets are reused.
#[derive(Debug, Clone, Default)]
pub(crate) struct SetTable {
    slots: Chunked<Option<SetGroup>>,
    free: Vec<SetId>,
    index: GuidMap<SetId>,
    /// Kept as sets arrive (O(log n) each), so that planning walks the sets in log order
    /// instead of sorting them every time the chain is recomputed.
    by_position: BTreeMap<LogPosition, SetId>,
}

impl SetTable {
    /// The id of the set with this BackupSetGUID.
    pub(crate) fn id_of(&self, guid: &Guid) -> Option<SetId> {
        self.index.get(guid).copied()
    }

    pub(crate) fn get(&self, id: SetId) -> Option<&SetGroup> {
        self.slots.get(slot(id)).and_then(Option::as_ref)
    }

    /// The set, to change anything but its header (which places it in log order: see
    /// [`SetTable::set_header`]).
    pub(crate) fn get_mut(&mut self, id: SetId) -> Option<&mut SetGroup> {
        self.slots.get_mut(slot(id)).and_then(Option::as_mut)
    }

    /// Take the header values of `h` for a set (which may move it in log order).
    pub(crate) fn set_header(
        &mut self,
        id: SetId,
        h: &BackupHeader,
        names: &mut BTreeMap<String, Arc<str>>,
    ) {
        let Some(group) = self.slots.get_mut(slot(id)).and_then(Option::as_mut) else {
            return;
        };
        self.by_position.remove(&log_position(group));
        group.apply_header(h, names);
        self.by_position.insert(log_position(group), id);
    }

    /// Every set in log order, with its position.
    pub(crate) fn in_log_order(&self) -> impl Iterator<Item = (&LogPosition, SetId)> {
        self.by_position.iter().map(|(p, &id)| (p, id))
    }

    /// Add a set whose GUID is not in the table yet; `None` only if the table already holds
    /// `u32::MAX` sets.
    pub(crate) fn insert(&mut self, group: SetGroup) -> Option<SetId> {
        let guid = group.guid;
        let position = log_position(&group);
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(place) = self.slots.get_mut(slot(id)) {
                    *place = Some(group);
                }
                id
            }
            None => {
                let id = SetId::try_from(self.slots.len()).ok()?;
                self.slots.push(Some(group));
                id
            }
        };
        self.index.insert(guid, id);
        self.by_position.insert(position, id);
        Some(id)
    }

    pub(crate) fn remove(&mut self, id: SetId) {
        if let Some(group) = self.slots.get_mut(slot(id)).and_then(Option::take) {
            self.index.remove(&group.guid);
            self.by_position.remove(&log_position(&group));
            self.free.push(id);
        }
    }

    /// Every set with its id, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SetId, &SetGroup)> {
        (0..)
            .zip(self.slots.iter())
            .filter_map(|(id, g)| g.as_ref().map(|g| (id, g)))
    }

    /// How many sets the table holds.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// One more than the largest id in use (the length of per-id arrays).
    pub(crate) fn id_bound(&self) -> usize {
        self.slots.len()
    }
}

/// Index of `id` in per-id arrays (lossless: `usize` is at least 32 bits on every target
/// the planner is built for).
pub(crate) fn slot(id: SetId) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

/// The rest of the header values planning needs (a compact copy of the HEADERONLY row, so
/// that a folder of 100,000 backups costs little memory): read when the chain is recomputed,
/// not at every step of it.
#[derive(Debug, Clone)]
pub(crate) struct SetFacts {
    pub(crate) database_name: Arc<str>,
    pub(crate) backup_type_description: &'static str,
    pub(crate) family_guid: Guid,
    pub(crate) differential_base_guid: Option<Guid>,
    pub(crate) has_backup_checksums: bool,
    pub(crate) is_copy_only: bool,
}

impl SetFacts {
    /// The facts of `h`, with the database name shared through `names`.
    fn of(h: &BackupHeader, names: &mut BTreeMap<String, Arc<str>>) -> Self {
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
            family_guid: h.family_guid,
            differential_base_guid: h.differential_base_guid,
            has_backup_checksums: h.has_backup_checksums,
            is_copy_only: h.is_copy_only,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_lsn_range_keeps_both_lsns_exactly() {
        let first = Lsn {
            vlf: u32::MAX,
            block: 7,
            slot: u16::MAX,
        };
        let last = Lsn {
            vlf: 1,
            block: u32::MAX,
            slot: 0x1234,
        };
        let range = LsnRange::new(first, last);
        assert_eq!((range.first(), range.last()), (first, last));
        let swapped = LsnRange::new(last, first);
        assert_eq!((swapped.first(), swapped.last()), (last, first));
        assert_eq!(std::mem::size_of::<LsnRange>(), 20);
        assert_eq!(std::mem::size_of::<ChainFacts>(), 64, "one cache line");
        assert_eq!(std::mem::align_of::<SetGroup>(), 64);
    }
}
