//! Every error code a Log Replay Service migration can meet, as data: the real service's
//! catalogue (`Microsoft.Sql` 2025-08-01-preview `ManagedDatabases.json` and
//! `ManagedDatabaseRestoreDetails.json`, docs/references.md#errors) plus the few codes that are
//! the emulator's own. `docs/errors.md` is generated from it ([`markdown_table`]; a test keeps
//! the two equal), and fault injection accepts exactly these codes.

use std::fmt::Write as _;

/// Where the client sees an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A synchronous refusal of the start request (`PUT …/databases/{db}`).
    Start,
    /// The migration fails after it started: the start operation ends `Failed` with the error,
    /// and restore details show status `Failed` with the message as `blockReason`.
    Job,
    /// A synchronous refusal of `POST …/completeRestore`.
    Complete,
    /// A refusal of `GET …/restoreDetails/Default`.
    Details,
}

impl Surface {
    /// How docs/errors.md names it.
    fn describe(self) -> &'static str {
        match self {
            Surface::Start => "start request (PUT database)",
            Surface::Job => "start operation `Failed`, restore details",
            Surface::Complete => "completeRestore request",
            Surface::Details => "GET restoreDetails",
        }
    }
}

/// What the emulator does with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulation {
    /// Raised from local inputs; says how to provoke it.
    Raised(&'static str),
    /// Nothing local causes it (the platform's own state): only fault injection shows it.
    Injected,
}

/// One code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// ARM error code.
    pub code: &'static str,
    /// HTTP status of a synchronous refusal (failures inside an operation carry no status).
    pub status: u16,
    /// The message: the spec's, or ours for our own codes. Messages the emulator raises may
    /// add a detail after it (file, page, LSN), never change it.
    pub message: &'static str,
    /// Where it shows.
    pub surface: Surface,
    /// When the real service raises it: evidence, or our reasoned choice marked "ours".
    pub when: &'static str,
    /// What the emulator does.
    pub emulation: Emulation,
    /// Whether the code is the emulator's own (the spec has none for the situation).
    pub ours: bool,
}

const fn spec(
    code: &'static str,
    status: u16,
    message: &'static str,
    surface: Surface,
    when: &'static str,
    emulation: Emulation,
) -> Entry {
    Entry {
        code,
        status,
        message,
        surface,
        when,
        emulation,
        ours: false,
    }
}

const fn ours(
    code: &'static str,
    status: u16,
    message: &'static str,
    surface: Surface,
    when: &'static str,
    provoke: &'static str,
) -> Entry {
    Entry {
        code,
        status,
        message,
        surface,
        when,
        emulation: Emulation::Raised(provoke),
        ours: true,
    }
}

use Emulation::{Injected, Raised};
use Surface::{Complete, Details, Job, Start};

const LAYOUT: &str = "the full backup's FILELISTONLY, before it is restored (spec)";

/// The catalogue, grouped by where the codes show.
pub const CATALOGUE: &[Entry] = &[
    // The start request.
    spec(
        "ManagedDatabaseNameInUse",
        400,
        "Database '{0}' already exists. Choose a different database name.",
        Start,
        "the database name is taken on the instance (spec)",
        Raised("start twice with one name"),
    ),
    spec(
        "MissingStorageContainerUri",
        400,
        "Missing storage container URI",
        Start,
        "no `storageContainerUri` (spec)",
        Raised("start without a storage URI (SDK)"),
    ),
    spec(
        "MissingStorageContainerSasToken",
        400,
        "Missing storage container SAS token",
        Start,
        "SAS authentication without a token (spec)",
        Raised("start with `storageContainerIdentity: SharedAccessSignature` and no token"),
    ),
    spec(
        "InvalidDatabaseCreateOrUpdateRequest",
        400,
        "The request body for the create or update database operation is invalid.",
        Start,
        "a body the operation cannot use (spec)",
        Raised("a `storageContainerUri` that is not a URL; a non-boolean `autoCompleteRestore`"),
    ),
    spec(
        "AutoCompleteMissingLastBackupName",
        400,
        "Auto complete restore request must have lastBackupName parameter provided.",
        Start,
        "autocomplete without `lastBackupName` (spec)",
        Raised("SDK start with `autoCompleteRestore: true` and no name"),
    ),
    spec(
        "LastBackupNameHasNewline",
        400,
        "Please do not use forbidden characters ('\\n', '\\r') in lastBackupName.",
        Start,
        "`lastBackupName` holds CR or LF (spec)",
        Raised("`--last-bn` with a newline"),
    ),
    spec(
        "LastBackupNameHasNonAsciiCharacter",
        400,
        "The operation was aborted because the 'LastBackupName' parameter contains invalid characters. Only ASCII characters are allowed.",
        Start,
        "`lastBackupName` holds non-ASCII characters (spec)",
        Raised("`--last-bn` with a non-ASCII letter"),
    ),
    spec(
        "DatabaseNumberLimitReached",
        400,
        "Maximum number of databases for SQL Database Managed Instance reached.",
        Start,
        "the instance holds its maximum of databases (spec; 100 on General Purpose), LRS or not",
        Raised("start or create a 101st database on one instance (`--profile ga`)"),
    ),
    spec(
        "InvalidCollation",
        400,
        "Collation is not recognized by the server.",
        Start,
        "`collation` is not one SQL Server knows (spec; the emulator does not hold SQL Server's list of some 5,500 names, so it does not refuse names itself)",
        Injected,
    ),
    spec(
        "CannotUseReservedDatabaseName",
        400,
        "Cannot use reserved database name in this operation.",
        Start,
        "`master`, `model`, `msdb`, `tempdb` or `resource` (spec; an ARM input rule)",
        Raised("start or create a database named `msdb`"),
    ),
    spec(
        "BlobStorageFailure",
        400,
        "Blob storage failure has occurred.",
        Start,
        "a SAS token LRS refuses before starting: write permission, expired, stored access policy (docs: \"LRS won't start\"); a running migration fails with it when its folder denies access or is gone",
        Raised("a SAS with write permission; delete the container while a migration runs"),
    ),
    ours(
        "TooManyConcurrentRestores",
        400,
        "Log Replay Service supports up to {0} simultaneous restore processes per managed instance.",
        Start,
        "ours: the docs give the limits (100 per instance; 150 per subscription under GA) but no code. Profile `lrs-2021` enforces the documented 100 concurrent restores per instance; `ga` enforces the instance's 100 databases (`DatabaseNumberLimitReached`) first, so only its subscription limit remains",
        "the 101st concurrent restore on an instance (`lrs-2021`); the 151st in a subscription (`ga`)",
    ),
    spec(
        "ManagedInstanceStoppingOrStopped",
        400,
        "Conflicting operation submitted while instance is in stopping/stopped state",
        Start,
        "the instance is stopped (spec)",
        Injected,
    ),
    spec(
        "ManagedInstanceStarting",
        400,
        "Conflicting operation submitted while instance is in starting state",
        Start,
        "the instance is starting (spec)",
        Injected,
    ),
    spec(
        "TargetServerDoesNotExist",
        400,
        "The target server {0} does not exist or is not ready yet. Please check that it exists and retry the restore request.",
        Start,
        "the instance is not ready (spec)",
        Injected,
    ),
    spec(
        "TargetServerRestoreNotAllowed",
        400,
        "The target server {0} is currently not in a state that allows a restore to be started.",
        Start,
        "the instance's state forbids restores (spec)",
        Injected,
    ),
    // The job.
    spec(
        "BlobStorageServerFailure",
        400,
        "Blob storage server failure has occurred.",
        Job,
        "the storage service fails (spec)",
        Injected,
    ),
    spec(
        "ManagedIdentityIssueDetectedFromTheStart",
        400,
        "Managed identity is not set up properly. Please verify and try again.",
        Job,
        "the instance's identity cannot read the folder when the job starts (spec)",
        Raised("`--si ManagedIdentity` under the 2021 profile, or an identity without a key"),
    ),
    spec(
        "ManagedIdentityIssueDetectedWhileRestoreInProgress",
        400,
        "Managed identity is not set up properly. Please verify and try again.",
        Job,
        "the identity loses access mid-migration (spec)",
        Injected,
    ),
    spec(
        "StorageBrokenIssueDetectedAtTheStart",
        400,
        "Storage connection is broken. Please verify and try again.",
        Job,
        "the folder cannot be listed when the job starts (spec)",
        Raised("start against a storage endpoint that is down"),
    ),
    spec(
        "StorageBrokenIssueDetectedWhileInProgress",
        400,
        "Storage connection is broken. Retrying automatically...",
        Job,
        "the storage drops mid-migration; the job retries (spec; shown while retrying, the job does not fail)",
        Raised("stop Azurite while a migration runs"),
    ),
    spec(
        "StorageBrokenIssueDetectedTerminateRetries",
        400,
        "Storage connection is still broken. Please verify and try again.",
        Job,
        "the outage outlasts the retries (spec; our limit: `--storage-outage-limit`)",
        Raised("keep Azurite down past the outage limit"),
    ),
    spec(
        "FullBackupMissingChecksum",
        400,
        "Provided full backup is missing checksum.",
        Job,
        "a full backup taken without CHECKSUM (spec; 2021 docs require CHECKSUM, later docs do not)",
        Raised("`lrs forge chain --no-checksum`, profile `lrs-2021`"),
    ),
    spec(
        "CorruptedPagesListMaintenance",
        400,
        "Operation was aborted because an internal error occurred while processing the backup taken without checksum.",
        Job,
        "an internal failure on a backup without CHECKSUM (spec)",
        Injected,
    ),
    spec(
        "BackupSetNotFound",
        400,
        "No backups were found to restore the database. Please contact support to restore the database.",
        Job,
        "nothing to restore (spec; when exactly is not documented)",
        Injected,
    ),
    spec(
        "FullBackupNotFound",
        400,
        "Full backup can not be found.",
        Job,
        "no full backup (spec; when exactly is not documented: the emulator waits for one, as the docs say LRS waits for files)",
        Injected,
    ),
    spec(
        "BrokenRestorePlanNoFullBackup",
        400,
        "The restore plan is broken because there is no full backup.",
        Job,
        "the chain cannot start (spec; the emulator shows the wait in `blockReason` and `unrestorableFiles` instead, as docs/references.md#failure-modes advises)",
        Injected,
    ),
    spec(
        "BrokenRestorePlanWrongLogBackupLSN",
        400,
        "The restore plan is broken because firstLsn of current log backup is not <= lastLsn of next log backup.",
        Job,
        "log LSNs out of order (spec; the emulator reports 4305/4326 in `blockReason`)",
        Injected,
    ),
    spec(
        "BrokenRestorePlanWrongDiffBackupLSN",
        400,
        "The restore plan is broken because firstLsn of diff backup is not >= firstLsn of full backup.",
        Job,
        "a differential older than its full (spec)",
        Injected,
    ),
    spec(
        "BrokenRestorePlanGapInLogBackups",
        400,
        "The restore plan is broken because firstLsn of current log backup is not equal to lastLsn of prev log backup.",
        Job,
        "a log backup is missing (spec; the emulator waits for it, `blockReason` quotes 4305)",
        Injected,
    ),
    spec(
        "BrokenRestorePlanWrongDiffBaseGUID",
        400,
        "The restore plan is broken because DifferentialBaseGuid of diff backup does not match BackupSetGuid of full backup.",
        Job,
        "a differential of another full (spec; the emulator lists it in `unrestorableFiles`)",
        Injected,
    ),
    spec(
        "FullBackupDamaged",
        400,
        "Provided full backup is damaged.",
        Job,
        "RESTORE finds a full backup's structure or backup checksum damaged (spec)",
        Raised("flip a byte in a full backup's MTF block"),
    ),
    spec(
        "BackupSetBroken",
        400,
        "Backup set is broken.",
        Job,
        "a differential or log set is damaged (spec; which code a damaged diff/log gets is ours, docs/engine.md)",
        Raised("flip a byte in a log backup's MTF block"),
    ),
    spec(
        "CorruptedPagesInBackupSet",
        400,
        "Operation was aborted because RESTORE detected one or more corrupted pages in the backup set.",
        Job,
        "a page checksum fails (spec; SQL Server 3183)",
        Raised("flip a byte inside a data page of a CHECKSUM backup"),
    ),
    spec(
        "MissingStripeInBackupSet",
        400,
        "Provided backup set has one or more missing stripes.",
        Job,
        "a striped set lacks stripes (spec; the emulator waits for them, as it does for any file)",
        Injected,
    ),
    spec(
        "RestoreFromStripedBackupsNotEnabled",
        400,
        "Restoring from striped backups is not supported.",
        Job,
        "striped backups on a service that lacks them (spec; the emulator restores stripes)",
        Injected,
    ),
    spec(
        "SqlRestoreError",
        400,
        "Non retriable error occurred while restoring backup with index {0} - {1} {2}",
        Job,
        "RESTORE fails with a SQL Server error (spec; the newest spec drops the placeholders)",
        Raised("a full backup written WITH MEDIAPASSWORD (SQL Server 3279)"),
    ),
    spec(
        "BackupsFromMultipleDatabasesDetectedInTheContainerFromTheStart",
        400,
        "There are backups from multiple databases in the container folder. Please make sure the container folder has backups from a single database.{0}",
        Job,
        "two databases' backups in the folder before any restore (spec)",
        Raised("forge two chains with different seeds into one folder"),
    ),
    spec(
        "BackupsFromMultipleDatabasesDetectedInTheContainerWhileRestoreInProgress",
        400,
        "There are backups from multiple databases in the container folder. Please make sure the container folder has backups from a single database.{0}",
        Job,
        "another database's backup arrives mid-migration (spec)",
        Raised("upload another database's backup after the full is restored"),
    ),
    spec(
        "ManagedInstanceStorageLimitHit",
        400,
        "The managed instance has reached its storage limit.",
        Job,
        "the instance's storage is full (spec)",
        Injected,
    ),
    spec(
        "NoMoreSpaceInManagedInstance",
        400,
        "The managed instance has reached its storage limit. The storage usage for the managed instance can't exceed (%d) MBs.",
        Job,
        "the instance's storage is full (spec)",
        Injected,
    ),
    spec(
        "IncompatiblePhysicalLayoutTooFewDataFiles",
        400,
        "Database backup contains incompatible physical layout. No data files are found in the backup.",
        Job,
        LAYOUT,
        Raised("a full backup whose file list has no data file"),
    ),
    spec(
        "IncompatiblePhysicalLayoutWrongNumberOfLogFiles",
        400,
        "Database backup contains incompatible physical layout. Multiple log files are not supported.",
        Job,
        LAYOUT,
        Raised("`lrs forge chain --log-files 2`"),
    ),
    spec(
        "IncompatiblePhysicalLayoutNonOnlineDataFilesExist",
        400,
        "Database backup contains incompatible physical layout. Non-online data files exist.",
        Job,
        LAYOUT,
        Injected,
    ),
    spec(
        "IncompatiblePhysicalLayoutNonOnlineLogFilesExist",
        400,
        "Database backup contains incompatible physical layout. Non-online log files exist.",
        Job,
        LAYOUT,
        Injected,
    ),
    spec(
        "IncompatiblePhysicalLayoutTooManyNonDataLogFiles",
        400,
        "Database backup contains incompatible physical layout. Too many non-data/log files.",
        Job,
        LAYOUT,
        Injected,
    ),
    spec(
        "IncompatiblePhysicalLayoutTooManyXTPFiles",
        400,
        "Database backup contains incompatible physical layout. Multiple files found in the filegroup that contains MEMORY_OPTIMIZED_DATA.",
        Job,
        LAYOUT,
        Injected,
    ),
    spec(
        "XtpInitializedDuringRestore",
        400,
        "Memory-optimized filegroup must be empty in order to be restored on General Purpose tier of SQL Database Managed Instance.",
        Job,
        "a memory-optimized filegroup on General Purpose (spec; SQL Server 41915)",
        Injected,
    ),
    spec(
        "PartiallyContainedDatabaseUnsupported",
        400,
        "Backup for a partially contained database is not supported.",
        Job,
        "the backup's database is partially contained (spec; the header reader does not locate containment)",
        Injected,
    ),
    spec(
        "MissingThumbprint",
        400,
        "Can not find server certificate.",
        Job,
        "a TDE-protected backup whose certificate was not uploaded (spec; the header reader does not see TDE)",
        Injected,
    ),
    spec(
        "TimeoutDuringRestore",
        400,
        "A timeout was encountered while trying to connect to the restore target.",
        Job,
        "the restore target does not answer (spec)",
        Injected,
    ),
    ours(
        "BackupFilesBeyondLastBackupName",
        400,
        "Backup files were found beyond the last backup file '{0}' specified for autocomplete: {1}.",
        Job,
        "ours: the docs (2025) say \"If the system detects more backup files beyond the last specified backup file, the migration will fail.\" but give no code; the 2020 service restored such files instead (recordings, docs/fidelity.md), so only `--profile ga` raises it",
        "`--profile ga`, autocomplete with `--last-bn` naming a log that is not the newest",
    ),
    ours(
        "LogReplayStoppedBySystemUpdate",
        400,
        "Log Replay Service was stopped by a system-managed software update: updates are held off for {0} hours after LRS starts, and this window has passed. The migration cannot be resumed; restart it from scratch.",
        Job,
        "ours: the 2021 docs stop LRS at the first update after 47 hours, with no code",
        "`POST /admin/system-patch` after the window (scaled clock)",
    ),
    ours(
        "LogReplayJobExpired",
        400,
        "The Log Replay Service job was canceled automatically: a job can run for at most {0} days.",
        Job,
        "ours: GA jobs are \"automatically canceled\" after 30 days, with no code",
        "a GA job past 30 days (scaled clock)",
    ),
    ours(
        "LogReplayAbortedByFailover",
        400,
        "A failover happened while the first full backup was being restored; the migration was aborted and the database dropped. Restart the migration.",
        Job,
        "ours: the docs drop the database on a failover during the full restore, with no code",
        "`POST /admin/failover` while the full restores",
    ),
    // Cutover.
    spec(
        "InvalidDatabaseCompleteRestoreRequest",
        400,
        "The complete database restore request is invalid",
        Complete,
        "no `lastBackupName` (spec)",
        Raised("`az sql midb log-replay complete` without `--last-bn`"),
    ),
    spec(
        "InvalidDatabaseCompleteRestoreRequestLastBackupName",
        400,
        "The last backup name is invalid",
        Complete,
        "a `lastBackupName` that cannot name a file (spec; ours: CR, LF or non-ASCII, as for start)",
        Raised("complete with a name holding a newline"),
    ),
    spec(
        "RequiredBackupIsNotLastRestored",
        400,
        "Migration cannot be completed because provided backup file name is not the name of the last backup file that is restored.",
        Complete,
        "the named file can never be the last restored one: it was restored and later files after it, or restores are under way and it is no set still to restore (spec; the emulator uses the real service's printed wording). A file still to restore is accepted and the cutover waits for it (recordings; docs/fidelity.md)",
        Raised("complete naming a log restored before the last one"),
    ),
    spec(
        "ExternalBackupRestoreHasNotBeenStarted",
        400,
        "The restore request can only be completed once the restore has started.",
        Complete,
        "not known: the recordings show the real service accepting a cutover before anything was restored (docs/fidelity.md), so no local input raises it",
        Injected,
    ),
    spec(
        "ExternalBackupAlreadySignaledToComplete",
        400,
        "The restore request has already been signaled to complete.",
        Complete,
        "a second complete (spec)",
        Raised("complete twice"),
    ),
    spec(
        "ExternalBackupUpgradeInProgress",
        400,
        "The restore request cannot be completed, since upgrade is in progress.",
        Complete,
        "a platform upgrade runs (spec)",
        Injected,
    ),
    spec(
        "ManagedDatabaseNotInRestoringState",
        400,
        "Managed database is not in Restoring state.",
        Complete,
        "the database is not restoring: completed, failed, or not LRS (spec)",
        Raised("complete a completed migration"),
    ),
    spec(
        "LRSCutoverDatabaseDoesNotExist",
        400,
        "The operation was aborted because the database name specified in the request doesn't match any database name on the specified server.",
        Complete,
        "cutover of an unknown database (spec, newest ManagedDatabases.json)",
        Injected,
    ),
    spec(
        "LRSCutoverDatabaseNotInRestoringState",
        400,
        "The operation was aborted because the specified database is not in restoring state.",
        Complete,
        "cutover of a database not restoring (spec, newest)",
        Injected,
    ),
    spec(
        "LRSCutoverDatabaseAlreadyRestored",
        400,
        "The operation was aborted because the specified database was already restored.",
        Complete,
        "cutover of a completed migration (spec, newest)",
        Injected,
    ),
    spec(
        "LRSCutoverAlreadyInitiated",
        400,
        "The operation was aborted because a cutover for the specified database is already in progress.",
        Complete,
        "a second cutover (spec, newest)",
        Injected,
    ),
    spec(
        "ResourceDoesNotExist",
        404,
        "Resource with the name '{0}' does not exist. To continue, specify a valid resource name.",
        Complete,
        "complete on a database that does not exist (spec)",
        Raised("complete an unknown database"),
    ),
    // Restore details.
    spec(
        "RestoreDetailsNotAvailableOrExpired",
        400,
        "Requested restore details are not available, or have expired.",
        Details,
        "restore details of a database that is not an LRS migration (recorded)",
        Raised("`az sql midb log-replay show` on a plain database"),
    ),
];

/// The string literals of Rust source (before its `#[cfg(test)]` part) that look like ARM
/// error codes (PascalCase, at least two words, more than 8 characters): what the tests that
/// check "every code written here is catalogued" read, in this crate and in lrs-arm.
pub fn code_literals(source: &str) -> impl Iterator<Item = &str> {
    let source = source.split("#[cfg(test)]").next().unwrap_or(source);
    source.split('"').skip(1).step_by(2).filter(|literal| {
        literal.len() > 8
            && literal.starts_with(|c: char| c.is_ascii_uppercase())
            && literal.chars().all(|c| c.is_ascii_alphanumeric())
            && literal.chars().any(|c| c.is_ascii_lowercase())
            && literal.chars().skip(1).any(|c| c.is_ascii_uppercase())
    })
}

/// The entry of a code.
pub fn entry(code: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.code == code)
}

/// The table docs/errors.md carries (between its generated-table markers).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| code | HTTP | message | shown in | when the service raises it | in the emulator |\n\
         |---|---|---|---|---|---|\n",
    );
    for e in CATALOGUE {
        let emulator = match e.emulation {
            Raised(how) => format!("raised: {how}; injectable"),
            Injected => "injected only (`lrs admin inject`)".to_string(),
        };
        let code = if e.ours {
            format!("`{}` (ours)", e.code)
        } else {
            format!("`{}`", e.code)
        };
        let _ = writeln!(
            out,
            "| {code} | {} | {} | {} | {} | {emulator} |",
            e.status,
            e.message.replace('|', "\\|"),
            e.surface.describe(),
            e.when.replace('|', "\\|"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- generated from crates/lrs-engine/src/catalogue.rs: begin -->\n";
    const END: &str = "<!-- generated: end -->";

    /// docs/errors.md carries the generated table; `LRS_UPDATE_DOCS=1 cargo test -p lrs-engine
    /// errors_doc` rewrites it.
    #[test]
    fn errors_doc_carries_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let doc = std::fs::read_to_string(path).expect("docs/errors.md");
        let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
        let end = doc.find(END).expect("end marker");
        let table = markdown_table();
        if std::env::var_os("LRS_UPDATE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &doc[..start], &doc[end..]);
            std::fs::write(path, updated).expect("write docs/errors.md");
            return;
        }
        assert_eq!(
            &doc[start..end],
            table,
            "docs/errors.md is out of date: run LRS_UPDATE_DOCS=1 cargo test -p lrs-engine errors_doc"
        );
    }

    #[test]
    fn codes_are_unique_and_statuses_are_client_errors() {
        for (i, e) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[..i].iter().all(|o| o.code != e.code),
                "{} twice",
                e.code
            );
            assert!(matches!(e.status, 400 | 404), "{}: {}", e.code, e.status);
            assert!(!e.message.is_empty() && !e.when.is_empty(), "{}", e.code);
        }
    }

    /// Every code the engine records for a failed job is in the catalogue: a string literal in
    /// codes.rs that looks like an error code must be an entry (the refusals' codes are checked
    /// where they are worded, in lrs-arm).
    #[test]
    fn every_code_the_engine_raises_is_catalogued() {
        let mut seen = 0;
        for literal in code_literals(include_str!("codes.rs")) {
            seen += 1;
            assert!(
                entry(literal).is_some(),
                "{literal} is not in the catalogue"
            );
        }
        assert!(seen >= 15, "only {seen} codes found in codes.rs");
    }
}
