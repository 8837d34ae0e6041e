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

/// Why the engine refused a request; the ARM layer turns each into its envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The real service answers 400 with this code and message.
    #[error("{code}: {message}")]
    BadRequest {
        /// ARM error code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// The real service answers 409 with this code and message.
    #[error("{code}: {message}")]
    Conflict {
        /// ARM error code.
        code: &'static str,
        /// Message.
        message: String,
    },
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

impl EngineError {
    /// A 400 with the given code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        EngineError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl From<lrs_store::StoreError> for EngineError {
    fn from(e: lrs_store::StoreError) -> Self {
        EngineError::Internal(e.to_string())
    }
}
