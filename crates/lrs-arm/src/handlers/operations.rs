//! Polling long-running operations (docs/references.md#long-running-operations).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lrs_engine::EngineError;
use lrs_store::{Operation, OperationKind, OperationStatus};

use crate::app::{AppState, Ctx};
use crate::error::ApiError;
use crate::json::json_response;
use crate::lro::{add_polling_headers, async_status_body, family_of};
use crate::resources::database_body;
use crate::route::OperationPath;

/// The operation named by a polling URL; a URL of the wrong family or subscription does not
/// name it (404).
async fn lookup(state: &AppState, path: &OperationPath) -> Result<Operation, ApiError> {
    let op = state.backend().operation(path.id).await?;
    if family_of(op.kind) != path.family
        || !op
            .instance
            .subscription
            .eq_ignore_ascii_case(&path.subscription)
    {
        return Err(ApiError::operation_not_found(&path.id.to_string()));
    }
    Ok(op)
}

/// `GET …AzureAsyncOperation/{id}`: 200 with the status body and `Retry-After`.
pub(super) async fn async_status(
    state: &AppState,
    path: &OperationPath,
) -> Result<Response, ApiError> {
    let op = lookup(state, path).await?;
    let mut response = json_response(StatusCode::OK, &async_status_body(&op));
    add_polling_headers(&mut response, None, state.settings().retry_after_secs);
    Ok(response)
}

/// `GET …OperationResults/{id}`: 202 + `Location` + `Retry-After` while in progress; once
/// finished, the result: the database for a start (200) or a cutover (201, as recorded), 204
/// for a drop, the error for a failure.
pub(super) async fn result(
    state: &AppState,
    ctx: &Ctx,
    path: &OperationPath,
) -> Result<Response, ApiError> {
    let op = lookup(state, path).await?;
    match op.status {
        OperationStatus::InProgress => {
            let mut response = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&ctx.url()) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            add_polling_headers(&mut response, None, state.settings().retry_after_secs);
            Ok(response)
        }
        OperationStatus::Failed => {
            let (code, message) = match op.error {
                Some(e) => (e.code, e.message),
                None => (
                    "InternalServerError".to_string(),
                    "The operation failed without an error record.".to_string(),
                ),
            };
            let status = if code == "InternalServerError" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            Err(ApiError::new(status, code, message))
        }
        OperationStatus::Canceled => Err(ApiError::bad_request(
            "OperationCanceled",
            "The operation was canceled.",
        )),
        OperationStatus::Succeeded => match op.kind {
            OperationKind::DropDatabase => Ok(StatusCode::NO_CONTENT.into_response()),
            OperationKind::CompleteRestore => {
                database_result(state, &op, StatusCode::CREATED).await
            }
            OperationKind::StartRestore | OperationKind::CreateDatabase => {
                database_result(state, &op, StatusCode::OK).await
            }
        },
    }
}

/// The database an operation acted on, or 204 when it is gone (a start whose migration was
/// stopped by a drop).
async fn database_result(
    state: &AppState,
    op: &Operation,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match state
        .backend()
        .database(&op.instance, &op.database_name)
        .await
    {
        Ok(db) => Ok(json_response(
            status,
            &database_body(&db, &op.instance, &op.database_name),
        )),
        Err(EngineError::DatabaseNotFound { .. } | EngineError::InstanceNotFound(_)) => {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(e) => Err(e.into()),
    }
}
