//! Managed databases and the LRS calls on them (arm-contract §1.2–§1.6).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lrs_engine::{EngineError, StartRestore};
use serde_json::{Map, Value};

use super::{json_object, list_body, opt_bool, opt_string, required_location};
use crate::app::{AppState, Ctx};
use crate::error::ApiError;
use crate::json::json_response;
use crate::lro::{accepted, lro_urls};
use crate::resources::database_body;
use crate::restore_details::restore_details_body;
use crate::route::{DatabasePath, InstancePath};

/// `GET …/databases/{db}`.
pub(super) async fn get(state: &AppState, path: &DatabasePath) -> Result<Response, ApiError> {
    let key = path.instance.key();
    let db = state.backend().database(&key, &path.database).await?;
    Ok(json_response(
        StatusCode::OK,
        &database_body(&db, &key, &path.database),
    ))
}

/// `GET …/databases`.
pub(super) async fn list(state: &AppState, path: &InstancePath) -> Result<Response, ApiError> {
    let key = path.key();
    let dbs = state.backend().list_databases(&key).await?;
    let items: Vec<Value> = dbs
        .iter()
        .map(|db| database_body(db, &key, &db.name))
        .collect();
    Ok(json_response(StatusCode::OK, &list_body(items)))
}

/// What a `PUT database` body asks for.
#[derive(Debug)]
enum PutRequest {
    /// `createMode: RestoreExternalBackup`.
    Start(StartRestore),
    /// No `createMode`, or `Default`.
    Create {
        location: String,
        collation: Option<String>,
    },
}

/// Parse a `PUT database` body (arm-contract §1.2). Every member is checked for its JSON type;
/// error messages name the member but never echo values (the SAS token is one of them).
fn parse_put(path: &DatabasePath, body: &[u8]) -> Result<PutRequest, ApiError> {
    let invalid = |detail: String| ApiError::invalid_database_request(detail);
    let body = json_object(body, invalid)?;
    let location = required_location(&body)?;
    let empty = Map::new();
    let props = match body.get("properties") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(invalid(format!(
                "'properties' must be an object, not {}.",
                super::json_kind(other)
            )));
        }
    };
    let s = |key: &str| opt_string(props, key, &format!("properties.{key}"), &invalid);
    let create_mode = s("createMode")?;
    let collation = s("collation")?;
    match create_mode.as_deref() {
        Some(m) if m.eq_ignore_ascii_case("RestoreExternalBackup") => {
            Ok(PutRequest::Start(StartRestore {
                instance: path.instance.key(),
                database: path.database.clone(),
                location,
                collation,
                storage_uri: s("storageContainerUri")?,
                sas_token: s("storageContainerSasToken")?,
                identity: s("storageContainerIdentity")?,
                auto_complete: opt_bool(
                    props,
                    "autoCompleteRestore",
                    "properties.autoCompleteRestore",
                    &invalid,
                )?
                .unwrap_or(false),
                last_backup_name: s("lastBackupName")?,
            }))
        }
        None => Ok(PutRequest::Create {
            location,
            collation,
        }),
        Some(m) if m.eq_ignore_ascii_case("Default") => Ok(PutRequest::Create {
            location,
            collation,
        }),
        Some(m) => Err(invalid(format!(
            "createMode '{m}' is not supported by this emulator; it serves 'Default' and \
             'RestoreExternalBackup'."
        ))),
    }
}

/// `PUT …/databases/{db}`: an LRS start (202, op `InProgress` until the migration ends) or a
/// plain create (202).
pub(super) async fn put(
    state: &AppState,
    ctx: &Ctx,
    path: &DatabasePath,
) -> Result<Response, ApiError> {
    let key = path.instance.key();
    let (op, location) = match parse_put(path, &ctx.body)? {
        PutRequest::Start(request) => {
            let location = request.location.clone();
            (state.backend().start_restore(request).await?, location)
        }
        PutRequest::Create {
            location,
            collation,
        } => {
            let op = state
                .backend()
                .create_database(&key, &path.database, &location, collation.as_deref())
                .await?;
            (op, location)
        }
    };
    let urls = lro_urls(&ctx.base, &key, &location, &op, ctx.api_version());
    Ok(accepted(&op, &urls, state.settings().retry_after_secs))
}

/// `DELETE …/databases/{db}`: 202 with the drop operation; 204 when there is no such database.
pub(super) async fn delete(
    state: &AppState,
    ctx: &Ctx,
    path: &DatabasePath,
) -> Result<Response, ApiError> {
    let key = path.instance.key();
    let db = match state.backend().database(&key, &path.database).await {
        Ok(db) => db,
        Err(EngineError::DatabaseNotFound { .. }) => {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let op = match state.backend().drop_database(&key, &path.database).await {
        Ok(op) => op,
        // Dropped concurrently between the two calls: nothing left to delete.
        Err(EngineError::DatabaseNotFound { .. }) => {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let urls = lro_urls(&ctx.base, &key, &db.location, &op, ctx.api_version());
    Ok(accepted(&op, &urls, state.settings().retry_after_secs))
}

/// `GET …/restoreDetails/Default`, in the caller's api-version shape.
pub(super) async fn restore_details(
    state: &AppState,
    ctx: &Ctx,
    path: &DatabasePath,
) -> Result<Response, ApiError> {
    let details = state
        .backend()
        .restore_details(&path.instance.key(), &path.database)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &restore_details_body(&details, ctx.api_version(), &ctx.path),
    ))
}

/// `POST …/completeRestore`: a body without `lastBackupName` passes None (the engine answers
/// with the error).
pub(super) async fn complete_restore(
    state: &AppState,
    ctx: &Ctx,
    path: &DatabasePath,
) -> Result<Response, ApiError> {
    let last_backup_name = parse_complete(&ctx.body)?;
    let key = path.instance.key();
    let db = state.backend().database(&key, &path.database).await?;
    let op = state
        .backend()
        .complete_restore(&key, &path.database, last_backup_name)
        .await?;
    let urls = lro_urls(&ctx.base, &key, &db.location, &op, ctx.api_version());
    Ok(accepted(&op, &urls, state.settings().retry_after_secs))
}

/// `lastBackupName` of a completeRestore body (`{}` and an empty body give None).
fn parse_complete(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let invalid = |detail: String| {
        ApiError::bad_request(
            "InvalidDatabaseCompleteRestoreRequest",
            format!("The complete database restore request is invalid. {detail}"),
        )
    };
    let body = json_object(body, invalid)?;
    opt_string(&body, "lastBackupName", "lastBackupName", &invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> DatabasePath {
        DatabasePath {
            instance: InstancePath {
                subscription: "s".into(),
                resource_group: "rg".into(),
                instance: "mi".into(),
            },
            database: "db1".into(),
        }
    }

    #[test]
    fn az_start_body_maps_every_property() {
        let body = br#"{"location":"westeurope","properties":{"createMode":"RestoreExternalBackup",
            "storageContainerUri":"https://acct.blob.core.windows.net/c/db2","storageContainerIdentity":"ManagedIdentity",
            "storageContainerSasToken":"","autoCompleteRestore":true,"lastBackupName":"log9.trn"}}"#;
        let PutRequest::Start(s) = parse_put(&path(), body).expect("valid body") else {
            panic!("not a start")
        };
        assert_eq!(s.instance, path().instance.key());
        assert_eq!(s.database, "db1");
        assert_eq!(s.location, "westeurope");
        assert_eq!(
            s.storage_uri.as_deref(),
            Some("https://acct.blob.core.windows.net/c/db2")
        );
        assert_eq!(s.identity.as_deref(), Some("ManagedIdentity"));
        assert_eq!(s.sas_token.as_deref(), Some(""));
        assert!(s.auto_complete);
        assert_eq!(s.last_backup_name.as_deref(), Some("log9.trn"));
        assert_eq!(s.collation, None);
    }

    #[test]
    fn powershell_start_body_with_collation_and_no_autocomplete_flag() {
        let body = br#"{"properties":{"collation":"SQL_Latin1_General_CP1_CI_AS","createMode":"restoreexternalbackup",
            "storageContainerUri":"https://x.blob.core.windows.net/c","storageContainerSasToken":"sv=1&sig=abc%3D"},
            "location":"westcentralus"}"#;
        let PutRequest::Start(s) = parse_put(&path(), body).expect("valid body") else {
            panic!("not a start")
        };
        assert_eq!(s.collation.as_deref(), Some("SQL_Latin1_General_CP1_CI_AS"));
        assert!(!s.auto_complete);
        assert_eq!(s.sas_token.as_deref(), Some("sv=1&sig=abc%3D"));
        // The request's Debug never shows the token.
        assert!(!format!("{s:?}").contains("sig=abc"));
    }

    #[test]
    fn plain_create_without_or_with_default_create_mode() {
        for body in [
            &br#"{"location":"l","properties":{"collation":"Latin1_General_100_CI_AS"}}"#[..],
            br#"{"location":"l","properties":{"createMode":"Default"}}"#,
            br#"{"location":"l"}"#,
        ] {
            match parse_put(&path(), body) {
                Ok(PutRequest::Create { location, .. }) => assert_eq!(location, "l"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn invalid_bodies_name_the_member_and_never_echo_values() {
        let e = parse_put(
            &path(),
            br#"{"location":"l","properties":{"createMode":"RestoreExternalBackup","storageContainerSasToken":12345}}"#,
        )
        .expect_err("number token");
        assert_eq!(e.code(), "InvalidDatabaseCreateOrUpdateRequest");
        assert!(
            e.message()
                .contains("'properties.storageContainerSasToken' must be a string, not a number")
        );
        assert!(!e.message().contains("12345"));

        let e = parse_put(
            &path(),
            br#"{"location":"l","properties":{"createMode":"RestoreExternalBackup","autoCompleteRestore":"yes"}}"#,
        )
        .expect_err("string bool");
        assert!(
            e.message()
                .contains("'properties.autoCompleteRestore' must be a boolean")
        );

        let e = parse_put(&path(), b"{not json").expect_err("syntax");
        assert_eq!(e.code(), "InvalidDatabaseCreateOrUpdateRequest");
        assert!(e.message().contains("not valid JSON"));

        let e = parse_put(&path(), b"").expect_err("empty");
        assert!(e.message().contains("empty"));

        let e = parse_put(&path(), br#"[1]"#).expect_err("array");
        assert!(e.message().contains("an array, not an object"));

        let e = parse_put(&path(), br#"{"properties":{}}"#).expect_err("no location");
        assert_eq!(e.code(), "LocationRequired");

        let e = parse_put(
            &path(),
            br#"{"location":"l","properties":{"createMode":"PointInTimeRestore"}}"#,
        )
        .expect_err("unsupported mode");
        assert!(
            e.message()
                .contains("'PointInTimeRestore' is not supported")
        );
    }

    #[test]
    fn complete_body_last_backup_name() {
        assert_eq!(
            parse_complete(br#"{"lastBackupName":"log1.bak"}"#).expect("valid"),
            Some("log1.bak".into())
        );
        assert_eq!(parse_complete(b"{}").expect("valid"), None);
        assert_eq!(parse_complete(b"").expect("valid"), None);
        let e = parse_complete(br#"{"lastBackupName":5}"#).expect_err("number");
        assert_eq!(e.code(), "InvalidDatabaseCompleteRestoreRequest");
    }
}
