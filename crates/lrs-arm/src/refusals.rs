//! The wire form of the engine's refusals: each [`Refusal`] as the real service's code and
//! message (docs/references.md#errors; docs/errors.md). The one place these words live. Where the
//! real service's text is not known the message is ours, and says so.

use lrs_engine::Refusal;

use crate::error::ApiError;

/// The 400 the real service answers for `refusal`.
pub(crate) fn to_wire(refusal: Refusal) -> ApiError {
    let (code, message): (&'static str, String) = match refusal {
        Refusal::NameInUse { database } => (
            "ManagedDatabaseNameInUse",
            format!("Database '{database}' already exists. Choose a different database name."),
        ),
        Refusal::DatabaseLimit => (
            "DatabaseNumberLimitReached",
            "Maximum number of databases for SQL Database Managed Instance reached.".into(),
        ),
        Refusal::MissingUri => (
            "MissingStorageContainerUri",
            "Missing storage container URI".into(),
        ),
        Refusal::MissingSas => (
            "MissingStorageContainerSasToken",
            "Missing storage container SAS token".into(),
        ),
        // The spec's message, with the reason appended.
        Refusal::InvalidStart { reason } => (
            "InvalidDatabaseCreateOrUpdateRequest",
            format!(
                "The request body for the create or update database operation is invalid. {reason}"
            ),
        ),
        Refusal::AutocompleteMissingName => (
            "AutoCompleteMissingLastBackupName",
            "Auto complete restore request must have lastBackupName parameter provided.".into(),
        ),
        // The real service does not document its text for these cases ("LRS won't start"):
        // the spec's sentence, then the rule.
        Refusal::StorageRefused { reason } => (
            "BlobStorageFailure",
            format!("Blob storage failure has occurred. {reason}"),
        ),
        // Ours: the limits are documented ("up to 100 simultaneous restore processes per
        // single managed instance"), their code is not.
        Refusal::TooManyOnInstance { instance, limit } => (
            "TooManyConcurrentRestores",
            format!(
                "Log Replay Service supports up to {limit} simultaneous restore processes per \
                 managed instance; managed instance '{instance}' already runs {limit}."
            ),
        ),
        Refusal::TooManyInSubscription {
            subscription,
            limit,
        } => (
            "TooManyConcurrentRestores",
            format!(
                "Log Replay Service supports up to {limit} parallel restores per subscription; \
                 subscription '{subscription}' already runs {limit}."
            ),
        ),
        // Real, recorded.
        Refusal::DetailsNotAvailable => (
            "RestoreDetailsNotAvailableOrExpired",
            "Requested restore details are not available, or have expired.".into(),
        ),
        Refusal::CompleteMissingName => (
            "InvalidDatabaseCompleteRestoreRequest",
            "The complete database restore request is invalid".into(),
        ),
        // The wording the real service printed (the spec's is shorter).
        Refusal::NotLastRestored { given, last } => (
            "RequiredBackupIsNotLastRestored",
            format!(
                "Migration cannot be completed because provided backup file name '{given}' \
                 should be the last restore backup file '{last}'."
            ),
        ),
        Refusal::NotStarted => (
            "ExternalBackupRestoreHasNotBeenStarted",
            "The restore request can only be completed once the restore has started.".into(),
        ),
        Refusal::AlreadySignaled => (
            "ExternalBackupAlreadySignaledToComplete",
            "The restore request has already been signaled to complete.".into(),
        ),
        Refusal::NotRestoring => (
            "ManagedDatabaseNotInRestoringState",
            "Managed database is not in Restoring state.".into(),
        ),
        // Ours: the admin API.
        Refusal::InvalidFault { detail } => (
            "InvalidFaultRequest",
            format!("The fault request is invalid. {detail}"),
        ),
    };
    ApiError::bad_request(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code written here is in the catalogue docs/errors.md is generated from, except the
    /// admin API's own.
    #[test]
    fn every_refusal_code_is_catalogued() {
        let mut seen = 0;
        for literal in lrs_engine::catalogue::code_literals(include_str!("refusals.rs"))
            .filter(|literal| *literal != "InvalidFaultRequest")
        {
            seen += 1;
            assert!(
                lrs_engine::catalogue::entry(literal).is_some(),
                "{literal} is not in the catalogue"
            );
        }
        assert!(seen >= 15, "only {seen} codes found");
    }

    #[test]
    fn refusals_carry_their_details_into_the_message() {
        let e = to_wire(Refusal::NotLastRestored {
            given: "a.trn".into(),
            last: "b.trn".into(),
        });
        assert_eq!(e.status().as_u16(), 400);
        assert_eq!(e.code(), "RequiredBackupIsNotLastRestored");
        assert_eq!(
            e.message(),
            "Migration cannot be completed because provided backup file name 'a.trn' should be \
             the last restore backup file 'b.trn'."
        );
        let e = to_wire(Refusal::NameInUse {
            database: "db1".into(),
        });
        assert_eq!(
            (e.code(), e.message()),
            (
                "ManagedDatabaseNameInUse",
                "Database 'db1' already exists. Choose a different database name."
            )
        );
    }
}
