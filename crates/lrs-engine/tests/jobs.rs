//! Restore jobs end to end over local folders: autocomplete, continuous with files arriving,
//! complete, stop, name conflict, CHECKSUM rules, limits, the 47-hour window, gaps, restarts.

mod support;

use lrs_engine::{EngineError, Profile, Refusal};
use lrs_store::{DatabaseStatus, OperationStatus};
use support::{Harness, chain, instance, restore_counts, stage, upload};

#[tokio::test]
async fn autocomplete_restores_the_whole_chain_and_brings_the_database_online() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let staging = h.root.path().join("staging");
    let files = stage(&chain("Sales", 1, 3), &staging);
    let folder = h.folder("sales");
    upload(&files, &folder);
    let last = files.last().expect("files").0.clone();

    let op = h
        .engine
        .start_restore(h.start_request("Sales", &folder, Some(&last)))
        .await
        .expect("start");
    assert_eq!(op.status, OperationStatus::InProgress);

    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
    let db = h.engine.database(&instance(), "sales").await.expect("db");
    assert_eq!(db.status, DatabaseStatus::Online);
    assert_eq!(db.name, "Sales");

    let details = h
        .engine
        .restore_details(&instance(), "Sales")
        .await
        .expect("details");
    assert_eq!(details.status, "Completed");
    // Backup order: full, log 1, diff, log 2, log 3. The differential covers log 1, so the
    // sequence is full, diff, log 2, log 3 and log 1 is skipped.
    assert_eq!(details.number_of_files_detected, 5);
    assert_eq!(details.number_of_files_restored, 4);
    assert_eq!(details.number_of_files_skipped, 1);
    assert_eq!(details.number_of_files_queued, 0);
    assert_eq!(details.number_of_files_unrestorable, 0);
    assert_eq!(details.percent_completed, 100.0);
    assert_eq!(details.full_backup_sets.len(), 1);
    assert_eq!(details.diff_backup_sets.len(), 1);
    assert_eq!(details.log_backup_sets.len(), 3);
    assert_eq!(
        details.last_restored_file_name.as_deref(),
        Some(last.as_str())
    );
    assert!(
        details.log_backup_sets[1..]
            .iter()
            .all(|s| s.status == "Restored" && s.restore_finished.is_some()),
        "{:#?}",
        details.log_backup_sets
    );
    assert_eq!(details.log_backup_sets[0].status, "Skipped");
    // Every set of the sequence applied exactly once.
    h.assert_applied_once(4);
}

#[tokio::test]
async fn continuous_mode_restores_files_as_they_arrive_until_complete() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let files = stage(&chain("Orders", 0, 4), &h.root.path().join("staging"));
    let folder = h.folder("orders");
    upload(&files[..2], &folder);
    let op = h
        .engine
        .start_restore(h.start_request("Orders", &folder, None))
        .await
        .expect("start");
    let second = files[1].0.clone();
    h.wait_restored("Orders", &second).await;
    // Completing with a file that is no set of the chain is refused.
    let err = h
        .engine
        .complete_restore(&instance(), "Orders", Some("Orders_nosuch.trn".into()))
        .await
        .expect_err("wrong name");
    assert_eq!(
        err,
        EngineError::Refused(Refusal::NotLastRestored {
            given: "Orders_nosuch.trn".into(),
            last: second.clone(),
        })
    );
    // More logs arrive while the job runs.
    upload(&files[2..], &folder);
    let last = files.last().expect("files").0.clone();
    h.wait_restored("Orders", &last).await;
    assert_eq!(
        h.engine.operation(op.id).await.expect("op").status,
        OperationStatus::InProgress,
        "a continuous start stays in progress until cutover"
    );
    let missing = h
        .engine
        .complete_restore(&instance(), "Orders", None)
        .await
        .expect_err("no name");
    assert!(
        matches!(missing, EngineError::Refused(Refusal::CompleteMissingName)),
        "{missing:?}"
    );
    let complete = h
        .engine
        .complete_restore(&instance(), "Orders", Some(last.clone()))
        .await
        .expect("complete");
    assert_eq!(
        h.wait_operation(&complete).await.status,
        OperationStatus::Succeeded
    );
    assert_eq!(
        h.wait_operation(&op).await.status,
        OperationStatus::Succeeded
    );
    assert_eq!(
        h.engine
            .database(&instance(), "Orders")
            .await
            .expect("db")
            .status,
        DatabaseStatus::Online
    );
    let again = h
        .engine
        .complete_restore(&instance(), "Orders", Some(last))
        .await
        .expect_err("twice");
    assert!(
        matches!(again, EngineError::Refused(Refusal::NotRestoring)),
        "{again:?}"
    );
}

#[tokio::test]
async fn stop_drops_the_database_and_ends_the_start_operation() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let files = stage(&chain("Stock", 0, 1), &h.root.path().join("staging"));
    let folder = h.folder("stock");
    upload(&files, &folder);
    let op = h
        .engine
        .start_restore(h.start_request("Stock", &folder, None))
        .await
        .expect("start");
    let last = files[1].0.clone();
    h.wait_restored("Stock", &last).await;
    let drop = h
        .engine
        .drop_database(&instance(), "Stock")
        .await
        .expect("drop");
    assert_eq!(
        h.wait_operation(&drop).await.status,
        OperationStatus::Succeeded
    );
    assert_eq!(
        h.wait_operation(&op).await.status,
        OperationStatus::Succeeded
    );
    assert!(matches!(
        h.engine.database(&instance(), "Stock").await,
        Err(EngineError::DatabaseNotFound { .. })
    ));
    assert_eq!(h.target.database("Stock").await.expect("target"), None);
    // The name is free again: a new migration may start under it.
    h.engine
        .start_restore(h.start_request("Stock", &folder, None))
        .await
        .expect("restart under the same name");
}

#[tokio::test]
async fn a_name_in_use_refuses_the_start() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let folder = h.folder("dup");
    h.engine
        .create_database(&instance(), "Dup", "westeurope", None)
        .await
        .expect("plain database");
    let err = h
        .engine
        .start_restore(h.start_request("DUP", &folder, None))
        .await
        .expect_err("in use");
    assert_eq!(
        err,
        EngineError::Refused(Refusal::NameInUse {
            database: "DUP".into()
        })
    );
    // A plain database has no restore details.
    assert_eq!(
        h.engine.restore_details(&instance(), "Dup").await,
        Err(EngineError::Refused(Refusal::DetailsNotAvailable))
    );
}

#[tokio::test]
async fn start_validation_matches_the_real_service() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let folder = h.folder("v");
    let mut request = h.start_request("V", &folder, None);
    request.storage_uri = None;
    assert!(matches!(
        h.engine.start_restore(request).await,
        Err(EngineError::Refused(Refusal::MissingUri))
    ));
    let mut request = h.start_request("V", &folder, None);
    request.auto_complete = true;
    assert_eq!(
        h.engine.start_restore(request).await,
        Err(EngineError::Refused(Refusal::AutocompleteMissingName))
    );
    let mut request = h.start_request("V", &folder, None);
    request.storage_uri = Some("https://acct.blob.core.windows.net/c/v".into());
    assert_eq!(
        h.engine.start_restore(request.clone()).await,
        Err(EngineError::Refused(Refusal::MissingSas))
    );
    request.sas_token = Some("sv=2019-02-02&sr=c&sp=rwl&se=2099-01-01T00:00:00Z&sig=abc".into());
    let err = h
        .engine
        .start_restore(request.clone())
        .await
        .expect_err("write");
    let EngineError::Refused(Refusal::StorageRefused { reason }) = &err else {
        panic!("{err:?}")
    };
    assert!(!reason.contains("abc"), "signature leaked: {reason}");
    request.identity = Some("ManagedIdentity".into());
    assert!(matches!(
        h.engine.start_restore(request).await,
        Err(EngineError::Refused(Refusal::InvalidStart { .. }))
    ));
}

#[tokio::test]
async fn a_full_backup_without_checksum_fails_under_lrs_2021_and_restores_under_ga() {
    for (profile, expect_failure) in [(Profile::lrs_2021(), true), (Profile::ga(), false)] {
        let h = Harness::new(profile, 1.0).await;
        let mut spec = chain("NoSum", 0, 1);
        spec.db.checksum = false;
        let files = stage(&spec, &h.root.path().join("staging"));
        let folder = h.folder("nosum");
        upload(&files, &folder);
        let last = files[1].0.clone();
        let op = h
            .engine
            .start_restore(h.start_request("NoSum", &folder, Some(&last)))
            .await
            .expect("start");
        let done = h.wait_operation(&op).await;
        if expect_failure {
            assert_eq!(done.status, OperationStatus::Failed);
            let error = done.error.expect("error");
            assert_eq!(error.code, "FullBackupMissingChecksum");
            assert!(
                error
                    .message
                    .starts_with("Provided full backup is missing checksum.")
            );
            h.assert_details_failed("NoSum", &error.message).await;
        } else {
            assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
        }
    }
}

/// The first data page of a plain backup file: the MQDA stream's data after its 2 filler bytes.
fn first_page_at(bytes: &[u8]) -> usize {
    let stream = lrs_backup::mtf_layout(bytes)
        .expect("layout")
        .into_iter()
        .flat_map(|b| b.streams)
        .find(|s| s.tag.0 == *b"MQDA")
        .expect("a data stream");
    usize::try_from(stream.offset).expect("offset") + 22 + 2
}

#[tokio::test]
async fn damaged_backups_fail_the_migration_with_the_services_codes() {
    // (what to damage, in which file of the chain, expected code, text it starts with)
    type Damage = fn(&mut Vec<u8>);
    let corrupt_page: Damage = |b| {
        let at = first_page_at(b) + 9 * 8192 + 300;
        b[at] ^= 0x01;
    };
    let broken_log_block: Damage = |b| {
        let mstl = lrs_backup::mtf_layout(b)
            .expect("layout")
            .into_iter()
            .find(|blk| blk.tag.0 == *b"MSTL")
            .expect("MSTL");
        b[usize::try_from(mstl.offset).expect("o") + 20] ^= 0x01;
    };
    let broken_full_checksum: Damage = |b| {
        let csum = lrs_backup::mtf_layout(b)
            .expect("layout")
            .into_iter()
            .flat_map(|blk| blk.streams)
            .find(|s| s.tag.0 == *b"CSUM")
            .expect("CSUM");
        b[usize::try_from(csum.offset).expect("o") + 22] ^= 0x01;
    };
    let cases: [(Damage, usize, &str, &str); 3] = [
        (
            corrupt_page,
            0,
            "CorruptedPagesInBackupSet",
            "Operation was aborted because RESTORE detected one or more corrupted pages in the \
             backup set. File: 'Bad_FULL_01.bak'. Msg 3183: RESTORE detected an error on page \
             (1:9) in database \"Bad\" as read from the backup set.",
        ),
        (
            broken_full_checksum,
            0,
            "FullBackupDamaged",
            "Provided full backup is damaged. File: 'Bad_FULL_01.bak'. Msg 3189: Damage to the \
             backup set was detected.",
        ),
        (
            broken_log_block,
            2,
            "BackupSetBroken",
            "Backup set is broken. File: 'Bad_LOG_00002.trn'. Msg 3241: The media family on \
             device",
        ),
    ];
    for (damage, index, code, text) in cases {
        let h = Harness::new(Profile::lrs_2021(), 1.0).await;
        let files = stage(&chain("Bad", 0, 2), &h.root.path().join("staging"));
        let mut bytes = std::fs::read(&files[index].1).expect("read");
        damage(&mut bytes);
        std::fs::write(&files[index].1, &bytes).expect("write");
        let folder = h.folder("bad");
        upload(&files, &folder);
        let last = files[2].0.clone();
        let op = h
            .engine
            .start_restore(h.start_request("Bad", &folder, Some(&last)))
            .await
            .expect("start");
        let done = h.wait_operation(&op).await;
        assert_eq!(done.status, OperationStatus::Failed, "{code}");
        let error = done.error.expect("error");
        assert_eq!(error.code, code, "{}", error.message);
        assert!(error.message.starts_with(text), "{code}: {}", error.message);
        h.assert_details_failed("Bad", &error.message).await;
        // Only the sets before the damaged one were restored.
        let restored = restore_counts(&h.target_dir()).values().sum::<usize>();
        assert_eq!(restored, index, "{code}");
    }
}

#[tokio::test]
async fn the_101st_concurrent_restore_on_an_instance_is_refused() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let folder = h.folder("empty");
    for i in 0..100 {
        h.engine
            .start_restore(h.start_request(&format!("db{i}"), &folder, None))
            .await
            .unwrap_or_else(|e| panic!("start {i}: {e}"));
    }
    let err = h
        .engine
        .start_restore(h.start_request("db100", &folder, None))
        .await
        .expect_err("101st");
    assert!(
        matches!(
            &err,
            EngineError::Refused(Refusal::TooManyOnInstance { limit: 100, .. })
        ),
        "{err:?}"
    );
    // Ending one frees a slot.
    h.engine
        .drop_database(&instance(), "db0")
        .await
        .expect("stop");
    h.engine
        .start_restore(h.start_request("db100", &folder, None))
        .await
        .expect("slot freed");
}

#[tokio::test]
async fn the_47_hour_patch_window_stops_the_job_at_high_time_scale() {
    // 47 emulated hours pass in under two seconds.
    let h = Harness::new(Profile::lrs_2021(), 200_000.0).await;
    let files = stage(&chain("Slow", 0, 1), &h.root.path().join("staging"));
    let folder = h.folder("slow");
    upload(&files[..1], &folder);
    let op = h
        .engine
        .start_restore(h.start_request("Slow", &folder, None))
        .await
        .expect("start");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    assert_eq!(
        done.error.expect("error").code,
        "LogReplayStoppedBySystemUpdate"
    );
    let started = op.started_at;
    let finished = done.finished_at.expect("finished");
    assert!(
        finished - started >= chrono::TimeDelta::hours(47),
        "stopped after {} emulated",
        finished - started
    );
}

#[tokio::test]
async fn a_gap_blocks_until_the_missing_log_arrives() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    // Full, log 1, log 3: log 2 is missing.
    let (files, folder, op, blocked) = support::start_with_a_gap(&h, "Gap").await;
    let reason = blocked.block_reason.expect("reason");
    assert!(
        reason.contains("4305") || reason.contains("LSN"),
        "{reason}"
    );
    assert_eq!(blocked.number_of_files_restored, 2);
    upload(&files[2..3], &folder);
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
    h.assert_applied_once(4);
}

#[tokio::test]
async fn a_restarted_engine_resumes_and_applies_every_set_once() {
    let mut h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let files = stage(&chain("Resume", 1, 4), &h.root.path().join("staging"));
    let folder = h.folder("resume");
    upload(&files[..3], &folder);
    let op = h
        .engine
        .start_restore(h.start_request("Resume", &folder, None))
        .await
        .expect("start");
    let third = files[2].0.clone();
    h.wait_restored("Resume", &third).await;
    h.restart().await;
    upload(&files[3..], &folder);
    let last = files.last().expect("files").0.clone();
    h.wait_restored("Resume", &last).await;
    let complete = h
        .engine
        .complete_restore(&instance(), "Resume", Some(last))
        .await
        .expect("complete");
    assert_eq!(
        h.wait_operation(&complete).await.status,
        OperationStatus::Succeeded
    );
    assert_eq!(
        h.wait_operation(&op).await.status,
        OperationStatus::Succeeded
    );
    // Backup order: full, log 1, log 2, diff, log 3, log 4. Logs 1–2 were restored before
    // the differential arrived, so it no longer applies: full + 4 logs.
    h.assert_applied_once(5);
}

#[tokio::test]
async fn a_failover_before_the_first_full_is_restored_aborts_and_drops_the_database() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let folder = h.folder("early");
    let op = h
        .engine
        .start_restore(h.start_request("Early", &folder, None))
        .await
        .expect("start");
    assert_eq!(h.engine.failover(&instance()).await.expect("failover"), 1);
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    assert_eq!(
        done.error.expect("error").code,
        "LogReplayAbortedByFailover"
    );
    assert!(matches!(
        h.engine.database(&instance(), "Early").await,
        Err(EngineError::DatabaseNotFound { .. })
    ));
}

#[tokio::test]
async fn a_failover_or_a_ga_system_update_after_the_full_only_interrupts_the_job() {
    let h = Harness::new(Profile::ga(), 1.0).await;
    let files = stage(&chain("Late", 0, 3), &h.root.path().join("staging"));
    let folder = h.folder("late");
    upload(&files[..2], &folder);
    let op = h
        .engine
        .start_restore(h.start_request("Late", &folder, None))
        .await
        .expect("start");
    let second = files[1].0.clone();
    h.wait_restored("Late", &second).await;
    assert_eq!(h.engine.failover(&instance()).await.expect("failover"), 1);
    assert_eq!(h.engine.system_patch().await.expect("patch"), 1);
    upload(&files[2..], &folder);
    let last = files.last().expect("files").0.clone();
    h.wait_restored("Late", &last).await;
    h.engine
        .complete_restore(&instance(), "Late", Some(last))
        .await
        .expect("complete");
    assert_eq!(
        h.wait_operation(&op).await.status,
        OperationStatus::Succeeded
    );
    h.assert_applied_once(4);
}

/// A chain of `db` with its own database family (forged chains share one seed by default).
fn chain_of_own_database(db: &str, seed: u64, logs: u32) -> lrs_forge::ChainSpec {
    let mut spec = chain(db, 0, logs);
    spec.db.seed = seed;
    spec
}

#[tokio::test]
async fn a_folder_holding_two_databases_fails_from_the_start() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let staging = h.root.path().join("staging");
    let sales = stage(&chain_of_own_database("Sales", 11, 1), &staging);
    let inventory = stage(&chain_of_own_database("Inventory", 12, 0), &staging);
    let folder = h.folder("mixed");
    upload(&sales, &folder);
    upload(&inventory, &folder);
    let last = sales.last().expect("files").0.clone();
    let op = h
        .engine
        .start_restore(h.start_request("Sales", &folder, Some(&last)))
        .await
        .expect("start");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(
        error.code,
        "BackupsFromMultipleDatabasesDetectedInTheContainerFromTheStart"
    );
    assert_eq!(
        error.message,
        "There are backups from multiple databases in the container folder. Please make sure \
         the container folder has backups from a single database. Databases found: \
         'Inventory', 'Sales'."
    );
    // Nothing of either database was restored.
    assert!(restore_counts(&h.target_dir()).is_empty());
}

#[tokio::test]
async fn another_databases_backup_arriving_mid_restore_fails_while_in_progress() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let staging = h.root.path().join("staging");
    let orders = stage(&chain_of_own_database("Orders", 21, 2), &staging);
    let stray = stage(&chain_of_own_database("Stray", 22, 0), &staging);
    let folder = h.folder("orders");
    upload(&orders[..2], &folder);
    let op = h
        .engine
        .start_restore(h.start_request("Orders", &folder, None))
        .await
        .expect("start");
    h.wait_restored("Orders", &orders[1].0).await;
    upload(&stray, &folder);
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(
        error.code,
        "BackupsFromMultipleDatabasesDetectedInTheContainerWhileRestoreInProgress"
    );
    assert!(
        error
            .message
            .ends_with("Databases found: 'Orders', 'Stray'."),
        "{}",
        error.message
    );
    h.assert_details_failed("Orders", &error.message).await;
}

#[tokio::test]
async fn a_database_with_two_log_files_fails_with_an_incompatible_layout() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let mut spec = chain("TwoLogs", 0, 1);
    spec.db.log_files = 2;
    let files = stage(&spec, &h.root.path().join("staging"));
    let folder = h.folder("twologs");
    upload(&files, &folder);
    let last = files.last().expect("files").0.clone();
    let op = h
        .engine
        .start_restore(h.start_request("TwoLogs", &folder, Some(&last)))
        .await
        .expect("start");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(
        error.code,
        "IncompatiblePhysicalLayoutWrongNumberOfLogFiles"
    );
    assert_eq!(
        error.message,
        format!(
            "Database backup contains incompatible physical layout. Multiple log files are not \
             supported. File: '{}'.",
            files[0].0
        )
    );
    assert!(restore_counts(&h.target_dir()).is_empty());
}

/// A cutover naming a file restored before the last one: GA refuses it (the name can never be
/// the last restored file); the 2021 profile accepts it and cuts over once the chain found is
/// restored (the 2020 service restored past the named file).
#[tokio::test]
async fn a_cutover_naming_an_earlier_file_is_refused_by_ga_and_accepted_by_2021() {
    for profile in [Profile::ga(), Profile::lrs_2021()] {
        let name = profile.name;
        let h = Harness::new(profile, 1.0).await;
        let files = stage(&chain("Early", 0, 2), &h.root.path().join("staging"));
        let folder = h.folder("early");
        upload(&files, &folder);
        let op = h
            .engine
            .start_restore(h.start_request("Early", &folder, None))
            .await
            .expect("start");
        let last = files.last().expect("files").0.clone();
        h.wait_restored("Early", &last).await;
        let first_log = files[1].0.clone();
        let result = h
            .engine
            .complete_restore(&instance(), "Early", Some(first_log.clone()))
            .await;
        if name == "ga" {
            assert_eq!(
                result.expect_err("ga refuses"),
                EngineError::Refused(Refusal::NotLastRestored {
                    given: first_log,
                    last,
                })
            );
        } else {
            let complete = result.expect("2021 accepts");
            assert_eq!(
                h.wait_operation(&complete).await.status,
                OperationStatus::Succeeded,
                "{name}"
            );
            assert_eq!(
                h.wait_operation(&op).await.status,
                OperationStatus::Succeeded
            );
            let details = h
                .engine
                .restore_details(&instance(), "Early")
                .await
                .expect("details");
            assert_eq!(details.status, "Completed");
            assert_eq!(
                details.last_restored_file_name.as_deref(),
                Some(last.as_str())
            );
        }
    }
}
