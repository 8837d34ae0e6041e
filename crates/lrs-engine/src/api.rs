//! What the engine offers the API layer: requests, views and errors, in domain terms (the ARM
//! crate maps them to the wire in one place).

use chrono::{DateTime, Utc};
use lrs_store::InstanceKey;
use serde::Serialize;

/// A start request (`PUT database` with `createMode: RestoreExternalBackup`), as parsed from the
/// body; the engine validates it the way the real service does.
#[derive(Clone, PartialEq, Eq)]
pub struct StartRestore {
    /// Instance of the new database.
    pub instance: InstanceKey,
    /// Database name.
    pub database: String,
    /// `location`.
    pub location: String,
    /// `properties.collation`.
    pub collation: Option<String>,
    /// `properties.storageContainerUri`.
    pub storage_uri: Option<String>,
    /// `properties.storageContainerSasToken` (a secret).
    pub sas_token: Option<String>,
    /// `properties.storageContainerIdentity` (`SharedAccessSignature` or `ManagedIdentity`).
    pub identity: Option<String>,
    /// `properties.autoCompleteRestore`.
    pub auto_complete: bool,
    /// `properties.lastBackupName`.
    pub last_backup_name: Option<String>,
}

impl std::fmt::Debug for StartRestore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartRestore")
            .field("instance", &self.instance)
            .field("database", &self.database)
            .field("location", &self.location)
            .field("collation", &self.collation)
            .field("storage_uri", &self.storage_uri)
            .field("sas_token", &self.sas_token.as_ref().map(|_| "<redacted>"))
            .field("identity", &self.identity)
            .field("auto_complete", &self.auto_complete)
            .field("last_backup_name", &self.last_backup_name)
            .finish()
    }
}

/// One backup set in restore details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSetDetails {
    /// `Queued`, `Restoring`, `Restored` or `Skipped`.
    pub status: String,
    /// File holding the set's first stripe.
    pub first_stripe_name: String,
    /// Stripes of the set.
    pub number_of_stripes: u32,
    /// Size in MB (rounded down).
    pub backup_size_mb: u64,
    /// When its restore started.
    pub restore_started: Option<DateTime<Utc>>,
    /// When its restore finished.
    pub restore_finished: Option<DateTime<Utc>>,
}

/// A file LRS cannot use, with the reason (the API shows only the name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnrestorableFile {
    /// Blob name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Everything `GET …/restoreDetails/Default` reports, in domain terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreDetails {
    /// `Initializing`, `Restoring`, `Completing`, `Completed`, `Failed`, `Stopped`, `Blocked`.
    pub status: String,
    /// Why the restore is blocked (a gap, a missing stripe), or the failure message.
    pub block_reason: Option<String>,
    /// Newest blob in the folder.
    pub last_uploaded_file_name: Option<String>,
    /// Its upload time.
    pub last_uploaded_file_time: Option<DateTime<Utc>>,
    /// Last file whose set finished restoring.
    pub last_restored_file_name: Option<String>,
    /// When it finished.
    pub last_restored_file_time: Option<DateTime<Utc>>,
    /// Percent of the planned bytes restored (0–100).
    pub percent_completed: f64,
    /// MB restored.
    pub current_restored_size_mb: u64,
    /// MB in the plan.
    pub current_restore_plan_size_mb: u64,
    /// `Full`, `Diff` or `Log` of the set being restored.
    pub current_backup_type: Option<String>,
    /// File being restored (or the last one, once done).
    pub current_restoring_file_name: Option<String>,
    /// Files seen in the folder.
    pub number_of_files_detected: u64,
    /// Files waiting in the plan.
    pub number_of_files_queued: u64,
    /// Files skipped.
    pub number_of_files_skipped: u64,
    /// Files being restored.
    pub number_of_files_restoring: u64,
    /// Files restored.
    pub number_of_files_restored: u64,
    /// Files that cannot be restored.
    pub number_of_files_unrestorable: u64,
    /// Full sets.
    pub full_backup_sets: Vec<BackupSetDetails>,
    /// Differential sets.
    pub diff_backup_sets: Vec<BackupSetDetails>,
    /// Log sets.
    pub log_backup_sets: Vec<BackupSetDetails>,
    /// Unusable files.
    pub unrestorable_files: Vec<UnrestorableFile>,
}

/// Why the engine refuses a request, in the domain's terms. The ARM layer alone turns each into
/// the real service's code and message (a 400); the engine holds no wire text for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The instance already has a database of this name.
    #[error("database {database:?} already exists")]
    NameInUse {
        /// The name asked for.
        database: String,
    },
    /// The instance holds the profile's maximum of databases.
    #[error("the instance holds its maximum of databases")]
    DatabaseLimit,
    /// No storage container URI.
    #[error("no storage container URI")]
    MissingUri,
    /// SAS authentication without a token.
    #[error("no SAS token")]
    MissingSas,
    /// A start request the engine cannot use; `reason` says why.
    #[error("invalid start request: {reason}")]
    InvalidStart {
        /// What is wrong, for the message.
        reason: String,
    },
    /// Autocomplete without `lastBackupName`.
    #[error("autocomplete without a last backup name")]
    AutocompleteMissingName,
    /// A SAS token or storage location LRS refuses before starting.
    #[error("storage refused: {reason}")]
    StorageRefused {
        /// Which rule it breaks.
        reason: String,
    },
    /// The instance runs its maximum of concurrent restores.
    #[error("{limit} concurrent restores on instance {instance}")]
    TooManyOnInstance {
        /// Instance name.
        instance: String,
        /// The limit.
        limit: u64,
    },
    /// The subscription runs its maximum of concurrent restores.
    #[error("{limit} concurrent restores in subscription {subscription}")]
    TooManyInSubscription {
        /// Subscription id.
        subscription: String,
        /// The limit.
        limit: u64,
    },
    /// Restore details of a database that is not an LRS migration.
    #[error("no restore details")]
    DetailsNotAvailable,
    /// A cutover without `lastBackupName`.
    #[error("cutover without a last backup name")]
    CompleteMissingName,
    /// A cutover naming a file that is not the last one restored.
    #[error("{given} is not the last restored file {last}")]
    NotLastRestored {
        /// The name given.
        given: String,
        /// The last restored file.
        last: String,
    },
    /// A cutover before anything was restored.
    #[error("nothing restored yet")]
    NotStarted,
    /// A second cutover.
    #[error("cutover already requested")]
    AlreadySignaled,
    /// A cutover of a database that is not restoring.
    #[error("the database is not restoring")]
    NotRestoring,
    /// An admin fault request that makes no sense; `detail` says why.
    #[error("invalid fault request: {detail}")]
    InvalidFault {
        /// What is wrong.
        detail: String,
    },
}

/// Why the engine could not serve a request; the ARM layer turns each into its envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The request is refused (the real service's 400s).
    #[error(transparent)]
    Refused(Refusal),
    /// No such managed instance (ARM gateway 404).
    #[error("managed instance {0:?} was not found")]
    InstanceNotFound(InstanceKey),
    /// No such database (ARM gateway 404).
    #[error("database {name} on {instance:?} was not found")]
    DatabaseNotFound {
        /// Its instance.
        instance: InstanceKey,
        /// Name asked for.
        name: String,
        /// A database of this name existed and was dropped: the resource provider answers
        /// (ARM routes to it for resources it has seen), not ARM's gateway.
        dropped: bool,
    },
    /// No such operation.
    #[error("operation {0} was not found")]
    OperationNotFound(uuid::Uuid),
    /// An injected fault refuses the request with a catalogue code (its status and message).
    #[error("{code}: {message}")]
    Injected {
        /// HTTP status.
        status: u16,
        /// ARM error code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// No operation with this id on this managed instance (unknown, or another instance's).
    #[error("operation {id} was not found on {instance:?}")]
    InstanceOperationNotFound {
        /// The instance asked about.
        instance: InstanceKey,
        /// The operation id asked for.
        id: uuid::Uuid,
    },
    /// The emulator itself failed (store, target); 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<Refusal> for EngineError {
    fn from(r: Refusal) -> Self {
        EngineError::Refused(r)
    }
}

impl From<lrs_store::StoreError> for EngineError {
    fn from(e: lrs_store::StoreError) -> Self {
        EngineError::Internal(e.to_string())
    }
}
