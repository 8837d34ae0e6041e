//! `GET /openapi.json`: an OpenAPI 3 description of exactly the surface this emulator serves,
//! generated from [`Route::ALL`] so that it cannot miss a route.

use serde_json::{Map, Value, json};

use crate::route::Route;

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in Route::ALL {
        let spec = route.spec();
        for (i, template) in spec.paths.iter().enumerate() {
            let operation_id = if i == 0 {
                route.name().to_string()
            } else {
                format!("{}_{}", route.name(), i + 1)
            };
            let operation = operation(*route, template, &operation_id, spec.summary);
            let entry = paths
                .entry(template.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(methods) = entry {
                methods.insert(spec.method.to_ascii_lowercase(), operation);
            }
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "LRS emulator: ARM surface of Azure SQL Managed Instance Log Replay Service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Azure Resource Manager calls that az, PowerShell Az.Sql and \
                azure-mgmt-sql make for log replay migrations, plus the identity and metadata \
                endpoints they need to run against a local endpoint. Path segments and names are \
                case-insensitive; any api-version is accepted."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "Checked only in strict auth mode: a token from this server's token endpoints."}
            }
        }
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn response(description: &str, schema: Option<&str>) -> Value {
    match schema {
        Some(s) => json!({"description": description, "content": json_content(schema_ref(s))}),
        None => json!({"description": description}),
    }
}

fn lro_accepted() -> Value {
    json!({
        "description": "Accepted: poll the Azure-AsyncOperation URL (Location gives the result).",
        "headers": {
            "Azure-AsyncOperation": {"schema": {"type": "string", "format": "uri"}},
            "Location": {"schema": {"type": "string", "format": "uri"}},
            "Retry-After": {"schema": {"type": "integer"}}
        },
        "content": json_content(schema_ref("AcceptedOperation"))
    })
}

fn operation(route: Route, template: &str, operation_id: &str, summary: &str) -> Value {
    let mut parameters: Vec<Value> = template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let mut p =
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
            if name == "asyncOperationKind" || name == "operationResultKind" {
                let suffix = if name == "asyncOperationKind" {
                    "AzureAsyncOperation"
                } else {
                    "OperationResults"
                };
                p["schema"]["enum"] = crate::route::OperationFamily::ALL
                    .iter()
                    .map(|f| Value::from(format!("{}{suffix}", f.prefix())))
                    .collect();
            }
            p
        })
        .collect();
    if route.requires_api_version() {
        parameters.push(json!({"name": "api-version", "in": "query", "required": true,
            "description": "restoreDetails answers in the shape the spec defines for the exact version: old for stable versions up to 2023-08-01 and previews before 2022-02-01-preview, new otherwise (docs/engine.md).",
            "schema": {"type": "string"}}));
    }
    let mut request_body = None;
    let mut responses = Map::new();
    let mut put = |code: &str, v: Value| {
        responses.insert(code.to_string(), v);
    };
    match route {
        Route::Health => put("200", response("Alive", Some("Health"))),
        Route::Metrics => put(
            "200",
            json!({"description": "Metrics in the Prometheus text exposition format (docs/metrics.md)",
                "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}}),
        ),
        Route::OpenApi => put("200", response("This document", None)),
        Route::Dashboard => put(
            "200",
            json!({"description": "The page (text/html), stylesheet (text/css) or script (text/javascript)"}),
        ),
        Route::MetadataEndpoints => put("200", response("Cloud metadata", Some("CloudMetadata"))),
        Route::OpenIdConfiguration => put(
            "200",
            response("OpenID configuration", Some("OpenIdConfiguration")),
        ),
        Route::InstanceDiscovery => put("200", response("Instance discovery", None)),
        Route::Token => {
            request_body = Some(
                json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["grant_type", "client_id"],
                "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                    "scope": {"type": "string"}, "resource": {"type": "string"}}}}}}),
            );
            put("200", response("Token", Some("TokenResponse")));
            put("400", response("OAuth error", Some("OAuthError")));
        }
        Route::ManagedIdentityToken => {
            parameters.push(json!({"name": "resource", "in": "query", "required": true, "schema": {"type": "string"}}));
            parameters.push(json!({"name": "client_id", "in": "query", "required": false, "schema": {"type": "string"}}));
            parameters.push(json!({"name": "X-IDENTITY-HEADER", "in": "header", "required": true, "schema": {"type": "string"}}));
            put("200", response("Token", Some("ManagedIdentityToken")));
        }
        Route::ListSubscriptions => put("200", response("Subscriptions", Some("SubscriptionList"))),
        Route::GetSubscription => put("200", response("Subscription", Some("Subscription"))),
        Route::ListTenants => put("200", response("Tenants", Some("TenantList"))),
        Route::ListInstancesBySubscription | Route::ListInstancesByGroup => put(
            "200",
            response("Managed instances", Some("ManagedInstanceList")),
        ),
        Route::GetInstance => put(
            "200",
            response("The managed instance", Some("ManagedInstance")),
        ),
        Route::PutInstance => {
            request_body = Some(
                json!({"required": true, "content": json_content(schema_ref("ManagedInstance"))}),
            );
            put("200", response("Replaced", Some("ManagedInstance")));
            put("201", response("Created", Some("ManagedInstance")));
        }
        Route::ListDatabases => put("200", response("Databases", Some("ManagedDatabaseList"))),
        Route::ListInstanceOperations => put(
            "200",
            response(
                "Operations, newest first",
                Some("ManagedInstanceOperationList"),
            ),
        ),
        Route::GetInstanceOperation => put(
            "200",
            response("The operation", Some("ManagedInstanceOperation")),
        ),
        Route::GetDatabase => put("200", response("The database", Some("ManagedDatabase"))),
        Route::PutDatabase => {
            request_body = Some(
                json!({"required": true, "content": json_content(schema_ref("ManagedDatabase"))}),
            );
            put("202", lro_accepted());
        }
        Route::DeleteDatabase => {
            put("202", lro_accepted());
            put("204", response("No such database", None));
        }
        Route::GetRestoreDetails => put("200", response("Restore details", Some("RestoreDetails"))),
        Route::CompleteRestore => {
            request_body = Some(
                json!({"required": true, "content": json_content(schema_ref("CompleteDatabaseRestoreDefinition"))}),
            );
            put("202", lro_accepted());
        }
        Route::GetAsyncOperation => {
            put("200", response("Operation status", Some("AsyncOperation")))
        }
        Route::GetOperationResult => {
            put(
                "200",
                response(
                    "Finished: the database (start, create)",
                    Some("ManagedDatabase"),
                ),
            );
            put(
                "201",
                response("Finished: the database (complete)", Some("ManagedDatabase")),
            );
            put(
                "202",
                json!({"description": "Still running", "headers": {
                "Location": {"schema": {"type": "string"}}, "Retry-After": {"schema": {"type": "integer"}}}}),
            );
            put("204", response("Finished: nothing to return (drop)", None));
        }
        Route::AdminSystemPatch => put("200", response("Jobs affected", Some("AffectedJobs"))),
        Route::AdminFailover => {
            for name in ["subscription", "resourceGroup", "instance"] {
                parameters.push(json!({"name": name, "in": "query", "required": true, "schema": {"type": "string"}}));
            }
            put("200", response("Jobs affected", Some("AffectedJobs")));
        }
        Route::AdminInjectFault => {
            request_body =
                Some(json!({"required": true, "content": json_content(json!({"type": "object"}))}));
            put("201", response("The fault", None));
        }
        Route::AdminListFaults => put("200", response("The faults", None)),
        Route::AdminClearFaults => put("200", response("How many were cleared", None)),
    }
    put(
        "default",
        response("ARM error envelope", Some("ErrorResponse")),
    );
    let mut op = json!({
        "operationId": operation_id,
        "summary": summary,
        "tags": [if route.is_arm() { "arm" } else { "plumbing" }],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = request_body {
        op["requestBody"] = body;
    }
    if route.requires_token() {
        op["security"] = json!([{"bearer": []}]);
    }
    op
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    let int = json!({"type": "integer"});
    let backup_set = json!({"type": "object", "properties": {
        "status": {"type": "string", "enum": ["Queued", "Restoring", "Restored", "Skipped"]},
        "firstStripeName": string, "numberOfStripes": int, "backupSizeMB": int,
        "restoreStartedTimestampUtc": time, "restoreFinishedTimestampUtc": time}});
    let mut m = Map::new();
    m.insert(
        "ErrorResponse".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": string, "message": string}}}}),
    );
    m.insert(
        "OAuthError".into(),
        json!({"type": "object", "properties": {"error": string, "error_description": string,
            "error_codes": {"type": "array", "items": int}}}),
    );
    m.insert(
        "Health".into(),
        json!({"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}}),
    );
    m.insert(
        "AffectedJobs".into(),
        json!({"type": "object", "properties": {"affectedJobs": int}}),
    );
    m.insert("CloudMetadata".into(), json!({"type": "object", "required": ["name", "resourceManager", "authentication", "suffixes"]}));
    m.insert("OpenIdConfiguration".into(), json!({"type": "object", "required": ["token_endpoint", "authorization_endpoint", "issuer"]}));
    m.insert(
        "TokenResponse".into(),
        json!({"type": "object", "properties": {"token_type": string, "expires_in": int,
            "ext_expires_in": int, "access_token": string}}),
    );
    m.insert(
        "ManagedIdentityToken".into(),
        json!({"type": "object", "properties": {"access_token": string,
            "expires_on": string, "resource": string, "token_type": string, "client_id": string}}),
    );
    m.insert(
        "Subscription".into(),
        json!({"type": "object", "properties": {"id": string, "subscriptionId": string,
            "tenantId": string, "displayName": string, "state": string}}),
    );
    m.insert("SubscriptionList".into(), json!({"type": "object", "properties": {"value": {"type": "array", "items": schema_ref("Subscription")}}}));
    m.insert(
        "TenantList".into(),
        json!({"type": "object", "properties": {"value": {"type": "array", "items": {
            "type": "object", "properties": {"id": string, "tenantId": string}}}}}),
    );
    m.insert(
        "ManagedInstance".into(),
        json!({"type": "object", "required": ["location"], "properties": {
            "location": string, "sku": {"type": "object"}, "tags": {"type": "object"},
            "properties": {"type": "object", "properties": {
                "provisioningState": string, "state": string, "fullyQualifiedDomainName": string}},
            "id": string, "name": string, "type": string}}),
    );
    m.insert("ManagedInstanceList".into(), json!({"type": "object", "properties": {"value": {"type": "array", "items": schema_ref("ManagedInstance")}}}));
    m.insert("ManagedDatabase".into(), json!({"type": "object", "required": ["location"], "properties": {
            "location": string,
            "properties": {"type": "object", "properties": {
                "createMode": {"type": "string", "enum": ["Default", "RestoreExternalBackup"]},
                "collation": string,
                "storageContainerUri": string,
                "storageContainerIdentity": {"type": "string", "enum": ["SharedAccessSignature", "ManagedIdentity"]},
                "storageContainerSasToken": {"type": "string", "writeOnly": true},
                "autoCompleteRestore": {"type": "boolean"},
                "lastBackupName": string,
                "status": {"type": "string", "readOnly": true, "enum": ["Restoring", "Online", "Stopping", "Inaccessible"]},
                "creationDate": {"type": "string", "format": "date-time", "readOnly": true}}},
            "id": string, "name": string, "type": string}}));
    m.insert("ManagedDatabaseList".into(), json!({"type": "object", "properties": {"value": {"type": "array", "items": schema_ref("ManagedDatabase")}}}));
    m.insert(
        "CompleteDatabaseRestoreDefinition".into(),
        json!({"type": "object", "properties": {"lastBackupName": string}}),
    );
    m.insert(
        "AcceptedOperation".into(),
        json!({"type": "object", "properties": {"operation": string, "startTime": time}}),
    );
    m.insert(
        "AsyncOperation".into(),
        json!({"type": "object", "required": ["name", "status", "startTime"], "properties": {
            "name": string,
            "status": {"type": "string", "enum": ["InProgress", "Succeeded", "Failed", "Canceled"]},
            "startTime": time,
            "error": {"type": "object", "properties": {"code": string, "message": string}}}}),
    );
    m.insert(
        "ManagedInstanceOperation".into(),
        json!({"type": "object", "properties": {
            "id": string, "name": string,
            "type": {"type": "string", "enum": ["Microsoft.Sql/managedInstances/operations"]},
            "properties": {"type": "object", "properties": {
                "managedInstanceName": string,
                "operation": {"type": "string", "enum": [
                    "CreateExternalManagedBackupRestoreV2Request",
                    "ManagedDatabaseCompleteExternalRestore",
                    "DropManagedDatabase", "CreateManagedDatabase"]},
                "operationFriendlyName": string,
                "percentComplete": {"type": "integer", "minimum": 0, "maximum": 100},
                "startTime": time,
                "state": {"type": "string", "enum": ["Pending", "InProgress", "Succeeded", "Failed", "CancelInProgress", "Cancelled"]},
                "errorCode": int, "errorDescription": string, "errorSeverity": int,
                "isUserError": {"type": "boolean"},
                "description": string,
                "isCancellable": {"type": "boolean"}}}}}),
    );
    m.insert("ManagedInstanceOperationList".into(), json!({"type": "object", "properties": {"value": {"type": "array", "items": schema_ref("ManagedInstanceOperation")}}}));
    m.insert("RestoreDetails".into(), json!({"type": "object", "properties": {
            "id": string, "name": {"type": "string", "enum": ["Default"]}, "type": string,
            "properties": {"oneOf": [
                {"title": "new shape: previews from 2022-02-01-preview, stable from 2025-01-01", "type": "object", "properties": {
                    "type": {"type": "string", "enum": ["LRSRestore"]}, "status": string, "blockReason": string,
                    "lastUploadedFileName": string, "lastUploadedFileTime": time,
                    "lastRestoredFileName": string, "lastRestoredFileTime": time,
                    "percentCompleted": int, "currentRestoredSizeMB": int, "currentRestorePlanSizeMB": int,
                    "currentBackupType": string, "currentRestoringFileName": string,
                    "numberOfFilesDetected": int, "numberOfFilesQueued": int, "numberOfFilesSkipped": int,
                    "numberOfFilesRestoring": int, "numberOfFilesRestored": int, "numberOfFilesUnrestorable": int,
                    "fullBackupSets": {"type": "array", "items": backup_set},
                    "diffBackupSets": {"type": "array", "items": backup_set},
                    "logBackupSets": {"type": "array", "items": backup_set},
                    "unrestorableFiles": {"type": "array", "items": {"type": "object", "properties": {"name": string}}}}},
                {"title": "old shape: stable up to 2023-08-01, previews before 2022-02-01-preview", "type": "object", "properties": {
                    "status": string, "blockReason": string, "currentRestoringFileName": string,
                    "lastRestoredFileName": string, "lastRestoredFileTime": time,
                    "percentCompleted": {"type": "number", "format": "double"},
                    "numberOfFilesDetected": int,
                    "lastUploadedFileName": string, "lastUploadedFileTime": time,
                    "unrestorableFiles": {"type": "array", "items": string}}}
            ]}}}));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_method_and_paths() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        for route in Route::ALL {
            let spec = route.spec();
            for (i, path) in spec.paths.iter().enumerate() {
                let op = &doc["paths"][*path][spec.method.to_ascii_lowercase()];
                assert!(op.is_object(), "{} {path} missing", spec.method);
                let expected_id = if i == 0 {
                    route.name().to_string()
                } else {
                    format!("{}_{}", route.name(), i + 1)
                };
                assert_eq!(op["operationId"], expected_id.as_str());
                assert!(op["responses"]["default"].is_object());
            }
        }
    }

    #[test]
    fn operation_ids_are_unique_and_refs_resolve() {
        let doc = document();
        let mut ids = Vec::new();
        let text = doc.to_string();
        for (_, methods) in doc["paths"].as_object().expect("paths") {
            for (_, op) in methods.as_object().expect("methods") {
                ids.push(op["operationId"].as_str().unwrap_or_default().to_string());
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "duplicate operationId");
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                doc["components"]["schemas"][&name].is_object(),
                "unresolved $ref {name}"
            );
        }
    }

    #[test]
    fn arm_routes_declare_api_version_and_lro_headers() {
        let doc = document();
        let put_db = &doc["paths"][Route::PutDatabase.spec().paths[0]]["put"];
        let params = put_db["parameters"].as_array().expect("params");
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "api-version" && p["required"] == true)
        );
        assert!(put_db["responses"]["202"]["headers"]["Azure-AsyncOperation"].is_object());
        let health = &doc["paths"]["/healthz"]["get"];
        assert!(
            health["parameters"]
                .as_array()
                .is_some_and(|p| p.is_empty())
        );
    }
}
