//! `lrs plan` on the real fixture folders gives the restore sequences their README states.

use std::path::Path;

use lrs_backup::ReadOptions;
use lrs_plan::{Options, Plan, Planner, SetKind, SetStatus, SourceFile};

fn source_files(dir: &Path, root: &Path) -> Vec<SourceFile> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("list") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .replace('\\', "/");
            let data = std::fs::read(&path).expect("read");
            let size = data.len() as u64;
            let content = lrs_backup::read_backup_from_bytes(&name, data, ReadOptions::default())
                .map_err(|e| e.kind.to_string());
            out.push(SourceFile {
                name,
                size,
                content,
            });
        }
    }
    out
}

fn plan(folder: &str) -> Option<(Plan, String)> {
    let root = lrs_testkit::real_fixtures()?.join(folder);
    let files = source_files(&root, &root);
    Some((
        Planner::plan_files(Options::default(), files),
        folder.to_string(),
    ))
}

fn sequence(plan: &Plan) -> Vec<String> {
    plan.sequence()
        .map(|s| s.first_stripe_name.to_string())
        .collect()
}

fn skipped(plan: &Plan) -> Vec<(String, Option<u32>)> {
    let mut v: Vec<_> = plan
        .sets
        .iter()
        .filter(|s| s.status == SetStatus::Skipped)
        .map(|s| {
            (
                s.first_stripe_name.to_string(),
                s.sql_error.as_ref().map(|e| e.number),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn restoretimeclean_full_diff_then_the_logs_after_it() {
    let Some((p, _)) = plan("dataplat-appveyor-lab/RestoreTimeClean") else {
        return;
    };
    assert_eq!(
        sequence(&p),
        [
            "RestoreTimeClean.bak",
            "RestoreTimeClean2.bak",
            "RestoreTimeClean2_1.trn",
            "RestoreTimeClean2_2.trn",
            "RestoreTimeClean2_3.trn"
        ]
    );
    // The logs before the differential end before its LastLSN: too early (4326).
    assert_eq!(
        skipped(&p),
        [
            ("RestoreTimeClean_1.trn".to_string(), Some(4326)),
            ("RestoreTimeClean_2.trn".to_string(), Some(4326)),
            ("RestoreTimeClean_3.trn".to_string(), Some(4326)),
        ]
    );
    assert_eq!(p.blocked, None);
    assert_eq!(
        p.redo_lsn.map(|l| l.to_string()).as_deref(),
        Some("25000000022000001")
    );
}

#[test]
fn stopat_full_and_four_logs() {
    let Some((p, _)) = plan("dataplat-appveyor-lab/sql2008-backups/StopAt") else {
        return;
    };
    assert_eq!(
        sequence(&p),
        [
            "StopAt.bak",
            "StopAt_1.trn",
            "StopAt_2.trn",
            "StopAt_21.trn",
            "StopAt_23.trn"
        ]
    );
    assert!(skipped(&p).is_empty());
}

#[test]
fn stopat_without_log_21_blocks_with_the_real_error() {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        return;
    };
    let root = Path::new(&root).join("dataplat-appveyor-lab/sql2008-backups/StopAt");
    let files = source_files(&root, &root)
        .into_iter()
        .filter(|f| f.name != "StopAt_21.trn");
    let p = Planner::plan_files(Options::default(), files);
    assert_eq!(sequence(&p), ["StopAt.bak", "StopAt_1.trn", "StopAt_2.trn"]);
    let blocked = p.blocked.expect("a gap blocks the restore");
    let err = blocked.sql_error.expect("4305");
    assert_eq!(err.number, 4305);
    assert_eq!(
        err.message,
        "The log in this backup set begins at LSN 19000000021500001, which is too recent to apply to the database. An earlier log backup that includes LSN 19000000019300001 can be restored."
    );
    assert_eq!(
        blocked.waiting_for_lsn.map(|l| l.to_string()).as_deref(),
        Some("19000000019300001")
    );
    let queued = p
        .sets
        .iter()
        .find(|s| &*s.first_stripe_name == "StopAt_23.trn")
        .expect("log 23");
    assert_eq!(queued.status, SetStatus::Queued);
}

#[test]
fn simple_recovery_full_and_latest_differential() {
    let Some((p, _)) = plan("dataplat-appveyor-lab/sql2008-backups/SimpleRecovery") else {
        return;
    };
    assert_eq!(sequence(&p), ["SimpleBacktest.bak", "SimpleBackTest_2.bak"]);
    assert_eq!(skipped(&p), [("SimpleBackTest_1.bak".to_string(), None)]);
}

#[test]
fn double_diffing_restores_the_latest_differential_on_the_full() {
    let Some((p, _)) = plan("dataplat-appveyor-lab/DoubleDiffing") else {
        return;
    };
    // Both differentials are on the same full; LRS restores only the latest one (restoring
    // diff1 first, as dbatools does, reaches the same state).
    assert_eq!(sequence(&p), ["difftest-full.bak", "difftest-diff2.bak"]);
    let diff1 = p
        .sets
        .iter()
        .find(|s| &*s.first_stripe_name == "difftest-diff1.bak")
        .expect("diff1");
    assert_eq!(diff1.status, SetStatus::Skipped);
    assert!(
        diff1
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("superseded"))
    );
}

#[test]
fn stripes_pair_up_and_the_latest_full_is_the_base() {
    let Some((p, _)) = plan("dataplat-appveyor-lab/sql2008-backups/RestoreTimeStripe") else {
        return;
    };
    let seq: Vec<Vec<String>> = p
        .sequence()
        .map(|s| s.stripes.iter().map(|st| st.file.to_string()).collect())
        .collect();
    assert_eq!(
        seq,
        [
            vec![
                "Stripe1/RestoreTimeStripe2.bak",
                "Stripe2/RestoreTimeStripe2a.bak"
            ],
            vec!["Stripe1/restoretime_21.trn", "Stripe2/restoretime_21a.trn"],
            vec![
                "Stripe1/RestoreTimeStripe_22.trn",
                "Stripe2/RestoreTimeStripe_22a.trn"
            ],
            vec![
                "Stripe1/RestoreTimeStripe_23.trn",
                "Stripe2/RestoreTimeStripe_23a.trn"
            ],
        ]
    );
    assert!(p.sequence().all(|s| s.number_of_stripes == 2));
    let skipped = skipped(&p);
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(skipped.contains(&("Stripe1/RestoreTimeStripe.bak".to_string(), None)));
}

#[test]
fn a_missing_stripe_blocks() {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        return;
    };
    let root = Path::new(&root).join("dataplat-appveyor-lab/sql2008-backups/RestoreTimeStripe");
    let files = source_files(&root, &root)
        .into_iter()
        .filter(|f| f.name != "Stripe2/RestoreTimeStripe2a.bak");
    let p = Planner::plan_files(Options::default(), files);
    assert!(p.order.is_empty());
    let blocked = p.blocked.expect("blocked");
    assert!(
        blocked.reason.contains("media family [2] of 2"),
        "{}",
        blocked.reason
    );
}

#[test]
fn dbareports_log_ending_at_the_redo_point_applies_and_the_empty_log_is_skipped() {
    let Some((p, _)) = plan("dataplat-appveyor-lab/sql2008-backups/dbareports") else {
        return;
    };
    assert_eq!(
        sequence(&p),
        [
            "FULL/SQL2008_dbareports_FULL_20170518_041739.bak",
            "DIFF/SQL2008_dbareports_DIFF_20170518_041826.bak",
            "LOG/SQL2008_dbareports_LOG_20170518_041831.trn",
        ]
    );
    let log = p.sequence().nth(2).expect("log");
    let diff = p.sequence().nth(1).expect("diff");
    assert_eq!(
        log.last_lsn, diff.last_lsn,
        "the log ends exactly at the redo point"
    );
    let empty = p
        .sets
        .iter()
        .find(|s| s.first_stripe_name.ends_with("041837.trn"))
        .expect("empty log");
    assert_eq!(empty.status, SetStatus::Skipped);
    assert!(
        empty
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no log records"))
    );
    assert_eq!(p.of_kind(SetKind::Diff).count(), 2);
}

#[test]
fn the_2021_profile_requires_checksum() {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        return;
    };
    let root = Path::new(&root).join("dataplat-appveyor-lab/sql2008-backups");
    let options = Options {
        require_checksum: true,
        database: Some("dbareports".into()),
    };
    let p = Planner::plan_files(options, source_files(&root, &root));
    assert_eq!(p.order.len(), 3, "dbareports was taken WITH CHECKSUM");
    let options = Options {
        require_checksum: true,
        database: Some("StopAt".into()),
    };
    let p = Planner::plan_files(options, source_files(&root, &root));
    assert!(p.order.is_empty());
    let stopat = p
        .unrestorable
        .iter()
        .find(|u| u.name == "StopAt/StopAt.bak")
        .expect("listed");
    assert!(
        stopat.reason.contains("without CHECKSUM"),
        "{}",
        stopat.reason
    );
}

#[test]
fn other_databases_and_non_backups_are_unrestorable() {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        return;
    };
    let root = Path::new(&root).join("dataplat-appveyor-lab/sql2008-backups");
    let p = Planner::plan_files(
        Options {
            require_checksum: false,
            database: Some("StopAt".into()),
        },
        source_files(&root, &root),
    );
    assert_eq!(sequence(&p).len(), 5);
    let other = p
        .unrestorable
        .iter()
        .find(|u| u.name == "Noextension.bak")
        .expect("other db");
    assert_eq!(
        other.reason,
        "backup of database 'NoExtension', not of 'StopAt'"
    );
    let mut files = source_files(&root.join("StopAt"), &root.join("StopAt"));
    files.push(SourceFile {
        name: "notes.txt".into(),
        size: 5,
        content: Err("not a SQL Server backup".into()),
    });
    let p = Planner::plan_files(Options::default(), files);
    assert_eq!(p.unrestorable.len(), 1);
    assert_eq!(p.unrestorable[0].name, "notes.txt");
}
