//! One handler per [`ArmOperation`]; [`handle`] is the only place that maps operations to them.

mod admin;
mod databases;
mod identity;
mod instance_operations;
mod instances;
mod metrics;
mod operations;
mod plumbing;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::app::{AppState, Ctx};
use crate::error::ApiError;
use crate::json::json_response;
use crate::route::ArmOperation;

/// Run the handler of `operation`.
pub(crate) async fn handle(
    state: &AppState,
    ctx: &Ctx,
    operation: ArmOperation,
) -> Result<Response, ApiError> {
    match operation {
        ArmOperation::Health => Ok(json_response(StatusCode::OK, &json!({"status": "ok"}))),
        ArmOperation::Metrics => metrics::metrics(state).await,
        ArmOperation::OpenApi => Ok(json_response(StatusCode::OK, &crate::openapi::document())),
        ArmOperation::Dashboard(file) => Ok(crate::dashboard::response(file)),
        ArmOperation::MetadataEndpoints => Ok(plumbing::metadata_endpoints(ctx)),
        ArmOperation::OpenIdConfiguration { tenant } => {
            Ok(identity::openid_configuration(ctx, &tenant))
        }
        ArmOperation::Token { tenant } => identity::token(state, ctx, &tenant),
        ArmOperation::InstanceDiscovery { tenant } => {
            Ok(identity::instance_discovery(ctx, &tenant))
        }
        ArmOperation::ManagedIdentityToken => identity::managed_identity_token(state, ctx),
        ArmOperation::ListSubscriptions => Ok(plumbing::list_subscriptions(state)),
        ArmOperation::GetSubscription { subscription } => {
            Ok(plumbing::get_subscription(state, &subscription))
        }
        ArmOperation::ListTenants => Ok(plumbing::list_tenants(state)),
        ArmOperation::ListInstancesBySubscription { subscription } => {
            instances::list(state, ctx, &subscription, None).await
        }
        ArmOperation::ListInstancesByGroup {
            subscription,
            resource_group,
        } => instances::list(state, ctx, &subscription, Some(&resource_group)).await,
        ArmOperation::GetInstance(path) => instances::get(state, ctx, &path).await,
        ArmOperation::PutInstance(path) => instances::put(state, ctx, &path).await,
        ArmOperation::ListDatabases(path) => databases::list(state, &path).await,
        ArmOperation::ListInstanceOperations(path) => instance_operations::list(state, &path).await,
        ArmOperation::GetInstanceOperation(path) => instance_operations::get(state, &path).await,
        ArmOperation::GetDatabase(path) => databases::get(state, &path).await,
        ArmOperation::PutDatabase(path) => databases::put(state, ctx, &path).await,
        ArmOperation::DeleteDatabase(path) => databases::delete(state, ctx, &path).await,
        ArmOperation::GetRestoreDetails(path) => {
            databases::restore_details(state, ctx, &path).await
        }
        ArmOperation::CompleteRestore(path) => databases::complete_restore(state, ctx, &path).await,
        ArmOperation::GetAsyncOperation(path) => operations::async_status(state, &path).await,
        ArmOperation::GetOperationResult(path) => operations::result(state, ctx, &path).await,
        ArmOperation::AdminSystemPatch => admin::system_patch(state).await,
        ArmOperation::AdminFailover(path) => admin::failover(state, &path).await,
        ArmOperation::AdminInjectFault => admin::inject_fault(state, ctx).await,
        ArmOperation::AdminListFaults => Ok(admin::list_faults(state)),
        ArmOperation::AdminClearFaults(id) => Ok(admin::clear_faults(state, id)),
    }
}

/// `{"value": [...]}`, ARM's list envelope.
fn list_body(items: Vec<Value>) -> Value {
    json!({ "value": items })
}

/// The request body as a JSON object; `invalid` builds the error for a body that is not one.
fn json_object(
    body: &[u8],
    invalid: impl Fn(String) -> ApiError,
) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(
            "The request body is empty; a JSON object is expected.".into(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid(format!(
            "The request body is JSON {}, not an object.",
            json_kind(&other)
        ))),
        Err(e) => Err(invalid(format!("The request body is not valid JSON: {e}."))),
    }
}

/// What kind of JSON value this is, for error messages that must not echo values.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An optional string member of `map` (`where_` names it in errors, e.g. `properties.collation`).
fn opt_string(
    map: &Map<String, Value>,
    key: &str,
    where_: &str,
    invalid: &impl Fn(String) -> ApiError,
) -> Result<Option<String>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!(
            "'{where_}' must be a string, not {}.",
            json_kind(other)
        ))),
    }
}

/// An optional boolean member of `map`.
fn opt_bool(
    map: &Map<String, Value>,
    key: &str,
    where_: &str,
    invalid: &impl Fn(String) -> ApiError,
) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(format!(
            "'{where_}' must be a boolean, not {}.",
            json_kind(other)
        ))),
    }
}

/// The `location` of a tracked resource; ARM refuses a PUT without it.
fn required_location(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("location") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ApiError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        )),
        Some(other) => Err(ApiError::bad_request(
            "InvalidRequestContent",
            format!("'location' must be a string, not {}.", json_kind(other)),
        )),
    }
}

#[cfg(test)]
mod tests;
