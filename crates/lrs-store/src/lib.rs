//! Durable state of the emulator: managed instances, databases, restore jobs, the files each job
//! discovered (with their parsed headers), restore history and long-running operations.
//!
//! One trait, [`Store`], two backends (SQLite embedded by default, PostgreSQL when several
//! nodes share the work), one conformance suite ([`conformance`]) that both run. Names of
//! instances and databases are case-insensitive, as in ARM: keys are compared lower-cased, and
//! the caller's spelling is kept for display.
//!
//! Every method is a single transaction: a crash between two calls leaves the state of the
//! first, never half of one.
//!
//! Open a store with [`open_store`] (`sqlite://…`, a plain path, or `postgres://…`), or build
//! one directly with [`SqliteStore::open`], [`SqliteStore::in_memory`] or [`PgStore::connect`].
//! Timestamps are kept at microsecond precision: callers pass values truncated to whole
//! microseconds and get them back exactly (finer digits are dropped).

mod codec;
#[cfg(feature = "testing")]
pub mod conformance;
mod open;
mod postgres;
mod queries;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use open::{open_store, redact_url};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Identifies a managed instance: subscription, resource group, name (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InstanceKey {
    /// Subscription id (a GUID string).
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
    /// Managed instance name.
    pub instance: String,
}

impl InstanceKey {
    /// A key from its three parts, spelled as given.
    pub fn new(
        subscription: impl Into<String>,
        resource_group: impl Into<String>,
        instance: impl Into<String>,
    ) -> Self {
        InstanceKey {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            instance: instance.into(),
        }
    }
}

/// A managed instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Its key, spelled as first created.
    pub key: InstanceKey,
    /// Azure region (`location`).
    pub location: String,
    /// The ARM resource's other properties (sku, properties, tags) as last PUT, JSON.
    pub resource_json: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `properties.status` of a managed database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatabaseStatus {
    /// Being restored by LRS (NORECOVERY).
    Restoring,
    /// Recovered, readable.
    Online,
    /// Being dropped.
    Stopping,
    /// The migration failed; the database cannot be used (kept until dropped).
    Inaccessible,
}

impl DatabaseStatus {
    /// The ARM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseStatus::Restoring => "Restoring",
            DatabaseStatus::Online => "Online",
            DatabaseStatus::Stopping => "Stopping",
            DatabaseStatus::Inaccessible => "Inaccessible",
        }
    }
}

/// A managed database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Stable id.
    pub id: Uuid,
    /// The instance it lives on.
    pub instance: InstanceKey,
    /// Name as created.
    pub name: String,
    /// Azure region.
    pub location: String,
    /// Collation.
    pub collation: String,
    /// Status.
    pub status: DatabaseStatus,
    /// Whether LRS created it (restore details exist only then).
    pub created_by_lrs: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Where a restore job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// Scanning the folder, nothing restored yet.
    Initializing,
    /// Restoring sets (or waiting for more).
    Restoring,
    /// Cutover requested or the autocomplete file restored: recovering.
    Completing,
    /// The database is online. Terminal.
    Completed,
    /// The job failed (see `error`). Terminal.
    Failed,
    /// Stopped: the database was dropped. Terminal; cannot resume.
    Stopped,
}

impl JobState {
    /// The stored (and displayed) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Initializing => "Initializing",
            JobState::Restoring => "Restoring",
            JobState::Completing => "Completing",
            JobState::Completed => "Completed",
            JobState::Failed => "Failed",
            JobState::Stopped => "Stopped",
        }
    }

    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Stopped
        )
    }
}

/// Autocomplete or continuous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobMode {
    /// Complete by itself once the set holding this file is restored.
    Autocomplete {
        /// `lastBackupName`.
        last_backup_name: String,
    },
    /// Keep restoring new backups until `completeRestore`.
    Continuous,
}

/// How the job authenticates to its storage.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageAuth {
    /// Container SAS token (kept durable so a restart can resume; never logged or returned).
    Sas(String),
    /// Managed identity: credentials configured on the emulator.
    ManagedIdentity,
    /// No credentials (local folders).
    None,
}

impl StorageAuth {
    /// The kind of credentials, without the secret (`Sas`, `ManagedIdentity`, `None`).
    pub fn kind_str(&self) -> &'static str {
        match self {
            StorageAuth::Sas(_) => "Sas",
            StorageAuth::ManagedIdentity => "ManagedIdentity",
            StorageAuth::None => "None",
        }
    }
}

impl fmt::Debug for StorageAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The SAS token is a secret: never print it, not even through a Debug of the enum alone.
        match self {
            StorageAuth::Sas(_) => f.write_str("Sas(<redacted>)"),
            StorageAuth::ManagedIdentity => f.write_str("ManagedIdentity"),
            StorageAuth::None => f.write_str("None"),
        }
    }
}

/// An error as the API reports it: ARM code plus message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// ARM error code (`SqlRestoreError`, `BlobStorageFailure`, ...).
    pub code: String,
    /// Message.
    pub message: String,
}

/// A restore job (one per LRS database).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Stable id.
    pub id: Uuid,
    /// The database it restores.
    pub database_id: Uuid,
    /// State.
    pub state: JobState,
    /// Autocomplete or continuous.
    pub mode: JobMode,
    /// `storageContainerUri` as given.
    pub storage_uri: String,
    /// Credentials for the storage.
    pub auth: StorageAuth,
    /// Behaviour profile name (`lrs-2021`, `ga`).
    pub profile: String,
    /// When the job started.
    pub started_at: DateTime<Utc>,
    /// When the job's time runs out (patch window or job lifetime), in emulated time.
    pub deadline_at: DateTime<Utc>,
    /// `lastBackupName` given to completeRestore, once it was.
    pub complete_requested: Option<String>,
    /// Why it failed.
    pub error: Option<ErrorRecord>,
    /// When it reached a terminal state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Monotonic version, bumped by every update (optimistic concurrency between nodes).
    pub version: i64,
    /// Node that runs the job (several nodes may share one PostgreSQL store).
    pub owner: Option<String>,
    /// Until when `owner` holds the job; another node may take it over afterwards.
    pub lease_until: Option<DateTime<Utc>>,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The SAS token is a secret: StorageAuth's Debug redacts it.
        let auth = &self.auth;
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("database_id", &self.database_id)
            .field("state", &self.state)
            .field("mode", &self.mode)
            .field("storage_uri", &self.storage_uri)
            .field("auth", &auth)
            .field("profile", &self.profile)
            .field("started_at", &self.started_at)
            .field("deadline_at", &self.deadline_at)
            .field("complete_requested", &self.complete_requested)
            .field("error", &self.error)
            .field("finished_at", &self.finished_at)
            .field("version", &self.version)
            .field("owner", &self.owner)
            .field("lease_until", &self.lease_until)
            .finish()
    }
}

/// A file the job found in its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Blob name in the folder.
    pub name: String,
    /// Size in bytes when the header was read.
    pub size: u64,
    /// ETag when the header was read.
    pub etag: Option<String>,
    /// Upload (last-modified) time.
    pub last_modified: DateTime<Utc>,
    /// When the job first saw it.
    pub discovered_at: DateTime<Utc>,
    /// The parsed headers (`lrs_backup::BackupMedia` as JSON), or None when unreadable.
    pub header_json: Option<String>,
    /// Why the file is not a usable backup, when it is not.
    pub error: Option<String>,
}

/// One backup set's restore, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecord {
    /// BackupSetGUID (uppercase string).
    pub backup_set_guid: String,
    /// `Full`, `Diff` or `Log`.
    pub kind: String,
    /// First stripe's file name.
    pub first_stripe_name: String,
    /// When the restore started.
    pub started_at: DateTime<Utc>,
    /// When it finished; None while in flight (or when a crash interrupted it).
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a long-running operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationKind {
    /// PUT database with createMode RestoreExternalBackup.
    StartRestore,
    /// POST completeRestore.
    CompleteRestore,
    /// DELETE database.
    DropDatabase,
    /// PUT database (plain create).
    CreateDatabase,
}

impl OperationKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::StartRestore => "StartRestore",
            OperationKind::CompleteRestore => "CompleteRestore",
            OperationKind::DropDatabase => "DropDatabase",
            OperationKind::CreateDatabase => "CreateDatabase",
        }
    }
}

/// Operation status as ARM reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationStatus {
    /// Still running.
    InProgress,
    /// Done.
    Succeeded,
    /// Failed (see `error`).
    Failed,
    /// Canceled.
    Canceled,
}

impl OperationStatus {
    /// The ARM (and stored) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::InProgress => "InProgress",
            OperationStatus::Succeeded => "Succeeded",
            OperationStatus::Failed => "Failed",
            OperationStatus::Canceled => "Canceled",
        }
    }
}

/// A long-running operation (the `Azure-AsyncOperation` resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Operation id (the GUID in the polling URLs).
    pub id: Uuid,
    /// What it does.
    pub kind: OperationKind,
    /// The database it acts on.
    pub database_id: Uuid,
    /// The instance of that database (kept so results can be served after a drop).
    pub instance: InstanceKey,
    /// Database name as the request spelled it.
    pub database_name: String,
    /// Status.
    pub status: OperationStatus,
    /// Error when failed.
    pub error: Option<ErrorRecord>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (database name on an instance, a second job for a database).
    #[error("{0} already exists")]
    Conflict(String),
    /// The row to update does not exist.
    #[error("{0} was not found")]
    NotFound(String),
    /// Optimistic concurrency: someone else updated the row first.
    #[error("{0} was changed concurrently")]
    Stale(String),
    /// The database backend failed.
    #[error("store backend error: {0}")]
    Backend(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The durable state behind the engine and the API.
pub trait Store: Send + Sync + fmt::Debug {
    /// Insert or replace an instance (matched case-insensitively); returns it as stored
    /// (the first spelling of the key and `created_at` are kept).
    fn put_instance(&self, instance: &Instance) -> BoxFuture<'_, StoreResult<Instance>>;
    /// An instance by key, case-insensitively.
    fn get_instance(&self, key: &InstanceKey) -> BoxFuture<'_, StoreResult<Option<Instance>>>;
    /// Instances of a subscription, optionally of one resource group, ordered by name.
    fn list_instances(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<Vec<Instance>>>;

    /// Create a database; `Conflict` when the instance already has one of that name
    /// (case-insensitive).
    fn create_database(&self, database: &Database) -> BoxFuture<'_, StoreResult<()>>;
    /// A database by instance and name, case-insensitively.
    fn get_database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> BoxFuture<'_, StoreResult<Option<Database>>>;
    /// A database by id.
    fn get_database_by_id(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Database>>>;
    /// Databases of an instance, ordered by name.
    fn list_databases(&self, instance: &InstanceKey) -> BoxFuture<'_, StoreResult<Vec<Database>>>;
    /// Set a database's status; `NotFound` when there is no such database.
    fn set_database_status(
        &self,
        id: Uuid,
        status: DatabaseStatus,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// Delete a database (its job, files and history stay for the record); not an error when
    /// it is gone.
    fn delete_database(&self, id: Uuid) -> BoxFuture<'_, StoreResult<()>>;

    /// Create a job (stored with version 0 whatever `job.version` says). `Conflict` when the
    /// database already has a job or the id is taken; `NotFound` when the database does not
    /// exist (the job copies the database's instance so the limits below still count it after
    /// the database is dropped).
    fn create_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<()>>;
    /// Start a migration in one transaction: its database, its job and its start operation are
    /// created together or not at all (`Conflict` when the name is taken), so a concurrent drop
    /// never finds a database without its job, nor leaves a job behind without one.
    fn start_migration(
        &self,
        database: &Database,
        job: &Job,
        operation: &Operation,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// Append line `seq` of the shared target journal; `Conflict` when that number is taken.
    fn append_target_line(&self, seq: u64, line: &str) -> BoxFuture<'_, StoreResult<()>>;
    /// Lines of the shared target journal after `seq`, in order.
    fn target_lines_after(&self, seq: u64) -> BoxFuture<'_, StoreResult<Vec<(u64, String)>>>;
    /// A job by id.
    fn get_job(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>>;
    /// The job of a database.
    fn job_for_database(&self, database_id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>>;
    /// Jobs not in a terminal state, oldest first (resumed at start-up).
    fn list_active_jobs(&self) -> BoxFuture<'_, StoreResult<Vec<Job>>>;
    /// Number of jobs not in a terminal state on an instance (the 100-per-instance limit).
    fn count_active_jobs_on_instance(
        &self,
        instance: &InstanceKey,
    ) -> BoxFuture<'_, StoreResult<u64>>;
    /// Number of jobs not in a terminal state in a subscription (the 150 limit of `ga`).
    fn count_active_jobs_in_subscription(
        &self,
        subscription: &str,
    ) -> BoxFuture<'_, StoreResult<u64>>;
    /// Replace a job if its stored version equals `job.version`; stores `version + 1` and returns
    /// the new version. `Stale` otherwise; `NotFound` when there is no such job.
    ///
    /// `database_id`, `owner` and `lease_until` are not written: the first never changes and the
    /// lease belongs to [`Store::claim_job`] (a copy read before a renewal must not shorten it).
    fn update_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<i64>>;

    /// Take or renew the lease on a job for `node` until `lease_until` (real time): succeeds
    /// when the job is unowned, already owned by `node`, or its lease ended before `now`.
    /// Does not bump `version`. Returns whether `node` holds the job now; `NotFound` when there
    /// is no such job.
    fn claim_job(
        &self,
        id: Uuid,
        node: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<bool>>;

    /// Insert or replace a discovered file of a job (keyed by job and exact name). `NotFound`
    /// when the job does not exist.
    fn put_file(&self, job_id: Uuid, file: &FileRecord) -> BoxFuture<'_, StoreResult<()>>;
    /// Remove a file that disappeared from the folder; not an error when it is not there.
    fn delete_file(&self, job_id: Uuid, name: &str) -> BoxFuture<'_, StoreResult<()>>;
    /// All files of a job, ordered by name.
    fn list_files(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<FileRecord>>>;

    /// Record that a set's restore started (insert, or replace an unfinished record of the same
    /// set after a crash; the replacement moves to the end of the start order). `NotFound` when
    /// the job does not exist.
    fn restore_started(
        &self,
        job_id: Uuid,
        record: &RestoreRecord,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// Record that a set's restore finished: sets `finished_at` on the set's unfinished record.
    /// A set whose records are all finished stays as it is (a retry after a crash is not an
    /// error); `NotFound` when the job never started that set.
    fn restore_finished(
        &self,
        job_id: Uuid,
        backup_set_guid: &str,
        finished_at: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// The restore history of a job, in start order.
    fn list_restores(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<RestoreRecord>>>;

    /// Insert an operation.
    fn create_operation(&self, operation: &Operation) -> BoxFuture<'_, StoreResult<()>>;
    /// An operation by id.
    fn get_operation(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Operation>>>;
    /// Operations of a database still InProgress, oldest first.
    fn list_open_operations(&self, database_id: Uuid)
    -> BoxFuture<'_, StoreResult<Vec<Operation>>>;
    /// Operations on an instance (matched case-insensitively, whatever spelling each operation
    /// was started with), newest first: by `started_at` descending, then latest created first.
    /// Operations of dropped databases are included.
    fn list_instance_operations(
        &self,
        instance: &InstanceKey,
    ) -> BoxFuture<'_, StoreResult<Vec<Operation>>>;
    /// Finish an operation (status, error, finished_at); a finished operation stays as it was.
    /// `NotFound` when there is no such operation; `status` must not be `InProgress`.
    fn finish_operation(
        &self,
        id: Uuid,
        status: OperationStatus,
        error: Option<ErrorRecord>,
        finished_at: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<()>>;
}
