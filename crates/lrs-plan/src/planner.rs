//! The planning algorithm and its incremental driver.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use lrs_backup::{BackupDateTime, Guid, Lsn};
use serde::Serialize;

use crate::errors::{SqlError, too_early, too_recent, wrong_differential_base};
use crate::sets::{
    GuidMap, GuidSet, Options, SetFacts, SetGroup, SetKind, SourceFile, StripeRef, kind_of,
};

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

/// The result of a chain computation, kept so that new log backups extend it cheaply.
#[derive(Debug, Clone, Default)]
struct ChainState {
    database: Option<String>,
    /// The database's sets by log position (what the report lists, in this order).
    sorted: Vec<SortKey>,
    family: Option<Guid>,
    order: Vec<Guid>,
    skipped: GuidMap<(String, Option<SqlError>)>,
    /// Logs that end before the restore reached them (their 4326 is worded at report time,
    /// against the redo point that first passed them, so upload order cannot change it).
    too_early: GuidSet,
    excluded: GuidMap<String>,
    redo: Option<Lsn>,
    fork: Guid,
    blocked: Option<Blocked>,
    /// Logs on the current fork that start after the redo point, by (FirstLSN, LastLSN).
    pending: VecDeque<(Lsn, Lsn, Guid)>,
}

/// Incremental planner: feed it files as they are found and restore progress as it happens;
/// ask for the [`Plan`] at any time.
#[derive(Debug, Clone, Default)]
pub struct Planner {
    options: Options,
    files: std::collections::HashMap<String, FileEntry>,
    groups: GuidMap<SetGroup>,
    /// Restored sets in restore order (the first pins the base) ...
    restored: Vec<Guid>,
    /// ... and as a set, for the per-set status checks of every report.
    restored_set: GuidSet,
    restoring: Option<Guid>,
    state: Option<ChainState>,
    /// Database names, shared by all the sets of a database.
    names: BTreeMap<String, Arc<str>>,
    /// How many files are not readable backups.
    unreadable: usize,
}

#[derive(Debug, Clone)]
struct FileEntry {
    /// (set GUID, family) pairs this file contributes, or why it is unusable.
    content: Result<Vec<(Guid, u16)>, String>,
}

impl Planner {
    /// An empty planner.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Plan a whole folder at once.
    pub fn plan_files(options: Options, files: impl IntoIterator<Item = SourceFile>) -> Plan {
        let mut planner = Planner::new(options);
        for file in files {
            planner.add_file(file);
        }
        planner.plan()
    }

    /// A new (or changed) file. New log backups that continue the chain extend the plan in
    /// place; anything else is replanned on the next [`Planner::plan`].
    pub fn add_file(&mut self, file: SourceFile) {
        if self.files.contains_key(&file.name) {
            self.remove_file(&file.name);
        }
        let media = match file.content {
            Err(reason) => {
                self.unreadable += 1;
                self.files.insert(
                    file.name,
                    FileEntry {
                        content: Err(reason),
                    },
                );
                return;
            }
            Ok(media) => media,
        };
        let mut contributed = Vec::new();
        let mut new_sets = Vec::new();
        let shared_name: Arc<str> = Arc::from(file.name.as_str());
        for set in media.sets {
            let guid = set.header.backup_set_guid;
            let family = set.media.family_sequence_number;
            let stripe = StripeRef {
                file: Arc::clone(&shared_name),
                position: set.header.position,
                family,
            };
            match self.groups.get_mut(&guid) {
                // Families of one set share its media set; anything else is not a stripe of it.
                Some(group) if group.media_set_id == set.media.media_set_id => {
                    // Headers come from the lowest family present, whatever the upload order.
                    if group
                        .stripes
                        .keys()
                        .next()
                        .is_none_or(|&lowest| family < lowest)
                    {
                        group.size = set.header.backup_size;
                        group.header = SetFacts::of(&set.header, &mut self.names);
                    }
                    group.stripes.entry(family).or_insert(stripe);
                    group.stripes_changed();
                    // A set that gains a stripe may unblock anything: replan.
                    self.state = None;
                }
                Some(_) => continue,
                None => {
                    let stripe_list: Arc<[StripeRef]> = Arc::new([stripe.clone()]);
                    let mut stripes = BTreeMap::new();
                    stripes.insert(family, stripe);
                    self.groups.insert(
                        guid,
                        SetGroup {
                            guid,
                            kind: kind_of(set.header.backup_type),
                            size: set.header.backup_size,
                            family_count: set.media.family_count,
                            media_set_id: set.media.media_set_id,
                            header: SetFacts::of(&set.header, &mut self.names),
                            stripes,
                            stripe_list,
                        },
                    );
                    new_sets.push(guid);
                }
            }
            contributed.push((guid, family));
        }
        self.files.insert(
            file.name,
            FileEntry {
                content: Ok(contributed),
            },
        );
        for guid in new_sets {
            self.extend(guid);
        }
    }

    /// A file disappeared from the folder.
    pub fn remove_file(&mut self, name: &str) {
        let Some(entry) = self.files.remove(name) else {
            return;
        };
        if entry.content.is_err() {
            self.unreadable = self.unreadable.saturating_sub(1);
        }
        if let Ok(parts) = entry.content {
            for (guid, family) in parts {
                if let Some(group) = self.groups.get_mut(&guid) {
                    if group.stripes.get(&family).is_some_and(|s| &*s.file == name) {
                        group.stripes.remove(&family);
                        group.stripes_changed();
                    }
                    if group.stripes.is_empty() {
                        self.groups.remove(&guid);
                    }
                }
            }
            self.state = None;
        }
    }

    /// The set is being restored now.
    pub fn mark_restoring(&mut self, guid: Guid) {
        self.restoring = Some(guid);
    }

    /// The set was restored (in this order). The restored sets pin the base and differential.
    pub fn mark_restored(&mut self, guid: Guid) {
        if self.restoring == Some(guid) {
            self.restoring = None;
        }
        if self.restored_set.insert(guid) {
            self.restored.push(guid);
        }
    }

    /// The current plan.
    pub fn plan(&mut self) -> Plan {
        if self.state.is_none() {
            self.state = Some(self.compute());
        }
        self.report()
    }

    /// Try to add a new log backup to a computed chain without replanning.
    fn extend(&mut self, guid: Guid) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let Some(group) = self.groups.get(&guid) else {
            return;
        };
        let fits = group.kind == Some(SetKind::Log)
            && group.complete()
            && state.family == Some(group.header.family_guid)
            && (!self.options.require_checksum || group.header.has_backup_checksums)
            && group.first_lsn() < group.last_lsn()
            && group.first_fork() == state.fork;
        let Some(redo) = state.redo.filter(|_| fits) else {
            self.state = None;
            return;
        };
        let key = sort_key(group);
        let at = state.sorted.partition_point(|k| *k < key);
        state.sorted.insert(at, key);
        if group.last_lsn() < redo {
            state.too_early.insert(guid);
            return;
        }
        let key = (group.first_lsn(), group.last_lsn(), guid);
        let at = state.pending.partition_point(|k| *k < key);
        state.pending.insert(at, key);
        drain_pending(state, &self.groups);
    }

    /// Plan from scratch.
    fn compute(&self) -> ChainState {
        let mut state = ChainState::default();
        let family = self.choose_database();
        state.family = family;
        let mut ours: Vec<&SetGroup> = Vec::new();
        for g in self.groups.values() {
            let reason = if Some(g.header.family_guid) != family {
                Some(format!(
                    "backup of database '{}', not of '{}'",
                    &g.header.database_name,
                    self.database_name(family).unwrap_or_default()
                ))
            } else if g.kind.is_none() {
                Some(format!(
                    "{} backups cannot be restored by the Log Replay Service",
                    g.header.backup_type_description
                ))
            } else if self.options.require_checksum && !g.header.has_backup_checksums {
                Some("the backup was taken without CHECKSUM; this service requires backups taken WITH CHECKSUM".to_string())
            } else {
                None
            };
            match reason {
                Some(r) => {
                    state.excluded.insert(g.guid, r);
                }
                None => ours.push(g),
            }
        }
        state.database = self.database_name(family);
        // Keys are unique (the GUID breaks ties), so an unstable sort gives one order.
        // One sort, on keys computed once; the report reuses the order.
        let mut keyed: Vec<(SortKey, &SetGroup)> = ours.iter().map(|g| (sort_key(g), *g)).collect();
        keyed.sort_unstable_by_key(|k| k.0);
        state.sorted = keyed.iter().map(|k| k.0).collect();
        let ours: Vec<&SetGroup> = keyed.into_iter().map(|k| k.1).collect();

        // The base full: pinned by restore progress, else the latest non-copy-only full.
        let fulls: Vec<&SetGroup> = ours
            .iter()
            .copied()
            .filter(|g| g.kind == Some(SetKind::Full))
            .collect();
        let pinned = self
            .restored
            .first()
            .and_then(|g| fulls.iter().copied().find(|f| f.guid == *g));
        let base = pinned
            .or_else(|| fulls.iter().copied().rfind(|f| !f.header.is_copy_only))
            .or_else(|| fulls.last().copied());
        let Some(base) = base else {
            state.blocked = Some(Blocked {
                reason: "waiting for a full backup".into(),
                waiting_for_lsn: None,
                sql_error: None,
            });
            return state;
        };
        for f in fulls.iter().filter(|f| f.guid != base.guid) {
            let why = if f.header.is_copy_only {
                format!(
                    "copy-only full backup; the restore starts from {}",
                    base.first_file()
                )
            } else {
                format!(
                    "not the latest full backup; the restore starts from {}",
                    base.first_file()
                )
            };
            state.skipped.insert(f.guid, (why, None));
        }
        if !base.complete() {
            state.blocked = Some(missing_stripes(base, "full"));
            return state;
        }
        state.order.push(base.guid);
        state.redo = Some(base.last_lsn());
        state.fork = base.header.recovery_fork_id;

        // The differential: the latest on this base.
        let diffs: Vec<&SetGroup> = ours
            .iter()
            .copied()
            .filter(|g| g.kind == Some(SetKind::Diff))
            .collect();
        let on_base = |d: &&SetGroup| d.header.differential_base_guid == Some(base.guid);
        let pinned_diff = diffs
            .iter()
            .copied()
            .find(|d| self.restored_set.contains(&d.guid));
        let chosen = pinned_diff.or_else(|| {
            if self.restored.len() > 1 && pinned_diff.is_none() {
                None // logs were restored after the full: a differential can no longer apply
            } else {
                diffs
                    .iter()
                    .copied()
                    .filter(on_base)
                    .max_by_key(|d| (d.last_lsn(), d.guid))
            }
        });
        for d in &diffs {
            if Some(d.guid) == chosen.map(|c| c.guid) {
                continue;
            }
            let skip = if on_base(d) {
                (
                    format!(
                        "superseded by a later differential backup{}",
                        chosen
                            .map(|c| format!(" ({})", c.first_file()))
                            .unwrap_or_default()
                    ),
                    None,
                )
            } else {
                (
                    "its differential base is not the restored full backup".to_string(),
                    Some(wrong_differential_base()),
                )
            };
            state.skipped.insert(d.guid, skip);
        }
        if let Some(diff) = chosen {
            if !diff.complete() {
                state.blocked = Some(missing_stripes(diff, "differential"));
                return state;
            }
            state.order.push(diff.guid);
            state.redo = Some(diff.last_lsn());
            state.fork = diff.header.recovery_fork_id;
        }

        // The logs, from the redo point.
        for log in ours.iter().filter(|g| g.kind == Some(SetKind::Log)) {
            if log.first_lsn() == log.last_lsn() {
                state.skipped.insert(
                    log.guid,
                    ("contains no log records (FirstLSN = LastLSN)".into(), None),
                );
            } else {
                // `ours` is sorted by (FirstLSN, LastLSN, GUID): so is `pending`.
                state
                    .pending
                    .push_back((log.first_lsn(), log.last_lsn(), log.guid));
            }
        }
        drain_pending(&mut state, &self.groups);
        state
    }

    /// The source database: the one named in the options, else the database (family GUID)
    /// with the most backup sets, ties broken by name and GUID so upload order never matters.
    fn choose_database(&self) -> Option<Guid> {
        // Sets per database family (a family's sets all carry its name).
        let mut counts: GuidMap<(usize, Arc<str>)> = GuidMap::default();
        for g in self.groups.values() {
            let name = &g.header.database_name;
            if let Some(wanted) = &self.options.database
                && !name.eq_ignore_ascii_case(wanted)
            {
                continue;
            }
            counts
                .entry(g.header.family_guid)
                .or_insert_with(|| (0, Arc::clone(name)))
                .0 += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(guid, (n, name))| (*n, Reverse(Arc::clone(name)), Reverse(*guid)))
            .map(|(guid, _)| guid)
    }

    fn database_name(&self, family: Option<Guid>) -> Option<String> {
        let family = family?;
        self.groups
            .values()
            .find(|g| g.header.family_guid == family)
            .map(|g| g.header.database_name.to_string())
            .or_else(|| self.options.database.clone())
    }

    fn report(&self) -> Plan {
        let empty = ChainState::default();
        let state = self.state.as_ref().unwrap_or(&empty);
        let mut sets: Vec<PlannedSet> = Vec::with_capacity(state.sorted.len());
        // One pass splits the sorted sets by kind (the report lists fulls, diffs, then logs).
        let mut by_kind: [Vec<&SetGroup>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for g in state.sorted.iter().filter_map(|k| self.groups.get(&k.4)) {
            match g.kind {
                Some(SetKind::Full) => by_kind[0].push(g),
                Some(SetKind::Diff) => by_kind[1].push(g),
                Some(SetKind::Log) => by_kind[2].push(g),
                None => {}
            }
        }
        let groups = by_kind.iter().flatten().copied();
        // Position of each sequence step; `order` is filled as the rows are made.
        let steps: GuidMap<usize> = state
            .order
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i))
            .collect();
        let mut order = vec![usize::MAX; state.order.len()];
        // Redo points after each step of the sequence (ascending).
        let redo_points: Vec<Lsn> = state
            .order
            .iter()
            .filter_map(|g| self.groups.get(g))
            .map(SetGroup::last_lsn)
            .collect();
        for g in groups {
            let Some(kind) = g.kind else { continue };
            let step = steps.get(&g.guid).copied();
            let (status, reason, sql_error) = if step.is_some() {
                let status = if self.restored_set.contains(&g.guid) {
                    SetStatus::Restored
                } else if self.restoring == Some(g.guid) {
                    SetStatus::Restoring
                } else {
                    SetStatus::Queued
                };
                (status, None, None)
            } else if state.too_early.contains(&g.guid) {
                let last = g.last_lsn();
                let passed = redo_points.partition_point(|&r| r <= last);
                let redo = redo_points.get(passed).copied().unwrap_or(last);
                let why = format!("ends at LSN {last}, before the redo point {redo}");
                (SetStatus::Skipped, Some(why), Some(too_early(last, redo)))
            } else if let Some((why, err)) = state.skipped.get(&g.guid) {
                (SetStatus::Skipped, Some(why.clone()), err.clone())
            } else if !g.complete() {
                (
                    SetStatus::Queued,
                    Some(missing_stripes(g, "backup").reason),
                    None,
                )
            } else {
                (
                    SetStatus::Queued,
                    Some("waiting for earlier backups".into()),
                    None,
                )
            };
            if let Some(slot) = step.and_then(|i| order.get_mut(i)) {
                *slot = sets.len();
            }
            sets.push(PlannedSet {
                kind,
                backup_set_guid: g.guid,
                first_stripe_name: g.first_file(),
                stripes: Arc::clone(&g.stripe_list),
                number_of_stripes: g.family_count,
                first_lsn: g.first_lsn(),
                last_lsn: g.last_lsn(),
                backup_size: g.size,
                backup_start_date: g.header.backup_start_date,
                status,
                reason,
                sql_error,
            });
        }
        order.retain(|&i| i != usize::MAX);
        let mut unrestorable: Vec<Unrestorable> = Vec::new();
        // Unreadable files and excluded sets are the only unrestorable entries.
        let any = !state.excluded.is_empty() || self.unreadable > 0;
        for (name, entry) in self.files.iter().filter(|_| any) {
            match &entry.content {
                Err(reason) => unrestorable.push(Unrestorable {
                    name: name.clone(),
                    reason: reason.clone(),
                }),
                Ok(parts) => {
                    if let Some(reason) = parts.iter().find_map(|(g, _)| state.excluded.get(g)) {
                        unrestorable.push(Unrestorable {
                            name: name.clone(),
                            reason: reason.clone(),
                        });
                    }
                }
            }
        }
        unrestorable.sort_unstable();
        Plan {
            database: state.database.clone(),
            sets,
            order,
            unrestorable,
            redo_lsn: state.redo,
            blocked: state.blocked.clone(),
        }
    }
}

/// Position of a set in log order: FirstLSN and LastLSN as (VLF << 32 | block, slot) pairs,
/// which order like the LSNs and compare as machine words, then the GUID for ties.
type SortKey = (u64, u16, u64, u16, Guid);

fn sort_key(g: &SetGroup) -> SortKey {
    let split = |l: Lsn| ((u64::from(l.vlf) << 32) | u64::from(l.block), l.slot);
    let (first, first_slot) = split(g.first_lsn());
    let (last, last_slot) = split(g.last_lsn());
    (first, first_slot, last, last_slot, g.guid)
}

/// Apply pending logs from the redo point: a log applies when FirstLSN ≤ R ≤ LastLSN and it
/// starts on the current fork; among several, the one reaching furthest. Logs that end before
/// R are too early; the first that starts after R leaves a gap.
fn drain_pending(state: &mut ChainState, groups: &GuidMap<SetGroup>) {
    let Some(mut redo) = state.redo else { return };
    state.blocked = None;
    // Reused between steps; in a healthy chain it holds exactly one log each time.
    let mut candidates: Vec<(Lsn, Reverse<Lsn>, Guid)> = Vec::new();
    loop {
        // Candidates: pending logs starting at or before R (the front of the sorted queue),
        // furthest-reaching first.
        candidates.clear();
        while let Some(&(first, last, guid)) = state.pending.front() {
            if first > redo {
                break;
            }
            state.pending.pop_front();
            candidates.push((last, Reverse(first), guid));
        }
        if candidates.len() > 1 {
            candidates.sort_unstable_by(|a, b| b.cmp(a));
        }
        let mut applied = false;
        for at in 0..candidates.len() {
            let (last, _, guid) = candidates[at];
            let Some(g) = groups.get(&guid) else { continue };
            if last < redo {
                state.too_early.insert(guid);
                continue;
            }
            if g.first_fork() != state.fork {
                state.skipped.insert(
                    guid,
                    (
                        format!(
                            "belongs to recovery fork {}, the database is on {}",
                            g.first_fork(),
                            state.fork
                        ),
                        None,
                    ),
                );
                continue;
            }
            if !g.complete() {
                requeue(&mut state.pending, &candidates[at..]);
                state.blocked = Some(missing_stripes(g, "log"));
                state.redo = Some(redo);
                return;
            }
            state.order.push(guid);
            redo = last;
            state.fork = g.header.recovery_fork_id;
            applied = true;
            // The other candidates are re-examined against the new redo point.
            requeue(&mut state.pending, &candidates[at + 1..]);
            break;
        }
        if !applied {
            break;
        }
    }
    state.redo = Some(redo);
    // Whatever is left starts after R: a gap, unless it belongs to another fork.
    let next = state
        .pending
        .iter()
        .find(|(_, _, g)| groups.get(g).is_some_and(|g| g.first_fork() == state.fork));
    if let Some(&(first, _, guid)) = next {
        let name = groups
            .get(&guid)
            .map(SetGroup::first_file)
            .unwrap_or_default();
        state.blocked = Some(Blocked {
            reason: format!(
                "waiting for a log backup that includes LSN {redo}: the next log backup found ({name}) begins at LSN {first}"
            ),
            waiting_for_lsn: Some(redo),
            sql_error: Some(too_recent(first, redo)),
        });
    }
    let other: Vec<(Lsn, Lsn, Guid)> = state
        .pending
        .iter()
        .copied()
        .filter(|(_, _, g)| groups.get(g).is_some_and(|g| g.first_fork() != state.fork))
        .collect();
    for key in other {
        if let Some(g) = groups.get(&key.2) {
            state.skipped.insert(
                key.2,
                (
                    format!(
                        "belongs to recovery fork {}, the database is on {}",
                        g.first_fork(),
                        state.fork
                    ),
                    None,
                ),
            );
        }
    }
}

/// Put examined but unused candidates back at the front of the queue, in order (they all
/// start at or before the redo point, so before anything still queued).
fn requeue(pending: &mut VecDeque<(Lsn, Lsn, Guid)>, candidates: &[(Lsn, Reverse<Lsn>, Guid)]) {
    if candidates.is_empty() {
        return;
    }
    let mut back: Vec<(Lsn, Lsn, Guid)> = candidates
        .iter()
        .map(|&(last, Reverse(first), guid)| (first, last, guid))
        .collect();
    back.sort_unstable();
    for key in back.into_iter().rev() {
        pending.push_front(key);
    }
}

fn missing_stripes(g: &SetGroup, what: &str) -> Blocked {
    Blocked {
        reason: format!(
            "waiting for media famil{} {:?} of {} of the {what} backup set {} ({} found)",
            if g.missing_families().len() == 1 {
                "y"
            } else {
                "ies"
            },
            g.missing_families(),
            g.family_count,
            g.guid,
            g.first_file()
        ),
        waiting_for_lsn: None,
        sql_error: None,
    }
}
