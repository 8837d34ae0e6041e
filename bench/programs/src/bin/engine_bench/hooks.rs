//! Hooks around the engine's store and target, for measuring without changing the engine:
//!
//! * [`CountingStore`] counts worker steps (each step claims its job's lease exactly once, so
//!   `claim_job` calls of a job with a live worker = polls) and the time spent in `put_file`
//!   (the first scan writes one row per discovered file).
//! * [`GatedTarget`] holds every restore at a gate until it is opened, recording when the
//!   first restore of each database was asked for: the end of a first scan (the plan is built
//!   and published just before), with no restore reads mixed into the counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lrs_store::{
    Database, DatabaseStatus, ErrorRecord, FileRecord, Instance, InstanceKey, Job, Operation,
    OperationStatus, RestoreRecord, Store, StoreResult,
};
use lrs_target::{RestoreOutcome, StripeInput, Target, TargetDatabase, TargetError};
use uuid::Uuid;

/// A store that counts what the benchmarks need and delegates everything.
#[derive(Debug)]
pub(crate) struct CountingStore {
    inner: Arc<dyn Store>,
    claims: Mutex<HashMap<Uuid, u64>>,
    put_files: AtomicU64,
    put_file_nanos: AtomicU64,
}

impl CountingStore {
    pub(crate) fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            claims: Mutex::new(HashMap::new()),
            put_files: AtomicU64::new(0),
            put_file_nanos: AtomicU64::new(0),
        }
    }

    /// `claim_job` calls for `job` so far.
    pub(crate) fn claims(&self, job: Uuid) -> u64 {
        self.claims
            .lock()
            .map(|c| c.get(&job).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// `put_file` calls and the time spent in them so far.
    pub(crate) fn put_files(&self) -> (u64, Duration) {
        (
            self.put_files.load(Ordering::SeqCst),
            Duration::from_nanos(self.put_file_nanos.load(Ordering::SeqCst)),
        )
    }
}

impl Store for CountingStore {
    fn put_instance(&self, instance: &Instance) -> BoxFuture<'_, StoreResult<Instance>> {
        self.inner.put_instance(instance)
    }
    fn get_instance(&self, key: &InstanceKey) -> BoxFuture<'_, StoreResult<Option<Instance>>> {
        self.inner.get_instance(key)
    }
    fn list_instances(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<Vec<Instance>>> {
        self.inner.list_instances(subscription, resource_group)
    }
    fn create_database(&self, database: &Database) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.create_database(database)
    }
    fn get_database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> BoxFuture<'_, StoreResult<Option<Database>>> {
        self.inner.get_database(instance, name)
    }
    fn get_database_by_id(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Database>>> {
        self.inner.get_database_by_id(id)
    }
    fn list_databases(&self, instance: &InstanceKey) -> BoxFuture<'_, StoreResult<Vec<Database>>> {
        self.inner.list_databases(instance)
    }
    fn set_database_status(
        &self,
        id: Uuid,
        status: DatabaseStatus,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.set_database_status(id, status)
    }
    fn delete_database(&self, id: Uuid) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.delete_database(id)
    }
    fn create_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.create_job(job)
    }
    fn append_target_line(&self, seq: u64, line: &str) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.append_target_line(seq, line)
    }
    fn target_lines_after(&self, seq: u64) -> BoxFuture<'_, StoreResult<Vec<(u64, String)>>> {
        self.inner.target_lines_after(seq)
    }
    fn start_migration(
        &self,
        database: &lrs_store::Database,
        job: &Job,
        operation: &Operation,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.start_migration(database, job, operation)
    }
    fn get_job(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>> {
        self.inner.get_job(id)
    }
    fn job_for_database(&self, database_id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>> {
        self.inner.job_for_database(database_id)
    }
    fn list_active_jobs(&self) -> BoxFuture<'_, StoreResult<Vec<Job>>> {
        self.inner.list_active_jobs()
    }
    fn count_active_jobs_on_instance(
        &self,
        instance: &InstanceKey,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        self.inner.count_active_jobs_on_instance(instance)
    }
    fn count_active_jobs_in_subscription(
        &self,
        subscription: &str,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        self.inner.count_active_jobs_in_subscription(subscription)
    }
    fn update_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<i64>> {
        self.inner.update_job(job)
    }
    fn claim_job(
        &self,
        id: Uuid,
        node: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<bool>> {
        if let Ok(mut claims) = self.claims.lock() {
            *claims.entry(id).or_insert(0) += 1;
        }
        self.inner.claim_job(id, node, now, lease_until)
    }
    fn put_file(&self, job_id: Uuid, file: &FileRecord) -> BoxFuture<'_, StoreResult<()>> {
        let call = self.inner.put_file(job_id, file);
        Box::pin(async move {
            let started = Instant::now();
            let result = call.await;
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.put_files.fetch_add(1, Ordering::SeqCst);
            self.put_file_nanos.fetch_add(nanos, Ordering::SeqCst);
            result
        })
    }
    fn delete_file(&self, job_id: Uuid, name: &str) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.delete_file(job_id, name)
    }
    fn list_files(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<FileRecord>>> {
        self.inner.list_files(job_id)
    }
    fn restore_started(
        &self,
        job_id: Uuid,
        record: &RestoreRecord,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.restore_started(job_id, record)
    }
    fn restore_finished(
        &self,
        job_id: Uuid,
        backup_set_guid: &str,
        finished_at: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.inner
            .restore_finished(job_id, backup_set_guid, finished_at)
    }
    fn list_restores(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<RestoreRecord>>> {
        self.inner.list_restores(job_id)
    }
    fn create_operation(&self, operation: &Operation) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.create_operation(operation)
    }
    fn get_operation(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Operation>>> {
        self.inner.get_operation(id)
    }
    fn list_open_operations(
        &self,
        database_id: Uuid,
    ) -> BoxFuture<'_, StoreResult<Vec<Operation>>> {
        self.inner.list_open_operations(database_id)
    }
    fn list_instance_operations(
        &self,
        instance: &InstanceKey,
    ) -> BoxFuture<'_, StoreResult<Vec<Operation>>> {
        self.inner.list_instance_operations(instance)
    }
    fn finish_operation(
        &self,
        id: Uuid,
        status: OperationStatus,
        error: Option<ErrorRecord>,
        finished_at: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.finish_operation(id, status, error, finished_at)
    }
}

/// A target whose restores wait at a gate (open by default for databases not held).
#[derive(Debug)]
pub(crate) struct GatedTarget {
    inner: Arc<dyn Target>,
    /// Databases (lower-case) whose restores are held until [`GatedTarget::release`].
    held: Mutex<HashMap<String, Arc<tokio::sync::watch::Sender<bool>>>>,
    /// When each database's first restore was asked for.
    first_restore: Mutex<HashMap<String, Instant>>,
}

impl GatedTarget {
    pub(crate) fn new(inner: Arc<dyn Target>) -> Self {
        GatedTarget {
            inner,
            held: Mutex::new(HashMap::new()),
            first_restore: Mutex::new(HashMap::new()),
        }
    }

    /// Hold restores into `database` until released.
    pub(crate) fn hold(&self, database: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.insert(
                database.to_lowercase(),
                Arc::new(tokio::sync::watch::Sender::new(false)),
            );
        }
    }

    /// Let restores into `database` go on.
    pub(crate) fn release(&self, database: &str) {
        if let Ok(held) = self.held.lock()
            && let Some(gate) = held.get(&database.to_lowercase())
        {
            gate.send_replace(true);
        }
    }

    /// When the first restore into `database` was asked for, if it was.
    pub(crate) fn first_restore(&self, database: &str) -> Option<Instant> {
        self.first_restore
            .lock()
            .ok()
            .and_then(|f| f.get(&database.to_lowercase()).copied())
    }
}

impl Target for GatedTarget {
    fn restore(
        &self,
        database: &str,
        stripes: Vec<StripeInput>,
    ) -> BoxFuture<'_, Result<RestoreOutcome, TargetError>> {
        let key = database.to_lowercase();
        let database = database.to_string();
        Box::pin(async move {
            if let Ok(mut first) = self.first_restore.lock() {
                first.entry(key.clone()).or_insert_with(Instant::now);
            }
            let gate = self
                .held
                .lock()
                .ok()
                .and_then(|held| held.get(&key).cloned());
            if let Some(gate) = gate {
                let mut open = gate.subscribe();
                let _ = open.wait_for(|open| *open).await;
            }
            self.inner.restore(&database, stripes).await
        })
    }

    fn recover(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>> {
        self.inner.recover(database)
    }

    fn drop_database(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>> {
        self.inner.drop_database(database)
    }

    fn database(
        &self,
        database: &str,
    ) -> BoxFuture<'_, Result<Option<TargetDatabase>, TargetError>> {
        self.inner.database(database)
    }
}
