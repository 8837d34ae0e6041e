//! The [`Plan`] built from a computed [`ChainState`] and the restore progress: one row per set
//! of the chosen database (fulls, differentials, logs, each in log order), the sequence, and
//! the files that cannot take part.

use std::collections::HashMap;
use std::sync::Arc;

use lrs_backup::{Guid, Lsn};

use crate::chain::{ChainState, missing_stripes};
use crate::errors::too_early;
use crate::plan::{Plan, PlannedSet, SetStatus, Unrestorable};
use crate::sets::{SetGroup, SetId, SetTable};

/// A file found in the folder: the (set GUID, family) pairs it contributes, or why it is
/// unusable.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    pub(crate) content: Result<Vec<(Guid, u16)>, String>,
}

/// What the report reads besides the chain.
pub(crate) struct Progress<'a> {
    pub(crate) sets: &'a SetTable,
    pub(crate) files: &'a HashMap<String, FileEntry>,
    pub(crate) restoring: Option<Guid>,
    /// How many files are not readable backups.
    pub(crate) unreadable: usize,
}

/// Rows are made a block of sets at a time (see [`touch`]).
const BLOCK: usize = 32;

pub(crate) fn report(state: &ChainState, progress: &Progress<'_>) -> Plan {
    let sets_table = progress.sets;
    let rows: usize = state.by_kind.iter().map(Vec::len).sum();
    let mut sets: Vec<PlannedSet> = Vec::with_capacity(rows);
    // Row of each sequence step; filled as the rows are made.
    let mut order = vec![usize::MAX; state.order.len()];
    let blocks = state.by_kind.iter().flat_map(|ids| ids.chunks(BLOCK));
    for &id in blocks.flat_map(|block| {
        std::hint::black_box(touch(sets_table, block));
        block
    }) {
        let Some(g) = sets_table.get(id) else {
            continue;
        };
        let Some(kind) = g.kind else { continue };
        let mark = state.mark(id);
        let step = mark.step();
        let (status, reason, sql_error) = if step.is_some() {
            let status = if g.chain.restored {
                SetStatus::Restored
            } else if progress.restoring == Some(g.guid) {
                SetStatus::Restoring
            } else {
                SetStatus::Queued
            };
            (status, None, None)
        } else if mark.too_early {
            let last = g.last_lsn();
            let redo = redo_after(&state.redo_points, last);
            let why = format!("ends at LSN {last}, before the redo point {redo}");
            (SetStatus::Skipped, Some(why), Some(too_early(last, redo)))
        } else if let Some((why, err)) = mark.skip().and_then(|i| state.skip_reasons.get(i)) {
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
        sets.push(row(g, kind, status, reason, sql_error));
    }
    order.retain(|&i| i != usize::MAX);
    Plan {
        database: state.database.clone(),
        sets,
        order,
        unrestorable: unrestorable(state, progress),
        redo_lsn: state.redo,
        blocked: state.blocked.clone(),
    }
}

/// Read what the rows of `block` will need, with plain loads the CPU overlaps.
///
/// Making a row clones two `Arc`s, and each reference-count increment is a locked instruction:
/// it waits for its cache line, and no later load may start before it completes. Row by row,
/// every set would cost three memory latencies one after the other (its table entry, then each
/// count); touched for a whole block first, the misses overlap and the increments hit cache.
fn touch(sets: &SetTable, block: &[SetId]) -> usize {
    block
        .iter()
        .filter_map(|&id| sets.get(id))
        .map(|g| Arc::strong_count(&g.first_file) ^ Arc::strong_count(&g.stripe_list))
        .fold(0, usize::wrapping_add)
}

fn row(
    g: &SetGroup,
    kind: crate::SetKind,
    status: SetStatus,
    reason: Option<String>,
    sql_error: Option<crate::SqlError>,
) -> PlannedSet {
    PlannedSet {
        kind,
        backup_set_guid: g.guid,
        first_stripe_name: Arc::clone(&g.first_file),
        stripes: Arc::clone(&g.stripe_list),
        number_of_stripes: g.family_count,
        first_lsn: g.first_lsn(),
        last_lsn: g.last_lsn(),
        backup_size: g.size,
        backup_start_date: g.chain.start,
        status,
        reason,
        sql_error,
    }
}

/// The redo point right after the step that passed a log ending at `last`: the first redo
/// point beyond it (canonical, so the 4326 text never depends on upload order).
fn redo_after(redo_points: &[Lsn], last: Lsn) -> Lsn {
    let passed = redo_points.partition_point(|&r| r <= last);
    redo_points.get(passed).copied().unwrap_or(last)
}

/// Unreadable files and files holding an excluded set, sorted.
fn unrestorable(state: &ChainState, progress: &Progress<'_>) -> Vec<Unrestorable> {
    let mut out: Vec<Unrestorable> = Vec::new();
    if !state.any_excluded() && progress.unreadable == 0 {
        return out;
    }
    for (name, entry) in progress.files {
        let reason = match &entry.content {
            Err(reason) => Some(reason),
            Ok(parts) => parts.iter().find_map(|(guid, _)| {
                let id = progress.sets.id_of(guid)?;
                let at = state.mark(id).excluded()?;
                state.excluded_reasons.get(at)
            }),
        };
        if let Some(reason) = reason {
            out.push(Unrestorable {
                name: name.clone(),
                reason: reason.clone(),
            });
        }
    }
    out.sort_unstable();
    out
}
