//! The one error type of the HTTP layer and its wire form, the ARM error envelope
//! `{"error":{"code","message"}}`.
//!
//! Every refusal — from the parser, a handler or the engine — becomes an [`ApiError`], and
//! [`ApiError`]'s `IntoResponse` is the only place that writes an error to the wire. Engine errors
//! are mapped in `From<EngineError>`, in one place.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lrs_engine::EngineError;
use lrs_store::{ErrorRecord, InstanceKey};
use serde_json::json;
use uuid::Uuid;

use crate::json::JSON_CONTENT_TYPE;

/// Header the ARM gateway sets on 404s for resources it does not know.
pub const FAILURE_CAUSE_HEADER: &str = "x-ms-failure-cause";

/// An error as ARM reports it: HTTP status, error code, message, and the few headers some
/// errors carry.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    gateway: bool,
    www_authenticate: Option<String>,
    /// Methods the route serves (`Allow` of a 405).
    allow: Option<String>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("code", &self.code)
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            gateway: false,
            www_authenticate: None,
            allow: None,
        }
    }

    /// A 400 with this code and message.
    pub fn bad_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// ARM error code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the ARM gateway (not the resource provider) answered: adds
    /// `x-ms-failure-cause: gateway`.
    pub fn is_gateway(&self) -> bool {
        self.gateway
    }

    /// Mark as answered by the ARM gateway.
    fn via_gateway(mut self) -> Self {
        self.gateway = true;
        self
    }

    /// Attach a `WWW-Authenticate` challenge (401s).
    pub(crate) fn with_challenge(mut self, challenge: String) -> Self {
        self.www_authenticate = Some(challenge);
        self
    }

    /// The JSON envelope.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }

    /// `api-version` is missing (ARM's exact code and message).
    pub fn missing_api_version() -> Self {
        ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    }

    /// The managed instance does not exist (the ARM gateway's 404,
    /// docs/references.md#managed-instance).
    pub fn instance_not_found(key: &InstanceKey) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Sql/managedInstances/{}' under resource group '{}' was \
                 not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                key.instance, key.resource_group
            ),
        )
        .via_gateway()
    }

    /// A dropped database: the resource provider's 404 (no `x-ms-failure-cause`), as the real
    /// service answered GETs after a drop (recording of 2020-09-03, docs/fidelity.md).
    pub fn dropped_database_not_found(name: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The requested resource of type 'Microsoft.Sql/managedInstances/databases' with \
                 name '{name}' was not found."
            ),
        )
    }

    /// The database does not exist and never did (the ARM gateway's 404, docs/references.md#managed-instance).
    pub fn database_not_found(key: &InstanceKey, name: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Sql/managedInstances/{}/databases/{}' under resource \
                 group '{}' was not found. For more details please go to \
                 https://aka.ms/ARMResourceNotFoundFix",
                key.instance, name, key.resource_group
            ),
        )
        .via_gateway()
    }

    /// The resource provider's 404 for an action on a database that does not exist (the spec's
    /// `ResourceDoesNotExist` of completeRestore).
    pub fn resource_does_not_exist(name: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceDoesNotExist",
            format!(
                "Resource with the name '{name}' does not exist. To continue, specify a valid \
                 resource name."
            ),
        )
    }

    /// No long-running operation with this id.
    pub fn operation_not_found(id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The requested operation '{id}' was not found."),
        )
    }

    /// No management operation with this id on this managed instance: unknown, another
    /// instance's, or not an operation id (a GUID) at all. The resource provider answers, not the
    /// gateway; the message is ours (the real text is not published).
    pub fn instance_operation_not_found(key: &InstanceKey, id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The requested resource of type 'Microsoft.Sql/managedInstances/operations' with \
                 name '{id}' was not found on managed instance '{}' under resource group '{}'.",
                key.instance, key.resource_group
            ),
        )
    }

    /// A body the create-or-update database operation cannot use; `detail` says what and where.
    pub fn invalid_database_request(detail: impl fmt::Display) -> Self {
        ApiError::bad_request(
            "InvalidDatabaseCreateOrUpdateRequest",
            format!(
                "The request body for the create or update database operation is invalid. {detail}"
            ),
        )
    }

    /// A request body that is not the JSON the operation expects.
    pub fn invalid_request_content(detail: impl fmt::Display) -> Self {
        ApiError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }

    /// The body is larger than the configured limit.
    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!(
                "The request content size exceeds the maximum permitted size of {limit} bytes."
            ),
        )
    }

    /// The route exists but not for this method; `allowed` goes in the `Allow` header.
    pub fn method_not_allowed(method: &str, allowed: &[&str]) -> Self {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The requested resource does not support http method '{method}'."),
        );
        e.allow = Some(allowed.join(", "));
        e
    }

    /// Something failed inside the emulator. The message carries only a tracking id, which the
    /// log line with the details also carries.
    pub fn internal(tracking_id: Uuid) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            format!(
                "An unexpected error occured while processing the request. Tracking ID: \
                 '{tracking_id}'"
            ),
        )
    }
}

/// How a failed operation's error shows in a managed instance operation
/// (`…/managedInstances/{mi}/operations`), whose error fields are numbers, not ARM codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperationFailure {
    /// `errorCode`: SQL Server's error number for a `SqlRestoreError` that carries one,
    /// otherwise [`OperationFailure::NO_NUMBER`] (ours: the real numbers are not published).
    pub(crate) code: i32,
    /// `errorDescription`: `{ARM code}: {message}`, so that the code the asynchronous operation
    /// reports stays visible (ours).
    pub(crate) description: String,
    /// `errorSeverity`: [`OperationFailure::SEVERITY`].
    pub(crate) severity: i32,
    /// `isUserError`: every failure but an internal one comes from the user's backups, storage
    /// or identity.
    pub(crate) is_user_error: bool,
}

impl OperationFailure {
    /// `errorCode` when the error carries no SQL Server number: 50000, SQL Server's number for
    /// an error without a system message.
    pub(crate) const NO_NUMBER: i32 = 50000;
    /// `errorSeverity`: 16, SQL Server's severity for errors the user can correct.
    pub(crate) const SEVERITY: i32 = 16;

    /// The failure of an operation from its error record (`None`: failed without one).
    pub(crate) fn of(error: Option<&ErrorRecord>) -> Self {
        let (code, message) = match error {
            Some(e) => (e.code.as_str(), e.message.as_str()),
            None => (
                "InternalServerError",
                "The operation failed without an error record.",
            ),
        };
        let number = if code == "SqlRestoreError" {
            sql_error_number(message)
        } else {
            None
        };
        OperationFailure {
            code: number.unwrap_or(Self::NO_NUMBER),
            description: format!("{code}: {message}"),
            severity: Self::SEVERITY,
            is_user_error: code != "InternalServerError",
        }
    }
}

/// The SQL Server error number in a `SqlRestoreError` message (`… with index {i} - {number}
/// {text}`): the digits right after the first ` - `.
fn sql_error_number(message: &str) -> Option<i32> {
    let (_, rest) = message.split_once(" - ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| *n > 0)
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Refused(refusal) => crate::refusals::to_wire(refusal),
            EngineError::InstanceNotFound(key) => ApiError::instance_not_found(&key),
            EngineError::DatabaseNotFound {
                instance,
                name,
                dropped: false,
            } => ApiError::database_not_found(&instance, &name),
            EngineError::DatabaseNotFound {
                name,
                dropped: true,
                ..
            } => ApiError::dropped_database_not_found(&name),
            EngineError::Injected {
                status,
                code,
                message,
            } => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                code,
                message,
            ),
            EngineError::OperationNotFound(id) => ApiError::operation_not_found(&id.to_string()),
            EngineError::InstanceOperationNotFound { instance, id } => {
                ApiError::instance_operation_not_found(&instance, &id.to_string())
            }
            EngineError::Internal(detail) => {
                let tracking_id = Uuid::new_v4();
                tracing::error!(%tracking_id, %detail, "engine failed");
                ApiError::internal(tracking_id)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        );
        if self.gateway {
            headers.insert(FAILURE_CAUSE_HEADER, HeaderValue::from_static("gateway"));
        }
        if let Some(challenge) = self
            .www_authenticate
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(header::ALLOW, allow);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use lrs_engine::Refusal;

    fn key() -> InstanceKey {
        InstanceKey {
            subscription: "sub".into(),
            resource_group: "ps7911".into(),
            instance: "ps9666".into(),
        }
    }

    async fn wire(e: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = e.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, headers, body)
    }

    #[tokio::test]
    async fn refusals_and_injected_faults_keep_code_status_and_message() {
        let (status, headers, body) = wire(EngineError::Refused(Refusal::MissingUri).into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json; charset=utf-8"[..])
        );
        assert_eq!(
            body,
            json!({"error":{"code":"MissingStorageContainerUri","message":"Missing storage container URI"}})
        );
        assert!(headers.get(FAILURE_CAUSE_HEADER).is_none());

        let (status, _, body) = wire(
            EngineError::Injected {
                status: 404,
                code: "ResourceDoesNotExist",
                message: "gone".into(),
            }
            .into(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            json!({"error":{"code":"ResourceDoesNotExist","message":"gone"}})
        );
    }

    #[tokio::test]
    async fn missing_instance_is_the_gateway_404_of_the_recording() {
        let (status, headers, body) = wire(EngineError::InstanceNotFound(key()).into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            headers.get(FAILURE_CAUSE_HEADER).map(|v| v.as_bytes()),
            Some(&b"gateway"[..])
        );
        assert_eq!(
            body,
            json!({"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Sql/managedInstances/ps9666' under resource group 'ps7911' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"}})
        );
    }

    #[tokio::test]
    async fn missing_database_is_the_gateway_404_of_the_recording() {
        let (status, headers, body) = wire(
            EngineError::DatabaseNotFound {
                instance: key(),
                name: "ps5612".into(),
                dropped: false,
            }
            .into(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.get(FAILURE_CAUSE_HEADER).is_some());
        assert_eq!(
            body["error"]["message"],
            "The Resource 'Microsoft.Sql/managedInstances/ps9666/databases/ps5612' under resource group 'ps7911' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        );
    }

    #[tokio::test]
    async fn a_dropped_database_is_the_resource_providers_404_of_the_recording() {
        let (status, headers, body) = wire(
            EngineError::DatabaseNotFound {
                instance: key(),
                name: "ps2858".into(),
                dropped: true,
            }
            .into(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.get(FAILURE_CAUSE_HEADER).is_none());
        assert_eq!(
            body,
            json!({"error":{"code":"ResourceNotFound","message":"The requested resource of type 'Microsoft.Sql/managedInstances/databases' with name 'ps2858' was not found."}})
        );
    }

    #[tokio::test]
    async fn operation_not_found_is_404() {
        let id = Uuid::nil();
        let (status, headers, body) = wire(EngineError::OperationNotFound(id).into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.get(FAILURE_CAUSE_HEADER).is_none());
        assert_eq!(body["error"]["code"], "ResourceNotFound");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&id.to_string()))
        );
    }

    #[tokio::test]
    async fn instance_operation_not_found_is_the_providers_404() {
        let id = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap_or_default();
        let e = EngineError::InstanceOperationNotFound {
            instance: key(),
            id,
        };
        let (status, headers, body) = wire(e.into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers.get(FAILURE_CAUSE_HEADER), None);
        assert_eq!(
            body,
            json!({"error":{"code":"ResourceNotFound","message":"The requested resource of type 'Microsoft.Sql/managedInstances/operations' with name '11111111-2222-3333-4444-555555555555' was not found on managed instance 'ps9666' under resource group 'ps7911'."}})
        );
    }

    #[test]
    fn operation_failures_carry_the_code_in_the_description() {
        let checksum = ErrorRecord {
            code: "FullBackupMissingChecksum".into(),
            message: "Provided full backup is missing checksum. File: 'full.bak'.".into(),
        };
        assert_eq!(
            OperationFailure::of(Some(&checksum)),
            OperationFailure {
                code: 50000,
                description: "FullBackupMissingChecksum: Provided full backup is missing \
                              checksum. File: 'full.bak'."
                    .into(),
                severity: 16,
                is_user_error: true,
            }
        );
        let restore = ErrorRecord {
            code: "SqlRestoreError".into(),
            message: "Non retriable error occurred while restoring backup with index 2 - 4305 \
                      The log in this backup set begins at LSN 42."
                .into(),
        };
        assert_eq!(OperationFailure::of(Some(&restore)).code, 4305);
        let odd = ErrorRecord {
            code: "SqlRestoreError".into(),
            message: "no number - here".into(),
        };
        assert_eq!(OperationFailure::of(Some(&odd)).code, 50000);
        let none = OperationFailure::of(None);
        assert_eq!(none.code, 50000);
        assert!(!none.is_user_error);
        assert_eq!(
            none.description,
            "InternalServerError: The operation failed without an error record."
        );
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_details() {
        let (status, _, body) = wire(
            EngineError::Internal("sqlite: disk I/O error at /secret/path/lrs.db".into()).into(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "InternalServerError");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("An unexpected error occured"),
            "{message}"
        );
        assert!(!message.contains("sqlite") && !message.contains("/secret"));
    }

    #[tokio::test]
    async fn challenge_becomes_www_authenticate() {
        let e = ApiError::new(StatusCode::UNAUTHORIZED, "AuthenticationFailed", "no")
            .with_challenge("Bearer error=\"invalid_token\"".into());
        let (status, headers, _) = wire(e).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers.get(header::WWW_AUTHENTICATE).map(|v| v.as_bytes()),
            Some(&b"Bearer error=\"invalid_token\""[..])
        );
    }
}
