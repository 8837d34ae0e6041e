//! PUT and DELETE of one database racing, 200 rounds on each store: every request gets an ARM
//! answer (never an internal error), and the store never keeps an orphan: no live job without
//! its database, no LRS database without its job.

mod support;

use std::sync::Arc;
use std::time::Duration;

use lrs_engine::stack::{StackOptions, StoreChoice};
use lrs_engine::{EngineError, Refusal, StartRestore};
use lrs_store::{SqliteStore, Store};
use support::instance;

const ROUNDS: usize = 200;

async fn race(store: Arc<dyn Store>) {
    let root = tempfile::tempdir().expect("dir");
    let folder = root.path().join("blobs");
    std::fs::create_dir_all(&folder).expect("folder");
    let mut options = StackOptions::new(root.path());
    options.store = StoreChoice::Given(Arc::clone(&store));
    options.poll_interval = Duration::from_millis(20);
    let engine = options.build().await.expect("stack").engine;
    let request = StartRestore {
        instance: instance(),
        database: "Raced".into(),
        location: "westeurope".into(),
        collation: None,
        storage_uri: Some(format!("file://{}", folder.display())),
        sas_token: None,
        identity: None,
        auto_complete: false,
        last_backup_name: None,
    };
    let (mut started, mut dropped) = (0, 0);
    for round in 0..ROUNDS {
        let (put, delete) = {
            let (a, b) = (engine.clone(), engine.clone());
            let request = request.clone();
            let put = tokio::spawn(async move { a.start_restore(request).await });
            let delete = tokio::spawn(async move { b.drop_database(&instance(), "Raced").await });
            (put.await.expect("task"), delete.await.expect("task"))
        };
        match put {
            Ok(_) => started += 1,
            Err(EngineError::Refused(Refusal::NameInUse { .. })) => {}
            Err(e) => panic!("round {round}: PUT answered {e:?}"),
        }
        match delete {
            Ok(_) => dropped += 1,
            Err(EngineError::DatabaseNotFound { .. }) => {}
            Err(e) => panic!("round {round}: DELETE answered {e:?}"),
        }
    }
    assert!(
        started > 0 && dropped > 0,
        "both sides won sometimes: {started}/{dropped}"
    );
    engine.stop().await;

    // No orphan either way.
    for job in store.list_active_jobs().await.expect("jobs") {
        assert!(
            store
                .get_database_by_id(job.database_id)
                .await
                .expect("db")
                .is_some(),
            "a live job without its database: {job:?}"
        );
    }
    for db in store.list_databases(&instance()).await.expect("dbs") {
        let job = store.job_for_database(db.id).await.expect("job");
        assert!(job.is_some(), "an LRS database without its job: {db:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_and_delete_racing_on_sqlite_leave_no_orphan() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("state.db"))
            .await
            .expect("store"),
    );
    race(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_and_delete_racing_on_postgres_leave_no_orphan() {
    let Some(base) = lrs_store::testing::postgres_server_url() else {
        return;
    };
    let database = lrs_store::testing::FreshDatabase::create(&base).await;
    let store = database.store().await;
    race(store).await;
    database.drop_now().await;
}
