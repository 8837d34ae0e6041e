//! Properties over forged chains: the plan does not depend on upload order, a missing log
//! blocks at exactly its FirstLSN, and another database's backups change only the
//! unrestorable list. Also: incremental planning equals planning from scratch.

use lrs_backup::BackupDateTime;
use lrs_forge::{ChainSpec, DatabaseSpec};
use lrs_plan::{Options, Plan, Planner, SetKind, SetStatus, SourceFile};
use proptest::prelude::*;

mod support;

fn chain(database: &str, seed: u64, diffs: u32, logs: u32, stripes: u16) -> Vec<SourceFile> {
    let mut db = DatabaseSpec::new(database);
    db.data_size = 64 * 1024;
    db.log_size = 64 * 1024;
    db.start = BackupDateTime {
        year: 2026,
        month: 11,
        day: 26,
        hour: 8,
        minute: 0,
        second: 0,
    };
    db.interval_seconds = 60;
    db.seed = seed;
    let spec = ChainSpec {
        fulls: 2,
        diffs,
        logs,
        stripes,
        copy_only_full: true,
        ..ChainSpec::new(db)
    };
    support::forged(&spec)
}

fn shuffled(mut files: Vec<SourceFile>, mut seed: u64) -> Vec<SourceFile> {
    for i in (1..files.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        files.swap(i, usize::try_from(seed % (i as u64 + 1)).unwrap_or(0));
    }
    files
}

fn plan(files: Vec<SourceFile>) -> Plan {
    Planner::plan_files(Options::default(), files)
}

/// Incremental: one file at a time, asking for the plan after each.
fn plan_incrementally(files: Vec<SourceFile>) -> Plan {
    let mut planner = Planner::new(Options::default());
    for f in files {
        planner.add_file(f);
        let _ = planner.plan();
    }
    planner.plan()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn upload_order_never_changes_the_plan(seed in any::<u64>(), diffs in 0u32..3, logs in 1u32..12, stripes in 1u16..3, order in any::<u64>()) {
        let files = chain("Sales", seed, diffs, logs, stripes);
        let reference = plan(files.clone());
        prop_assert!(reference.blocked.is_none());
        prop_assert!(reference.sequence().all(|s| s.status == SetStatus::Queued));
        prop_assert_eq!(&plan(shuffled(files.clone(), order | 1)), &reference);
        prop_assert_eq!(&plan_incrementally(shuffled(files, order.rotate_left(7) | 1)), &reference);
    }

    #[test]
    fn deleting_a_log_blocks_at_exactly_its_first_lsn(seed in any::<u64>(), logs in 6u32..14, pick in any::<u32>()) {
        let files = chain("Sales", seed, 0, logs, 1);
        let full = plan(files.clone());
        let logs_in_order: Vec<_> = full.sequence().filter(|s| s.kind == SetKind::Log).cloned().collect();
        prop_assume!(logs_in_order.len() >= 3);
        // Remove a log between two others: the first log after the base starts before the
        // base's LastLSN (the wait is then at the base's end), the last one blocks nothing.
        let inner = logs_in_order.len() - 2;
        let victim = &logs_in_order[1 + usize::try_from(pick).unwrap_or(0) % inner];
        let rest: Vec<SourceFile> = files.into_iter().filter(|f| f.name != *victim.first_stripe_name).collect();
        let cut = plan(rest);
        let blocked = cut.blocked.expect("a missing log blocks");
        prop_assert_eq!(blocked.waiting_for_lsn, Some(victim.first_lsn));
        prop_assert_eq!(blocked.sql_error.expect("4305").number, 4305);
        prop_assert_eq!(cut.redo_lsn, Some(victim.first_lsn));
    }

    #[test]
    fn another_database_changes_only_the_unrestorable_list(seed in any::<u64>(), logs in 3u32..8, other_logs in 0u32..3) {
        let ours = chain("Sales", seed, 1, logs, 1);
        let theirs = chain("Inventory", seed ^ 0xFFFF, 0, other_logs, 1);
        let reference = plan(ours.clone());
        let mut mixed = ours;
        mixed.extend(theirs.iter().cloned());
        let with_other = plan(shuffled(mixed, seed | 1));
        prop_assert_eq!(&with_other.sets, &reference.sets);
        prop_assert_eq!(&with_other.order, &reference.order);
        prop_assert_eq!(with_other.blocked, reference.blocked);
        prop_assert_eq!(with_other.unrestorable.len(), theirs.len());
        prop_assert!(with_other.unrestorable.iter().all(|u| u.reason.contains("'Inventory'")));
    }
}

#[test]
fn restore_progress_pins_the_base_and_marks_statuses() {
    let files = chain("Sales", 42, 1, 5, 1);
    let mut planner = Planner::new(Options::default());
    for f in files.clone() {
        planner.add_file(f);
    }
    let before = planner.plan();
    let seq: Vec<_> = before.sequence().cloned().collect();
    planner.mark_restored(seq[0].backup_set_guid);
    planner.mark_restoring(seq[1].backup_set_guid);
    let during = planner.plan();
    let statuses: Vec<SetStatus> = during.sequence().map(|s| s.status).collect();
    assert_eq!(statuses[0], SetStatus::Restored);
    assert_eq!(statuses[1], SetStatus::Restoring);
    assert!(statuses[2..].iter().all(|s| *s == SetStatus::Queued));
    // Autocomplete: the last log's name is in the chain; nothing comes after it.
    let last = seq.last().expect("sets").first_stripe_name.to_string();
    assert_eq!(during.position_of(&last), Some(seq.len() - 1));
    assert!(during.files_after(&last).is_empty());
    assert_eq!(
        during.files_after(&seq[1].first_stripe_name).len(),
        seq.len() - 2
    );
    assert_eq!(during.position_of("no-such-file.trn"), None);
}
