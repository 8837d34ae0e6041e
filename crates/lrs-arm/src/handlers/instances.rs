//! Managed instances (docs/references.md#managed-instance): provisioning is instant.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{json_object, list_body, required_location};
use crate::app::{AppState, Ctx};
use crate::error::ApiError;
use crate::json::json_response;
use crate::resources::{instance_body, instance_resource_json};
use crate::route::InstancePath;

/// `GET …/managedInstances/{mi}`: unknown instances are created on first use by the engine
/// unless it is strict (then the gateway 404).
pub(super) async fn get(
    state: &AppState,
    ctx: &Ctx,
    path: &InstancePath,
) -> Result<Response, ApiError> {
    let instance = state.backend().instance(&path.key()).await?;
    Ok(json_response(
        StatusCode::OK,
        &instance_body(&instance, &path.key(), ctx.api_version()),
    ))
}

/// `PUT …/managedInstances/{mi}`: 201 when created, 200 when replaced, with the body of a ready
/// instance.
pub(super) async fn put(
    state: &AppState,
    ctx: &Ctx,
    path: &InstancePath,
) -> Result<Response, ApiError> {
    let body = json_object(&ctx.body, ApiError::invalid_request_content)?;
    let location = required_location(&body)?;
    if body.get("properties").is_some_and(|p| !p.is_object()) {
        return Err(ApiError::invalid_request_content(
            "'properties' must be an object",
        ));
    }
    let key = path.key();
    let existed = state
        .backend()
        .list_instances(&key.subscription, Some(&key.resource_group))
        .await?
        .iter()
        .any(|i| i.key.instance.eq_ignore_ascii_case(&key.instance));
    let resource_json = instance_resource_json(&body, &state.settings().tenant_id).to_string();
    let instance = state
        .backend()
        .put_instance(&key, &location, &resource_json)
        .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(
        status,
        &instance_body(&instance, &key, ctx.api_version()),
    ))
}

/// `GET …/managedInstances` of a subscription or resource group.
pub(super) async fn list(
    state: &AppState,
    ctx: &Ctx,
    subscription: &str,
    resource_group: Option<&str>,
) -> Result<Response, ApiError> {
    let instances = state
        .backend()
        .list_instances(subscription, resource_group)
        .await?;
    let items: Vec<Value> = instances
        .iter()
        .map(|i| instance_body(i, &i.key, ctx.api_version()))
        .collect();
    Ok(json_response(StatusCode::OK, &list_body(items)))
}
