//! Input rules ARM and SQL Managed Instance apply before anything runs: the api-version of
//! `Microsoft.Sql` calls, and the names in resource paths. Checked on the parsed operation, so
//! no handler (and no store) ever sees a control character or a name ARM would refuse.
//!
//! Where the real codes are known they are used (`CannotUseReservedDatabaseName`,
//! `CannotUseTrailingWhitespacesInDatabaseName`: spec; `InvalidApiVersionParameter`,
//! `NoRegisteredProviderFound`: ARM). The rest is ours, documented in docs/engine.md
//! ("Input rules"): ARM's registry of api-versions is not public in full, so a well-formed
//! version between the first and the newest `Microsoft.Sql` version that serves managed
//! databases is accepted, and others are refused with that range named.

use crate::error::ApiError;
use crate::route::{ArmOperation, DatabasePath, InstancePath};

/// The first `Microsoft.Sql` api-version with managed instance databases.
const FIRST_API_VERSION: &str = "2017-03-01-preview";
/// The newest one the emulator was checked against (azure-mgmt-sql 5.0.0b2).
const NEWEST_API_VERSION: &str = "2026-08-01-preview";
/// Versions real clients send, named in the refusal (the full list is ARM's).
const KNOWN_API_VERSIONS: &[&str] = &[
    "2019-06-01-preview",
    "2020-02-02-preview",
    "2020-11-01-preview",
    "2021-05-01-preview",
    "2021-11-01",
    "2022-02-01-preview",
    "2022-05-01-preview",
    "2022-08-01-preview",
    "2023-05-01-preview",
    "2023-08-01",
    "2024-11-01-preview",
    "2025-01-01",
    "2026-08-01-preview",
];

/// Longest database name SQL Server accepts (`sysname`).
const MAX_DATABASE_NAME: usize = 128;
/// Characters Azure SQL refuses in database names (besides control characters).
const FORBIDDEN_NAME_CHARS: &[char] = &['<', '>', '*', '%', '&', ':', '\\', '/', '?'];
/// System databases no migration may create.
const RESERVED_DATABASE_NAMES: &[&str] = &["master", "model", "msdb", "tempdb", "resource"];

/// Check an operation's api-version and resource names.
pub(crate) fn check(operation: &ArmOperation, api_version: Option<&str>) -> Result<(), ApiError> {
    let sql = match operation {
        ArmOperation::ListInstancesByGroup { resource_group, .. } => {
            check_path_name(resource_group)?;
            true
        }
        ArmOperation::ListInstancesBySubscription { .. } => true,
        ArmOperation::GetInstance(path)
        | ArmOperation::PutInstance(path)
        | ArmOperation::ListDatabases(path)
        | ArmOperation::ListInstanceOperations(path) => {
            check_instance(path)?;
            true
        }
        ArmOperation::GetInstanceOperation(path) => {
            check_instance(&path.instance)?;
            true
        }
        ArmOperation::PutDatabase(path) => {
            check_database(path)?;
            check_new_database_name(&path.database)?;
            true
        }
        ArmOperation::GetDatabase(path)
        | ArmOperation::DeleteDatabase(path)
        | ArmOperation::GetRestoreDetails(path)
        | ArmOperation::CompleteRestore(path) => {
            check_database(path)?;
            true
        }
        ArmOperation::GetAsyncOperation(_) | ArmOperation::GetOperationResult(_) => true,
        _ => false,
    };
    match api_version {
        Some(version) if sql => check_api_version(version),
        _ => Ok(()),
    }
}

fn check_instance(path: &InstancePath) -> Result<(), ApiError> {
    check_path_name(&path.subscription)?;
    check_path_name(&path.resource_group)?;
    check_path_name(&path.instance)
}

fn check_database(path: &DatabasePath) -> Result<(), ApiError> {
    check_instance(&path.instance)?;
    check_path_name(&path.database)
}

/// Any name in a resource path: no control characters (they cannot be in a resource id), no
/// `/` (a percent-encoded one would put a raw `/` in the id).
fn check_path_name(name: &str) -> Result<(), ApiError> {
    if name.chars().any(|c| c.is_control() || c == '/') {
        return Err(invalid_name(name));
    }
    Ok(())
}

/// A database name a migration may create: Azure SQL's naming rules (1 to 128 characters,
/// none of `<>*%&:\/?`, not ending with a period or a space) and SQL Server's system names.
fn check_new_database_name(name: &str) -> Result<(), ApiError> {
    if name.ends_with(char::is_whitespace) {
        return Err(ApiError::bad_request(
            "CannotUseTrailingWhitespacesInDatabaseName",
            "The database name validation failed.",
        ));
    }
    if name.chars().count() > MAX_DATABASE_NAME
        || name.ends_with('.')
        || name.contains(FORBIDDEN_NAME_CHARS)
    {
        return Err(invalid_name(name));
    }
    if RESERVED_DATABASE_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(ApiError::bad_request(
            "CannotUseReservedDatabaseName",
            "Cannot use reserved database name in this operation.",
        ));
    }
    Ok(())
}

fn invalid_name(name: &str) -> ApiError {
    // The name is shown escaped: it may hold control characters.
    ApiError::bad_request(
        "InvalidResourceName",
        format!(
            "The resource name '{}' is invalid. A database name has 1 to {MAX_DATABASE_NAME} \
             characters, none of them a control character or one of <>*%&:\\/?, and does not \
             end with a period or a space.",
            name.escape_default()
        ),
    )
}

/// `YYYY-MM-DD` with an optional `-preview`/`-beta`/`-alpha` suffix, inside the range of
/// `Microsoft.Sql` versions that serve managed databases.
fn check_api_version(version: &str) -> Result<(), ApiError> {
    let supported = KNOWN_API_VERSIONS.join(", ");
    let (date, suffix) = version.split_at(version.len().min(10));
    let well_formed = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && matches!(suffix, "" | "-preview" | "-beta" | "-alpha");
    if !well_formed {
        return Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported versions are '{supported}'.",
                version.escape_default()
            ),
        ));
    }
    let first = &FIRST_API_VERSION[..10];
    let newest = &NEWEST_API_VERSION[..10];
    if date < first || date > newest {
        return Err(ApiError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for API version '{version}' and type \
                 'managedInstances'. The supported api-versions are '{supported}' (this emulator \
                 accepts the versions from {FIRST_API_VERSION} to {NEWEST_API_VERSION})."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<(), ApiError>) -> String {
        result.map_or_else(|e| e.code().to_string(), |()| "ok".into())
    }

    #[test]
    fn api_versions_real_clients_send_are_accepted_and_others_refused() {
        for v in KNOWN_API_VERSIONS {
            assert_eq!(code(check_api_version(v)), "ok", "{v}");
        }
        assert_eq!(code(check_api_version("2017-03-01-preview")), "ok");
        assert_eq!(
            code(check_api_version("1999-01-01")),
            "NoRegisteredProviderFound"
        );
        assert_eq!(
            code(check_api_version("2099-01-01")),
            "NoRegisteredProviderFound"
        );
        for bad in [
            "latest",
            "2024-11-01-previewx",
            "2024-1-01",
            "2024-11-01 ",
            "20241101",
        ] {
            assert_eq!(
                code(check_api_version(bad)),
                "InvalidApiVersionParameter",
                "{bad}"
            );
        }
    }

    #[test]
    fn database_names_follow_azure_sql_rules() {
        assert_eq!(code(check_new_database_name("Sales")), "ok");
        assert_eq!(code(check_new_database_name("Sales 2026 (copy)")), "ok");
        assert_eq!(code(check_new_database_name(&"a".repeat(128))), "ok");
        assert_eq!(
            code(check_new_database_name(&"a".repeat(129))),
            "InvalidResourceName"
        );
        assert_eq!(
            code(check_new_database_name("Sales ")),
            "CannotUseTrailingWhitespacesInDatabaseName"
        );
        assert_eq!(
            code(check_new_database_name("Sales.")),
            "InvalidResourceName"
        );
        for bad in ["a/b", "a\\b", "a?b", "a:b", "a%b", "a<b", "a*b", "a&b"] {
            assert_eq!(
                code(check_new_database_name(bad)),
                "InvalidResourceName",
                "{bad}"
            );
        }
        for reserved in ["master", "MSDB", "tempdb", "model"] {
            assert_eq!(
                code(check_new_database_name(reserved)),
                "CannotUseReservedDatabaseName"
            );
        }
        assert_eq!(code(check_path_name("a\u{0}b")), "InvalidResourceName");
        assert_eq!(code(check_path_name("a\nb")), "InvalidResourceName");
        let e = check_path_name("a\u{0}b").expect_err("NUL");
        assert!(e.to_string().contains("a\\u{0}b"), "{e}");
    }
}
