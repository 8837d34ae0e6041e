//! The engine's Prometheus metrics: every name, label and bucket is defined here once, and the
//! rest of the engine records through [`EngineMetrics`]' methods (docs/metrics.md lists them).
//!
//! Crate choice: the TiKV `prometheus` client. It keeps metrics in an explicit [`Registry`]
//! (not a process-wide recorder as the `metrics` facade does), so every [`crate::Engine`] —
//! several run side by side in the tests — reports only its own numbers, and its text encoder
//! writes the Prometheus exposition format without an extra exporter crate.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lrs_store::{
    Database, DatabaseStatus, ErrorRecord, FileRecord, Instance, InstanceKey, Job, JobState,
    Operation, OperationStatus, RestoreRecord, Store, StoreResult,
};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use uuid::Uuid;

/// Active (non-terminal) jobs by state and profile (gauge, read from the store at scrape time).
pub const JOBS: &str = "lrs_jobs";
/// Jobs that ended on this node, by final state and profile (counter).
pub const JOBS_ENDED: &str = "lrs_jobs_ended_total";
/// Backup sets restored, by kind (counter).
pub const SETS_RESTORED: &str = "lrs_backup_sets_restored_total";
/// Bytes of backup files restored, by kind (counter).
pub const BYTES_RESTORED: &str = "lrs_restored_bytes_total";
/// Time to apply one backup set, by kind (histogram, seconds).
pub const RESTORE_DURATION: &str = "lrs_restore_duration_seconds";
/// Time of one folder scan (listing plus header reads of new files) (histogram, seconds).
pub const SCAN_DURATION: &str = "lrs_folder_scan_duration_seconds";
/// Storage failures the engine saw after the source's own retries, by kind (counter).
pub const STORAGE_ERRORS: &str = "lrs_storage_errors_total";
/// Storage operations the engine will try again on a later pass, by operation (counter).
pub const STORAGE_RETRIES: &str = "lrs_storage_retries_total";
/// Times a job's plan became blocked (a gap, a missing full...) (counter).
pub const PLANNER_BLOCKS: &str = "lrs_planner_blocks_total";
/// Jobs of this node whose current plan is blocked (gauge, at scrape time).
pub const JOBS_BLOCKED: &str = "lrs_jobs_blocked";
/// Duration of store calls, by call (histogram, seconds).
pub const STORE_DURATION: &str = "lrs_store_call_duration_seconds";

/// The states [`JOBS`] reports (the non-terminal ones), so that a state with no job reads 0.
const ACTIVE_STATES: [JobState; 3] = [
    JobState::Initializing,
    JobState::Restoring,
    JobState::Completing,
];

/// Which storage failure (the `kind` label of [`STORAGE_ERRORS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StorageErrorKind {
    /// The folder could not be listed (transient, after the source's retries).
    ListTransient,
    /// The folder listing was refused for good (denied, not found, invalid).
    ListFatal,
    /// A backup file's headers could not be read (I/O).
    HeaderRead,
}

impl StorageErrorKind {
    fn label(self) -> &'static str {
        match self {
            StorageErrorKind::ListTransient => "list_transient",
            StorageErrorKind::ListFatal => "list_fatal",
            StorageErrorKind::HeaderRead => "header_read",
        }
    }
}

/// The engine's metrics and the registry that exports them.
#[derive(Debug)]
pub struct EngineMetrics {
    registry: Registry,
    jobs: IntGaugeVec,
    jobs_ended: IntCounterVec,
    sets_restored: IntCounterVec,
    bytes_restored: IntCounterVec,
    restore_duration: HistogramVec,
    scan_duration: Histogram,
    storage_errors: IntCounterVec,
    storage_retries: IntCounterVec,
    planner_blocks: IntCounter,
    jobs_blocked: IntGauge,
    store_duration: HistogramVec,
    /// Held while the scrape-time gauges are reset, refilled and gathered, so that two
    /// concurrent scrapes never encode a half-refilled gauge.
    scrape: Mutex<()>,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineMetrics {
    /// Every engine metric, registered in a fresh registry.
    pub fn new() -> Self {
        // The definitions are constants: building them fails only if a name or label here is
        // malformed or repeated, which the unit tests would catch; no input reaches this.
        #[allow(clippy::expect_used)]
        Self::build().expect("the engine's metric definitions are valid")
    }

    fn build() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        let jobs = IntGaugeVec::new(
            Opts::new(
                JOBS,
                "Active (not ended) restore jobs by state and profile.",
            ),
            &["state", "profile"],
        )?;
        registry.register(Box::new(jobs.clone()))?;
        let jobs_blocked = IntGauge::new(
            JOBS_BLOCKED,
            "Jobs running on this node whose plan is blocked (waiting for a missing backup).",
        )?;
        registry.register(Box::new(jobs_blocked.clone()))?;
        let scan_duration = Histogram::with_opts(
            HistogramOpts::new(
                SCAN_DURATION,
                "Wall time of one folder scan: the listing plus header reads of new files.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ]),
        )?;
        registry.register(Box::new(scan_duration.clone()))?;
        let planner_blocks = IntCounter::new(
            PLANNER_BLOCKS,
            "Times a job's plan became blocked (a gap or a missing backup).",
        )?;
        registry.register(Box::new(planner_blocks.clone()))?;
        Ok(EngineMetrics {
            jobs,
            jobs_ended: counter(
                JOBS_ENDED,
                "Restore jobs that ended on this node, by final state and profile.",
                &["state", "profile"],
            )?,
            sets_restored: counter(
                SETS_RESTORED,
                "Backup sets restored, by kind (Full, Diff, Log).",
                &["kind"],
            )?,
            bytes_restored: counter(
                BYTES_RESTORED,
                "Bytes of backup files restored (sum of the stripes' file sizes), by kind.",
                &["kind"],
            )?,
            restore_duration: histogram(
                RESTORE_DURATION,
                "Wall time to apply one backup set to the target, by kind.",
                &["kind"],
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0, 900.0,
                ],
            )?,
            scan_duration,
            storage_errors: counter(
                STORAGE_ERRORS,
                "Storage failures seen by jobs after the source's own retries, by kind.",
                &["kind"],
            )?,
            storage_retries: counter(
                STORAGE_RETRIES,
                "Storage operations a job will try again on a later pass, by operation.",
                &["operation"],
            )?,
            planner_blocks,
            jobs_blocked,
            store_duration: histogram(
                STORE_DURATION,
                "Wall time of store calls, by call.",
                &["call"],
                vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5,
                ],
            )?,
            registry,
            scrape: Mutex::new(()),
        })
    }

    /// A backup set of `kind` (`Full`, `Diff`, `Log`) of `bytes` was restored in `took`.
    pub(crate) fn set_restored(&self, kind: &str, bytes: u64, took: Duration) {
        self.sets_restored.with_label_values(&[kind]).inc();
        self.bytes_restored.with_label_values(&[kind]).inc_by(bytes);
        self.restore_duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    /// A folder scan took `took`.
    pub(crate) fn scanned(&self, took: Duration) {
        self.scan_duration.observe(took.as_secs_f64());
    }

    /// A storage failure of `kind`; `retried` when the job will try again later.
    pub(crate) fn storage_error(&self, kind: StorageErrorKind, retried: bool) {
        self.storage_errors.with_label_values(&[kind.label()]).inc();
        if retried {
            let operation = match kind {
                StorageErrorKind::ListTransient | StorageErrorKind::ListFatal => "list",
                StorageErrorKind::HeaderRead => "read_header",
            };
            self.storage_retries.with_label_values(&[operation]).inc();
        }
    }

    /// A job's plan went from not blocked to blocked.
    pub(crate) fn planner_blocked(&self) {
        self.planner_blocks.inc();
    }

    /// A job ended (completed, failed, stopped) on this node.
    pub(crate) fn job_ended(&self, job: &Job) {
        self.jobs_ended
            .with_label_values(&[job.state.as_str(), job.profile.as_str()])
            .inc();
    }

    /// A store call `call` took `took`.
    fn store_call(&self, call: &str, took: Duration) {
        self.store_duration
            .with_label_values(&[call])
            .observe(took.as_secs_f64());
    }

    /// The registry, for callers that add metrics of their own or gather directly.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Encode every metric in the Prometheus text format, after setting the scrape-time
    /// gauges from `active_jobs` (the store's active jobs) and `blocked` (this node's jobs
    /// whose plan is blocked).
    pub fn render(&self, active_jobs: &[Job], blocked: usize) -> Result<String, prometheus::Error> {
        let families = {
            let _guard = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
            self.jobs.reset();
            let mut profiles: Vec<&str> = active_jobs.iter().map(|j| j.profile.as_str()).collect();
            profiles.sort_unstable();
            profiles.dedup();
            for profile in &profiles {
                for state in ACTIVE_STATES {
                    self.jobs
                        .with_label_values(&[state.as_str(), profile])
                        .set(0);
                }
            }
            for job in active_jobs {
                self.jobs
                    .with_label_values(&[job.state.as_str(), job.profile.as_str()])
                    .inc();
            }
            self.jobs_blocked
                .set(i64::try_from(blocked).unwrap_or(i64::MAX));
            self.registry.gather()
        };
        let mut out = String::new();
        TextEncoder::new().encode_utf8(&families, &mut out)?;
        Ok(out)
    }
}

/// A [`Store`] that times every call into [`STORE_DURATION`] and delegates it.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<EngineMetrics>,
}

impl MeteredStore {
    /// Wrap `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<EngineMetrics>) -> Self {
        MeteredStore { inner, metrics }
    }

    /// `call` timed under the label `name` (failed calls are timed too: a slow failure is
    /// still time spent on the request path).
    fn timed<'a, T: Send + 'a>(
        &'a self,
        name: &'static str,
        call: BoxFuture<'a, StoreResult<T>>,
    ) -> BoxFuture<'a, StoreResult<T>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = call.await;
            self.metrics.store_call(name, started.elapsed());
            result
        })
    }
}

impl Store for MeteredStore {
    fn put_instance(&self, instance: &Instance) -> BoxFuture<'_, StoreResult<Instance>> {
        self.timed("put_instance", self.inner.put_instance(instance))
    }
    fn get_instance(&self, key: &InstanceKey) -> BoxFuture<'_, StoreResult<Option<Instance>>> {
        self.timed("get_instance", self.inner.get_instance(key))
    }
    fn list_instances(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<Vec<Instance>>> {
        self.timed(
            "list_instances",
            self.inner.list_instances(subscription, resource_group),
        )
    }
    fn create_database(&self, database: &Database) -> BoxFuture<'_, StoreResult<()>> {
        self.timed("create_database", self.inner.create_database(database))
    }
    fn get_database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> BoxFuture<'_, StoreResult<Option<Database>>> {
        self.timed("get_database", self.inner.get_database(instance, name))
    }
    fn get_database_by_id(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Database>>> {
        self.timed("get_database_by_id", self.inner.get_database_by_id(id))
    }
    fn list_databases(&self, instance: &InstanceKey) -> BoxFuture<'_, StoreResult<Vec<Database>>> {
        self.timed("list_databases", self.inner.list_databases(instance))
    }
    fn set_database_status(
        &self,
        id: Uuid,
        status: DatabaseStatus,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.timed(
            "set_database_status",
            self.inner.set_database_status(id, status),
        )
    }
    fn delete_database(&self, id: Uuid) -> BoxFuture<'_, StoreResult<()>> {
        self.timed("delete_database", self.inner.delete_database(id))
    }
    fn create_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<()>> {
        self.timed("create_job", self.inner.create_job(job))
    }
    fn append_target_line(&self, seq: u64, line: &str) -> BoxFuture<'_, StoreResult<()>> {
        self.timed(
            "append_target_line",
            self.inner.append_target_line(seq, line),
        )
    }
    fn target_lines_after(&self, seq: u64) -> BoxFuture<'_, StoreResult<Vec<(u64, String)>>> {
        self.timed("target_lines_after", self.inner.target_lines_after(seq))
    }
    fn start_migration(
        &self,
        database: &lrs_store::Database,
        job: &Job,
        operation: &Operation,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.timed(
            "start_migration",
            self.inner.start_migration(database, job, operation),
        )
    }
    fn get_job(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>> {
        self.timed("get_job", self.inner.get_job(id))
    }
    fn job_for_database(&self, database_id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>> {
        self.timed("job_for_database", self.inner.job_for_database(database_id))
    }
    fn list_active_jobs(&self) -> BoxFuture<'_, StoreResult<Vec<Job>>> {
        self.timed("list_active_jobs", self.inner.list_active_jobs())
    }
    fn count_active_jobs_on_instance(
        &self,
        instance: &InstanceKey,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        self.timed(
            "count_active_jobs_on_instance",
            self.inner.count_active_jobs_on_instance(instance),
        )
    }
    fn count_active_jobs_in_subscription(
        &self,
        subscription: &str,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        self.timed(
            "count_active_jobs_in_subscription",
            self.inner.count_active_jobs_in_subscription(subscription),
        )
    }
    fn update_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<i64>> {
        self.timed("update_job", self.inner.update_job(job))
    }
    fn claim_job(
        &self,
        id: Uuid,
        node: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<bool>> {
        self.timed(
            "claim_job",
            self.inner.claim_job(id, node, now, lease_until),
        )
    }
    fn put_file(&self, job_id: Uuid, file: &FileRecord) -> BoxFuture<'_, StoreResult<()>> {
        self.timed("put_file", self.inner.put_file(job_id, file))
    }
    fn delete_file(&self, job_id: Uuid, name: &str) -> BoxFuture<'_, StoreResult<()>> {
        self.timed("delete_file", self.inner.delete_file(job_id, name))
    }
    fn list_files(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<FileRecord>>> {
        self.timed("list_files", self.inner.list_files(job_id))
    }
    fn restore_started(
        &self,
        job_id: Uuid,
        record: &RestoreRecord,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.timed(
            "restore_started",
            self.inner.restore_started(job_id, record),
        )
    }
    fn restore_finished(
        &self,
        job_id: Uuid,
        backup_set_guid: &str,
        finished_at: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.timed(
            "restore_finished",
            self.inner
                .restore_finished(job_id, backup_set_guid, finished_at),
        )
    }
    fn list_restores(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<RestoreRecord>>> {
        self.timed("list_restores", self.inner.list_restores(job_id))
    }
    fn create_operation(&self, operation: &Operation) -> BoxFuture<'_, StoreResult<()>> {
        self.timed("create_operation", self.inner.create_operation(operation))
    }
    fn get_operation(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Operation>>> {
        self.timed("get_operation", self.inner.get_operation(id))
    }
    fn list_open_operations(
        &self,
        database_id: Uuid,
    ) -> BoxFuture<'_, StoreResult<Vec<Operation>>> {
        self.timed(
            "list_open_operations",
            self.inner.list_open_operations(database_id),
        )
    }
    fn list_instance_operations(
        &self,
        instance: &InstanceKey,
    ) -> BoxFuture<'_, StoreResult<Vec<Operation>>> {
        self.timed(
            "list_instance_operations",
            self.inner.list_instance_operations(instance),
        )
    }
    fn finish_operation(
        &self,
        id: Uuid,
        status: OperationStatus,
        error: Option<ErrorRecord>,
        finished_at: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.timed(
            "finish_operation",
            self.inner.finish_operation(id, status, error, finished_at),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_build_and_render() {
        let m = EngineMetrics::new();
        m.set_restored("Full", 1000, Duration::from_millis(20));
        let text = m.render(&[], 0).expect("render");
        assert!(
            text.contains("lrs_backup_sets_restored_total{kind=\"Full\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("lrs_restored_bytes_total{kind=\"Full\"} 1000"),
            "{text}"
        );
        assert!(text.contains("lrs_jobs_blocked 0"), "{text}");
    }
}
