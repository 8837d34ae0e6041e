//! The chain computation: which database, which base full, which differential, which logs in
//! which order, and why every other set is left out. Kept as a [`ChainState`] so that a new
//! log backup that continues the chain extends it without replanning.
//!
//! Sets are addressed by dense [`SetId`]; what the computation records about each set lives in
//! per-id arrays, so neither the computation nor the report hashes GUIDs (the report looks up
//! the sets of a file only to name the files that cannot be used).

use std::cmp::Reverse;
use std::collections::VecDeque;

use lrs_backup::{Guid, Lsn};

use crate::chunked::Chunked;
use crate::errors::{SqlError, too_recent, wrong_differential_base};
use crate::plan::Blocked;
use crate::sets::{GuidMap, Options, SetGroup, SetId, SetKind, SetTable, log_position, slot};

/// "No value" in the `u32` fields of a [`Mark`].
const NONE: u32 = u32::MAX;

/// What the computation decided about one set (indexed by [`SetId`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    /// Position in the restore sequence, or [`NONE`].
    pub(crate) step: u32,
    /// Index into [`ChainState::skip_reasons`], or [`NONE`].
    pub(crate) skip: u32,
    /// Index into [`ChainState::excluded_reasons`], or [`NONE`].
    pub(crate) excluded: u32,
    /// A log that ends before the restore reached it (its 4326 is worded at report time,
    /// against the redo point that first passed it, so upload order cannot change it).
    pub(crate) too_early: bool,
}

impl Default for Mark {
    fn default() -> Self {
        Mark {
            step: NONE,
            skip: NONE,
            excluded: NONE,
            too_early: false,
        }
    }
}

impl Mark {
    pub(crate) fn step(&self) -> Option<usize> {
        index(self.step)
    }

    pub(crate) fn skip(&self) -> Option<usize> {
        index(self.skip)
    }

    pub(crate) fn excluded(&self) -> Option<usize> {
        index(self.excluded)
    }
}

fn index(value: u32) -> Option<usize> {
    (value != NONE).then(|| slot(value))
}

/// A log waiting in the queue: (FirstLSN, LastLSN, GUID) is its order, the id finds it.
type Pending = (Lsn, Lsn, Guid, SetId);

/// The result of a chain computation, kept so that new log backups extend it cheaply.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChainState {
    pub(crate) database: Option<String>,
    /// The database's sets in report order: fulls, differentials, logs, each by log position.
    pub(crate) by_kind: [Vec<SetId>; 3],
    pub(crate) family: Option<Guid>,
    /// The restore sequence ...
    pub(crate) order: Vec<SetId>,
    /// ... and the redo point after each of its steps (ascending).
    pub(crate) redo_points: Vec<Lsn>,
    /// Per set: step, skip reason, exclusion reason, too early.
    marks: Chunked<Mark>,
    pub(crate) skip_reasons: Vec<(String, Option<SqlError>)>,
    pub(crate) excluded_reasons: Vec<String>,
    pub(crate) redo: Option<Lsn>,
    pub(crate) fork: Guid,
    pub(crate) blocked: Option<Blocked>,
    /// Logs on the current fork that start after the redo point, by (FirstLSN, LastLSN).
    pending: VecDeque<Pending>,
}

/// Slot of a kind in [`ChainState::by_kind`].
fn kind_slot(kind: SetKind) -> usize {
    match kind {
        SetKind::Full => 0,
        SetKind::Diff => 1,
        SetKind::Log => 2,
    }
}

impl ChainState {
    pub(crate) fn mark(&self, id: SetId) -> Mark {
        self.marks.get(slot(id)).copied().unwrap_or_default()
    }

    /// Change the mark of `id` (a set added since the computation gets one).
    fn update_mark(&mut self, id: SetId, change: impl FnOnce(&mut Mark)) {
        let at = slot(id);
        if at >= self.marks.len() {
            self.marks.grow_to(at + 1, Mark::default());
        }
        if let Some(mark) = self.marks.get_mut(at) {
            change(mark);
        }
    }

    /// Record why `id` is skipped, replacing an earlier reason (a log on another fork is
    /// skipped again each time the queue is drained).
    fn skip(&mut self, id: SetId, reason: String, error: Option<SqlError>) {
        if let Some(earlier) = self
            .mark(id)
            .skip()
            .and_then(|i| self.skip_reasons.get_mut(i))
        {
            *earlier = (reason, error);
            return;
        }
        let at = u32::try_from(self.skip_reasons.len()).unwrap_or(NONE);
        self.skip_reasons.push((reason, error));
        self.update_mark(id, |m| m.skip = at);
    }

    fn exclude(&mut self, id: SetId, reason: String) {
        let at = u32::try_from(self.excluded_reasons.len()).unwrap_or(NONE);
        self.excluded_reasons.push(reason);
        self.update_mark(id, |m| m.excluded = at);
    }

    fn push_step(&mut self, id: SetId, last_lsn: Lsn) {
        let step = u32::try_from(self.order.len()).unwrap_or(NONE);
        self.order.push(id);
        self.redo_points.push(last_lsn);
        self.update_mark(id, |m| m.step = step);
    }

    /// Any set of another database, of an unsupported kind or without a required checksum.
    pub(crate) fn any_excluded(&self) -> bool {
        !self.excluded_reasons.is_empty()
    }
}

/// What the computation needs from the planner besides the sets.
pub(crate) struct Inputs<'a> {
    pub(crate) options: &'a Options,
    /// Restored sets in restore order (the first pins the base).
    pub(crate) restored: &'a [Guid],
}

/// What a set is to the computation (indexed by [`SetId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Not a set (a free id), or excluded.
    Out,
    /// One of the database's restorable sets, of this kind.
    Ours(SetKind),
}

/// Plan from scratch.
pub(crate) fn compute(sets: &SetTable, inputs: &Inputs<'_>) -> ChainState {
    let mut state = ChainState {
        marks: Chunked::filled(Mark::default(), sets.id_bound()),
        ..ChainState::default()
    };
    let family = choose_database(sets, inputs.options);
    state.family = family;
    state.database = database_name(sets, inputs.options, family);
    // One pass in id order (the table's memory order) classifies the sets ...
    let mut class = vec![Class::Out; sets.id_bound()];
    for (id, g) in sets.iter() {
        let reason = if Some(g.header.family_guid) != family {
            Some(format!(
                "backup of database '{}', not of '{}'",
                &g.header.database_name,
                state.database.as_deref().unwrap_or_default()
            ))
        } else if g.kind.is_none() {
            Some(format!(
                "{} backups cannot be restored by the Log Replay Service",
                g.header.backup_type_description
            ))
        } else if inputs.options.require_checksum && !g.header.has_backup_checksums {
            Some("the backup was taken without CHECKSUM; this service requires backups taken WITH CHECKSUM".to_string())
        } else {
            None
        };
        match (reason, g.kind) {
            (Some(r), _) => state.exclude(id, r),
            (None, Some(kind)) => {
                if let Some(c) = class.get_mut(slot(id)) {
                    *c = Class::Ours(kind);
                }
            }
            (None, None) => {}
        }
    }
    // ... and one walk of the table's log order lists them by kind, already sorted, with the
    // logs' queue entries taken from the positions (no set is visited again).
    let mut logs: Vec<Pending> = Vec::with_capacity(sets.len());
    state.by_kind[kind_slot(SetKind::Log)].reserve(sets.len());
    for (&(first, last, guid), id) in sets.in_log_order() {
        if let Some(&Class::Ours(kind)) = class.get(slot(id)) {
            state.by_kind[kind_slot(kind)].push(id);
            if kind == SetKind::Log {
                logs.push((first, last, guid, id));
            }
        }
    }
    let of_kind = |kind: SetKind| -> Vec<(SetId, &SetGroup)> {
        state.by_kind[kind_slot(kind)]
            .iter()
            .filter_map(|&id| sets.get(id).map(|g| (id, g)))
            .collect()
    };
    let fulls = of_kind(SetKind::Full);
    let diffs = of_kind(SetKind::Diff);
    choose_steps(&mut state, sets, inputs, &fulls, &diffs, logs);
    state
}

/// The base, the differential and the logs (`fulls`, `diffs` and `logs` in log order).
fn choose_steps(
    state: &mut ChainState,
    sets: &SetTable,
    inputs: &Inputs<'_>,
    fulls: &[(SetId, &SetGroup)],
    diffs: &[(SetId, &SetGroup)],
    mut logs: Vec<Pending>,
) {
    // The base full: pinned by restore progress, else the latest non-copy-only full.
    let pinned = inputs
        .restored
        .first()
        .and_then(|g| fulls.iter().copied().find(|f| f.1.guid == *g));
    let base = pinned
        .or_else(|| fulls.iter().copied().rfind(|f| !f.1.header.is_copy_only))
        .or_else(|| fulls.last().copied());
    let Some((base_id, base)) = base else {
        // No backup set at all is nothing to wait behind: the real service showed a job that
        // had found no file as plain `Initializing` (docs/fidelity.md).
        if diffs.is_empty() && logs.is_empty() {
            return;
        }
        state.blocked = Some(Blocked {
            reason: "waiting for a full backup".into(),
            waiting_for_lsn: None,
            sql_error: None,
        });
        return;
    };
    for &(fid, f) in fulls.iter().filter(|f| f.0 != base_id) {
        let why = if f.header.is_copy_only {
            format!(
                "copy-only full backup; the restore starts from {}",
                base.first_file
            )
        } else {
            format!(
                "not the latest full backup; the restore starts from {}",
                base.first_file
            )
        };
        state.skip(fid, why, None);
    }
    if !base.complete() {
        state.blocked = Some(missing_stripes(base, "full"));
        return;
    }
    state.push_step(base_id, base.last_lsn());
    state.redo = Some(base.last_lsn());
    state.fork = base.fork();

    // The differential: the latest on this base.
    let on_base = |d: &SetGroup| d.header.differential_base_guid == Some(base.guid);
    let pinned_diff = diffs.iter().copied().find(|d| d.1.chain.restored);
    let chosen = pinned_diff.or_else(|| {
        if inputs.restored.len() > 1 {
            None // logs were restored after the full: a differential can no longer apply
        } else {
            diffs
                .iter()
                .copied()
                .filter(|d| on_base(d.1))
                .max_by_key(|d| (d.1.last_lsn(), d.1.guid))
        }
    });
    for &(did, d) in diffs {
        if Some(did) == chosen.map(|c| c.0) {
            continue;
        }
        let (why, error) = if on_base(d) {
            (
                format!(
                    "superseded by a later differential backup{}",
                    chosen
                        .map(|c| format!(" ({})", c.1.first_file))
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
        state.skip(did, why, error);
    }
    if let Some((diff_id, diff)) = chosen {
        if !diff.complete() {
            state.blocked = Some(missing_stripes(diff, "differential"));
            return;
        }
        state.push_step(diff_id, diff.last_lsn());
        state.redo = Some(diff.last_lsn());
        state.fork = diff.fork();
    }

    // The logs, from the redo point; `logs` is in (FirstLSN, LastLSN, GUID) order, and so
    // is the queue.
    logs.retain(|&(first, last, _, id)| {
        if first == last {
            state.skip(
                id,
                "contains no log records (FirstLSN = LastLSN)".into(),
                None,
            );
        }
        first != last
    });
    state.order.reserve(logs.len());
    state.redo_points.reserve(logs.len());
    state.pending = VecDeque::from(logs);
    drain_pending(state, sets);
}

/// Try to add the new log backup `id` to a computed chain. `false`: it does not simply
/// continue the chain, so the chain must be recomputed.
pub(crate) fn extend(
    state: &mut ChainState,
    sets: &SetTable,
    options: &Options,
    id: SetId,
) -> bool {
    let Some(group) = sets.get(id) else {
        return true;
    };
    let fits = group.kind == Some(SetKind::Log)
        && group.complete()
        && state.family == Some(group.header.family_guid)
        && (!options.require_checksum || group.header.has_backup_checksums)
        && group.first_lsn() < group.last_lsn()
        && group.first_fork() == state.fork;
    let Some(redo) = state.redo.filter(|_| fits) else {
        return false;
    };
    let logs = &mut state.by_kind[kind_slot(SetKind::Log)];
    let position = log_position(group);
    let at =
        logs.partition_point(|&other| sets.get(other).is_some_and(|o| log_position(o) < position));
    logs.insert(at, id);
    if group.last_lsn() < redo {
        state.update_mark(id, |m| m.too_early = true);
        return true;
    }
    let entry = (group.first_lsn(), group.last_lsn(), group.guid, id);
    let at = state
        .pending
        .partition_point(|k| (k.0, k.1, k.2) < (entry.0, entry.1, entry.2));
    state.pending.insert(at, entry);
    drain_pending(state, sets);
    true
}

/// Apply pending logs from the redo point: a log applies when FirstLSN ≤ R ≤ LastLSN and it
/// starts on the current fork; among several, the one reaching furthest. Logs that end before
/// R are too early; the first that starts after R leaves a gap.
fn drain_pending(state: &mut ChainState, sets: &SetTable) {
    let Some(mut redo) = state.redo else { return };
    state.blocked = None;
    // Reused between steps; in a healthy chain it holds exactly one log each time.
    let mut candidates: Vec<(Lsn, Reverse<Lsn>, Guid, SetId)> = Vec::new();
    loop {
        // Candidates: pending logs starting at or before R (the front of the sorted queue),
        // furthest-reaching first.
        candidates.clear();
        while let Some(&(first, last, guid, id)) = state.pending.front() {
            if first > redo {
                break;
            }
            state.pending.pop_front();
            candidates.push((last, Reverse(first), guid, id));
        }
        if candidates.len() > 1 {
            // GUIDs are unique, so the id never decides.
            candidates.sort_unstable_by_key(|&c| Reverse(c));
        }
        let mut applied = false;
        for at in 0..candidates.len() {
            let (last, _, _, id) = candidates[at];
            let Some(g) = sets.get(id) else { continue };
            if last < redo {
                state.update_mark(id, |m| m.too_early = true);
                continue;
            }
            if g.first_fork() != state.fork {
                let why = other_fork(g, state.fork);
                state.skip(id, why, None);
                continue;
            }
            if !g.complete() {
                requeue(&mut state.pending, &candidates[at..]);
                state.blocked = Some(missing_stripes(g, "log"));
                state.redo = Some(redo);
                return;
            }
            state.push_step(id, last);
            redo = last;
            state.fork = g.fork();
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
    let fork = state.fork;
    let next = state
        .pending
        .iter()
        .find(|p| sets.get(p.3).is_some_and(|g| g.first_fork() == fork));
    if let Some(&(first, _, _, id)) = next {
        let name = sets.get(id).map(SetGroup::first_file).unwrap_or_default();
        state.blocked = Some(Blocked {
            reason: format!(
                "waiting for a log backup that includes LSN {redo}: the next log backup found ({name}) begins at LSN {first}"
            ),
            waiting_for_lsn: Some(redo),
            sql_error: Some(too_recent(first, redo)),
        });
    }
    let other: Vec<SetId> = state
        .pending
        .iter()
        .filter(|p| sets.get(p.3).is_some_and(|g| g.first_fork() != fork))
        .map(|p| p.3)
        .collect();
    for id in other {
        if let Some(g) = sets.get(id) {
            let why = other_fork(g, fork);
            state.skip(id, why, None);
        }
    }
}

fn other_fork(g: &SetGroup, fork: Guid) -> String {
    format!(
        "belongs to recovery fork {}, the database is on {}",
        g.first_fork(),
        fork
    )
}

/// Put examined but unused candidates back at the front of the queue, in order (they all
/// start at or before the redo point, so before anything still queued).
fn requeue(pending: &mut VecDeque<Pending>, candidates: &[(Lsn, Reverse<Lsn>, Guid, SetId)]) {
    if candidates.is_empty() {
        return;
    }
    let mut back: Vec<Pending> = candidates
        .iter()
        .map(|&(last, Reverse(first), guid, id)| (first, last, guid, id))
        .collect();
    back.sort_unstable();
    for key in back.into_iter().rev() {
        pending.push_front(key);
    }
}

pub(crate) fn missing_stripes(g: &SetGroup, what: &str) -> Blocked {
    let missing = g.missing_families();
    Blocked {
        reason: format!(
            "waiting for media famil{} {:?} of {} of the {what} backup set {} ({} found)",
            if missing.len() == 1 { "y" } else { "ies" },
            missing,
            g.family_count,
            g.guid,
            g.first_file
        ),
        waiting_for_lsn: None,
        sql_error: None,
    }
}

/// The source database: the one named in the options, else the database (family GUID)
/// with the most backup sets, ties broken by name and GUID so upload order never matters.
fn choose_database(sets: &SetTable, options: &Options) -> Option<Guid> {
    // Sets per database family (a family's sets all carry its name). Consecutive sets mostly
    // belong to one database, so the last one counted is tried before the index.
    let mut counts: Vec<(Guid, usize, &str)> = Vec::new();
    let mut index: GuidMap<usize> = GuidMap::default();
    let mut last = usize::MAX;
    for (_, g) in sets.iter() {
        let name = &*g.header.database_name;
        if let Some(wanted) = &options.database
            && !name.eq_ignore_ascii_case(wanted)
        {
            continue;
        }
        let family = g.header.family_guid;
        if counts.get(last).is_none_or(|c| c.0 != family) {
            last = *index.entry(family).or_insert_with(|| {
                counts.push((family, 0, name));
                counts.len() - 1
            });
        }
        if let Some(c) = counts.get_mut(last) {
            c.1 += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(guid, n, name)| (n, Reverse(name), Reverse(guid)))
        .map(|(guid, _, _)| guid)
}

fn database_name(sets: &SetTable, options: &Options, family: Option<Guid>) -> Option<String> {
    let family = family?;
    sets.iter()
        .find(|(_, g)| g.header.family_guid == family)
        .map(|(_, g)| g.header.database_name.to_string())
        .or_else(|| options.database.clone())
}
