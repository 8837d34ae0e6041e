//! One test per planner rule over forged chains, each asserting the exact status, reason, SQL
//! error number and message text.

use lrs_backup::{BackupType, Guid};
use lrs_forge::{ChainSpec, DatabaseSpec};

mod support;
use lrs_plan::{Options, Plan, PlannedSet, Planner, SetStatus, SourceFile};

/// The files of a forged chain, read back, in the order they were taken.
fn forged(spec: ChainSpec) -> Vec<SourceFile> {
    support::forged(&spec)
}

fn spec(seed: u64) -> ChainSpec {
    let mut db = DatabaseSpec::new("Sales");
    db.data_size = 64 * 1024;
    db.log_size = 64 * 1024;
    db.seed = seed;
    ChainSpec::new(db)
}

fn plan(files: Vec<SourceFile>) -> Plan {
    Planner::plan_files(Options::default(), files)
}

fn set<'a>(plan: &'a Plan, name: &str) -> &'a PlannedSet {
    plan.sets
        .iter()
        .find(|s| &*s.first_stripe_name == name)
        .unwrap_or_else(|| panic!("{name} in the plan"))
}

fn sequence(plan: &Plan) -> Vec<String> {
    plan.sequence()
        .map(|s| s.first_stripe_name.to_string())
        .collect()
}

#[test]
fn no_full_backup_blocks() {
    let files: Vec<SourceFile> = forged(ChainSpec { logs: 2, ..spec(1) })
        .into_iter()
        .filter(|f| !f.name.contains("FULL"))
        .collect();
    let p = plan(files);
    assert!(p.order.is_empty());
    let blocked = p.blocked.expect("blocked");
    assert_eq!(blocked.reason, "waiting for a full backup");
    assert_eq!(blocked.sql_error, None);
    assert!(p.sets.iter().all(|s| s.status == SetStatus::Queued));
}

#[test]
fn no_backup_set_at_all_is_no_block() {
    let p = plan(Vec::new());
    assert!(p.order.is_empty() && p.sets.is_empty());
    assert!(p.blocked.is_none(), "{:?}", p.blocked);
}

#[test]
fn the_latest_non_copy_only_full_is_the_base() {
    let p = plan(forged(ChainSpec {
        fulls: 2,
        logs: 2,
        copy_only_full: true,
        ..spec(2)
    }));
    assert_eq!(sequence(&p)[0], "Sales_FULL_02.bak");
    let copy = set(&p, "Sales_FULL_COPY_ONLY.bak");
    assert_eq!(copy.status, SetStatus::Skipped);
    assert_eq!(
        copy.reason.as_deref(),
        Some("copy-only full backup; the restore starts from Sales_FULL_02.bak")
    );
    assert_eq!(copy.sql_error, None);
    let first = set(&p, "Sales_FULL_01.bak");
    assert_eq!(
        first.reason.as_deref(),
        Some("not the latest full backup; the restore starts from Sales_FULL_02.bak")
    );
}

#[test]
fn a_copy_only_full_alone_is_restored() {
    let files: Vec<SourceFile> = forged(ChainSpec {
        logs: 0,
        copy_only_full: true,
        ..spec(3)
    })
    .into_iter()
    .filter(|f| f.name != "Sales_FULL_01.bak")
    .collect();
    assert_eq!(sequence(&plan(files)), ["Sales_FULL_COPY_ONLY.bak"]);
}

#[test]
fn a_differential_on_another_base_fails_with_3136() {
    // full 1, log 1, diff 1 (on full 1), log 2, full 2, diff 2 (on full 2), logs 3 and 4:
    // the restore starts from full 2 and its differential.
    let p = plan(forged(ChainSpec {
        fulls: 2,
        diffs: 2,
        logs: 4,
        ..spec(4)
    }));
    assert_eq!(
        sequence(&p)[..2],
        ["Sales_FULL_02.bak", "Sales_DIFF_02.bak"]
    );
    let diff = set(&p, "Sales_DIFF_01.bak");
    assert_eq!(diff.status, SetStatus::Skipped);
    assert_eq!(
        diff.reason.as_deref(),
        Some("its differential base is not the restored full backup")
    );
    let err = diff.sql_error.as_ref().expect("3136");
    assert_eq!(err.number, 3136);
    assert_eq!(
        err.message,
        "This differential backup cannot be restored because the database has not been restored to the correct earlier state."
    );
}

#[test]
fn only_the_latest_differential_on_the_base_is_restored() {
    let p = plan(forged(ChainSpec {
        diffs: 2,
        logs: 3,
        ..spec(5)
    }));
    let seq = sequence(&p);
    assert_eq!(seq[..2], ["Sales_FULL_01.bak", "Sales_DIFF_02.bak"]);
    let older = set(&p, "Sales_DIFF_01.bak");
    assert_eq!(older.status, SetStatus::Skipped);
    assert_eq!(
        older.reason.as_deref(),
        Some("superseded by a later differential backup (Sales_DIFF_02.bak)")
    );
    assert_eq!(older.sql_error, None);
}

#[test]
fn a_log_ending_before_the_redo_point_fails_with_4326() {
    let p = plan(forged(ChainSpec {
        diffs: 1,
        logs: 4,
        ..spec(6)
    }));
    let diff = set(&p, "Sales_DIFF_01.bak");
    assert_eq!(diff.status, SetStatus::Queued);
    let early = set(&p, "Sales_LOG_00001.trn");
    assert_eq!(early.status, SetStatus::Skipped);
    let (last, redo) = (early.last_lsn, diff.last_lsn);
    assert_eq!(
        early.reason,
        Some(format!("ends at LSN {last}, before the redo point {redo}"))
    );
    let err = early.sql_error.as_ref().expect("4326");
    assert_eq!(err.number, 4326);
    assert_eq!(
        err.message,
        format!(
            "The log in this backup set terminates at LSN {last}, which is too early to apply to the database. A more recent log backup that includes LSN {redo} can be restored."
        )
    );
}

#[test]
fn a_missing_log_blocks_with_4305() {
    let p = plan(forged(ChainSpec {
        logs: 5,
        gap_after: Some(2),
        ..spec(7)
    }));
    assert_eq!(
        sequence(&p),
        [
            "Sales_FULL_01.bak",
            "Sales_LOG_00001.trn",
            "Sales_LOG_00002.trn"
        ]
    );
    let next = set(&p, "Sales_LOG_00004.trn");
    assert_eq!(next.status, SetStatus::Queued);
    let redo = set(&p, "Sales_LOG_00002.trn").last_lsn;
    let blocked = p.blocked.as_ref().expect("blocked");
    assert_eq!(blocked.waiting_for_lsn, Some(redo));
    assert_eq!(
        blocked.reason,
        format!(
            "waiting for a log backup that includes LSN {redo}: the next log backup found (Sales_LOG_00004.trn) begins at LSN {}",
            next.first_lsn
        )
    );
    let err = blocked.sql_error.as_ref().expect("4305");
    assert_eq!(err.number, 4305);
    assert_eq!(
        err.message,
        format!(
            "The log in this backup set begins at LSN {}, which is too recent to apply to the database. An earlier log backup that includes LSN {redo} can be restored.",
            next.first_lsn
        )
    );
}

#[test]
fn logs_follow_a_recovery_fork_and_other_forks_are_skipped() {
    let mut files = forged(ChainSpec {
        logs: 5,
        fork_after: Some(2),
        ..spec(8)
    });
    let p = plan(files.clone());
    assert_eq!(
        p.order.len(),
        6,
        "the log spanning the fork and those after it apply"
    );
    assert!(p.blocked.is_none());
    // A log that starts on a fork the database never was on is skipped, with the fork named.
    let stray = files
        .iter_mut()
        .find(|f| f.name == "Sales_LOG_00005.trn")
        .expect("log 5");
    let header = &mut stray.content.as_mut().expect("parsed").sets[0].header;
    let other = Guid([0x42; 16]);
    header.first_recovery_fork_id = other;
    header.backup_set_guid = Guid([0x43; 16]);
    let p = plan(files);
    let skipped = set(&p, "Sales_LOG_00005.trn");
    assert_eq!(skipped.status, SetStatus::Skipped);
    let on = set(&p, "Sales_LOG_00004.trn");
    assert_eq!(on.status, SetStatus::Queued);
    let current = p
        .sequence()
        .last()
        .map(|s| s.backup_set_guid)
        .expect("sequence");
    assert_ne!(current, skipped.backup_set_guid);
    let reason = skipped.reason.as_deref().expect("reason");
    assert!(
        reason.starts_with(&format!(
            "belongs to recovery fork {other}, the database is on "
        )),
        "{reason}"
    );
    assert_eq!(skipped.sql_error, None);
}

#[test]
fn an_empty_log_is_skipped() {
    let mut files = forged(ChainSpec { logs: 3, ..spec(9) });
    let log = files
        .iter_mut()
        .find(|f| f.name == "Sales_LOG_00003.trn")
        .expect("log 3");
    let header = &mut log.content.as_mut().expect("parsed").sets[0].header;
    header.last_lsn = header.first_lsn;
    assert_eq!(header.backup_type, BackupType::TransactionLog);
    let p = plan(files);
    let empty = set(&p, "Sales_LOG_00003.trn");
    assert_eq!(empty.status, SetStatus::Skipped);
    assert_eq!(
        empty.reason.as_deref(),
        Some("contains no log records (FirstLSN = LastLSN)")
    );
    assert_eq!(empty.sql_error, None);
    assert_eq!(p.order.len(), 3);
}

#[test]
fn headers_come_from_the_lowest_media_family_whatever_the_upload_order() {
    let files = forged(ChainSpec {
        logs: 3,
        stripes: 2,
        ..spec(10)
    });
    let reference = plan(files.clone());
    assert_eq!(reference.order.len(), 4);
    // Family 2 of log 2 disagrees with family 1: it would place the set after log 3 and gives
    // another size. Family 1's values must win even when family 2 arrives first and the chain
    // was planned before family 1 came (the set then moves in log order).
    let (mut late, mut first): (Vec<SourceFile>, Vec<SourceFile>) = files
        .into_iter()
        .partition(|f| f.name != "Sales_LOG_00002_2of2.trn");
    assert_eq!(first.len(), 1, "family 2 of log 2");
    let header = &mut first[0].content.as_mut().expect("parsed").sets[0].header;
    header.first_lsn.vlf += 1000;
    header.last_lsn.vlf += 1000;
    header.backup_size += 1;
    late.reverse();
    let mut planner = Planner::new(Options::default());
    for file in first.into_iter().chain(late) {
        planner.add_file(file);
        let _ = planner.plan();
    }
    assert_eq!(planner.plan(), reference);
}
