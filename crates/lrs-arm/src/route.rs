//! Request parsing: method + path + query become a typed [`ArmOperation`] before any handler
//! runs, so handlers never look at raw paths.
//!
//! ARM paths are case-insensitive (`resourceGroups` and `resourcegroups` both occur in the wild):
//! fixed segments are compared case-insensitively, names are kept as the caller spelled them
//! (after percent-decoding) so that ids echo the caller's casing. Empty segments are ignored,
//! which absorbs trailing slashes and the `//metadata/endpoints` that `az cloud register` sends
//! when the endpoint ends in `/`.

use lrs_store::InstanceKey;
use percent_encoding::percent_decode_str;
use uuid::Uuid;

use crate::error::ApiError;
use axum::http::{Method, StatusCode};

/// A managed instance as named in a request path (the caller's spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePath {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Managed instance name.
    pub instance: String,
}

impl InstancePath {
    /// The store key of this instance.
    pub fn key(&self) -> InstanceKey {
        InstanceKey {
            subscription: self.subscription.clone(),
            resource_group: self.resource_group.clone(),
            instance: self.instance.clone(),
        }
    }

    /// The ARM resource id, in the caller's spelling of the names.
    pub fn id(&self) -> String {
        instance_id(&self.key())
    }
}

/// The ARM resource id of a managed instance.
pub(crate) fn instance_id(key: &InstanceKey) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
        key.subscription, key.resource_group, key.instance
    )
}

/// A managed database as named in a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePath {
    /// Its instance.
    pub instance: InstancePath,
    /// Database name.
    pub database: String,
}

impl DatabasePath {
    /// The ARM resource id, in the caller's spelling of the names.
    pub fn id(&self) -> String {
        format!("{}/databases/{}", self.instance.id(), self.database)
    }
}

/// A management operation of a managed instance, as named in a request path
/// (`…/managedInstances/{mi}/operations/{operationId}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceOperationPath {
    /// Its instance.
    pub instance: InstancePath,
    /// Operation id (the same GUID as in the polling URLs).
    pub id: Uuid,
}

impl InstanceOperationPath {
    /// The ARM resource id, in the caller's spelling of the names.
    pub fn id(&self) -> String {
        instance_operation_id(&self.instance.key(), self.id)
    }
}

/// The ARM resource id of a managed instance operation.
pub(crate) fn instance_operation_id(key: &InstanceKey, id: Uuid) -> String {
    format!("{}/operations/{id}", instance_id(key))
}

/// Which family of operation URLs (docs/references.md#start, #complete, #stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationFamily {
    /// `managedDatabase…`: plain create and delete.
    ManagedDatabase,
    /// `managedDatabaseRestore…`: an LRS start.
    ManagedDatabaseRestore,
    /// `managedDatabaseCompleteRestore…`: an LRS cutover.
    ManagedDatabaseCompleteRestore,
}

impl OperationFamily {
    /// Every family.
    pub const ALL: [OperationFamily; 3] = [
        OperationFamily::ManagedDatabase,
        OperationFamily::ManagedDatabaseRestore,
        OperationFamily::ManagedDatabaseCompleteRestore,
    ];

    /// The URL prefix of the family.
    pub fn prefix(self) -> &'static str {
        match self {
            OperationFamily::ManagedDatabase => "managedDatabase",
            OperationFamily::ManagedDatabaseRestore => "managedDatabaseRestore",
            OperationFamily::ManagedDatabaseCompleteRestore => "managedDatabaseCompleteRestore",
        }
    }

    /// The `Azure-AsyncOperation` segment, e.g. `managedDatabaseRestoreAzureAsyncOperation`.
    pub fn async_segment(self) -> String {
        format!("{}AzureAsyncOperation", self.prefix())
    }

    /// The `Location` segment, e.g. `managedDatabaseRestoreOperationResults`.
    pub fn results_segment(self) -> String {
        format!("{}OperationResults", self.prefix())
    }
}

/// An operation-polling URL: `/subscriptions/{sub}[/resourceGroups/{rg}]/providers/Microsoft.Sql/
/// locations/{loc}/{family}{AzureAsyncOperation|OperationResults}/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationPath {
    /// Subscription id.
    pub subscription: String,
    /// Resource group, when the URL has one (the 2022 form).
    pub resource_group: Option<String>,
    /// Location segment.
    pub location: String,
    /// URL family.
    pub family: OperationFamily,
    /// Operation id.
    pub id: Uuid,
}

/// Every operation this front end serves, with its parameters, parsed from the request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmOperation {
    /// `GET /healthz`.
    Health,
    /// `GET /metrics`: Prometheus metrics (docs/metrics.md).
    Metrics,
    /// `GET /openapi.json`.
    OpenApi,
    /// `GET /` (the page) and `GET /ui/dashboard.css|js`: the live dashboard.
    Dashboard(DashboardFile),
    /// `GET /metadata/endpoints`: cloud metadata for `az cloud register`.
    MetadataEndpoints,
    /// `GET /{tenant}[/v2.0]/.well-known/openid-configuration`.
    OpenIdConfiguration {
        /// Tenant segment (a GUID, `common`, `organizations`...).
        tenant: String,
    },
    /// `POST /{tenant}/oauth2[/v2.0]/token`.
    Token {
        /// Tenant segment.
        tenant: String,
    },
    /// `GET /{tenant}/discovery/instance` (MSAL instance discovery).
    InstanceDiscovery {
        /// Tenant segment.
        tenant: String,
    },
    /// `GET /msi/token` (App Service managed-identity protocol).
    ManagedIdentityToken,
    /// `GET /subscriptions`.
    ListSubscriptions,
    /// `GET /subscriptions/{sub}`.
    GetSubscription {
        /// Subscription id.
        subscription: String,
    },
    /// `GET /tenants`.
    ListTenants,
    /// `GET /subscriptions/{sub}/providers/Microsoft.Sql/managedInstances`.
    ListInstancesBySubscription {
        /// Subscription id.
        subscription: String,
    },
    /// `GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances`.
    ListInstancesByGroup {
        /// Subscription id.
        subscription: String,
        /// Resource group.
        resource_group: String,
    },
    /// `GET …/managedInstances/{mi}`.
    GetInstance(InstancePath),
    /// `PUT …/managedInstances/{mi}`.
    PutInstance(InstancePath),
    /// `GET …/managedInstances/{mi}/databases`.
    ListDatabases(InstancePath),
    /// `GET …/managedInstances/{mi}/operations` (`az sql mi op list`).
    ListInstanceOperations(InstancePath),
    /// `GET …/managedInstances/{mi}/operations/{operationId}` (`az sql mi op show`).
    GetInstanceOperation(InstanceOperationPath),
    /// `GET …/databases/{db}`.
    GetDatabase(DatabasePath),
    /// `PUT …/databases/{db}` (LRS start or plain create).
    PutDatabase(DatabasePath),
    /// `DELETE …/databases/{db}` (LRS stop or drop).
    DeleteDatabase(DatabasePath),
    /// `GET …/databases/{db}/restoreDetails/Default`.
    GetRestoreDetails(DatabasePath),
    /// `POST …/databases/{db}/completeRestore`.
    CompleteRestore(DatabasePath),
    /// `GET …/locations/{loc}/{family}AzureAsyncOperation/{id}`.
    GetAsyncOperation(OperationPath),
    /// `GET …/locations/{loc}/{family}OperationResults/{id}`.
    GetOperationResult(OperationPath),
    /// `POST /admin/system-patch`.
    AdminSystemPatch,
    /// `POST /admin/failover?subscription=&resourceGroup=&instance=`.
    AdminFailover(InstancePath),
    /// `POST /admin/faults` (the fault in the body).
    AdminInjectFault,
    /// `GET /admin/faults`.
    AdminListFaults,
    /// `DELETE /admin/faults` (all) or `DELETE /admin/faults/{faultId}` (one).
    AdminClearFaults(Option<Uuid>),
}

/// A file of the dashboard, embedded in the binary (`src/dashboard/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashboardFile {
    /// `GET /`: the HTML page.
    Page,
    /// `GET /ui/dashboard.css`.
    Style,
    /// `GET /ui/dashboard.js`.
    Script,
}

/// Declares [`Route`] and its `ALL` list from one list of names, so the two cannot drift.
macro_rules! routes {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// The kind of an [`ArmOperation`], without its parameters: one per served route.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Route {
            $($(#[$doc])* $name,)*
        }

        impl Route {
            /// Every route.
            pub const ALL: &'static [Route] = &[$(Route::$name,)*];

            /// The operation id (also used in logs and in the OpenAPI document).
            pub fn name(self) -> &'static str {
                match self {
                    $(Route::$name => stringify!($name),)*
                }
            }
        }
    };
}

routes! {
    /// See [`ArmOperation::Health`].
    Health,
    /// See [`ArmOperation::Metrics`].
    Metrics,
    /// See [`ArmOperation::OpenApi`].
    OpenApi,
    /// See [`ArmOperation::Dashboard`].
    Dashboard,
    /// See [`ArmOperation::MetadataEndpoints`].
    MetadataEndpoints,
    /// See [`ArmOperation::OpenIdConfiguration`].
    OpenIdConfiguration,
    /// See [`ArmOperation::Token`].
    Token,
    /// See [`ArmOperation::InstanceDiscovery`].
    InstanceDiscovery,
    /// See [`ArmOperation::ManagedIdentityToken`].
    ManagedIdentityToken,
    /// See [`ArmOperation::ListSubscriptions`].
    ListSubscriptions,
    /// See [`ArmOperation::GetSubscription`].
    GetSubscription,
    /// See [`ArmOperation::ListTenants`].
    ListTenants,
    /// See [`ArmOperation::ListInstancesBySubscription`].
    ListInstancesBySubscription,
    /// See [`ArmOperation::ListInstancesByGroup`].
    ListInstancesByGroup,
    /// See [`ArmOperation::GetInstance`].
    GetInstance,
    /// See [`ArmOperation::PutInstance`].
    PutInstance,
    /// See [`ArmOperation::ListDatabases`].
    ListDatabases,
    /// See [`ArmOperation::ListInstanceOperations`].
    ListInstanceOperations,
    /// See [`ArmOperation::GetInstanceOperation`].
    GetInstanceOperation,
    /// See [`ArmOperation::GetDatabase`].
    GetDatabase,
    /// See [`ArmOperation::PutDatabase`].
    PutDatabase,
    /// See [`ArmOperation::DeleteDatabase`].
    DeleteDatabase,
    /// See [`ArmOperation::GetRestoreDetails`].
    GetRestoreDetails,
    /// See [`ArmOperation::CompleteRestore`].
    CompleteRestore,
    /// See [`ArmOperation::GetAsyncOperation`].
    GetAsyncOperation,
    /// See [`ArmOperation::GetOperationResult`].
    GetOperationResult,
    /// See [`ArmOperation::AdminSystemPatch`].
    AdminSystemPatch,
    /// See [`ArmOperation::AdminFailover`].
    AdminFailover,
    /// See [`ArmOperation::AdminInjectFault`].
    AdminInjectFault,
    /// See [`ArmOperation::AdminListFaults`].
    AdminListFaults,
    /// See [`ArmOperation::AdminClearFaults`].
    AdminClearFaults,
}

/// Where a route lives, for the OpenAPI document and the round-trip tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path templates (`{name}` placeholders), canonical spelling; several when the route has
    /// alternative forms.
    pub paths: &'static [&'static str],
    /// One-line description.
    pub summary: &'static str,
}

impl Route {
    /// Method, paths and summary of this route.
    pub fn spec(self) -> RouteSpec {
        let (method, paths, summary): (&str, &[&str], &str) = match self {
            Route::Health => ("GET", &["/healthz"], "Liveness probe"),
            Route::Metrics => (
                "GET",
                &["/metrics"],
                "Prometheus metrics in the text exposition format",
            ),
            Route::OpenApi => ("GET", &["/openapi.json"], "This document"),
            Route::Dashboard => (
                "GET",
                &["/", "/ui/dashboard.css", "/ui/dashboard.js"],
                "The live dashboard: its page, stylesheet and script (they call the ARM API)",
            ),
            Route::MetadataEndpoints => (
                "GET",
                &["/metadata/endpoints"],
                "Cloud metadata (az cloud register endpoint discovery)",
            ),
            Route::OpenIdConfiguration => (
                "GET",
                &[
                    "/{tenant}/v2.0/.well-known/openid-configuration",
                    "/{tenant}/.well-known/openid-configuration",
                ],
                "OpenID configuration of the emulated AAD authority",
            ),
            Route::Token => (
                "POST",
                &["/{tenant}/oauth2/v2.0/token", "/{tenant}/oauth2/token"],
                "Client-credentials token endpoint of the emulated AAD authority",
            ),
            Route::InstanceDiscovery => (
                "GET",
                &["/{tenant}/discovery/instance"],
                "MSAL instance discovery",
            ),
            Route::ManagedIdentityToken => (
                "GET",
                &["/msi/token"],
                "App Service managed-identity token endpoint (needs X-IDENTITY-HEADER)",
            ),
            Route::ListSubscriptions => ("GET", &["/subscriptions"], "List subscriptions"),
            Route::GetSubscription => (
                "GET",
                &["/subscriptions/{subscriptionId}"],
                "Get a subscription",
            ),
            Route::ListTenants => ("GET", &["/tenants"], "List tenants"),
            Route::ListInstancesBySubscription => (
                "GET",
                &["/subscriptions/{subscriptionId}/providers/Microsoft.Sql/managedInstances"],
                "List managed instances of a subscription",
            ),
            Route::ListInstancesByGroup => (
                "GET",
                &[
                    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances",
                ],
                "List managed instances of a resource group",
            ),
            Route::GetInstance => ("GET", &[INSTANCE], "Get a managed instance"),
            Route::PutInstance => (
                "PUT",
                &[INSTANCE],
                "Create or replace a managed instance (provisioned at once)",
            ),
            Route::ListDatabases => (
                "GET",
                &[DATABASES],
                "List the databases of a managed instance",
            ),
            Route::ListInstanceOperations => (
                "GET",
                &[INSTANCE_OPERATIONS],
                "List the management operations of a managed instance (its databases' log \
                 replay start, cutover, drop and create), newest first",
            ),
            Route::GetInstanceOperation => (
                "GET",
                &[INSTANCE_OPERATION],
                "Get one management operation of a managed instance",
            ),
            Route::GetDatabase => ("GET", &[DATABASE], "Get a managed database"),
            Route::PutDatabase => (
                "PUT",
                &[DATABASE],
                "Start a log replay migration (createMode RestoreExternalBackup) or create a \
                 database",
            ),
            Route::DeleteDatabase => (
                "DELETE",
                &[DATABASE],
                "Drop a database (stops a log replay migration)",
            ),
            Route::GetRestoreDetails => (
                "GET",
                &[RESTORE_DETAILS],
                "Log replay progress of a database",
            ),
            Route::CompleteRestore => ("POST", &[COMPLETE], "Complete (cut over) a migration"),
            Route::GetAsyncOperation => (
                "GET",
                &[ASYNC_OP_RG, ASYNC_OP],
                "Poll a long-running operation (Azure-AsyncOperation URL)",
            ),
            Route::GetOperationResult => (
                "GET",
                &[RESULT_RG, RESULT],
                "Result of a long-running operation (Location URL)",
            ),
            Route::AdminSystemPatch => (
                "POST",
                &["/admin/system-patch"],
                "Emulate a system-managed software update now",
            ),
            Route::AdminFailover => (
                "POST",
                &["/admin/failover"],
                "Emulate a failover of one managed instance now",
            ),
            Route::AdminInjectFault => (
                "POST",
                &["/admin/faults"],
                "Inject a fault: fail, stall or slow a migration with a catalogue code",
            ),
            Route::AdminListFaults => ("GET", &["/admin/faults"], "The injected faults"),
            Route::AdminClearFaults => (
                "DELETE",
                &["/admin/faults", "/admin/faults/{faultId}"],
                "Clear every injected fault, or one",
            ),
        };
        RouteSpec {
            method,
            paths,
            summary,
        }
    }

    /// Whether the route is an ARM call that requires `?api-version=`.
    pub fn requires_api_version(self) -> bool {
        self.is_arm() || self == Route::ManagedIdentityToken
    }

    /// Whether the route is an ARM call (needs a bearer token in strict mode). Plumbing
    /// (metadata, AAD, MSI, health, OpenAPI) does not.
    pub fn is_arm(self) -> bool {
        !matches!(
            self,
            Route::Health
                | Route::Metrics
                | Route::OpenApi
                | Route::Dashboard
                | Route::MetadataEndpoints
                | Route::OpenIdConfiguration
                | Route::Token
                | Route::InstanceDiscovery
                | Route::ManagedIdentityToken
                | Route::AdminSystemPatch
                | Route::AdminFailover
                | Route::AdminInjectFault
                | Route::AdminListFaults
                | Route::AdminClearFaults
        )
    }

    /// Whether the route needs a bearer token in strict mode: ARM calls and the admin calls.
    pub fn requires_token(self) -> bool {
        self.is_arm()
            || matches!(
                self,
                Route::AdminSystemPatch
                    | Route::AdminFailover
                    | Route::AdminInjectFault
                    | Route::AdminListFaults
                    | Route::AdminClearFaults
            )
    }
}

const INSTANCE: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}";
const DATABASES: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}/databases";
const INSTANCE_OPERATIONS: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}/operations";
const INSTANCE_OPERATION: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}/operations/{operationId}";
const DATABASE: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}/databases/{databaseName}";
const RESTORE_DETAILS: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}/databases/{databaseName}/restoreDetails/{restoreDetailsName}";
const COMPLETE: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/managedInstances/{managedInstanceName}/databases/{databaseName}/completeRestore";
const ASYNC_OP_RG: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/locations/{locationName}/{asyncOperationKind}/{operationId}";
const ASYNC_OP: &str = "/subscriptions/{subscriptionId}/providers/Microsoft.Sql/locations/{locationName}/{asyncOperationKind}/{operationId}";
const RESULT_RG: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/locations/{locationName}/{operationResultKind}/{operationId}";
const RESULT: &str = "/subscriptions/{subscriptionId}/providers/Microsoft.Sql/locations/{locationName}/{operationResultKind}/{operationId}";

impl ArmOperation {
    /// The route this operation was parsed from.
    pub fn route(&self) -> Route {
        match self {
            ArmOperation::Health => Route::Health,
            ArmOperation::Metrics => Route::Metrics,
            ArmOperation::OpenApi => Route::OpenApi,
            ArmOperation::Dashboard(_) => Route::Dashboard,
            ArmOperation::MetadataEndpoints => Route::MetadataEndpoints,
            ArmOperation::OpenIdConfiguration { .. } => Route::OpenIdConfiguration,
            ArmOperation::Token { .. } => Route::Token,
            ArmOperation::InstanceDiscovery { .. } => Route::InstanceDiscovery,
            ArmOperation::ManagedIdentityToken => Route::ManagedIdentityToken,
            ArmOperation::ListSubscriptions => Route::ListSubscriptions,
            ArmOperation::GetSubscription { .. } => Route::GetSubscription,
            ArmOperation::ListTenants => Route::ListTenants,
            ArmOperation::ListInstancesBySubscription { .. } => Route::ListInstancesBySubscription,
            ArmOperation::ListInstancesByGroup { .. } => Route::ListInstancesByGroup,
            ArmOperation::GetInstance(_) => Route::GetInstance,
            ArmOperation::PutInstance(_) => Route::PutInstance,
            ArmOperation::ListDatabases(_) => Route::ListDatabases,
            ArmOperation::ListInstanceOperations(_) => Route::ListInstanceOperations,
            ArmOperation::GetInstanceOperation(_) => Route::GetInstanceOperation,
            ArmOperation::GetDatabase(_) => Route::GetDatabase,
            ArmOperation::PutDatabase(_) => Route::PutDatabase,
            ArmOperation::DeleteDatabase(_) => Route::DeleteDatabase,
            ArmOperation::GetRestoreDetails(_) => Route::GetRestoreDetails,
            ArmOperation::CompleteRestore(_) => Route::CompleteRestore,
            ArmOperation::GetAsyncOperation(_) => Route::GetAsyncOperation,
            ArmOperation::GetOperationResult(_) => Route::GetOperationResult,
            ArmOperation::AdminSystemPatch => Route::AdminSystemPatch,
            ArmOperation::AdminFailover(_) => Route::AdminFailover,
            ArmOperation::AdminInjectFault => Route::AdminInjectFault,
            ArmOperation::AdminListFaults => Route::AdminListFaults,
            ArmOperation::AdminClearFaults(_) => Route::AdminClearFaults,
        }
    }

    /// The subscription the operation acts in, when it has one.
    pub fn subscription(&self) -> Option<&str> {
        match self {
            ArmOperation::GetSubscription { subscription }
            | ArmOperation::ListInstancesBySubscription { subscription }
            | ArmOperation::ListInstancesByGroup { subscription, .. } => Some(subscription),
            ArmOperation::GetInstance(p)
            | ArmOperation::PutInstance(p)
            | ArmOperation::ListDatabases(p)
            | ArmOperation::ListInstanceOperations(p)
            | ArmOperation::AdminFailover(p) => Some(&p.subscription),
            ArmOperation::GetInstanceOperation(p) => Some(&p.instance.subscription),
            ArmOperation::GetDatabase(p)
            | ArmOperation::PutDatabase(p)
            | ArmOperation::DeleteDatabase(p)
            | ArmOperation::GetRestoreDetails(p)
            | ArmOperation::CompleteRestore(p) => Some(&p.instance.subscription),
            ArmOperation::GetAsyncOperation(p) | ArmOperation::GetOperationResult(p) => {
                Some(&p.subscription)
            }
            _ => None,
        }
    }
}

/// A parsed request: the operation plus the query parameters handlers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    /// What to do.
    pub operation: ArmOperation,
    /// `api-version`, when given.
    pub api_version: Option<String>,
    /// The request path as sent (without query and trailing slash), for ids that echo it.
    pub path: String,
}

/// Parse a request line into an operation. Errors are the ARM answers for unknown routes (404),
/// wrong methods (405), a missing `api-version` (400) and bad parameters (400).
pub fn parse(method: &Method, path: &str, query: Option<&str>) -> Result<ParsedRequest, ApiError> {
    let segments = split_path(path)?;
    let query: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let api_version = query_value(&query, "api-version")
        .filter(|v| !v.is_empty())
        .map(str::to_string);

    let operation = match_route(method, path, &segments, &query, api_version.as_deref())?;
    if operation.route().requires_api_version() && api_version.is_none() {
        return Err(ApiError::missing_api_version());
    }
    crate::rules::check(&operation, api_version.as_deref())?;
    let trimmed = path.trim_end_matches('/');
    Ok(ParsedRequest {
        operation,
        api_version,
        path: if trimmed.is_empty() { "/" } else { trimmed }.to_string(),
    })
}

/// A query parameter by case-insensitive name (first occurrence).
fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Non-empty, percent-decoded path segments.
fn split_path(path: &str) -> Result<Vec<String>, ApiError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|d| d.into_owned())
                .map_err(|_| {
                    ApiError::bad_request(
                        "InvalidRequestUri",
                        format!(
                            "The path segment '{s}' of the request URI is not valid UTF-8 after \
                             percent-decoding."
                        ),
                    )
                })
        })
        .collect()
}

/// The route table: segments → operation, checking the method.
fn match_route(
    method: &Method,
    raw_path: &str,
    segs: &[String],
    query: &[(String, String)],
    api_version: Option<&str>,
) -> Result<ArmOperation, ApiError> {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let lower: Vec<String> = s.iter().map(|x| x.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();

    let candidates: Vec<(Method, ArmOperation)> = match l.as_slice() {
        ["healthz"] => vec![(Method::GET, ArmOperation::Health)],
        ["metrics"] => vec![(Method::GET, ArmOperation::Metrics)],
        ["openapi.json"] => vec![(Method::GET, ArmOperation::OpenApi)],
        [] => vec![(Method::GET, ArmOperation::Dashboard(DashboardFile::Page))],
        ["ui", "dashboard.css"] => {
            vec![(Method::GET, ArmOperation::Dashboard(DashboardFile::Style))]
        }
        ["ui", "dashboard.js"] => {
            vec![(Method::GET, ArmOperation::Dashboard(DashboardFile::Script))]
        }
        ["metadata", "endpoints"] => vec![(Method::GET, ArmOperation::MetadataEndpoints)],
        ["msi", "token"] => vec![(Method::GET, ArmOperation::ManagedIdentityToken)],
        ["admin", "system-patch"] => vec![(Method::POST, ArmOperation::AdminSystemPatch)],
        ["admin", "faults"] => vec![
            (Method::POST, ArmOperation::AdminInjectFault),
            (Method::GET, ArmOperation::AdminListFaults),
            (Method::DELETE, ArmOperation::AdminClearFaults(None)),
        ],
        ["admin", "faults", id] => {
            if method != Method::DELETE {
                return Err(ApiError::method_not_allowed(method.as_str(), &["DELETE"]));
            }
            let id = Uuid::parse_str(id).map_err(|_| {
                ApiError::bad_request(
                    "InvalidFaultRequest",
                    format!("The fault id '{id}' is not a GUID."),
                )
            })?;
            return Ok(ArmOperation::AdminClearFaults(Some(id)));
        }
        ["admin", "failover"] => {
            if method != Method::POST {
                return Err(ApiError::method_not_allowed(method.as_str(), &["POST"]));
            }
            return admin_failover(query);
        }
        ["tenants"] => vec![(Method::GET, ArmOperation::ListTenants)],
        ["subscriptions", ..] => subscription_routes(&s[1..], &l[1..], api_version)?,
        [_, "v2.0", ".well-known", "openid-configuration"]
        | [_, ".well-known", "openid-configuration"] => vec![(
            Method::GET,
            ArmOperation::OpenIdConfiguration {
                tenant: s[0].to_string(),
            },
        )],
        [_, "oauth2", "v2.0", "token"] | [_, "oauth2", "token"] => vec![(
            Method::POST,
            ArmOperation::Token {
                tenant: s[0].to_string(),
            },
        )],
        [_, "discovery", "instance"] | [_, "discovery", "v2.0", "instance"] => vec![(
            Method::GET,
            ArmOperation::InstanceDiscovery {
                tenant: s[0].to_string(),
            },
        )],
        _ => return Err(unknown_path(raw_path)),
    };
    let allowed: Vec<&str> = candidates.iter().map(|(m, _)| m.as_str()).collect();
    let allowed = ApiError::method_not_allowed(method.as_str(), &allowed);
    candidates
        .into_iter()
        .find(|(m, _)| m == method)
        .map(|(_, op)| op)
        .ok_or(allowed)
}

/// Routes under `/subscriptions`.
fn subscription_routes(
    s: &[&str],
    l: &[&str],
    api_version: Option<&str>,
) -> Result<Vec<(Method, ArmOperation)>, ApiError> {
    let get = |op| Ok(vec![(Method::GET, op)]);
    match l {
        [] => get(ArmOperation::ListSubscriptions),
        [_] => get(ArmOperation::GetSubscription {
            subscription: s[0].to_string(),
        }),
        [_, "providers", ..] => provider_routes(s[0], None, &s[2..], &l[2..], api_version),
        [_, "resourcegroups", _, "providers", ..] => {
            provider_routes(s[0], Some(s[2]), &s[4..], &l[4..], api_version)
        }
        _ => Err(unknown_path(&format!("/subscriptions/{}", s.join("/")))),
    }
}

/// Routes under `…/providers/{namespace}`.
fn provider_routes(
    sub: &str,
    rg: Option<&str>,
    s: &[&str],
    l: &[&str],
    api_version: Option<&str>,
) -> Result<Vec<(Method, ArmOperation)>, ApiError> {
    let Some((namespace, _)) = s.split_first() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "InvalidResourceNamespace",
            "The request URI names no resource provider namespace after '/providers'.",
        ));
    };
    if l[0] != "microsoft.sql" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for namespace '{namespace}'. This \
                 emulator serves only 'Microsoft.Sql'."
            ),
        ));
    }
    let s = &s[1..];
    let l = &l[1..];
    let instance = |rg: &str, mi: &str| InstancePath {
        subscription: sub.to_string(),
        resource_group: rg.to_string(),
        instance: mi.to_string(),
    };
    let database = |rg: &str, mi: &str, db: &str| DatabasePath {
        instance: instance(rg, mi),
        database: db.to_string(),
    };
    let ops = match (rg, l) {
        (None, ["managedinstances"]) => vec![(
            Method::GET,
            ArmOperation::ListInstancesBySubscription {
                subscription: sub.to_string(),
            },
        )],
        (Some(rg), ["managedinstances"]) => vec![(
            Method::GET,
            ArmOperation::ListInstancesByGroup {
                subscription: sub.to_string(),
                resource_group: rg.to_string(),
            },
        )],
        (Some(rg), ["managedinstances", _]) => vec![
            (Method::GET, ArmOperation::GetInstance(instance(rg, s[1]))),
            (Method::PUT, ArmOperation::PutInstance(instance(rg, s[1]))),
        ],
        (Some(rg), ["managedinstances", _, "databases"]) => {
            vec![(Method::GET, ArmOperation::ListDatabases(instance(rg, s[1])))]
        }
        (Some(rg), ["managedinstances", _, "operations"]) => vec![(
            Method::GET,
            ArmOperation::ListInstanceOperations(instance(rg, s[1])),
        )],
        (Some(rg), ["managedinstances", _, "operations", _]) => {
            let instance = instance(rg, s[1]);
            // An id that is not a GUID names no operation: the same 404 as an unknown one.
            let id = Uuid::parse_str(s[3])
                .map_err(|_| ApiError::instance_operation_not_found(&instance.key(), s[3]))?;
            vec![(
                Method::GET,
                ArmOperation::GetInstanceOperation(InstanceOperationPath { instance, id }),
            )]
        }
        (Some(rg), ["managedinstances", _, "databases", _]) => {
            let db = database(rg, s[1], s[3]);
            vec![
                (Method::GET, ArmOperation::GetDatabase(db.clone())),
                (Method::PUT, ArmOperation::PutDatabase(db.clone())),
                (Method::DELETE, ArmOperation::DeleteDatabase(db)),
            ]
        }
        (
            Some(rg),
            [
                "managedinstances",
                _,
                "databases",
                _,
                "restoredetails",
                name,
            ],
        ) => {
            if *name != "default" {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!(
                        "The requested resource of type \
                         'Microsoft.Sql/managedInstances/databases/restoreDetails' with name \
                         '{}' was not found. The only restore details name is 'Default'.",
                        s[5]
                    ),
                ));
            }
            vec![(
                Method::GET,
                ArmOperation::GetRestoreDetails(database(rg, s[1], s[3])),
            )]
        }
        (Some(rg), ["managedinstances", _, "databases", _, "completerestore"]) => vec![(
            Method::POST,
            ArmOperation::CompleteRestore(database(rg, s[1], s[3])),
        )],
        (_, ["locations", _, kind, id]) => {
            let (family, is_async) = operation_kind(kind).ok_or_else(|| {
                invalid_resource_type(&format!("locations/{}", s[2]), api_version)
            })?;
            let id = Uuid::parse_str(id).map_err(|_| ApiError::operation_not_found(s[3]))?;
            let path = OperationPath {
                subscription: sub.to_string(),
                resource_group: rg.map(str::to_string),
                location: s[1].to_string(),
                family,
                id,
            };
            let op = if is_async {
                ArmOperation::GetAsyncOperation(path)
            } else {
                ArmOperation::GetOperationResult(path)
            };
            vec![(Method::GET, op)]
        }
        _ => {
            let resource_type = s.iter().step_by(2).copied().collect::<Vec<_>>().join("/");
            return Err(invalid_resource_type(&resource_type, api_version));
        }
    };
    Ok(ops)
}

/// Which operation URL a lower-cased segment names: (family, is the Azure-AsyncOperation form).
fn operation_kind(lower: &str) -> Option<(OperationFamily, bool)> {
    OperationFamily::ALL.into_iter().find_map(|family| {
        if lower == family.async_segment().to_ascii_lowercase() {
            Some((family, true))
        } else if lower == family.results_segment().to_ascii_lowercase() {
            Some((family, false))
        } else {
            None
        }
    })
}

/// `POST /admin/failover?subscription=&resourceGroup=&instance=`.
fn admin_failover(query: &[(String, String)]) -> Result<ArmOperation, ApiError> {
    let required = |name: &str| {
        query_value(query, name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "MissingParameter",
                    format!(
                        "The query parameter '{name}' is required: POST \
                         /admin/failover?subscription=…&resourceGroup=…&instance=…"
                    ),
                )
            })
    };
    Ok(ArmOperation::AdminFailover(InstancePath {
        subscription: required("subscription")?,
        resource_group: required("resourceGroup")?,
        instance: required("instance")?,
    }))
}

fn invalid_resource_type(resource_type: &str, api_version: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "InvalidResourceType",
        format!(
            "The resource type '{resource_type}' could not be found in the namespace \
             'Microsoft.Sql' for api version '{}'.",
            api_version.unwrap_or_default()
        ),
    )
}

fn unknown_path(path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "The path '{path}' is not served by this emulator; GET /openapi.json lists the routes \
             it serves."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-1111-2222-3333-444444444444";

    fn ok(method: Method, path: &str) -> ArmOperation {
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let q = if q.is_empty() { None } else { Some(q) };
        match parse(&method, p, q) {
            Ok(r) => r.operation,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn err(method: Method, path: &str) -> ApiError {
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let q = if q.is_empty() { None } else { Some(q) };
        match parse(&method, p, q) {
            Ok(r) => panic!("{method} {path}: parsed as {:?}", r.operation),
            Err(e) => e,
        }
    }

    fn mi(rg: &str, name: &str) -> InstancePath {
        InstancePath {
            subscription: SUB.into(),
            resource_group: rg.into(),
            instance: name.into(),
        }
    }

    fn db(rg: &str, name: &str, db: &str) -> DatabasePath {
        DatabasePath {
            instance: mi(rg, name),
            database: db.into(),
        }
    }

    #[test]
    fn instance_routes_in_any_case_keep_the_callers_names() {
        let base = format!("/subscriptions/{SUB}/resourceGroups/Rg1/providers/Microsoft.Sql");
        assert_eq!(
            ok(
                Method::GET,
                &format!("{base}/managedInstances/MI1?api-version=2024-11-01-preview")
            ),
            ArmOperation::GetInstance(mi("Rg1", "MI1"))
        );
        let lower = format!(
            "/SUBSCRIPTIONS/{SUB}/resourcegroups/Rg1/PROVIDERS/microsoft.sql/MANAGEDINSTANCES/MI1?api-version=2024-11-01-preview"
        );
        assert_eq!(
            ok(Method::PUT, &lower),
            ArmOperation::PutInstance(mi("Rg1", "MI1"))
        );
        assert_eq!(
            ok(
                Method::GET,
                &format!("{base}/managedInstances?api-version=2024-11-01-preview")
            ),
            ArmOperation::ListInstancesByGroup {
                subscription: SUB.into(),
                resource_group: "Rg1".into()
            }
        );
        assert_eq!(
            ok(
                Method::GET,
                &format!(
                    "/subscriptions/{SUB}/providers/Microsoft.Sql/managedInstances?api-version=2024-11-01-preview"
                )
            ),
            ArmOperation::ListInstancesBySubscription {
                subscription: SUB.into()
            }
        );
    }

    #[test]
    fn database_routes_by_method() {
        let p = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/Db1?api-version=2019-06-01-preview"
        );
        assert_eq!(
            ok(Method::GET, &p),
            ArmOperation::GetDatabase(db("rg1", "mi1", "Db1"))
        );
        assert_eq!(
            ok(Method::PUT, &p),
            ArmOperation::PutDatabase(db("rg1", "mi1", "Db1"))
        );
        assert_eq!(
            ok(Method::DELETE, &p),
            ArmOperation::DeleteDatabase(db("rg1", "mi1", "Db1"))
        );
        let e = err(Method::PATCH, &p);
        assert_eq!(e.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(e.code(), "MethodNotAllowed");
        assert!(e.message().contains("PATCH"));
        let response = axum::response::IntoResponse::into_response(e);
        assert_eq!(
            response.headers().get(axum::http::header::ALLOW),
            Some(&axum::http::HeaderValue::from_static("GET, PUT, DELETE"))
        );
        assert_eq!(
            ok(
                Method::GET,
                &format!(
                    "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases?api-version=2024-11-01-preview"
                )
            ),
            ArmOperation::ListDatabases(mi("rg1", "mi1"))
        );
    }

    #[test]
    fn instance_operations_list_and_get() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/Rg1/providers/Microsoft.Sql/managedInstances/MI1"
        );
        assert_eq!(
            ok(
                Method::GET,
                &format!("{base}/operations?api-version=2024-11-01-preview")
            ),
            ArmOperation::ListInstanceOperations(mi("Rg1", "MI1"))
        );
        let id = "68971faf-1111-2222-3333-444444444444";
        let expected = ArmOperation::GetInstanceOperation(InstanceOperationPath {
            instance: mi("Rg1", "MI1"),
            id: Uuid::parse_str(id).unwrap_or_default(),
        });
        assert_eq!(
            ok(
                Method::GET,
                &format!("{base}/OPERATIONS/{id}/?api-version=2024-11-01-preview")
            ),
            expected
        );
        let ArmOperation::GetInstanceOperation(path) = expected else {
            panic!("not an instance operation")
        };
        assert_eq!(path.id(), format!("{base}/operations/{id}"));
        let e = err(
            Method::GET,
            &format!("{base}/operations/not-a-guid?api-version=2024-11-01-preview"),
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.code(), "ResourceNotFound");
        assert!(e.message().contains("'not-a-guid'"));
        assert!(e.message().contains("'MI1'"));
        assert_eq!(
            err(
                Method::PUT,
                &format!("{base}/operations?api-version=2024-11-01-preview")
            )
            .status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        // Cancel is not served.
        assert_eq!(
            err(
                Method::POST,
                &format!("{base}/operations/{id}/cancel?api-version=2024-11-01-preview")
            )
            .code(),
            "InvalidResourceType"
        );
        assert_eq!(
            err(Method::GET, &format!("{base}/operations")).code(),
            "MissingApiVersionParameter"
        );
    }

    #[test]
    fn restore_details_and_complete() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/db1"
        );
        for name in ["Default", "default", "DEFAULT"] {
            assert_eq!(
                ok(
                    Method::GET,
                    &format!("{base}/restoreDetails/{name}?api-version=2022-05-01-preview")
                ),
                ArmOperation::GetRestoreDetails(db("rg1", "mi1", "db1"))
            );
        }
        assert_eq!(
            ok(
                Method::GET,
                &format!("{base}/RESTOREDETAILS/Default/?api-version=2024-11-01-preview")
            ),
            ArmOperation::GetRestoreDetails(db("rg1", "mi1", "db1"))
        );
        let e = err(
            Method::GET,
            &format!("{base}/restoreDetails/current?api-version=2024-11-01-preview"),
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert!(e.message().contains("'current'"));
        assert_eq!(
            ok(
                Method::POST,
                &format!("{base}/completeRestore?api-version=2024-11-01-preview")
            ),
            ArmOperation::CompleteRestore(db("rg1", "mi1", "db1"))
        );
        assert_eq!(
            ok(
                Method::POST,
                &format!("{base}/completerestore?api-version=2024-11-01-preview")
            ),
            ArmOperation::CompleteRestore(db("rg1", "mi1", "db1"))
        );
        assert_eq!(
            err(
                Method::GET,
                &format!("{base}/completeRestore?api-version=2024-11-01-preview")
            )
            .status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn operation_urls_with_and_without_resource_group() {
        let id = "68971faf-1111-2222-3333-444444444444";
        let uuid = Uuid::parse_str(id).ok();
        let with_rg = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/locations/westcentralus/managedDatabaseRestoreAzureAsyncOperation/{id}?api-version=2022-02-01-preview"
        );
        let ArmOperation::GetAsyncOperation(p) = ok(Method::GET, &with_rg) else {
            panic!("not an async operation poll")
        };
        assert_eq!(p.resource_group.as_deref(), Some("rg1"));
        assert_eq!(p.family, OperationFamily::ManagedDatabaseRestore);
        assert_eq!(p.location, "westcentralus");
        assert_eq!(Some(p.id), uuid);

        let without_rg = format!(
            "/subscriptions/{SUB}/providers/Microsoft.Sql/locations/westcentralus/managedDatabaseCompleteRestoreOperationResults/{id}?api-version=2019-06-01-preview"
        );
        let ArmOperation::GetOperationResult(p) = ok(Method::GET, &without_rg) else {
            panic!("not an operation result")
        };
        assert_eq!(p.resource_group, None);
        assert_eq!(p.family, OperationFamily::ManagedDatabaseCompleteRestore);

        for (segment, family, is_async) in [
            (
                "managedDatabaseAzureAsyncOperation",
                OperationFamily::ManagedDatabase,
                true,
            ),
            (
                "manageddatabaseoperationresults",
                OperationFamily::ManagedDatabase,
                false,
            ),
            (
                "MANAGEDDATABASERESTOREOPERATIONRESULTS",
                OperationFamily::ManagedDatabaseRestore,
                false,
            ),
            (
                "managedDatabaseCompleteRestoreAzureAsyncOperation",
                OperationFamily::ManagedDatabaseCompleteRestore,
                true,
            ),
        ] {
            let path = format!(
                "/subscriptions/{SUB}/resourcegroups/rg1/providers/Microsoft.Sql/locations/l/{segment}/{id}/?api-version=2024-11-01-preview"
            );
            match ok(Method::GET, &path) {
                ArmOperation::GetAsyncOperation(p) if is_async => assert_eq!(p.family, family),
                ArmOperation::GetOperationResult(p) if !is_async => assert_eq!(p.family, family),
                other => panic!("{segment}: {other:?}"),
            }
        }

        let e = err(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.Sql/locations/l/managedDatabaseAzureAsyncOperation/not-a-guid?api-version=2024-11-01-preview"
            ),
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert!(e.message().contains("not-a-guid"));
        let e = err(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.Sql/locations/l/serverAzureAsyncOperation/{id}?api-version=2024-11-01-preview"
            ),
        );
        assert_eq!(e.code(), "InvalidResourceType");
    }

    #[test]
    fn percent_encoded_names_are_decoded() {
        let op = ok(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/resourceGroups/my%20rg/providers/Microsoft.Sql/managedInstances/mi1/databases/db%2D%C3%A9?api-version=2024-11-01-preview"
            ),
        );
        assert_eq!(op, ArmOperation::GetDatabase(db("my rg", "mi1", "db-é")));
        let e = err(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/resourceGroups/%FF/providers?api-version=2024-11-01-preview"
            ),
        );
        assert_eq!(e.code(), "InvalidRequestUri");
    }

    #[test]
    fn api_version_is_required_on_arm_routes_only() {
        let e = err(Method::GET, "/subscriptions");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "MissingApiVersionParameter");
        assert_eq!(
            e.message(),
            "The api-version query parameter (?api-version=) is required for all requests."
        );
        assert_eq!(
            err(Method::GET, "/subscriptions?api-version=").code(),
            "MissingApiVersionParameter"
        );
        assert_eq!(
            err(Method::GET, "/msi/token?resource=x").code(),
            "MissingApiVersionParameter"
        );
        // Any version string is accepted, and the parameter name is case-insensitive.
        assert_eq!(
            ok(Method::GET, "/subscriptions?API-VERSION=not-a-date"),
            ArmOperation::ListSubscriptions
        );
        let parsed = parse(&Method::GET, "/tenants", Some("api-version=2022-12-01"));
        assert_eq!(
            parsed.ok().and_then(|p| p.api_version).as_deref(),
            Some("2022-12-01")
        );
        assert_eq!(ok(Method::GET, "/healthz"), ArmOperation::Health);
        assert_eq!(ok(Method::GET, "/metrics"), ArmOperation::Metrics);
        assert!(!Route::Metrics.requires_token());
        assert!(!Route::Metrics.requires_api_version());
        assert_eq!(ok(Method::GET, "/openapi.json"), ArmOperation::OpenApi);
        assert_eq!(
            ok(Method::GET, "/"),
            ArmOperation::Dashboard(DashboardFile::Page)
        );
        assert_eq!(
            ok(Method::GET, "/ui/dashboard.js"),
            ArmOperation::Dashboard(DashboardFile::Script)
        );
        assert_eq!(
            ok(Method::GET, "/UI/Dashboard.CSS"),
            ArmOperation::Dashboard(DashboardFile::Style)
        );
        assert_eq!(
            ok(Method::GET, "/metadata/endpoints"),
            ArmOperation::MetadataEndpoints
        );
        assert_eq!(
            ok(Method::POST, "/admin/system-patch"),
            ArmOperation::AdminSystemPatch
        );
    }

    #[test]
    fn plumbing_routes() {
        assert_eq!(
            ok(Method::GET, "//metadata/endpoints?api-version=2022-09-01"),
            ArmOperation::MetadataEndpoints
        );
        assert_eq!(
            ok(Method::GET, "/subscriptions/abc/?api-version=2022-12-01"),
            ArmOperation::GetSubscription {
                subscription: "abc".into()
            }
        );
        let tenant = "72f988bf-0000-0000-0000-000000000001";
        assert_eq!(
            ok(
                Method::GET,
                &format!("/{tenant}/v2.0/.well-known/openid-configuration")
            ),
            ArmOperation::OpenIdConfiguration {
                tenant: tenant.into()
            }
        );
        assert_eq!(
            ok(Method::POST, &format!("/{tenant}/oauth2/v2.0/token")),
            ArmOperation::Token {
                tenant: tenant.into()
            }
        );
        assert_eq!(
            ok(Method::POST, "/organizations/oauth2/token"),
            ArmOperation::Token {
                tenant: "organizations".into()
            }
        );
        assert_eq!(
            ok(
                Method::GET,
                "/common/discovery/instance?api-version=2024-11-01-preview.1&authorization_endpoint=x"
            ),
            ArmOperation::InstanceDiscovery {
                tenant: "common".into()
            }
        );
        assert_eq!(
            ok(
                Method::GET,
                "/msi/token?api-version=2019-08-01&resource=https://management.core.windows.net/"
            ),
            ArmOperation::ManagedIdentityToken
        );
        assert_eq!(
            err(Method::GET, &format!("/{tenant}/oauth2/v2.0/token")).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn admin_failover_needs_its_three_parameters() {
        assert_eq!(
            ok(
                Method::POST,
                "/admin/failover?subscription=s&resourceGroup=rg&instance=mi"
            ),
            ArmOperation::AdminFailover(InstancePath {
                subscription: "s".into(),
                resource_group: "rg".into(),
                instance: "mi".into()
            })
        );
        let e = err(
            Method::POST,
            "/admin/failover?subscription=s&resourceGroup=rg",
        );
        assert_eq!(e.code(), "MissingParameter");
        assert!(e.message().contains("'instance'"));
        assert_eq!(
            err(Method::GET, "/admin/failover").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn unknown_routes_are_404_envelopes() {
        let e = err(Method::GET, "/nothing/here");
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.code(), "NotFound");
        let e = err(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/s1?api-version=2021-11-01"
            ),
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.code(), "InvalidResourceType");
        assert_eq!(
            e.message(),
            "The resource type 'servers' could not be found in the namespace 'Microsoft.Sql' for api version '2021-11-01'."
        );
        let e = err(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts?api-version=2024-11-01-preview"
            ),
        );
        assert_eq!(e.code(), "NoRegisteredProviderFound");
        // An instance needs a resource group.
        let e = err(
            Method::GET,
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.Sql/managedInstances/mi1?api-version=2024-11-01-preview"
            ),
        );
        assert_eq!(e.code(), "InvalidResourceType");
        assert_eq!(
            err(
                Method::GET,
                &format!("/subscriptions/{SUB}/resourceGroups/rg?api-version=2024-11-01-preview")
            )
            .code(),
            "NotFound"
        );
        assert_eq!(err(Method::GET, "/ui/other.js").code(), "NotFound");
        assert_eq!(
            err(Method::POST, "/").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn every_route_spec_path_parses_back_to_its_route() {
        let id = Uuid::new_v4().to_string();
        for route in Route::ALL {
            let spec = route.spec();
            for template in spec.paths {
                let path = template
                    .replace("{subscriptionId}", SUB)
                    .replace("{resourceGroupName}", "rg1")
                    .replace("{managedInstanceName}", "mi1")
                    .replace("{databaseName}", "db1")
                    .replace("{restoreDetailsName}", "Default")
                    .replace("{locationName}", "westeurope")
                    .replace("{asyncOperationKind}", "managedDatabaseAzureAsyncOperation")
                    .replace("{operationResultKind}", "managedDatabaseOperationResults")
                    .replace("{operationId}", &id)
                    .replace("{faultId}", &id)
                    .replace("{tenant}", "common");
                let method = Method::from_bytes(spec.method.as_bytes()).unwrap_or(Method::GET);
                let query =
                    "api-version=2024-11-01-preview&subscription=s&resourceGroup=r&instance=i";
                let parsed = parse(&method, &path, Some(query));
                assert_eq!(
                    parsed.map(|p| p.operation.route()).ok(),
                    Some(*route),
                    "{} {path}",
                    spec.method
                );
            }
        }
    }
}
