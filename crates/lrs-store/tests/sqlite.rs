//! The conformance suite on SQLite, in memory and in a file, plus durability across a reopen and
//! the speed of bulk file records.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lrs_store::conformance::{self, at, sample_database, sample_file, sample_instance, sample_job};
use lrs_store::{
    InstanceKey, JobMode, JobState, OperationKind, OperationStatus, RestoreRecord, SqliteStore,
    StorageAuth, Store,
};
use tempfile::TempDir;

async fn memory() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().await.expect("in-memory store"))
}

/// A store in a new file; the folder lives as long as the returned guard.
async fn file() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("state/lrs.db"))
        .await
        .expect("file store");
    (Arc::new(store), dir)
}

/// One test per conformance case, on a fresh in-memory store and on a fresh file store.
macro_rules! conformance_tests {
    ($($case:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $case() {
                    lrs_store::conformance::$case(super::memory().await).await;
                }
            )*
        }
        mod in_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = super::file().await;
                    lrs_store::conformance::$case(store).await;
                }
            )*
        }
    };
}

conformance_tests!(
    instances_are_case_insensitive,
    databases_create_get_list_and_conflict,
    database_status_and_delete_frees_the_name,
    jobs_create_get_and_conflict,
    a_migration_starts_all_or_nothing,
    the_target_journal_numbers_its_lines_without_gaps,
    active_jobs_oldest_first_and_counts,
    update_job_bumps_version_and_refuses_stale_copies,
    claim_job_leases,
    sas_token_round_trips_but_is_never_printed,
    files_upsert_list_delete,
    many_files_list_in_name_order,
    restore_history,
    operations_lifecycle,
    operations_of_an_instance_newest_first,
    timestamps_round_trip_at_microsecond_precision,
);

#[test]
fn every_case_has_a_test_above() {
    // Keep the macro list in step with the suite.
    let source = include_str!("sqlite.rs");
    for case in conformance::CASES {
        assert!(
            source.contains(&format!("    {},\n", case.name)),
            "conformance case {} is not listed in tests/sqlite.rs",
            case.name
        );
    }
}

#[tokio::test]
async fn run_all_on_fresh_in_memory_stores() {
    let mut made = 0;
    conformance::run_all(|| {
        made += 1;
        memory()
    })
    .await;
    assert_eq!(made, conformance::CASES.len());
}

/// What `write_state` stored, as it must read back.
async fn check_state(store: &dyn Store, key: &InstanceKey, job_id: uuid::Uuid) {
    let instance = store.get_instance(key).await.expect("instance");
    assert_eq!(instance, Some(sample_instance(key, at(0))));
    let database = store
        .get_database(key, "durable")
        .await
        .expect("database")
        .expect("database exists");
    assert_eq!(database.name, "Durable");
    let job = store
        .get_job(job_id)
        .await
        .expect("job")
        .expect("job exists");
    assert_eq!(job.database_id, database.id);
    assert_eq!(job.state, JobState::Restoring);
    assert_eq!(job.version, 1);
    assert_eq!(
        job.mode,
        JobMode::Autocomplete {
            last_backup_name: "log_3.trn".into()
        }
    );
    assert_eq!(job.auth, StorageAuth::Sas("sp=rl&sig=durable".into()));
    assert_eq!(job.owner.as_deref(), Some("node-1"));
    assert_eq!(
        store.list_files(job_id).await.expect("files"),
        vec![sample_file("full.bak", 1024), sample_file("log_1.trn", 10)]
    );
    assert_eq!(
        store.list_restores(job_id).await.expect("restores"),
        vec![RestoreRecord {
            backup_set_guid: "AAAA".into(),
            kind: "Full".into(),
            first_stripe_name: "full.bak".into(),
            started_at: at(5),
            finished_at: Some(at(6)),
        }]
    );
    assert_eq!(
        store
            .list_open_operations(database.id)
            .await
            .expect("operations")
            .iter()
            .map(|o| (o.kind, o.status))
            .collect::<Vec<_>>(),
        vec![(OperationKind::StartRestore, OperationStatus::InProgress)]
    );
}

#[tokio::test]
async fn state_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lrs.db");
    let key = InstanceKey::new("sub", "rg", "mi");
    let job_id;
    {
        let store = SqliteStore::open(&path).await.expect("open");
        store
            .put_instance(&sample_instance(&key, at(0)))
            .await
            .expect("instance");
        let database = sample_database(&key, "Durable");
        store.create_database(&database).await.expect("database");
        let job = lrs_store::Job {
            auth: StorageAuth::Sas("sp=rl&sig=durable".into()),
            ..sample_job(database.id, at(0))
        };
        job_id = job.id;
        store.create_job(&job).await.expect("job");
        let job = lrs_store::Job {
            state: JobState::Restoring,
            mode: JobMode::Autocomplete {
                last_backup_name: "log_3.trn".into(),
            },
            ..job
        };
        assert_eq!(store.update_job(&job).await.expect("update"), 1);
        assert!(
            store
                .claim_job(job.id, "node-1", at(0), at(60))
                .await
                .expect("claim")
        );
        for file in [sample_file("log_1.trn", 10), sample_file("full.bak", 1024)] {
            store.put_file(job.id, &file).await.expect("file");
        }
        store
            .restore_started(
                job.id,
                &RestoreRecord {
                    backup_set_guid: "AAAA".into(),
                    kind: "Full".into(),
                    first_stripe_name: "full.bak".into(),
                    started_at: at(5),
                    finished_at: None,
                },
            )
            .await
            .expect("started");
        store
            .restore_finished(job.id, "AAAA", at(6))
            .await
            .expect("finished");
        store
            .create_operation(&conformance::sample_operation(
                &database,
                OperationKind::StartRestore,
            ))
            .await
            .expect("operation");
        check_state(&store, &key, job_id).await;
        // Dropped without close(): as after a crash, the WAL holds the commits.
    }
    let reopened = SqliteStore::open(&path).await.expect("reopen");
    check_state(&reopened, &key, job_id).await;
    reopened.close().await;

    // Reopening an up-to-date schema runs no migration and loses nothing.
    let again = SqliteStore::open(&path).await.expect("reopen twice");
    check_state(&again, &key, job_id).await;
}

#[tokio::test]
async fn open_creates_missing_parent_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/c/state.db");
    let store = SqliteStore::open(&path).await.expect("open");
    assert!(path.is_file());
    assert_eq!(
        format!("{store:?}"),
        format!("SqliteStore {{ path: {:?} }}", path)
    );
}

#[tokio::test]
async fn open_reports_an_unusable_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a folder").expect("write");
    let path = blocker.join("state.db");
    let err = SqliteStore::open(&path).await.err().map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(
        err.starts_with(&format!(
            "store backend error: creating the folder {} for the SQLite store: ",
            blocker.display()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    std::fs::write(&path, vec![0x55u8; 8192]).expect("write");
    let err = SqliteStore::open(Path::new(&path))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("store backend error: "), "{err}");
    assert!(err.contains("not a database"), "{err}");
}

/// Ten thousand file records, one transaction each, in a file store: seconds, not minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_files_are_stored_quickly() {
    let (store, _dir) = file().await;
    let key = InstanceKey::new("sub", "rg", "mi");
    let database = sample_database(&key, "bulk");
    store.create_database(&database).await.expect("database");
    let job = sample_job(database.id, at(0));
    store.create_job(&job).await.expect("job");

    let started = Instant::now();
    for i in 0..10_000u64 {
        store
            .put_file(job.id, &sample_file(&format!("log_{i:05}.trn"), i))
            .await
            .expect("put");
    }
    let put = started.elapsed();
    let listed = store.list_files(job.id).await.expect("list");
    let total = started.elapsed();
    eprintln!("10,000 put_file: {put:?}; with the list: {total:?}");
    assert_eq!(listed.len(), 10_000);
    assert_eq!(listed[9_999], sample_file("log_09999.trn", 9_999));
    // Generous for a shared debug build; a missing index or a sync per commit is far slower.
    assert!(
        put < Duration::from_secs(60),
        "10,000 put_file took {put:?}"
    );
}

/// Two stores on one file, as two processes would be: one claim wins, one update wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_race_for_a_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shared.db");
    let first = SqliteStore::open(&path).await.expect("open");
    let second = SqliteStore::open(&path).await.expect("open again");
    conformance::two_nodes_race_for_a_job(Arc::new(first), Arc::new(second)).await;
}
