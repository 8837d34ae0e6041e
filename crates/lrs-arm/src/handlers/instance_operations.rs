//! Management operations of a managed instance (`az sql mi op list|show`): the long-running
//! operations of its databases (log replay start, cutover, drop, create) in the
//! `ManagedInstanceOperation` shape.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::list_body;
use crate::app::AppState;
use crate::error::ApiError;
use crate::json::json_response;
use crate::resources::instance_operation_body;
use crate::route::{InstanceOperationPath, InstancePath};

/// `GET …/managedInstances/{mi}/operations`: newest first, in one page (no `nextLink`).
pub(super) async fn list(state: &AppState, path: &InstancePath) -> Result<Response, ApiError> {
    let key = path.key();
    let operations = state.backend().instance_operations(&key).await?;
    let items: Vec<Value> = operations
        .iter()
        .map(|op| instance_operation_body(op, &key))
        .collect();
    Ok(json_response(StatusCode::OK, &list_body(items)))
}

/// `GET …/managedInstances/{mi}/operations/{operationId}`: 404 when the id is unknown or names
/// another instance's operation.
pub(super) async fn get(
    state: &AppState,
    path: &InstanceOperationPath,
) -> Result<Response, ApiError> {
    let key = path.instance.key();
    let op = state.backend().instance_operation(&key, path.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &instance_operation_body(&op, &key),
    ))
}
