//! Admin calls that make the engine emulate service events now (test harnesses use them).

use axum::http::StatusCode;
use axum::response::Response;
use lrs_engine::faults::{FaultEffect, FaultTarget, InjectFault};
use lrs_store::InstanceKey;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{json_object, list_body, opt_bool, opt_string};
use crate::app::{AppState, Ctx};
use crate::error::ApiError;
use crate::json::json_response;
use crate::route::InstancePath;

/// `POST /admin/system-patch` → `{"affectedJobs": n}`.
pub(super) async fn system_patch(state: &AppState) -> Result<Response, ApiError> {
    let n = state.backend().system_patch().await?;
    Ok(json_response(StatusCode::OK, &json!({"affectedJobs": n})))
}

/// `POST /admin/failover?subscription=&resourceGroup=&instance=` → `{"affectedJobs": n}`.
pub(super) async fn failover(state: &AppState, path: &InstancePath) -> Result<Response, ApiError> {
    let n = state.backend().failover(&path.key()).await?;
    Ok(json_response(StatusCode::OK, &json!({"affectedJobs": n})))
}

/// `POST /admin/faults` → 201 with the fault. The body:
/// `{"code", "effect": "fail"|"stall"|"slow", "delayMs", "once", "message"}` plus, to aim at one
/// database, `"subscription", "resourceGroup", "instance", "database"` (without them the fault
/// hits the next migration started, or the next request its code refuses).
pub(super) async fn inject_fault(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let request = parse_fault(&ctx.body)?;
    let fault = state.backend().inject_fault(request)?;
    Ok(json_response(StatusCode::CREATED, &json!(fault)))
}

/// `GET /admin/faults` → `{"value": [...]}`.
pub(super) fn list_faults(state: &AppState) -> Response {
    let faults: Vec<Value> = state.backend().faults().iter().map(|f| json!(f)).collect();
    json_response(StatusCode::OK, &list_body(faults))
}

/// `DELETE /admin/faults[/{id}]` → `{"cleared": n}`.
pub(super) fn clear_faults(state: &AppState, id: Option<Uuid>) -> Response {
    let cleared = state.backend().clear_faults(id);
    json_response(StatusCode::OK, &json!({"cleared": cleared}))
}

fn parse_fault(body: &[u8]) -> Result<InjectFault, ApiError> {
    let invalid = |detail: String| {
        ApiError::bad_request(
            "InvalidFaultRequest",
            format!("The fault request is invalid. {detail}"),
        )
    };
    let map = json_object(body, invalid)?;
    let string = |key: &str| opt_string(&map, key, key, &invalid);
    let effect = match string("effect")?.as_deref().map(str::to_ascii_lowercase) {
        None => FaultEffect::Fail,
        Some(e) if e == "fail" => FaultEffect::Fail,
        Some(e) if e == "stall" => FaultEffect::Stall,
        Some(e) if e == "slow" => {
            let delay_ms = match map.get("delayMs") {
                Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
                    invalid("'delayMs' must be a whole number of milliseconds.".into())
                })?,
                _ => return Err(invalid("A slow fault needs 'delayMs'.".into())),
            };
            FaultEffect::Slow { delay_ms }
        }
        Some(other) => {
            return Err(invalid(format!(
                "'effect' must be 'fail', 'stall' or 'slow', not '{other}'."
            )));
        }
    };
    let target = match string("database")? {
        None => FaultTarget::Next,
        Some(name) => {
            let part = |key: &str| {
                string(key)?
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| invalid(format!("A fault aimed at a database needs '{key}'.")))
            };
            FaultTarget::Database {
                instance: InstanceKey {
                    subscription: part("subscription")?,
                    resource_group: part("resourceGroup")?,
                    instance: part("instance")?,
                },
                name,
            }
        }
    };
    Ok(InjectFault {
        code: string("code")?,
        effect,
        target,
        once: opt_bool(&map, "once", "once", &invalid)?.unwrap_or(true),
        message: string("message")?,
    })
}
