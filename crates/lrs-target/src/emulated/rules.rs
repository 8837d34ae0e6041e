//! What SQL Server accepts: the checks a `RESTORE … WITH NORECOVERY` and a
//! `RESTORE … WITH RECOVERY` pass before anything is read or changed. Pure functions over the
//! database's state and the set's header facts.
//!
//! The redo point R is the LastLSN of the last set applied (a full's LastLSN right after the
//! full: that is the point the planner continues from, `lrs_plan` rule 6).

use lrs_backup::Lsn;

use super::catalog::DbRecord;
use super::log::BackupKind;
use crate::media::SetFacts;
use crate::{DatabaseState, TargetError, sql};

/// Check restoring `set` into `database` (`existing`: its state, when it exists) and return the
/// redo point afterwards.
///
/// **Full** (creates the database when it does not exist; R = its LastLSN):
/// * over a database restored from another database (another FamilyGUID), in any state:
///   3154 naming the existing database;
/// * over an online database of the same family: 3159 (the tail of its log was never backed
///   up; this target has no `REPLACE`);
/// * over a restoring database of the same family: accepted, and the restore sequence starts
///   again from this full (SQL Server's tail-log check only protects online databases, and
///   restarting a sequence with its full needs no `REPLACE`; our reading of the documentation).
///
/// **Differential** (R = its LastLSN):
/// * database missing: 3118; online: 3117;
/// * DifferentialBaseGUID not the full the sequence started from: 3136 (SQL Server also follows
///   a base that restored logs carried in from a newer full; this target does not model that
///   and refuses such a differential with 3136 too);
/// * LastLSN before R (logs restored past it): 3120 (best reconstruction). A differential that
///   reaches R or beyond is accepted even after logs: log-shipping secondaries are caught up
///   exactly like that (the planner itself never restores a differential after logs).
///
/// **Log** (R = its LastLSN):
/// * database missing: 3118; online: 3117;
/// * of another database (FamilyGUID): 4330;
/// * LastLSN < R: 4326 (too early, naming LastLSN and R);
/// * FirstLSN > R: 4305 (too recent, naming FirstLSN and R);
/// * FirstRecoveryForkID not the database's fork, or a fork point before R (the database went
///   past the point where this log's fork branched off): 4330;
/// * otherwise FirstLSN ≤ R ≤ LastLSN applies. LastLSN = R is accepted as SQL Server does: a
///   log ending exactly at a differential's LastLSN restores (dbareports fixture, restored by
///   the dbatools suite on a real server), and restoring the log just restored once more runs
///   again without error (observed by the sql-log-shipping-service authors, issue #40). It
///   changes nothing but is logged as a restore like any other.
pub(crate) fn check_restore(
    database: &str,
    existing: Option<&DbRecord>,
    set: &SetFacts,
) -> Result<Lsn, TargetError> {
    match set.kind {
        BackupKind::Full => {
            if let Some(db) = existing {
                if db.family != set.family_guid {
                    return Err(sql::backup_of_other_database(&db.name));
                }
                if db.state == DatabaseState::Online {
                    return Err(sql::tail_of_log_not_backed_up(&db.name));
                }
            }
            Ok(set.last_lsn)
        }
        BackupKind::Differential => {
            let db = restoring(database, existing)?;
            if set.differential_base_guid != Some(db.base_full) {
                return Err(sql::wrong_differential_base());
            }
            if set.last_lsn < db.redo {
                return Err(sql::already_restored_beyond());
            }
            Ok(set.last_lsn)
        }
        BackupKind::Log => {
            let db = restoring(database, existing)?;
            if db.family != set.family_guid {
                return Err(sql::inconsistent_recovery_path());
            }
            let redo = db.redo;
            if set.last_lsn < redo {
                return Err(sql::too_early(set.last_lsn, redo));
            }
            if set.first_lsn > redo {
                return Err(sql::too_recent(set.first_lsn, redo));
            }
            let branched_before_redo = set
                .fork_point_lsn
                .is_some_and(|fork_point| fork_point < redo);
            if set.first_recovery_fork_id != db.fork || branched_before_redo {
                return Err(sql::inconsistent_recovery_path());
            }
            Ok(set.last_lsn)
        }
    }
}

/// Check `RESTORE DATABASE … WITH RECOVERY`: the database must exist (3118, best
/// reconstruction: SQL Server's "does not exist" error of the RESTORE statement) and be
/// restoring; recovering an online database is 3153 ("already fully recovered"), not a no-op,
/// as in SQL Server.
pub(crate) fn check_recover(
    database: &str,
    existing: Option<&DbRecord>,
) -> Result<(), TargetError> {
    match existing {
        None => Err(sql::database_does_not_exist(database)),
        Some(db) if db.state == DatabaseState::Online => Err(sql::already_fully_recovered()),
        Some(_) => Ok(()),
    }
}

/// A differential or log needs a restoring database: 3118 when it does not exist, 3117 when it
/// was recovered (no files are ready to roll forward).
fn restoring<'a>(
    database: &str,
    existing: Option<&'a DbRecord>,
) -> Result<&'a DbRecord, TargetError> {
    match existing {
        None => Err(sql::database_does_not_exist(database)),
        Some(db) if db.state == DatabaseState::Online => Err(sql::no_files_ready_to_rollforward()),
        Some(db) => Ok(db),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use lrs_backup::Guid;

    use super::*;

    fn lsn(n: u32) -> Lsn {
        Lsn {
            vlf: n,
            block: 0,
            slot: 1,
        }
    }

    fn g(n: u8) -> Guid {
        Guid([n; 16])
    }

    fn facts(kind: BackupKind, first: u32, last: u32) -> SetFacts {
        SetFacts {
            kind,
            guid: g(9),
            first_lsn: lsn(first),
            last_lsn: lsn(last),
            checkpoint_lsn: lsn(first),
            family_guid: g(1),
            recovery_fork_id: g(2),
            first_recovery_fork_id: g(2),
            fork_point_lsn: None,
            differential_base_guid: None,
            source_database: None,
            family_count: 1,
        }
    }

    fn db(state: DatabaseState, redo: u32) -> DbRecord {
        DbRecord {
            name: "Sales".into(),
            state,
            redo: lsn(redo),
            last_applied: g(3),
            created_at: Utc::now(),
            family: g(1),
            fork: g(2),
            base_full: g(3),
            log_file: None,
            log_len: 0,
        }
    }

    fn number(r: Result<Lsn, TargetError>) -> u32 {
        match r {
            Err(TargetError::Sql { number, .. }) => number,
            Ok(_) => 0,
            Err(_) => 1,
        }
    }

    #[test]
    fn logs_follow_the_redo_point() {
        let d = db(DatabaseState::Restoring, 20);
        let log =
            |first, last| check_restore("Sales", Some(&d), &facts(BackupKind::Log, first, last));
        assert_eq!(log(10, 25).ok(), Some(lsn(25)));
        assert_eq!(log(20, 25).ok(), Some(lsn(25)));
        assert_eq!(
            log(10, 20).ok(),
            Some(lsn(20)),
            "a log ending exactly at R applies"
        );
        assert_eq!(log(20, 20).ok(), Some(lsn(20)), "an empty log at R applies");
        assert_eq!(number(log(10, 19)), 4326);
        assert_eq!(number(log(21, 25)), 4305);
    }

    #[test]
    fn forks_and_families_must_match() {
        let d = db(DatabaseState::Restoring, 20);
        let mut other_fork = facts(BackupKind::Log, 10, 25);
        other_fork.first_recovery_fork_id = g(7);
        assert_eq!(number(check_restore("Sales", Some(&d), &other_fork)), 4330);
        let mut branched_early = facts(BackupKind::Log, 10, 25);
        branched_early.fork_point_lsn = Some(lsn(15));
        assert_eq!(
            number(check_restore("Sales", Some(&d), &branched_early)),
            4330
        );
        let mut branched_later = facts(BackupKind::Log, 10, 25);
        branched_later.fork_point_lsn = Some(lsn(22));
        assert_eq!(
            check_restore("Sales", Some(&d), &branched_later).ok(),
            Some(lsn(25))
        );
        let mut other_db = facts(BackupKind::Log, 10, 25);
        other_db.family_guid = g(8);
        assert_eq!(number(check_restore("Sales", Some(&d), &other_db)), 4330);
    }

    #[test]
    fn fulls_and_differentials() {
        let restoring = db(DatabaseState::Restoring, 20);
        let online = db(DatabaseState::Online, 20);
        let full = facts(BackupKind::Full, 5, 8);
        assert_eq!(check_restore("Sales", None, &full).ok(), Some(lsn(8)));
        assert_eq!(
            check_restore("Sales", Some(&restoring), &full).ok(),
            Some(lsn(8))
        );
        assert_eq!(number(check_restore("Sales", Some(&online), &full)), 3159);
        let mut other = full.clone();
        other.family_guid = g(8);
        assert_eq!(
            number(check_restore("Sales", Some(&restoring), &other)),
            3154
        );
        assert_eq!(number(check_restore("Sales", Some(&online), &other)), 3154);

        let mut diff = facts(BackupKind::Differential, 18, 30);
        diff.differential_base_guid = Some(g(3));
        assert_eq!(
            check_restore("Sales", Some(&restoring), &diff).ok(),
            Some(lsn(30))
        );
        assert_eq!(number(check_restore("Sales", None, &diff)), 3118);
        assert_eq!(number(check_restore("Sales", Some(&online), &diff)), 3117);
        let mut old = diff.clone();
        old.last_lsn = lsn(19);
        assert_eq!(number(check_restore("Sales", Some(&restoring), &old)), 3120);
        diff.differential_base_guid = Some(g(4));
        assert_eq!(
            number(check_restore("Sales", Some(&restoring), &diff)),
            3136
        );
    }

    #[test]
    fn recovery() {
        assert!(check_recover("Sales", Some(&db(DatabaseState::Restoring, 1))).is_ok());
        let is = |r: Result<(), TargetError>, n: u32| matches!(r, Err(TargetError::Sql { number, .. }) if number == n);
        assert!(is(
            check_recover("Sales", Some(&db(DatabaseState::Online, 1))),
            3153
        ));
        assert!(is(check_recover("Sales", None), 3118));
    }
}
