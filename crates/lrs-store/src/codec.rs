//! What both backends share: the text spelling of enums, the lower-cased keys, the shape of a
//! decoded row, and how sqlx errors become [`StoreError`]s.
//!
//! Each backend reads its rows through [`Columns`], so the record decoders below are written once
//! and the backends differ only in their SQL and in how a timestamp or a UUID is stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    Database, DatabaseStatus, ErrorRecord, FileRecord, Instance, InstanceKey, Job, JobMode,
    JobState, Operation, OperationKind, OperationStatus, RestoreRecord, StorageAuth, StoreError,
    StoreResult,
};

/// The lower-cased form ARM compares names by.
pub(crate) fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// The three lower-cased parts of an instance key.
pub(crate) struct FoldedKey {
    pub(crate) subscription: String,
    pub(crate) resource_group: String,
    pub(crate) instance: String,
}

impl FoldedKey {
    pub(crate) fn of(key: &InstanceKey) -> Self {
        FoldedKey {
            subscription: fold(&key.subscription),
            resource_group: fold(&key.resource_group),
            instance: fold(&key.instance),
        }
    }
}

/// Column access over one backend's row type; `table` and `column` name the value in errors.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn uuid(&self, column: &str) -> StoreResult<Uuid>;
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
}

/// A backend error decoding `column`.
pub(crate) fn decode_error(column: &str, error: &sqlx::Error) -> StoreError {
    StoreError::Backend(format!("reading column {column}: {error}"))
}

/// A stored value that the code does not know (a newer schema, or a hand-edited row).
fn unknown(column: &str, value: &str) -> StoreError {
    StoreError::Backend(format!(
        "column {column} holds '{value}', which is not a known value"
    ))
}

/// Microseconds since the Unix epoch (how SQLite stores timestamps).
pub(crate) fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The timestamp `micros` microseconds after the Unix epoch.
pub(crate) fn from_micros(column: &str, micros: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        StoreError::Backend(format!(
            "column {column} holds {micros} microseconds, outside the representable time range"
        ))
    })
}

/// A UUID stored as text.
pub(crate) fn parse_uuid(column: &str, text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| {
        StoreError::Backend(format!("column {column} holds '{text}', not a UUID: {e}"))
    })
}

/// A file size as a signed 64-bit column.
pub(crate) fn size_to_i64(size: u64) -> StoreResult<i64> {
    i64::try_from(size).map_err(|_| {
        StoreError::Backend(format!(
            "file size {size} does not fit the store's signed 64-bit column"
        ))
    })
}

pub(crate) fn database_status(column: &str, text: &str) -> StoreResult<DatabaseStatus> {
    Ok(match text {
        "Restoring" => DatabaseStatus::Restoring,
        "Online" => DatabaseStatus::Online,
        "Stopping" => DatabaseStatus::Stopping,
        "Inaccessible" => DatabaseStatus::Inaccessible,
        other => return Err(unknown(column, other)),
    })
}

pub(crate) fn job_state(column: &str, text: &str) -> StoreResult<JobState> {
    Ok(match text {
        "Initializing" => JobState::Initializing,
        "Restoring" => JobState::Restoring,
        "Completing" => JobState::Completing,
        "Completed" => JobState::Completed,
        "Failed" => JobState::Failed,
        "Stopped" => JobState::Stopped,
        other => return Err(unknown(column, other)),
    })
}

pub(crate) fn operation_kind(column: &str, text: &str) -> StoreResult<OperationKind> {
    Ok(match text {
        "StartRestore" => OperationKind::StartRestore,
        "CompleteRestore" => OperationKind::CompleteRestore,
        "DropDatabase" => OperationKind::DropDatabase,
        "CreateDatabase" => OperationKind::CreateDatabase,
        other => return Err(unknown(column, other)),
    })
}

pub(crate) fn operation_status(column: &str, text: &str) -> StoreResult<OperationStatus> {
    Ok(match text {
        "InProgress" => OperationStatus::InProgress,
        "Succeeded" => OperationStatus::Succeeded,
        "Failed" => OperationStatus::Failed,
        "Canceled" => OperationStatus::Canceled,
        other => return Err(unknown(column, other)),
    })
}

/// The states that count as active (not terminal), for `state IN (...)` filters.
pub(crate) const ACTIVE_STATES: [JobState; 3] = [
    JobState::Initializing,
    JobState::Restoring,
    JobState::Completing,
];

/// `mode` and `last_backup_name` columns of a job.
pub(crate) fn mode_columns(mode: &JobMode) -> (&'static str, Option<&str>) {
    match mode {
        JobMode::Autocomplete { last_backup_name } => {
            ("Autocomplete", Some(last_backup_name.as_str()))
        }
        JobMode::Continuous => ("Continuous", None),
    }
}

/// `auth` and `sas_token` columns of a job.
pub(crate) fn auth_columns(auth: &StorageAuth) -> (&'static str, Option<&str>) {
    match auth {
        StorageAuth::Sas(token) => (auth.kind_str(), Some(token.as_str())),
        StorageAuth::ManagedIdentity | StorageAuth::None => (auth.kind_str(), None),
    }
}

/// `error_code` and `error_message` columns.
pub(crate) fn error_columns(error: Option<&ErrorRecord>) -> (Option<&str>, Option<&str>) {
    match error {
        Some(e) => (Some(e.code.as_str()), Some(e.message.as_str())),
        None => (None, None),
    }
}

fn error_record(row: &impl Columns) -> StoreResult<Option<ErrorRecord>> {
    match (row.opt_text("error_code")?, row.opt_text("error_message")?) {
        (Some(code), message) => Ok(Some(ErrorRecord {
            code,
            message: message.unwrap_or_default(),
        })),
        (None, _) => Ok(None),
    }
}

/// Columns: subscription, resource_group, name, location, resource_json, created_at.
pub(crate) fn instance(row: &impl Columns) -> StoreResult<Instance> {
    Ok(Instance {
        key: InstanceKey {
            subscription: row.text("subscription")?,
            resource_group: row.text("resource_group")?,
            instance: row.text("name")?,
        },
        location: row.text("location")?,
        resource_json: row.text("resource_json")?,
        created_at: row.time("created_at")?,
    })
}

/// Columns of `databases`.
pub(crate) fn database(row: &impl Columns) -> StoreResult<Database> {
    Ok(Database {
        id: row.uuid("id")?,
        instance: InstanceKey {
            subscription: row.text("subscription")?,
            resource_group: row.text("resource_group")?,
            instance: row.text("instance_name")?,
        },
        name: row.text("name")?,
        location: row.text("location")?,
        collation: row.text("collation_name")?,
        status: database_status("databases.status", &row.text("status")?)?,
        created_by_lrs: row.flag("created_by_lrs")?,
        created_at: row.time("created_at")?,
    })
}

/// Columns of `jobs`.
pub(crate) fn job(row: &impl Columns) -> StoreResult<Job> {
    let id = row.uuid("id")?;
    let mode = match row.text("mode")?.as_str() {
        "Autocomplete" => JobMode::Autocomplete {
            last_backup_name: row.opt_text("last_backup_name")?.ok_or_else(|| {
                StoreError::Backend(format!(
                    "job {id} is in Autocomplete mode but jobs.last_backup_name is NULL"
                ))
            })?,
        },
        "Continuous" => JobMode::Continuous,
        other => return Err(unknown("jobs.mode", other)),
    };
    let auth = match row.text("auth")?.as_str() {
        "Sas" => StorageAuth::Sas(row.opt_text("sas_token")?.ok_or_else(|| {
            StoreError::Backend(format!(
                "job {id} authenticates with a SAS token but jobs.sas_token is NULL"
            ))
        })?),
        "ManagedIdentity" => StorageAuth::ManagedIdentity,
        "None" => StorageAuth::None,
        other => return Err(unknown("jobs.auth", other)),
    };
    Ok(Job {
        id,
        database_id: row.uuid("database_id")?,
        state: job_state("jobs.state", &row.text("state")?)?,
        mode,
        storage_uri: row.text("storage_uri")?,
        auth,
        profile: row.text("profile")?,
        started_at: row.time("started_at")?,
        deadline_at: row.time("deadline_at")?,
        complete_requested: row.opt_text("complete_requested")?,
        error: error_record(row)?,
        finished_at: row.opt_time("finished_at")?,
        version: row.int("version")?,
        owner: row.opt_text("owner")?,
        lease_until: row.opt_time("lease_until")?,
    })
}

/// Columns of `files`.
pub(crate) fn file(row: &impl Columns) -> StoreResult<FileRecord> {
    let size = row.int("size")?;
    Ok(FileRecord {
        size: u64::try_from(size).map_err(|_| {
            StoreError::Backend(format!("column files.size holds {size}, a negative size"))
        })?,
        name: row.text("name")?,
        etag: row.opt_text("etag")?,
        last_modified: row.time("last_modified")?,
        discovered_at: row.time("discovered_at")?,
        header_json: row.opt_text("header_json")?,
        error: row.opt_text("error")?,
    })
}

/// Columns of `restores`.
pub(crate) fn restore(row: &impl Columns) -> StoreResult<RestoreRecord> {
    Ok(RestoreRecord {
        backup_set_guid: row.text("backup_set_guid")?,
        kind: row.text("kind")?,
        first_stripe_name: row.text("first_stripe_name")?,
        started_at: row.time("started_at")?,
        finished_at: row.opt_time("finished_at")?,
    })
}

/// Columns of `operations`.
pub(crate) fn operation(row: &impl Columns) -> StoreResult<Operation> {
    Ok(Operation {
        id: row.uuid("id")?,
        kind: operation_kind("operations.kind", &row.text("kind")?)?,
        database_id: row.uuid("database_id")?,
        instance: InstanceKey {
            subscription: row.text("subscription")?,
            resource_group: row.text("resource_group")?,
            instance: row.text("instance_name")?,
        },
        database_name: row.text("database_name")?,
        status: operation_status("operations.status", &row.text("status")?)?,
        error: error_record(row)?,
        started_at: row.time("started_at")?,
        finished_at: row.opt_time("finished_at")?,
    })
}

/// A sqlx failure of `action` as a backend error. The message never holds bound values (SQL
/// parameters are not echoed by either driver), so a SAS token cannot leak through it.
pub(crate) fn backend(action: &str, error: sqlx::Error) -> StoreError {
    StoreError::Backend(format!("{action}: {error}"))
}

/// Whether `error` is a unique-key violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Whether `error` is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

/// The error for finishing an operation with a status that does not finish it.
pub(crate) fn not_final(id: Uuid) -> StoreError {
    StoreError::Backend(format!(
        "finish_operation {id}: InProgress is not a final status"
    ))
}

/// How a database is named in errors.
pub(crate) fn database_label(instance: &InstanceKey, name: &str) -> String {
    format!(
        "database '{name}' on managed instance '{}' (resource group '{}', subscription '{}')",
        instance.instance, instance.resource_group, instance.subscription
    )
}
