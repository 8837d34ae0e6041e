//! Fault injection on real jobs, and the GA profile's database limit.

mod support;

use lrs_engine::faults::{FaultEffect, FaultTarget, InjectFault};
use lrs_engine::{EngineError, Profile, Refusal};
use lrs_store::OperationStatus;
use support::{Harness, chain, instance, restore_counts, stage, upload};

fn fail_next(code: &str) -> InjectFault {
    InjectFault {
        code: Some(code.into()),
        effect: FaultEffect::Fail,
        target: FaultTarget::Next,
        once: true,
        message: None,
    }
}

#[tokio::test]
async fn an_injected_storage_limit_fails_the_next_migration_as_a_real_failure() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let files = stage(&chain("Full", 0, 1), &h.root.path().join("staging"));
    let folder = h.folder("full");
    upload(&files, &folder);
    h.engine
        .inject_fault(fail_next("ManagedInstanceStorageLimitHit"))
        .expect("inject");
    let op = h
        .engine
        .start_restore(h.start_request("Full", &folder, None))
        .await
        .expect("the start itself is accepted");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(error.code, "ManagedInstanceStorageLimitHit");
    assert_eq!(
        error.message,
        "The managed instance has reached its storage limit."
    );
    h.assert_details_failed("Full", &error.message).await;
    assert!(
        h.engine.faults().is_empty(),
        "a once fault is gone after it fired"
    );

    // The next migration is not affected.
    let other = h.folder("other");
    let mut spec = chain("Other", 0, 0);
    spec.db.seed = 7;
    upload(&stage(&spec, &h.root.path().join("staging2")), &other);
    h.engine
        .start_restore(h.start_request("Other", &other, None))
        .await
        .expect("start");
    h.wait_details("Other", "full restored", |d| {
        d.last_restored_file_name.is_some()
    })
    .await;
}

#[tokio::test]
async fn a_stall_holds_a_migration_until_cleared_and_shows_its_code() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let files = stage(&chain("Held", 0, 1), &h.root.path().join("staging"));
    let folder = h.folder("held");
    upload(&files, &folder);
    let stall = h
        .engine
        .inject_fault(InjectFault {
            code: Some("StorageBrokenIssueDetectedWhileInProgress".into()),
            effect: FaultEffect::Stall,
            target: FaultTarget::Database {
                instance: instance(),
                name: "Held".into(),
            },
            once: false,
            message: None,
        })
        .expect("inject");
    h.engine
        .start_restore(h.start_request("Held", &folder, None))
        .await
        .expect("start");
    // Before its first step the job publishes the plan it has (nothing listed yet); then the
    // stall shows.
    let details = h
        .wait_details("Held", "the stall shown", |d| {
            d.block_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("StorageBroken"))
        })
        .await;
    assert_eq!(
        details.block_reason.as_deref(),
        Some(
            "StorageBrokenIssueDetectedWhileInProgress: Storage connection is broken. Retrying \
             automatically..."
        )
    );
    assert!(
        restore_counts(&h.target_dir()).is_empty(),
        "nothing restored while stalled"
    );
    assert_eq!(h.engine.clear_faults(Some(stall.id)), 1);
    let last = files.last().expect("files").0.clone();
    let details = h.wait_restored("Held", &last).await;
    assert_eq!(details.block_reason, None);
    h.assert_applied_once(2);
}

#[tokio::test]
async fn injected_refusals_answer_the_start_and_the_cutover_once() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let folder = h.folder("empty");
    h.engine
        .inject_fault(fail_next("TargetServerRestoreNotAllowed"))
        .expect("inject");
    let err = h
        .engine
        .start_restore(h.start_request("Db", &folder, None))
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        EngineError::Injected {
            status: 400,
            code: "TargetServerRestoreNotAllowed",
            message: "The target server mi1 is currently not in a state that allows a restore \
                      to be started."
                .into()
        }
    );
    h.engine
        .start_restore(h.start_request("Db", &folder, None))
        .await
        .expect("once: the second start passes");

    h.engine
        .inject_fault(InjectFault {
            target: FaultTarget::Database {
                instance: instance(),
                name: "Db".into(),
            },
            ..fail_next("ExternalBackupUpgradeInProgress")
        })
        .expect("inject");
    let err = h
        .engine
        .complete_restore(&instance(), "Db", Some("x.trn".into()))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, EngineError::Injected { code: "ExternalBackupUpgradeInProgress", message, .. }
            if message == "The restore request cannot be completed, since upgrade is in progress."),
        "{err:?}"
    );
    // Once: the real rule answers now, and accepts a cutover before anything is restored
    // (it waits for the named file).
    let op = h
        .engine
        .complete_restore(&instance(), "Db", Some("x.trn".into()))
        .await
        .expect("the real rule accepts it");
    assert_eq!(op.kind, lrs_store::OperationKind::CompleteRestore);
}

#[tokio::test]
async fn the_ga_profile_holds_100_databases_per_instance() {
    let h = Harness::new(Profile::ga(), 1.0).await;
    let folder = h.folder("empty");
    for i in 0..99 {
        h.engine
            .create_database(&instance(), &format!("plain{i}"), "westeurope", None)
            .await
            .unwrap_or_else(|e| panic!("create {i}: {e}"));
    }
    h.engine
        .start_restore(h.start_request("lrs99", &folder, None))
        .await
        .expect("the 100th database");
    let limit = EngineError::Refused(Refusal::DatabaseLimit);
    let err = h
        .engine
        .start_restore(h.start_request("lrs100", &folder, None))
        .await
        .expect_err("101st");
    assert_eq!(err, limit);
    let err = h
        .engine
        .create_database(&instance(), "plain100", "westeurope", None)
        .await
        .expect_err("101st plain");
    assert_eq!(err, limit);
    // Dropping one makes room.
    h.engine
        .drop_database(&instance(), "plain0")
        .await
        .expect("drop");
    h.engine
        .start_restore(h.start_request("lrs100", &folder, None))
        .await
        .expect("room again");
}
