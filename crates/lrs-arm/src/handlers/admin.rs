//! Admin calls that make the engine emulate service events now (test harnesses use them).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::app::AppState;
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
