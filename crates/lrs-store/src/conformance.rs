//! The behaviours every [`Store`] must have, as async functions that panic on the first
//! difference. Each takes a fresh, empty store; [`CASES`] lists them and [`run_all`] runs them
//! all, so both backends (and any future one) are held to the same exact values.
//!
//! Built with the `testing` feature.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::{
    Database, DatabaseStatus, ErrorRecord, FileRecord, Instance, InstanceKey, Job, JobMode,
    JobState, Operation, OperationKind, OperationStatus, RestoreRecord, StorageAuth, Store,
    StoreError,
};

/// One named behaviour.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The function's name.
    pub name: &'static str,
    /// Runs it on a fresh, empty store.
    pub run: fn(Arc<dyn Store>) -> BoxFuture<'static, ()>,
}

/// Every behaviour, in a stable order.
pub const CASES: &[Case] = &[
    Case {
        name: "instances_are_case_insensitive",
        run: |s| Box::pin(instances_are_case_insensitive(s)),
    },
    Case {
        name: "databases_create_get_list_and_conflict",
        run: |s| Box::pin(databases_create_get_list_and_conflict(s)),
    },
    Case {
        name: "database_status_and_delete_frees_the_name",
        run: |s| Box::pin(database_status_and_delete_frees_the_name(s)),
    },
    Case {
        name: "jobs_create_get_and_conflict",
        run: |s| Box::pin(jobs_create_get_and_conflict(s)),
    },
    Case {
        name: "a_migration_starts_all_or_nothing",
        run: |s| Box::pin(a_migration_starts_all_or_nothing(s)),
    },
    Case {
        name: "the_target_journal_numbers_its_lines_without_gaps",
        run: |s| Box::pin(the_target_journal_numbers_its_lines_without_gaps(s)),
    },
    Case {
        name: "active_jobs_oldest_first_and_counts",
        run: |s| Box::pin(active_jobs_oldest_first_and_counts(s)),
    },
    Case {
        name: "update_job_bumps_version_and_refuses_stale_copies",
        run: |s| Box::pin(update_job_bumps_version_and_refuses_stale_copies(s)),
    },
    Case {
        name: "claim_job_leases",
        run: |s| Box::pin(claim_job_leases(s)),
    },
    Case {
        name: "sas_token_round_trips_but_is_never_printed",
        run: |s| Box::pin(sas_token_round_trips_but_is_never_printed(s)),
    },
    Case {
        name: "files_upsert_list_delete",
        run: |s| Box::pin(files_upsert_list_delete(s)),
    },
    Case {
        name: "many_files_list_in_name_order",
        run: |s| Box::pin(many_files_list_in_name_order(s)),
    },
    Case {
        name: "restore_history",
        run: |s| Box::pin(restore_history(s)),
    },
    Case {
        name: "operations_lifecycle",
        run: |s| Box::pin(operations_lifecycle(s)),
    },
    Case {
        name: "operations_of_an_instance_newest_first",
        run: |s| Box::pin(operations_of_an_instance_newest_first(s)),
    },
    Case {
        name: "timestamps_round_trip_at_microsecond_precision",
        run: |s| Box::pin(timestamps_round_trip_at_microsecond_precision(s)),
    },
];

/// Run every case in [`CASES`], each on a fresh store from `factory`; panics on the first
/// failure (the case's name is printed before it runs).
pub async fn run_all<F, Fut>(mut factory: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for case in CASES {
        eprintln!("conformance: {}", case.name);
        let store = factory().await;
        (case.run)(store).await;
    }
}

/// A fixed instant (2024-03-01T10:00:00.123456Z) plus `seconds`: whole microseconds, so every
/// backend must return it exactly.
pub fn at(seconds: i64) -> DateTime<Utc> {
    let base = DateTime::from_timestamp_micros(1_709_287_200_123_456).unwrap_or_default();
    base + Duration::seconds(seconds)
}

/// An instance with a fixed location and resource JSON.
pub fn sample_instance(key: &InstanceKey, created_at: DateTime<Utc>) -> Instance {
    Instance {
        key: key.clone(),
        location: "westeurope".into(),
        resource_json: r#"{"sku":{"name":"GP_Gen5"},"properties":{}}"#.into(),
        created_at,
    }
}

/// A database restored by LRS (status Restoring) with a new id.
pub fn sample_database(instance: &InstanceKey, name: &str) -> Database {
    Database {
        id: Uuid::new_v4(),
        instance: instance.clone(),
        name: name.into(),
        location: "westeurope".into(),
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        status: DatabaseStatus::Restoring,
        created_by_lrs: true,
        created_at: at(0),
    }
}

/// A continuous job with no credentials, no owner and every optional field empty.
pub fn sample_job(database_id: Uuid, started_at: DateTime<Utc>) -> Job {
    Job {
        id: Uuid::new_v4(),
        database_id,
        state: JobState::Initializing,
        mode: JobMode::Continuous,
        storage_uri: "https://account.blob.core.windows.net/backups/db1".into(),
        auth: StorageAuth::None,
        profile: "lrs-2021".into(),
        started_at,
        deadline_at: started_at + Duration::days(30),
        complete_requested: None,
        error: None,
        finished_at: None,
        version: 0,
        owner: None,
        lease_until: None,
    }
}

/// A readable backup file.
pub fn sample_file(name: &str, size: u64) -> FileRecord {
    FileRecord {
        name: name.into(),
        size,
        etag: Some(format!("\"0x8DC{size:X}\"")),
        last_modified: at(-60),
        discovered_at: at(1),
        header_json: Some(format!(r#"{{"name":"{name}"}}"#)),
        error: None,
    }
}

/// An operation InProgress on `database`.
pub fn sample_operation(database: &Database, kind: OperationKind) -> Operation {
    Operation {
        id: Uuid::new_v4(),
        kind,
        database_id: database.id,
        instance: database.instance.clone(),
        database_name: database.name.clone(),
        status: OperationStatus::InProgress,
        error: None,
        started_at: at(0),
        finished_at: None,
    }
}

fn key(subscription: &str, resource_group: &str, instance: &str) -> InstanceKey {
    InstanceKey::new(subscription, resource_group, instance)
}

const SUB: &str = "8F0E7C6A-1B2C-4D3E-9F40-ABCDEF012345";

/// Create a database (named `name` on `instance`) and a job for it; returns both as stored.
async fn database_with_job(
    store: &dyn Store,
    instance: &InstanceKey,
    name: &str,
    started_at: DateTime<Utc>,
) -> (Database, Job) {
    let database = sample_database(instance, name);
    store
        .create_database(&database)
        .await
        .expect("create database");
    let job = sample_job(database.id, started_at);
    store.create_job(&job).await.expect("create job");
    (database, job)
}

/// Upsert, get and list of instances compare keys case-insensitively, keep the first spelling
/// and `created_at`, and order lists by name.
pub async fn instances_are_case_insensitive(store: Arc<dyn Store>) {
    let alpha = sample_instance(&key(SUB, "RG-One", "MI-Alpha"), at(0));
    assert_eq!(store.put_instance(&alpha).await.expect("put"), alpha);
    let lower = key(&SUB.to_lowercase(), "rg-one", "mi-alpha");
    assert_eq!(
        store.get_instance(&lower).await.expect("get"),
        Some(alpha.clone())
    );

    let replacement = Instance {
        key: key(&SUB.to_lowercase(), "RG-ONE", "MI-ALPHA"),
        location: "northeurope".into(),
        resource_json: r#"{"sku":{"name":"BC_Gen5"}}"#.into(),
        created_at: at(500),
    };
    let stored = store.put_instance(&replacement).await.expect("replace");
    let expected = Instance {
        key: alpha.key.clone(),
        location: "northeurope".into(),
        resource_json: r#"{"sku":{"name":"BC_Gen5"}}"#.into(),
        created_at: at(0),
    };
    assert_eq!(stored, expected);
    assert_eq!(
        store.get_instance(&alpha.key).await.expect("get"),
        Some(expected.clone())
    );

    let beta = sample_instance(&key(SUB, "RG-One", "mi-beta"), at(1));
    let zed = sample_instance(&key(SUB, "rg-two", "ZED"), at(2));
    let other = sample_instance(
        &key("00000000-0000-0000-0000-000000000001", "RG-One", "mi"),
        at(3),
    );
    for instance in [&beta, &zed, &other] {
        store.put_instance(instance).await.expect("put");
    }
    // Ordered by the case-folded name: byte order of the spellings would put ZED before mi-beta.
    assert_eq!(
        store.list_instances(SUB, None).await.expect("list"),
        vec![expected.clone(), beta.clone(), zed.clone()]
    );
    assert_eq!(
        store
            .list_instances(&SUB.to_lowercase(), Some("rg-ONE"))
            .await
            .expect("list rg"),
        vec![expected, beta]
    );
    assert_eq!(
        store
            .list_instances("00000000-0000-0000-0000-000000000001", None)
            .await
            .expect("list other"),
        vec![other]
    );
    assert_eq!(
        store
            .list_instances("00000000-0000-0000-0000-000000000009", None)
            .await
            .expect("list none"),
        Vec::<Instance>::new()
    );
    assert_eq!(
        store
            .get_instance(&key(SUB, "RG-One", "mi-missing"))
            .await
            .expect("get missing"),
        None
    );
}

/// Databases: a name is unique per instance case-insensitively, lookups by name ignore case,
/// lists are ordered by name, other instances are separate.
pub async fn databases_create_get_list_and_conflict(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let mi2 = key(SUB, "RG-One", "MI-Beta");
    let sales = sample_database(&mi, "SalesDB");
    let inventory = Database {
        status: DatabaseStatus::Online,
        created_by_lrs: false,
        collation: "Latin1_General_100_CI_AS_SC_UTF8".into(),
        created_at: at(7),
        ..sample_database(&mi, "inventory")
    };
    let sales_on_mi2 = sample_database(&mi2, "SalesDB");
    for database in [&sales, &inventory, &sales_on_mi2] {
        store.create_database(database).await.expect("create");
    }

    let clash = sample_database(&key(&SUB.to_lowercase(), "rg-one", "mi-alpha"), "SALESDB");
    let result = store.create_database(&clash).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        store.get_database_by_id(clash.id).await.expect("by id"),
        None
    );

    let folded = key(&SUB.to_lowercase(), "rg-one", "mi-alpha");
    assert_eq!(
        store.get_database(&folded, "salesdb").await.expect("get"),
        Some(sales.clone())
    );
    assert_eq!(
        store.get_database_by_id(inventory.id).await.expect("by id"),
        Some(inventory.clone())
    );
    // Ordered by the case-folded name (byte order would put SalesDB first).
    assert_eq!(
        store.list_databases(&folded).await.expect("list"),
        vec![inventory, sales]
    );
    assert_eq!(
        store.list_databases(&mi2).await.expect("list mi2"),
        vec![sales_on_mi2]
    );
    assert_eq!(
        store
            .list_databases(&key(SUB, "RG-One", "MI-None"))
            .await
            .expect("list none"),
        Vec::<Database>::new()
    );
    assert_eq!(
        store
            .get_database(&mi, "missing")
            .await
            .expect("get missing"),
        None
    );
    assert_eq!(
        store
            .get_database_by_id(Uuid::new_v4())
            .await
            .expect("by id missing"),
        None
    );
}

/// Status changes persist; deleting a database frees its name but keeps its job.
pub async fn database_status_and_delete_frees_the_name(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (database, job) = database_with_job(store.as_ref(), &mi, "Orders", at(0)).await;

    store
        .set_database_status(database.id, DatabaseStatus::Inaccessible)
        .await
        .expect("status");
    let stored = store.get_database_by_id(database.id).await.expect("get");
    assert_eq!(stored.map(|d| d.status), Some(DatabaseStatus::Inaccessible));
    let missing = Uuid::new_v4();
    let result = store
        .set_database_status(missing, DatabaseStatus::Online)
        .await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");

    store.delete_database(database.id).await.expect("delete");
    assert_eq!(
        store.get_database_by_id(database.id).await.expect("get"),
        None
    );
    assert_eq!(store.get_database(&mi, "orders").await.expect("get"), None);
    assert_eq!(
        store.list_databases(&mi).await.expect("list"),
        Vec::<Database>::new()
    );
    store
        .delete_database(database.id)
        .await
        .expect("deleting twice is not an error");

    let kept = Job { version: 0, ..job };
    assert_eq!(
        store.job_for_database(database.id).await.expect("job"),
        Some(kept.clone())
    );
    assert_eq!(store.get_job(kept.id).await.expect("job"), Some(kept));

    let again = sample_database(&mi, "ORDERS");
    store
        .create_database(&again)
        .await
        .expect("the name is free again");
    assert_eq!(
        store.get_database(&mi, "Orders").await.expect("get"),
        Some(again.clone())
    );
    assert_eq!(store.job_for_database(again.id).await.expect("job"), None);
}

/// Jobs round-trip every field, start at version 0, and are unique per database.
pub async fn jobs_create_get_and_conflict(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let plain_db = sample_database(&mi, "plain");
    let full_db = sample_database(&mi, "full");
    for database in [&plain_db, &full_db] {
        store.create_database(database).await.expect("create db");
    }

    let plain = Job {
        version: 7,
        ..sample_job(plain_db.id, at(0))
    };
    store.create_job(&plain).await.expect("create");
    let plain = Job {
        version: 0,
        ..plain
    };
    assert_eq!(
        store.get_job(plain.id).await.expect("get"),
        Some(plain.clone())
    );
    assert_eq!(
        store.job_for_database(plain_db.id).await.expect("for db"),
        Some(plain.clone())
    );

    let full = Job {
        id: Uuid::new_v4(),
        database_id: full_db.id,
        state: JobState::Completing,
        mode: JobMode::Autocomplete {
            last_backup_name: "logs/log_0042.trn".into(),
        },
        storage_uri: "https://account.blob.core.windows.net/backups/Full DB".into(),
        auth: StorageAuth::ManagedIdentity,
        profile: "ga".into(),
        started_at: at(10),
        deadline_at: at(10 + 36 * 3600),
        complete_requested: Some("logs/log_0042.trn".into()),
        error: Some(ErrorRecord {
            code: "SqlRestoreError".into(),
            message: "RESTORE LOG failed: 4305".into(),
        }),
        finished_at: Some(at(99)),
        version: 0,
        owner: Some("node-1".into()),
        lease_until: Some(at(130)),
    };
    store.create_job(&full).await.expect("create full");
    assert_eq!(
        store.get_job(full.id).await.expect("get"),
        Some(full.clone())
    );

    let second = sample_job(plain_db.id, at(5));
    let result = store.create_job(&second).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.get_job(second.id).await.expect("get"), None);

    let other_db = sample_database(&mi, "other");
    store.create_database(&other_db).await.expect("create db");
    let same_id = Job {
        database_id: other_db.id,
        ..plain.clone()
    };
    let result = store.create_job(&same_id).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        store.job_for_database(other_db.id).await.expect("get"),
        None
    );

    let orphan = sample_job(Uuid::new_v4(), at(0));
    let result = store.create_job(&orphan).await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");

    assert_eq!(store.get_job(Uuid::new_v4()).await.expect("get"), None);
    assert_eq!(
        store
            .job_for_database(Uuid::new_v4())
            .await
            .expect("for db"),
        None
    );
}

/// `start_migration` creates the database, its job and its start operation together; a name
/// already taken leaves none of the three behind.
pub async fn a_migration_starts_all_or_nothing(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let db = sample_database(&mi, "Sales");
    let job = sample_job(db.id, at(0));
    let op = sample_operation(&db, OperationKind::StartRestore);
    store.start_migration(&db, &job, &op).await.expect("start");
    assert_eq!(
        store.get_database(&mi, "SALES").await.expect("get"),
        Some(db.clone())
    );
    assert_eq!(
        store
            .job_for_database(db.id)
            .await
            .expect("job")
            .map(|j| j.id),
        Some(job.id)
    );
    assert_eq!(
        store.get_operation(op.id).await.expect("op").map(|o| o.id),
        Some(op.id)
    );

    // The same name again (any case): Conflict, and no second job or operation exists.
    let again = sample_database(&mi, "sales");
    let again_job = sample_job(again.id, at(1));
    let again_op = sample_operation(&again, OperationKind::StartRestore);
    assert!(matches!(
        store.start_migration(&again, &again_job, &again_op).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_job(again_job.id).await.expect("job"), None);
    assert_eq!(store.get_operation(again_op.id).await.expect("op"), None);
    assert_eq!(store.get_database_by_id(again.id).await.expect("db"), None);
    assert_eq!(
        store
            .count_active_jobs_on_instance(&mi)
            .await
            .expect("count"),
        1
    );
}

/// The shared target journal: lines in number order, a number taken twice is `Conflict`.
pub async fn the_target_journal_numbers_its_lines_without_gaps(store: Arc<dyn Store>) {
    assert_eq!(store.target_lines_after(0).await.expect("empty"), vec![]);
    store.append_target_line(1, "{\"a\":1}").await.expect("1");
    store.append_target_line(2, "{\"b\":2}").await.expect("2");
    assert!(matches!(
        store.append_target_line(2, "{\"c\":3}").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.target_lines_after(0).await.expect("all"),
        vec![(1, "{\"a\":1}".to_string()), (2, "{\"b\":2}".to_string())]
    );
    assert_eq!(
        store.target_lines_after(1).await.expect("after 1"),
        vec![(2, "{\"b\":2}".to_string())]
    );
}

/// Active jobs are the non-terminal ones, oldest first (creation order on equal start times);
/// counts per instance and subscription ignore case and survive the database's deletion.
pub async fn active_jobs_oldest_first_and_counts(store: Arc<dyn Store>) {
    let a = key(SUB, "RG-One", "MI-A");
    let b = key(SUB, "RG-One", "MI-B");
    let c = key("00000000-0000-0000-0000-0000000000C2", "rg", "MI-C");
    let s = store.as_ref();

    let (_, j1) = database_with_job(s, &a, "d1", at(30)).await;
    let (d2, j2) = database_with_job(s, &a, "d2", at(10)).await;
    let (_, j3) = database_with_job(s, &b, "d3", at(20)).await;
    let (_, j4) = database_with_job(s, &a, "d4", at(5)).await;
    let (_, j5) = database_with_job(s, &c, "d5", at(0)).await;
    let (_, j6) = database_with_job(s, &b, "d6", at(1)).await;
    let (_, j7) = database_with_job(s, &a, "d7", at(2)).await;
    let (_, j8) = database_with_job(s, &c, "d8", at(10)).await;

    for (job, state) in [
        (&j1, JobState::Restoring),
        (&j3, JobState::Completing),
        (&j4, JobState::Completed),
        (&j5, JobState::Restoring),
        (&j6, JobState::Failed),
        (&j7, JobState::Stopped),
    ] {
        let updated = Job {
            state,
            ..job.clone()
        };
        assert_eq!(s.update_job(&updated).await.expect("update"), 1);
    }

    let active: Vec<Uuid> = s
        .list_active_jobs()
        .await
        .expect("active")
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(active, vec![j5.id, j2.id, j8.id, j3.id, j1.id]);

    let folded_a = key(&SUB.to_lowercase(), "rg-one", "mi-a");
    assert_eq!(
        s.count_active_jobs_on_instance(&folded_a).await.expect("a"),
        2
    );
    assert_eq!(s.count_active_jobs_on_instance(&b).await.expect("b"), 1);
    assert_eq!(s.count_active_jobs_on_instance(&c).await.expect("c"), 2);
    assert_eq!(
        s.count_active_jobs_on_instance(&key(SUB, "RG-One", "MI-Z"))
            .await
            .expect("z"),
        0
    );
    assert_eq!(
        s.count_active_jobs_in_subscription(&SUB.to_lowercase())
            .await
            .expect("sub"),
        3
    );
    assert_eq!(
        s.count_active_jobs_in_subscription("00000000-0000-0000-0000-0000000000c2")
            .await
            .expect("sub c"),
        2
    );
    assert_eq!(
        s.count_active_jobs_in_subscription("00000000-0000-0000-0000-000000000000")
            .await
            .expect("sub none"),
        0
    );

    let done = Job {
        state: JobState::Completed,
        finished_at: Some(at(40)),
        version: 1,
        ..j1.clone()
    };
    assert_eq!(s.update_job(&done).await.expect("complete"), 2);
    assert_eq!(s.count_active_jobs_on_instance(&a).await.expect("a"), 1);
    assert_eq!(
        s.count_active_jobs_in_subscription(SUB).await.expect("sub"),
        2
    );

    // The job keeps counting on its instance after its database row is gone.
    s.delete_database(d2.id).await.expect("delete");
    assert_eq!(s.count_active_jobs_on_instance(&a).await.expect("a"), 1);
    let active: Vec<Uuid> = s
        .list_active_jobs()
        .await
        .expect("active")
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(active, vec![j5.id, j2.id, j8.id, j3.id]);
}

/// `update_job` replaces the job when the version matches and returns the next version; a stale
/// copy is refused and changes nothing; the lease fields are left to `claim_job`.
pub async fn update_job_bumps_version_and_refuses_stale_copies(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (database, job) = database_with_job(store.as_ref(), &mi, "db", at(0)).await;
    let stale_copy = job.clone();

    let first = Job {
        state: JobState::Restoring,
        mode: JobMode::Autocomplete {
            last_backup_name: "log_9.trn".into(),
        },
        storage_uri: "https://other.blob.core.windows.net/c/db".into(),
        auth: StorageAuth::ManagedIdentity,
        profile: "ga".into(),
        deadline_at: at(3600),
        complete_requested: Some("log_9.trn".into()),
        error: Some(ErrorRecord {
            code: "BlobStorageFailure".into(),
            message: "403 AuthorizationFailure".into(),
        }),
        finished_at: Some(at(50)),
        ..job.clone()
    };
    assert_eq!(store.update_job(&first).await.expect("update"), 1);
    let expected = Job {
        version: 1,
        ..first.clone()
    };
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(expected.clone())
    );

    let result = store.update_job(&stale_copy).await;
    assert!(matches!(result, Err(StoreError::Stale(_))), "{result:?}");
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(expected.clone())
    );

    assert!(
        store
            .claim_job(job.id, "node-a", at(0), at(30))
            .await
            .expect("claim")
    );
    let second = Job {
        state: JobState::Failed,
        database_id: Uuid::new_v4(),
        owner: None,
        lease_until: None,
        ..expected.clone()
    };
    assert_eq!(store.update_job(&second).await.expect("update"), 2);
    let after = Job {
        state: JobState::Failed,
        version: 2,
        owner: Some("node-a".into()),
        lease_until: Some(at(30)),
        ..expected
    };
    assert_eq!(after.database_id, database.id);
    assert_eq!(store.get_job(job.id).await.expect("get"), Some(after));

    let missing = sample_job(database.id, at(0));
    let result = store.update_job(&missing).await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
}

/// Leases: an unowned job is taken, the owner renews, another node is refused until the lease
/// ended before its `now`; the version does not move.
pub async fn claim_job_leases(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (_, job) = database_with_job(store.as_ref(), &mi, "db", at(0)).await;
    let lease = |owner: &str, until: i64| Job {
        owner: Some(owner.into()),
        lease_until: Some(at(until)),
        ..job.clone()
    };

    assert!(
        store
            .claim_job(job.id, "node-a", at(0), at(30))
            .await
            .expect("claim")
    );
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(lease("node-a", 30))
    );

    assert!(
        !store
            .claim_job(job.id, "node-b", at(10), at(40))
            .await
            .expect("claim")
    );
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(lease("node-a", 30))
    );

    assert!(
        store
            .claim_job(job.id, "node-a", at(20), at(50))
            .await
            .expect("renew")
    );
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(lease("node-a", 50))
    );

    // A lease that ends exactly now has not ended before now.
    assert!(
        !store
            .claim_job(job.id, "node-b", at(50), at(80))
            .await
            .expect("claim")
    );
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(lease("node-a", 50))
    );

    assert!(
        store
            .claim_job(job.id, "node-b", at(51), at(81))
            .await
            .expect("take over")
    );
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(lease("node-b", 81))
    );

    assert!(
        !store
            .claim_job(job.id, "node-a", at(60), at(90))
            .await
            .expect("claim")
    );
    assert_eq!(
        store.get_job(job.id).await.expect("get"),
        Some(lease("node-b", 81))
    );

    let result = store
        .claim_job(Uuid::new_v4(), "node-a", at(0), at(30))
        .await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
}

/// The SAS token is stored (a restarted job resumes with it) but appears neither in Debug output
/// nor in the store's errors.
pub async fn sas_token_round_trips_but_is_never_printed(store: Arc<dyn Store>) {
    const SECRET: &str = "SeCrEtSiGnAtUrE0123456789abcdef%3D";
    let token = format!("sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig={SECRET}");
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let database = sample_database(&mi, "secret");
    store.create_database(&database).await.expect("create db");
    let job = Job {
        auth: StorageAuth::Sas(token.clone()),
        ..sample_job(database.id, at(0))
    };
    store.create_job(&job).await.expect("create");

    let stored = store
        .get_job(job.id)
        .await
        .expect("get")
        .expect("job exists");
    assert_eq!(stored.auth, StorageAuth::Sas(token.clone()));
    assert_eq!(stored, job);
    for printed in [
        format!("{stored:?}"),
        format!("{stored:#?}"),
        format!("{:?}", stored.auth),
        format!("{:?}", store.list_active_jobs().await.expect("list")),
    ] {
        assert!(!printed.contains(SECRET), "{printed}");
        assert!(printed.contains("Sas(<redacted>)"), "{printed}");
    }

    let conflict = store.create_job(&job).await;
    let stale = store
        .update_job(&Job {
            version: 5,
            ..job.clone()
        })
        .await;
    for result in [conflict.map(|_| 0), stale] {
        let message = format!(
            "{result:?} {}",
            result
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(result.is_err(), "{message}");
        assert!(!message.contains(SECRET), "{message}");
    }

    let rotated = Job {
        auth: StorageAuth::Sas("sv=2022-11-02&sig=rotated".into()),
        ..job.clone()
    };
    assert_eq!(store.update_job(&rotated).await.expect("update"), 1);
    assert_eq!(
        store.get_job(job.id).await.expect("get").map(|j| j.auth),
        Some(StorageAuth::Sas("sv=2022-11-02&sig=rotated".into()))
    );
    let cleared = Job {
        auth: StorageAuth::None,
        version: 1,
        ..job.clone()
    };
    assert_eq!(store.update_job(&cleared).await.expect("update"), 2);
    assert_eq!(
        store.get_job(job.id).await.expect("get").map(|j| j.auth),
        Some(StorageAuth::None)
    );
}

/// Files: upsert by exact name, listed in name (byte) order, per job, deleted by name.
pub async fn files_upsert_list_delete(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (_, job) = database_with_job(store.as_ref(), &mi, "db", at(0)).await;
    let (_, other_job) = database_with_job(store.as_ref(), &mi, "db2", at(0)).await;

    let full = sample_file("full.bak", 5_000_000_000_000);
    let log2 = sample_file("log_002.trn", 4096);
    let log1 = FileRecord {
        etag: None,
        ..sample_file("Log_001.trn", 0)
    };
    let broken = FileRecord {
        header_json: None,
        error: Some("not a SQL Server backup: no TAPE block at offset 0".into()),
        ..sample_file("diff.bak", 12)
    };
    for file in [&log2, &full, &log1, &broken] {
        store.put_file(job.id, file).await.expect("put");
    }
    assert_eq!(
        store.list_files(job.id).await.expect("list"),
        vec![log1.clone(), broken.clone(), full.clone(), log2.clone()]
    );

    let full_again = FileRecord {
        size: 6_000,
        etag: Some("\"0x8DCNEW\"".into()),
        last_modified: at(100),
        discovered_at: at(101),
        header_json: Some(r#"{"reparsed":true}"#.into()),
        error: None,
        ..full.clone()
    };
    store.put_file(job.id, &full_again).await.expect("upsert");
    let upper = sample_file("FULL.bak", 1);
    store.put_file(job.id, &upper).await.expect("put");
    assert_eq!(
        store.list_files(job.id).await.expect("list"),
        vec![
            upper.clone(),
            log1.clone(),
            broken.clone(),
            full_again.clone(),
            log2.clone()
        ]
    );
    assert_eq!(
        store.list_files(other_job.id).await.expect("list other"),
        Vec::<FileRecord>::new()
    );

    store.delete_file(job.id, "FULL.bak").await.expect("delete");
    store
        .delete_file(job.id, "never-there.bak")
        .await
        .expect("deleting a missing file is not an error");
    store
        .delete_file(other_job.id, "full.bak")
        .await
        .expect("other job");
    assert_eq!(
        store.list_files(job.id).await.expect("list"),
        vec![log1, broken, full_again, log2]
    );

    let result = store.put_file(Uuid::new_v4(), &upper).await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    let huge = sample_file("huge.bak", u64::MAX);
    let result = store.put_file(job.id, &huge).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
}

/// A thousand files put in reverse order come back sorted.
pub async fn many_files_list_in_name_order(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (_, job) = database_with_job(store.as_ref(), &mi, "db", at(0)).await;
    let names: Vec<String> = (0..1000).map(|i| format!("log_{i:05}.trn")).collect();
    for (i, name) in names.iter().enumerate().rev() {
        let size = u64::try_from(i).unwrap_or_default();
        store
            .put_file(job.id, &sample_file(name, size))
            .await
            .expect("put");
    }
    let listed: Vec<String> = store
        .list_files(job.id)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(listed, names);
}

/// Restore history: start order (creation order on equal times), finishing, replacing an
/// unfinished record after a crash, and never touching a finished one.
pub async fn restore_history(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (_, job) = database_with_job(store.as_ref(), &mi, "db", at(0)).await;
    let record = |guid: &str, kind: &str, started: i64, finished: Option<i64>| RestoreRecord {
        backup_set_guid: guid.into(),
        kind: kind.into(),
        first_stripe_name: format!("{kind}_{guid}.bak"),
        started_at: at(started),
        finished_at: finished.map(at),
    };
    const A: &str = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    const B: &str = "7F9619FF-8B86-D011-B42D-00C04FC964FF";
    const C: &str = "0F9619FF-8B86-D011-B42D-00C04FC964FF";

    store
        .restore_started(job.id, &record(A, "Full", 1, None))
        .await
        .expect("start A");
    store
        .restore_finished(job.id, A, at(2))
        .await
        .expect("finish A");
    store
        .restore_started(job.id, &record(B, "Diff", 3, None))
        .await
        .expect("start B");
    store
        .restore_started(job.id, &record(C, "Log", 3, None))
        .await
        .expect("start C");
    assert_eq!(
        store.list_restores(job.id).await.expect("list"),
        vec![
            record(A, "Full", 1, Some(2)),
            record(B, "Diff", 3, None),
            record(C, "Log", 3, None)
        ]
    );

    // After a crash B starts again: its unfinished record is replaced, and now starts last.
    store
        .restore_started(job.id, &record(B, "Diff", 5, None))
        .await
        .expect("restart B");
    store
        .restore_finished(job.id, B, at(6))
        .await
        .expect("finish B");
    store
        .restore_finished(job.id, B, at(7))
        .await
        .expect("finishing twice is not an error");
    // A finished record is history: starting the same set again adds a record.
    store
        .restore_started(job.id, &record(A, "Full", 8, None))
        .await
        .expect("start A again");
    assert_eq!(
        store.list_restores(job.id).await.expect("list"),
        vec![
            record(A, "Full", 1, Some(2)),
            record(C, "Log", 3, None),
            record(B, "Diff", 5, Some(6)),
            record(A, "Full", 8, None)
        ]
    );

    let result = store.restore_finished(job.id, "NO-SUCH-SET", at(9)).await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    let result = store
        .restore_started(Uuid::new_v4(), &record(A, "Full", 1, None))
        .await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    let (_, other) = database_with_job(store.as_ref(), &mi, "db2", at(0)).await;
    assert_eq!(
        store.list_restores(other.id).await.expect("list"),
        Vec::<RestoreRecord>::new()
    );
}

/// Operations: create, get, the open ones of a database oldest first, finish once.
pub async fn operations_lifecycle(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let d = sample_database(&mi, "Orders");
    let e = sample_database(&mi, "Other");
    store.create_database(&d).await.expect("create");

    let start = sample_operation(&d, OperationKind::StartRestore);
    let complete = Operation {
        started_at: at(60),
        ..sample_operation(&d, OperationKind::CompleteRestore)
    };
    let same_time = Operation {
        started_at: at(60),
        ..sample_operation(&d, OperationKind::DropDatabase)
    };
    let drop_other = sample_operation(&e, OperationKind::DropDatabase);
    let created = Operation {
        status: OperationStatus::Succeeded,
        finished_at: Some(at(1)),
        ..sample_operation(&d, OperationKind::CreateDatabase)
    };
    for operation in [&complete, &start, &same_time, &drop_other, &created] {
        store.create_operation(operation).await.expect("create");
    }
    assert_eq!(
        store.get_operation(start.id).await.expect("get"),
        Some(start.clone())
    );
    assert_eq!(
        store.get_operation(created.id).await.expect("get"),
        Some(created.clone())
    );
    let result = store.create_operation(&start).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

    assert_eq!(
        store.list_open_operations(d.id).await.expect("open"),
        vec![start.clone(), complete.clone(), same_time.clone()]
    );
    assert_eq!(
        store.list_open_operations(e.id).await.expect("open"),
        vec![drop_other.clone()]
    );

    let error = ErrorRecord {
        code: "RestoreFailed".into(),
        message: "The restore was stopped".into(),
    };
    store
        .finish_operation(
            start.id,
            OperationStatus::Failed,
            Some(error.clone()),
            at(90),
        )
        .await
        .expect("finish");
    let finished = Operation {
        status: OperationStatus::Failed,
        error: Some(error),
        finished_at: Some(at(90)),
        ..start.clone()
    };
    assert_eq!(
        store.get_operation(start.id).await.expect("get"),
        Some(finished.clone())
    );
    store
        .finish_operation(start.id, OperationStatus::Succeeded, None, at(95))
        .await
        .expect("finishing twice is not an error");
    assert_eq!(
        store.get_operation(start.id).await.expect("get"),
        Some(finished)
    );
    assert_eq!(
        store.list_open_operations(d.id).await.expect("open"),
        vec![complete.clone(), same_time.clone()]
    );

    let result = store
        .finish_operation(complete.id, OperationStatus::InProgress, None, at(99))
        .await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert_eq!(
        store.get_operation(complete.id).await.expect("get"),
        Some(complete.clone())
    );
    let result = store
        .finish_operation(Uuid::new_v4(), OperationStatus::Succeeded, None, at(99))
        .await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");

    // Operations outlive their database.
    store.delete_database(d.id).await.expect("delete");
    store
        .finish_operation(complete.id, OperationStatus::Canceled, None, at(100))
        .await
        .expect("finish");
    assert_eq!(
        store.get_operation(complete.id).await.expect("get"),
        Some(Operation {
            status: OperationStatus::Canceled,
            finished_at: Some(at(100)),
            ..complete
        })
    );
    assert_eq!(
        store.list_open_operations(d.id).await.expect("open"),
        vec![same_time]
    );
}

/// The operations of an instance: its own only (any spelling of its key, dropped databases
/// included), newest first, ties in creation order reversed, finished ones as finished.
pub async fn operations_of_an_instance_newest_first(store: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let other_mi = key(SUB, "RG-One", "MI-Beta");
    let other_rg = key(SUB, "RG-Two", "MI-Alpha");
    let d = sample_database(&mi, "Orders");
    store.create_database(&d).await.expect("create");
    // The same instance spelled differently by a later request.
    let shouted = sample_database(&key(&SUB.to_lowercase(), "rg-one", "MI-ALPHA"), "Stock");

    let start = Operation {
        started_at: at(10),
        ..sample_operation(&d, OperationKind::StartRestore)
    };
    let complete = Operation {
        started_at: at(60),
        ..sample_operation(&d, OperationKind::CompleteRestore)
    };
    let drop_first = Operation {
        started_at: at(90),
        ..sample_operation(&shouted, OperationKind::DropDatabase)
    };
    let drop_second = Operation {
        started_at: at(90),
        ..sample_operation(&d, OperationKind::DropDatabase)
    };
    let elsewhere = Operation {
        started_at: at(70),
        ..sample_operation(
            &sample_database(&other_mi, "Orders"),
            OperationKind::StartRestore,
        )
    };
    let other_group = Operation {
        started_at: at(80),
        ..sample_operation(
            &sample_database(&other_rg, "Orders"),
            OperationKind::StartRestore,
        )
    };
    for operation in [
        &complete,
        &start,
        &elsewhere,
        &drop_first,
        &other_group,
        &drop_second,
    ] {
        store.create_operation(operation).await.expect("create");
    }
    let error = ErrorRecord {
        code: "FullBackupMissingChecksum".into(),
        message: "Provided full backup is missing checksum.".into(),
    };
    store
        .finish_operation(
            start.id,
            OperationStatus::Failed,
            Some(error.clone()),
            at(20),
        )
        .await
        .expect("finish");
    store.delete_database(d.id).await.expect("delete");
    let failed_start = Operation {
        status: OperationStatus::Failed,
        error: Some(error),
        finished_at: Some(at(20)),
        ..start
    };
    let expected = vec![drop_second, drop_first, complete, failed_start];
    assert_eq!(
        store.list_instance_operations(&mi).await.expect("list"),
        expected
    );
    assert_eq!(
        store
            .list_instance_operations(&key(&SUB.to_lowercase(), "rg-ONE", "mi-alpha"))
            .await
            .expect("list"),
        expected
    );
    assert_eq!(
        store
            .list_instance_operations(&other_mi)
            .await
            .expect("list"),
        vec![elsewhere]
    );
    assert_eq!(
        store
            .list_instance_operations(&other_rg)
            .await
            .expect("list"),
        vec![other_group]
    );
    assert_eq!(
        store
            .list_instance_operations(&key(SUB, "RG-One", "MI-Gamma"))
            .await
            .expect("list"),
        Vec::<Operation>::new()
    );
}

/// Timestamps come back exactly, to the microsecond, before 1970 and far in the future too.
pub async fn timestamps_round_trip_at_microsecond_precision(store: Arc<dyn Store>) {
    let micros = |m: i64| DateTime::from_timestamp_micros(m).unwrap_or_default();
    let before_epoch = micros(-1);
    let odd = micros(1_700_000_000_123_457);
    let far = micros(32_503_679_999_999_999); // 2999-12-31T23:59:59.999999Z

    let mi = key(SUB, "RG-One", "MI-Alpha");
    let instance = sample_instance(&mi, odd);
    assert_eq!(store.put_instance(&instance).await.expect("put"), instance);
    let database = Database {
        created_at: before_epoch,
        ..sample_database(&mi, "db")
    };
    store.create_database(&database).await.expect("create");
    assert_eq!(
        store.get_database_by_id(database.id).await.expect("get"),
        Some(database.clone())
    );
    let job = Job {
        started_at: odd,
        deadline_at: far,
        finished_at: Some(before_epoch),
        lease_until: Some(odd),
        owner: Some("n".into()),
        ..sample_job(database.id, odd)
    };
    store.create_job(&job).await.expect("create job");
    assert_eq!(store.get_job(job.id).await.expect("get"), Some(job.clone()));
    let file = FileRecord {
        last_modified: before_epoch,
        discovered_at: far,
        ..sample_file("f.bak", 1)
    };
    store.put_file(job.id, &file).await.expect("put file");
    assert_eq!(store.list_files(job.id).await.expect("list"), vec![file]);
}

/// Two stores on the same state (two nodes): concurrent claims of one job have exactly one
/// winner, and concurrent updates from the same version exactly one success (the rest `Stale`).
/// Not in [`CASES`]: it needs two handles on one database.
pub async fn two_nodes_race_for_a_job(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    let mi = key(SUB, "RG-One", "MI-Alpha");
    let (_, job) = database_with_job(first.as_ref(), &mi, "raced", at(0)).await;

    let mut claims = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { &first } else { &second };
        let store = Arc::clone(store);
        let id = job.id;
        claims.push(async move {
            let node = format!("node-{i}");
            let won = store
                .claim_job(id, &node, at(0), at(30))
                .await
                .expect("claim");
            (node, won)
        });
    }
    let results = futures::future::join_all(claims).await;
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, won)| *won)
        .map(|(node, _)| node)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let stored = second.get_job(job.id).await.expect("get").expect("job");
    assert_eq!(stored.owner.as_ref(), Some(winners[0]));

    let mut updates = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { &first } else { &second };
        let store = Arc::clone(store);
        let copy = Job {
            profile: format!("profile-{i}"),
            ..job.clone()
        };
        updates.push(async move { store.update_job(&copy).await });
    }
    let results = futures::future::join_all(updates).await;
    let ok: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(ok, vec![1], "{results:?}");
    let stale = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Stale(_))))
        .count();
    assert_eq!(stale, 7, "{results:?}");
    let stored = first.get_job(job.id).await.expect("get").expect("job");
    assert_eq!(stored.version, 1);
    assert!(stored.profile.starts_with("profile-"), "{}", stored.profile);
}
