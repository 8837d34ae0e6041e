//! Constructors of the engine's refusals (typed; worded by the ARM layer) and of the records
//! of failed jobs (the real service's codes and messages, docs/references.md#errors, as the store
//! keeps them). Where the real service's text is not known, the message is ours and says so.

use lrs_store::ErrorRecord;

use crate::api::{EngineError, Refusal};

// Refusals: the domain's reasons; crates/lrs-arm/src/refusals.rs words them for the wire.

pub(crate) fn name_in_use(database: &str) -> EngineError {
    Refusal::NameInUse {
        database: database.to_string(),
    }
    .into()
}

pub(crate) fn database_limit() -> EngineError {
    Refusal::DatabaseLimit.into()
}

pub(crate) fn missing_uri() -> EngineError {
    Refusal::MissingUri.into()
}

pub(crate) fn missing_sas() -> EngineError {
    Refusal::MissingSas.into()
}

pub(crate) fn invalid_create(reason: &str) -> EngineError {
    Refusal::InvalidStart {
        reason: reason.to_string(),
    }
    .into()
}

pub(crate) fn autocomplete_missing_name() -> EngineError {
    Refusal::AutocompleteMissingName.into()
}

pub(crate) fn sas_refused(reason: &str) -> EngineError {
    Refusal::StorageRefused {
        reason: reason.to_string(),
    }
    .into()
}

pub(crate) fn too_many_on_instance(instance: &str, limit: u64) -> EngineError {
    Refusal::TooManyOnInstance {
        instance: instance.to_string(),
        limit,
    }
    .into()
}

pub(crate) fn too_many_in_subscription(subscription: &str, limit: u64) -> EngineError {
    Refusal::TooManyInSubscription {
        subscription: subscription.to_string(),
        limit,
    }
    .into()
}

pub(crate) fn details_not_available() -> EngineError {
    Refusal::DetailsNotAvailable.into()
}

pub(crate) fn complete_missing_name() -> EngineError {
    Refusal::CompleteMissingName.into()
}

pub(crate) fn not_last_restored(given: &str, last: &str) -> EngineError {
    Refusal::NotLastRestored {
        given: given.to_string(),
        last: last.to_string(),
    }
    .into()
}

pub(crate) fn already_signaled() -> EngineError {
    Refusal::AlreadySignaled.into()
}

pub(crate) fn not_restoring() -> EngineError {
    Refusal::NotRestoring.into()
}

// Job failures: recorded with the code and message the API shows, because the record is what
// the store keeps for every node and restart (docs/errors.md, "Where the wording lives").

/// Every job error goes through here, and from here to the store and the API: the one place
/// where a SAS signature quoted by a storage error is redacted.
fn record(code: &str, message: impl Into<String>) -> ErrorRecord {
    ErrorRecord {
        code: code.into(),
        message: lrs_source::sas::redact(&message.into()),
    }
}

/// The job's storage refused access (the text DMS/LRS printed for a 403).
pub(crate) fn storage_denied(detail: &str) -> ErrorRecord {
    record(
        "BlobStorageFailure",
        format!(
            "Unable to read blobs in storage container, exception: The remote server returned \
             an error: (403) Forbidden.; {detail}"
        ),
    )
}

/// The job's container or folder does not exist.
pub(crate) fn storage_not_found(detail: &str) -> ErrorRecord {
    record(
        "BlobStorageFailure",
        format!("Blob storage failure has occurred. {detail}"),
    )
}

/// `ManagedIdentityIssueDetectedFromTheStart` (spec message): the identity has no access.
pub(crate) fn managed_identity_issue(detail: &str) -> ErrorRecord {
    let _ = detail;
    record(
        "ManagedIdentityIssueDetectedFromTheStart",
        "Managed identity is not set up properly. Please verify and try again.",
    )
}

/// `FullBackupMissingChecksum` (spec message), under the 2021 profile.
pub(crate) fn full_missing_checksum(file: &str) -> ErrorRecord {
    record(
        "FullBackupMissingChecksum",
        format!("Provided full backup is missing checksum. File: '{file}'."),
    )
}

/// `StorageBrokenIssueDetectedAtTheStart` (spec message): the folder could not be listed when
/// the job started.
pub(crate) fn storage_broken_at_start() -> ErrorRecord {
    record(
        "StorageBrokenIssueDetectedAtTheStart",
        "Storage connection is broken. Please verify and try again.",
    )
}

/// `StorageBrokenIssueDetectedWhileInProgress` (spec message): shown while the job retries.
pub(crate) fn storage_broken_in_progress() -> ErrorRecord {
    record(
        "StorageBrokenIssueDetectedWhileInProgress",
        "Storage connection is broken. Retrying automatically...",
    )
}

/// `StorageBrokenIssueDetectedTerminateRetries` (spec message): the outage outlasted the limit.
pub(crate) fn storage_broken_terminate() -> ErrorRecord {
    record(
        "StorageBrokenIssueDetectedTerminateRetries",
        "Storage connection is still broken. Please verify and try again.",
    )
}

/// `BackupsFromMultipleDatabasesDetectedInTheContainerFromTheStart` (nothing restored yet) or
/// `...WhileRestoreInProgress` (a foreign backup arrived after restores began), spec message;
/// its `{0}` names the databases found.
pub(crate) fn multiple_databases(databases: &[String], restoring: bool) -> ErrorRecord {
    let code = if restoring {
        "BackupsFromMultipleDatabasesDetectedInTheContainerWhileRestoreInProgress"
    } else {
        "BackupsFromMultipleDatabasesDetectedInTheContainerFromTheStart"
    };
    let names = databases
        .iter()
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ");
    record(
        code,
        format!(
            "There are backups from multiple databases in the container folder. Please make \
             sure the container folder has backups from a single database. Databases found: \
             {names}."
        ),
    )
}

/// `IncompatiblePhysicalLayout...` (spec messages): the full backup's FILELISTONLY shows a
/// database Managed Instance cannot hold.
pub(crate) fn incompatible_layout(
    problem: crate::layout::LayoutProblem,
    file: &str,
) -> ErrorRecord {
    use crate::layout::LayoutProblem as P;
    let (code, detail) = match problem {
        P::NoDataFiles => (
            "IncompatiblePhysicalLayoutTooFewDataFiles",
            "No data files are found in the backup.",
        ),
        P::SeveralLogFiles => (
            "IncompatiblePhysicalLayoutWrongNumberOfLogFiles",
            "Multiple log files are not supported.",
        ),
    };
    record(
        code,
        format!("Database backup contains incompatible physical layout. {detail} File: '{file}'."),
    )
}

/// `SqlRestoreError`: the RESTORE failed; carries SQL Server's number and text.
pub(crate) fn sql_restore_error(index: usize, number: u32, message: &str) -> ErrorRecord {
    record(
        "SqlRestoreError",
        format!(
            "Non retriable error occurred while restoring backup with index {index} - {number} \
             {message}"
        ),
    )
}

/// RESTORE found the backup damaged (spec messages): a corrupt page is
/// `CorruptedPagesInBackupSet`; a damaged structure or backup checksum is `FullBackupDamaged`
/// for a full backup and `BackupSetBroken` otherwise. Which code the real service picks for a
/// damaged differential or log is not documented: ours, reasoned in docs/engine.md. SQL
/// Server's number and text follow the spec message, naming the file, page and offset.
pub(crate) fn damaged_backup(
    damage: lrs_target::Damage,
    full: bool,
    file: &str,
    number: u32,
    message: &str,
) -> ErrorRecord {
    let (code, text) = match damage {
        lrs_target::Damage::CorruptPage => (
            "CorruptedPagesInBackupSet",
            "Operation was aborted because RESTORE detected one or more corrupted pages in the \
             backup set.",
        ),
        lrs_target::Damage::DamagedSet if full => {
            ("FullBackupDamaged", "Provided full backup is damaged.")
        }
        lrs_target::Damage::DamagedSet => ("BackupSetBroken", "Backup set is broken."),
    };
    record(
        code,
        format!("{text} File: '{file}'. Msg {number}: {message}"),
    )
}

/// Autocomplete found backups newer than `lastBackupName` ("If the system detects more
/// backup files beyond the last specified backup file, the migration will fail."). The code is
/// ours.
pub(crate) fn files_after_last(last: &str, after: &[String]) -> ErrorRecord {
    record(
        "BackupFilesBeyondLastBackupName",
        format!(
            "Backup files were found beyond the last backup file '{last}' specified for \
             autocomplete: {}.",
            after.join(", ")
        ),
    )
}

/// The 2021 preview's patch window ended and the next system update stopped the job.
pub(crate) fn patch_window_expired(hours: i64) -> ErrorRecord {
    record(
        "LogReplayStoppedBySystemUpdate",
        format!(
            "Log Replay Service was stopped by a system-managed software update: updates are held \
             off for {hours} hours after LRS starts, and this window has passed. The migration \
             cannot be resumed; restart it from scratch."
        ),
    )
}

/// The GA job lifetime ended ("automatically canceled").
pub(crate) fn lifetime_expired(days: i64) -> ErrorRecord {
    record(
        "LogReplayJobExpired",
        format!(
            "The Log Replay Service job was canceled automatically: a job can run for at most \
             {days} days."
        ),
    )
}

/// A failover while the first full backup was being restored aborts the migration.
pub(crate) fn failover_during_full() -> ErrorRecord {
    record(
        "LogReplayAbortedByFailover",
        "A failover happened while the first full backup was being restored; the migration was \
         aborted and the database dropped. Restart the migration.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_errors_never_carry_a_sas_signature() {
        let error = storage_denied(
            "GET https://acct.blob.core.windows.net/c?sv=2020-12-06&sp=rl&sig=SECRETSIG%3D failed",
        );
        assert_eq!(error.code, "BlobStorageFailure");
        assert!(!error.message.contains("SECRETSIG"), "{}", error.message);
        assert!(error.message.contains("sig=REDACTED"), "{}", error.message);
    }
}
