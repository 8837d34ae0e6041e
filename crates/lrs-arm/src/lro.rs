//! The long-running-operation protocol (docs/references.md#long-running-operations): the 202 that
//! starts one, and the bodies of its polling URLs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use lrs_store::{InstanceKey, Operation, OperationKind, OperationStatus};
use serde_json::{Value, json};

use crate::json::{json_response, timestamp};
use crate::route::OperationFamily;

/// The `Azure-AsyncOperation` header.
pub(crate) const AZURE_ASYNC_OPERATION: &str = "azure-asyncoperation";

/// The URL family an operation kind polls under.
pub(crate) fn family_of(kind: OperationKind) -> OperationFamily {
    match kind {
        OperationKind::StartRestore => OperationFamily::ManagedDatabaseRestore,
        OperationKind::CompleteRestore => OperationFamily::ManagedDatabaseCompleteRestore,
        OperationKind::DropDatabase | OperationKind::CreateDatabase => {
            OperationFamily::ManagedDatabase
        }
    }
}

/// The `operation` name the real service puts in the 202 body (docs/references.md#start).
pub(crate) fn operation_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::StartRestore => "CreateExternalManagedBackupRestoreV2Request",
        OperationKind::CompleteRestore => "ManagedDatabaseCompleteExternalRestore",
        OperationKind::DropDatabase => "DropManagedDatabase",
        OperationKind::CreateDatabase => "CreateManagedDatabase",
    }
}

/// ARM's spelling of an operation status.
pub(crate) fn status_name(status: OperationStatus) -> &'static str {
    match status {
        OperationStatus::InProgress => "InProgress",
        OperationStatus::Succeeded => "Succeeded",
        OperationStatus::Failed => "Failed",
        OperationStatus::Canceled => "Canceled",
    }
}

/// The two polling URLs of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LroUrls {
    /// `Azure-AsyncOperation`: the status resource.
    pub async_operation: String,
    /// `Location`: the result resource.
    pub location: String,
}

/// The polling URLs of operation `op` on this server (`base` = `scheme://host[:port]`), in the
/// 2022 form that includes the resource group.
pub(crate) fn lro_urls(
    base: &str,
    key: &InstanceKey,
    location: &str,
    op: &Operation,
    api_version: &str,
) -> LroUrls {
    let family = family_of(op.kind);
    let prefix = format!(
        "{base}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/locations/{}",
        encode_segment(&key.subscription),
        encode_segment(&key.resource_group),
        encode_segment(&location_segment(location)),
    );
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("api-version", api_version)
        .finish();
    LroUrls {
        async_operation: format!("{prefix}/{}/{}?{query}", family.async_segment(), op.id),
        location: format!("{prefix}/{}/{}?{query}", family.results_segment(), op.id),
    }
}

/// A location as it appears in resource URLs: `West Europe` → `westeurope`.
fn location_segment(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Percent-encode one path segment (names may hold spaces or other reserved characters).
fn encode_segment(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// The 202 that starts a long-running operation: both polling URLs, `Retry-After`, and the small
/// `{"operation","startTime"}` body.
pub(crate) fn accepted(op: &Operation, urls: &LroUrls, retry_after_secs: u64) -> Response {
    let body = json!({
        "operation": operation_name(op.kind),
        "startTime": timestamp(&op.started_at),
    });
    let mut response = json_response(StatusCode::ACCEPTED, &body);
    add_polling_headers(&mut response, Some(urls), retry_after_secs);
    response
}

/// Add `Azure-AsyncOperation` + `Location` (when given) and `Retry-After`.
pub(crate) fn add_polling_headers(
    response: &mut Response,
    urls: Option<&LroUrls>,
    retry_after_secs: u64,
) {
    let headers = response.headers_mut();
    if let Some(urls) = urls {
        if let Ok(v) = HeaderValue::from_str(&urls.async_operation) {
            headers.insert(AZURE_ASYNC_OPERATION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&urls.location) {
            headers.insert(header::LOCATION, v);
        }
    }
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
}

/// The body of the `Azure-AsyncOperation` URL: name, status, start, and the error once failed.
/// No `endTime`: the real service's polls never carried one, finished or not (recordings of
/// 2020 and 2022, docs/fidelity.md); the instance's operations list has the times.
pub(crate) fn async_status_body(op: &Operation) -> Value {
    let mut body = json!({
        "name": op.id.to_string(),
        "status": status_name(op.status),
        "startTime": timestamp(&op.started_at),
    });
    if op.status == OperationStatus::Failed {
        let (code, message) = match &op.error {
            Some(e) => (e.code.as_str(), e.message.as_str()),
            None => (
                "InternalServerError",
                "The operation failed without an error record.",
            ),
        };
        body["error"] = json!({"code": code, "message": message});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use lrs_store::ErrorRecord;
    use uuid::Uuid;

    fn op(kind: OperationKind, status: OperationStatus) -> Operation {
        Operation {
            id: Uuid::parse_str("68971faf-0000-4000-8000-000000000001").expect("uuid"),
            kind,
            database_id: Uuid::nil(),
            instance: key(),
            database_name: "db1".into(),
            status,
            error: None,
            started_at: Utc
                .with_ymd_and_hms(2020, 8, 26, 12, 6, 53)
                .single()
                .expect("date"),
            finished_at: None,
        }
    }

    fn key() -> InstanceKey {
        InstanceKey {
            subscription: "sub1".into(),
            resource_group: "my rg".into(),
            instance: "mi1".into(),
        }
    }

    #[test]
    fn urls_point_back_at_this_server_with_the_family_of_the_kind() {
        let o = op(OperationKind::StartRestore, OperationStatus::InProgress);
        let urls = lro_urls(
            "https://localhost:8443",
            &key(),
            "West Europe",
            &o,
            "2024-11-01-preview",
        );
        assert_eq!(
            urls.async_operation,
            "https://localhost:8443/subscriptions/sub1/resourceGroups/my%20rg/providers/Microsoft.Sql/locations/westeurope/managedDatabaseRestoreAzureAsyncOperation/68971faf-0000-4000-8000-000000000001?api-version=2024-11-01-preview"
        );
        assert_eq!(
            urls.location,
            "https://localhost:8443/subscriptions/sub1/resourceGroups/my%20rg/providers/Microsoft.Sql/locations/westeurope/managedDatabaseRestoreOperationResults/68971faf-0000-4000-8000-000000000001?api-version=2024-11-01-preview"
        );
        for (kind, async_segment) in [
            (
                OperationKind::CompleteRestore,
                "/managedDatabaseCompleteRestoreAzureAsyncOperation/",
            ),
            (
                OperationKind::DropDatabase,
                "/managedDatabaseAzureAsyncOperation/",
            ),
            (
                OperationKind::CreateDatabase,
                "/managedDatabaseAzureAsyncOperation/",
            ),
        ] {
            let urls = lro_urls(
                "http://h",
                &key(),
                "l",
                &op(kind, OperationStatus::InProgress),
                "v",
            );
            assert!(urls.async_operation.contains(async_segment), "{kind:?}");
        }
    }

    #[tokio::test]
    async fn accepted_has_both_headers_retry_after_and_the_real_body() {
        use http_body_util::BodyExt;
        let o = op(OperationKind::DropDatabase, OperationStatus::InProgress);
        let urls = lro_urls(
            "https://h:1",
            &key(),
            "westcentralus",
            &o,
            "2019-06-01-preview",
        );
        let response = accepted(&o, &urls, 15);
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let h = response.headers();
        assert_eq!(
            h.get(AZURE_ASYNC_OPERATION).and_then(|v| v.to_str().ok()),
            Some(urls.async_operation.as_str())
        );
        assert_eq!(
            h.get(header::LOCATION).and_then(|v| v.to_str().ok()),
            Some(urls.location.as_str())
        );
        assert_eq!(
            h.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("15")
        );
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            body,
            json!({"operation":"DropManagedDatabase","startTime":"2020-08-26T12:06:53Z"})
        );
    }

    #[test]
    fn status_bodies_in_progress_succeeded_failed() {
        let mut o = op(OperationKind::StartRestore, OperationStatus::InProgress);
        assert_eq!(
            async_status_body(&o),
            json!({"name":"68971faf-0000-4000-8000-000000000001","status":"InProgress","startTime":"2020-08-26T12:06:53Z"})
        );
        o.status = OperationStatus::Succeeded;
        o.finished_at = Utc.with_ymd_and_hms(2020, 8, 26, 12, 9, 40).single();
        assert_eq!(
            async_status_body(&o),
            json!({"name":"68971faf-0000-4000-8000-000000000001","status":"Succeeded","startTime":"2020-08-26T12:06:53Z"})
        );
        assert!(async_status_body(&o).get("error").is_none());
        o.status = OperationStatus::Failed;
        o.error = Some(ErrorRecord {
            code: "SqlRestoreError".into(),
            message: "Non retriable error occurred while restoring backup.".into(),
        });
        assert_eq!(
            async_status_body(&o)["error"],
            json!({"code":"SqlRestoreError","message":"Non retriable error occurred while restoring backup."})
        );
        assert_eq!(
            operation_name(OperationKind::StartRestore),
            "CreateExternalManagedBackupRestoreV2Request"
        );
        assert_eq!(
            operation_name(OperationKind::CompleteRestore),
            "ManagedDatabaseCompleteExternalRestore"
        );
        assert_eq!(
            operation_name(OperationKind::CreateDatabase),
            "CreateManagedDatabase"
        );
    }
}
