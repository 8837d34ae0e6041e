//! JSON bodies of the ARM resources this front end serves (docs/references.md#managed-instance,
//! #managed-database, #plumbing).

use lrs_store::{Database, Instance, InstanceKey, Operation, OperationKind, OperationStatus};
use serde_json::{Map, Value, json};

use crate::error::OperationFailure;
use crate::json::timestamp;
use crate::lro::operation_name;
use crate::route::{instance_id, instance_operation_id};

/// Read-only or secret instance properties that a PUT may carry but that are never stored or
/// echoed back.
const NOT_STORED_PROPERTIES: [&str; 3] =
    ["administratorLoginPassword", "provisioningState", "state"];

/// The parts of a `PUT managedInstance` body the store keeps (`sku`, `properties`, `tags`,
/// `identity`), as a JSON object; the password and read-only properties are dropped.
pub(crate) fn instance_resource_json(body: &Map<String, Value>, tenant_id: &str) -> Value {
    let mut kept = Map::new();
    for key in ["sku", "tags"] {
        if let Some(v) = body.get(key) {
            kept.insert(key.to_string(), v.clone());
        }
    }
    // A system-assigned identity gets its principal (once, at the PUT) and the tenant, as
    // the real instance's GET shows them.
    if let Some(Value::Object(identity)) = body.get("identity") {
        let kind = identity
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("None");
        let mut shown = Map::new();
        if kind.contains("SystemAssigned") {
            shown.insert(
                "principalId".into(),
                uuid::Uuid::new_v4().to_string().into(),
            );
        }
        shown.insert("type".into(), kind.into());
        if kind.contains("SystemAssigned") {
            shown.insert("tenantId".into(), tenant_id.into());
        }
        kept.insert("identity".into(), Value::Object(shown));
    }
    if let Some(Value::Object(props)) = body.get("properties") {
        let mut props = props.clone();
        for key in NOT_STORED_PROPERTIES {
            props.remove(key);
        }
        kept.insert("properties".into(), Value::Object(props));
    }
    Value::Object(kept)
}

/// A managed instance as `GET` returns it: what was last PUT, over defaults shaped like the
/// real resource, always `Ready`/`Succeeded` (provisioning is instant). `key` gives the spelling
/// of `id` and `name` (the caller's, for a single GET).
/// Which instance properties an api-version's answers carry. The recordings show two: at
/// 2020-02-02-preview `storageAccountType` and none of `proxyOverride`, `zoneRedundant`,
/// `maintenanceConfigurationId` and the backup-storage redundancies; at 2021-05-01-preview
/// those and no `storageAccountType`. Versions before 2021-05-01 (by date) get the first, the
/// others the second (ours, docs/fidelity.md).
fn instance_shape_2020(api_version: &str) -> bool {
    api_version
        .get(..10)
        .is_some_and(|date| date < "2021-05-01")
}

/// The sku's tier and family from its name (`GP_Gen5`: GeneralPurpose, Gen5), as the real
/// service fills them in; capacity is the instance's vCores.
fn full_sku(sku: Value, vcores: &Value) -> Value {
    let Value::Object(mut sku) = sku else {
        return sku;
    };
    let name = sku
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some((tier, family)) = name.split_once('_') {
        let tier = match tier {
            "GP" => "GeneralPurpose",
            "BC" => "BusinessCritical",
            other => other,
        };
        sku.entry("tier").or_insert_with(|| tier.into());
        sku.entry("family").or_insert_with(|| family.into());
    }
    sku.entry("capacity").or_insert_with(|| vcores.clone());
    Value::Object(sku)
}

/// `Geo`/`Local`/`Zone` (2021+) from `storageAccountType` (`GRS`/`LRS`/`ZRS`, 2020), and back.
fn redundancy_from_account_type(account_type: &str) -> &'static str {
    match account_type {
        "LRS" => "Local",
        "ZRS" => "Zone",
        "GZRS" => "GeoZone",
        _ => "Geo",
    }
}

fn account_type_from_redundancy(redundancy: &str) -> &'static str {
    match redundancy {
        "Local" => "LRS",
        "Zone" => "ZRS",
        "GeoZone" => "GZRS",
        _ => "GRS",
    }
}

/// The managed instance's resource, in the shape `api_version`'s answers have: the stored PUT
/// values over a ready instance's defaults.
pub(crate) fn instance_body(instance: &Instance, key: &InstanceKey, api_version: &str) -> Value {
    let stored: Map<String, Value> = match serde_json::from_str(&instance.resource_json) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let name_lower = key.instance.to_ascii_lowercase();
    let defaults = [
        ("provisioningState", json!("Succeeded")),
        (
            "fullyQualifiedDomainName",
            json!(format!("{name_lower}.lrsemulator.database.windows.net")),
        ),
        ("administratorLogin", json!("lrsadmin")),
        (
            "subnetId",
            json!(format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/lrs-emulator-vnet/subnets/ManagedInstance",
                key.subscription, key.resource_group
            )),
        ),
        ("state", json!("Ready")),
        ("licenseType", json!("LicenseIncluded")),
        ("vCores", json!(4)),
        ("storageSizeInGB", json!(256)),
        ("collation", json!("SQL_Latin1_General_CP1_CI_AS")),
        ("dnsZone", json!("lrsemulator")),
        ("publicDataEndpointEnabled", json!(false)),
        ("proxyOverride", json!("Default")),
        ("timezoneId", json!("UTC")),
        (
            "maintenanceConfigurationId",
            json!(format!(
                "/subscriptions/{}/providers/Microsoft.Maintenance/publicMaintenanceConfigurations/SQL_Default",
                key.subscription
            )),
        ),
        ("privateEndpointConnections", json!([])),
        ("zoneRedundant", json!(false)),
    ];
    let mut props: Map<String, Value> = defaults
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if let Some(Value::Object(given)) = stored.get("properties") {
        for (k, v) in given {
            if !NOT_STORED_PROPERTIES.contains(&k.as_str()) {
                props.insert(k.clone(), v.clone());
            }
        }
    }
    // Backup storage redundancy: one setting, spelled per version.
    let redundancy = match (
        props
            .get("requestedBackupStorageRedundancy")
            .and_then(Value::as_str),
        props.get("storageAccountType").and_then(Value::as_str),
    ) {
        (Some(r), _) => r.to_string(),
        (None, Some(t)) => redundancy_from_account_type(t).to_string(),
        (None, None) => "Geo".to_string(),
    };
    if instance_shape_2020(api_version) {
        for key in [
            "proxyOverride",
            "zoneRedundant",
            "maintenanceConfigurationId",
            "currentBackupStorageRedundancy",
            "requestedBackupStorageRedundancy",
        ] {
            props.remove(key);
        }
        props.insert(
            "storageAccountType".into(),
            account_type_from_redundancy(&redundancy).into(),
        );
    } else {
        props.remove("storageAccountType");
        props.insert(
            "currentBackupStorageRedundancy".into(),
            redundancy.clone().into(),
        );
        props.insert("requestedBackupStorageRedundancy".into(), redundancy.into());
    }
    let vcores = props.get("vCores").cloned().unwrap_or(Value::from(4));
    let sku = full_sku(
        stored
            .get("sku")
            .cloned()
            .unwrap_or_else(|| json!({"name": "GP_Gen5"})),
        &vcores,
    );
    let mut body = Map::new();
    if let Some(identity) = stored.get("identity") {
        body.insert("identity".into(), identity.clone());
    }
    body.insert("sku".into(), sku);
    body.insert("properties".into(), Value::Object(props));
    body.insert("location".into(), instance.location.as_str().into());
    if let Some(tags) = stored.get("tags") {
        body.insert("tags".into(), tags.clone());
    }
    body.insert("id".into(), instance_id(key).into());
    body.insert("name".into(), key.instance.as_str().into());
    body.insert("type".into(), "Microsoft.Sql/managedInstances".into());
    Value::Object(body)
}

/// A managed database as `GET` returns it (docs/references.md#managed-database); `key` and `name`
/// give the spelling of `id` and `name`.
pub(crate) fn database_body(database: &Database, key: &InstanceKey, name: &str) -> Value {
    let mut properties = json!({
        "collation": database.collation,
        "status": database.status.as_str(),
        "creationDate": timestamp(&database.created_at),
    });
    if let Some(pair) = crate::regions::paired_region(&database.location) {
        properties["defaultSecondaryLocation"] = pair.into();
    }
    json!({
        "properties": properties,
        "location": database.location,
        "id": format!("{}/databases/{}", instance_id(key), name),
        "name": name,
        "type": "Microsoft.Sql/managedInstances/databases",
    })
}

/// `operationFriendlyName` of an operation (ours: the real names of these operations are not
/// published; the style is the spec example's `UPDATE MANAGED SERVER`).
pub(crate) fn operation_friendly_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::StartRestore => "START LOG REPLAY MIGRATION",
        OperationKind::CompleteRestore => "COMPLETE LOG REPLAY MIGRATION",
        OperationKind::DropDatabase => "DROP MANAGED DATABASE",
        OperationKind::CreateDatabase => "CREATE MANAGED DATABASE",
    }
}

/// `description` of an operation (ours): what it did to which database, since one instance's
/// list mixes its databases.
fn operation_description(op: &Operation) -> String {
    let db = &op.database_name;
    match op.kind {
        OperationKind::StartRestore => {
            format!("Log replay migration of database '{db}' (createMode RestoreExternalBackup).")
        }
        OperationKind::CompleteRestore => {
            format!("Cutover (completeRestore) of the log replay migration of database '{db}'.")
        }
        OperationKind::DropDatabase => {
            format!("Drop of database '{db}' (stops its log replay migration, if any).")
        }
        OperationKind::CreateDatabase => format!("Creation of database '{db}'."),
    }
}

/// `state` of a managed instance operation (the spec's `ManagementOperationState`, which
/// spells `Cancelled` with two l's).
fn management_state(status: OperationStatus) -> &'static str {
    match status {
        OperationStatus::InProgress => "InProgress",
        OperationStatus::Succeeded => "Succeeded",
        OperationStatus::Failed => "Failed",
        OperationStatus::Canceled => "Cancelled",
    }
}

/// A long-running operation as a managed instance operation (`az sql mi op list|show`); `key`
/// gives the spelling of `id` and `managedInstanceName` (the caller's). `percentComplete` is 0
/// while running and 100 once ended (ours); the error fields appear only on a failed one;
/// nothing can be cancelled (the emulator has no cancel: a migration stops by dropping its
/// database).
pub(crate) fn instance_operation_body(op: &Operation, key: &InstanceKey) -> Value {
    let ended = op.status != OperationStatus::InProgress;
    let mut properties = json!({
        "managedInstanceName": key.instance,
        "operation": operation_name(op.kind),
        "operationFriendlyName": operation_friendly_name(op.kind),
        "percentComplete": if ended { 100 } else { 0 },
        "startTime": timestamp(&op.started_at),
        "state": management_state(op.status),
        "description": operation_description(op),
        "isCancellable": false,
    });
    if op.status == OperationStatus::Failed {
        let failure = OperationFailure::of(op.error.as_ref());
        if let Some(p) = properties.as_object_mut() {
            p.insert("errorCode".into(), failure.code.into());
            p.insert("errorDescription".into(), failure.description.into());
            p.insert("errorSeverity".into(), failure.severity.into());
            p.insert("isUserError".into(), failure.is_user_error.into());
        }
    }
    json!({
        "properties": properties,
        "id": instance_operation_id(key, op.id),
        "name": op.id.to_string(),
        "type": "Microsoft.Sql/managedInstances/operations",
    })
}

/// A subscription as `GET /subscriptions` lists it.
pub(crate) fn subscription_body(id: &str, display_name: &str, tenant_id: &str) -> Value {
    json!({
        "id": format!("/subscriptions/{id}"),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": id,
        "tenantId": tenant_id,
        "displayName": display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        },
        "tags": {}
    })
}

/// A tenant as `GET /tenants` lists it.
pub(crate) fn tenant_body(tenant_id: &str) -> Value {
    json!({
        "id": format!("/tenants/{tenant_id}"),
        "tenantId": tenant_id,
        "tenantCategory": "Home",
        "country": "US",
        "countryCode": "US",
        "displayName": "LRS emulator",
        "domains": ["lrsemulator.onmicrosoft.com"],
        "defaultDomain": "lrsemulator.onmicrosoft.com",
        "tenantType": "AAD"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use lrs_store::DatabaseStatus;

    fn key(mi: &str) -> InstanceKey {
        InstanceKey {
            subscription: "s1".into(),
            resource_group: "Rg1".into(),
            instance: mi.into(),
        }
    }

    #[test]
    fn put_body_keeps_sku_properties_tags_but_never_the_password() {
        let body = json!({
            "location": "westeurope",
            "sku": {"name": "BC_Gen5"},
            "tags": {"env": "test"},
            "properties": {
                "administratorLogin": "admin",
                "administratorLoginPassword": "hunter2",
                "vCores": 8,
                "state": "Stopped"
            },
            "id": "ignored"
        });
        let kept = instance_resource_json(body.as_object().expect("object"), "t1");
        assert_eq!(
            kept,
            json!({"sku":{"name":"BC_Gen5"},"tags":{"env":"test"},"properties":{"administratorLogin":"admin","vCores":8}})
        );
    }

    #[test]
    fn instance_body_is_ready_with_the_stored_values_over_defaults() {
        let instance = Instance {
            key: key("mi1"),
            location: "westeurope".into(),
            resource_json:
                json!({"sku":{"name":"BC_Gen5"},"properties":{"vCores":8,"state":"Stopped"}})
                    .to_string(),
            created_at: Utc::now(),
        };
        let body = instance_body(&instance, &key("MI1"), "2024-11-01-preview");
        assert_eq!(body["location"], "westeurope");
        assert_eq!(
            body["sku"],
            json!({"name":"BC_Gen5","tier":"BusinessCritical","family":"Gen5","capacity":8})
        );
        assert_eq!(body["properties"]["vCores"], 8);
        assert_eq!(body["properties"]["state"], "Ready");
        assert_eq!(body["properties"]["provisioningState"], "Succeeded");
        assert_eq!(
            body["id"],
            "/subscriptions/s1/resourceGroups/Rg1/providers/Microsoft.Sql/managedInstances/MI1"
        );
        assert_eq!(body["name"], "MI1");
        assert_eq!(body["type"], "Microsoft.Sql/managedInstances");
        assert!(body.get("tags").is_none());
    }

    #[test]
    fn instance_body_survives_unparsable_stored_json() {
        let instance = Instance {
            key: key("mi1"),
            location: "northeurope".into(),
            resource_json: "not json".into(),
            created_at: Utc::now(),
        };
        let body = instance_body(&instance, &key("mi1"), "2024-11-01-preview");
        assert_eq!(body["sku"]["name"], "GP_Gen5");
        assert_eq!(body["properties"]["state"], "Ready");
    }

    /// The property names of the recorded instance GETs (2020-09-15 and 2022-09-22).
    #[test]
    fn instance_body_has_the_recorded_properties_per_version() {
        let put = json!({
            "identity": {"type": "SystemAssigned"},
            "sku": {"name": "GP_Gen5"},
            "properties": {"administratorLogin": "u", "administratorLoginPassword": "p",
                           "subnetId": "/s", "vCores": 16, "storageAccountType": "GRS"}
        });
        let instance = Instance {
            key: key("mi1"),
            location: "westcentralus".into(),
            resource_json: instance_resource_json(put.as_object().expect("object"), "t1")
                .to_string(),
            created_at: Utc::now(),
        };
        let names = |body: &Value| -> Vec<String> {
            let mut names: Vec<String> = body["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            names.sort();
            names
        };
        // What both versions carry, then what each adds.
        let common = [
            "provisioningState",
            "fullyQualifiedDomainName",
            "administratorLogin",
            "subnetId",
            "state",
            "licenseType",
            "vCores",
            "storageSizeInGB",
            "collation",
            "dnsZone",
            "publicDataEndpointEnabled",
            "timezoneId",
            "privateEndpointConnections",
        ];
        let with = |extra: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = common
                .iter()
                .chain(extra)
                .map(ToString::to_string)
                .collect();
            v.sort();
            v
        };
        let old = instance_body(&instance, &key("mi1"), "2020-02-02-preview");
        assert_eq!(names(&old), with(&["storageAccountType"]));
        assert_eq!(old["identity"]["type"], "SystemAssigned");
        assert_eq!(old["identity"]["tenantId"], "t1");
        assert!(old["identity"]["principalId"].is_string());
        assert_eq!(old["sku"]["capacity"], 16);
        let new = instance_body(&instance, &key("mi1"), "2021-05-01-preview");
        assert_eq!(
            names(&new),
            with(&[
                "proxyOverride",
                "maintenanceConfigurationId",
                "currentBackupStorageRedundancy",
                "requestedBackupStorageRedundancy",
                "zoneRedundant"
            ])
        );
        assert_eq!(new["properties"]["requestedBackupStorageRedundancy"], "Geo");
    }

    fn operation(kind: OperationKind, status: OperationStatus) -> Operation {
        Operation {
            id: uuid::Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap_or_default(),
            kind,
            database_id: uuid::Uuid::nil(),
            instance: InstanceKey::new("s1", "rg1", "mi1"),
            database_name: "Orders".into(),
            status,
            error: None,
            started_at: Utc
                .with_ymd_and_hms(2026, 12, 6, 10, 0, 0)
                .single()
                .expect("valid date"),
            finished_at: None,
        }
    }

    #[test]
    fn a_running_start_is_an_in_progress_instance_operation() {
        let op = operation(OperationKind::StartRestore, OperationStatus::InProgress);
        assert_eq!(
            instance_operation_body(&op, &key("MI1")),
            json!({
                "properties": {
                    "managedInstanceName": "MI1",
                    "operation": "CreateExternalManagedBackupRestoreV2Request",
                    "operationFriendlyName": "START LOG REPLAY MIGRATION",
                    "percentComplete": 0,
                    "startTime": "2026-12-06T10:00:00Z",
                    "state": "InProgress",
                    "description": "Log replay migration of database 'Orders' (createMode RestoreExternalBackup).",
                    "isCancellable": false
                },
                "id": "/subscriptions/s1/resourceGroups/Rg1/providers/Microsoft.Sql/managedInstances/MI1/operations/11111111-2222-3333-4444-555555555555",
                "name": "11111111-2222-3333-4444-555555555555",
                "type": "Microsoft.Sql/managedInstances/operations"
            })
        );
    }

    #[test]
    fn a_failed_operation_has_the_error_fields_and_ended_ones_are_complete() {
        let failed = Operation {
            error: Some(lrs_store::ErrorRecord {
                code: "FullBackupMissingChecksum".into(),
                message: "Provided full backup is missing checksum. File: 'full.bak'.".into(),
            }),
            ..operation(OperationKind::StartRestore, OperationStatus::Failed)
        };
        let p = &instance_operation_body(&failed, &key("mi1"))["properties"];
        assert_eq!(p["state"], "Failed");
        assert_eq!(p["percentComplete"], 100);
        assert_eq!(p["errorCode"], 50000);
        assert_eq!(
            p["errorDescription"],
            "FullBackupMissingChecksum: Provided full backup is missing checksum. File: 'full.bak'."
        );
        assert_eq!(p["errorSeverity"], 16);
        assert_eq!(p["isUserError"], true);

        for (kind, status, name, friendly, state) in [
            (
                OperationKind::CompleteRestore,
                OperationStatus::Succeeded,
                "ManagedDatabaseCompleteExternalRestore",
                "COMPLETE LOG REPLAY MIGRATION",
                "Succeeded",
            ),
            (
                OperationKind::DropDatabase,
                OperationStatus::Succeeded,
                "DropManagedDatabase",
                "DROP MANAGED DATABASE",
                "Succeeded",
            ),
            (
                OperationKind::CreateDatabase,
                OperationStatus::Canceled,
                "CreateManagedDatabase",
                "CREATE MANAGED DATABASE",
                "Cancelled",
            ),
        ] {
            let p = &instance_operation_body(&operation(kind, status), &key("mi1"))["properties"];
            assert_eq!(p["operation"], name);
            assert_eq!(p["operationFriendlyName"], friendly);
            assert_eq!(p["state"], state);
            assert_eq!(p["percentComplete"], 100);
            assert!(p.get("errorCode").is_none(), "{kind:?}");
            assert!(p.get("isUserError").is_none(), "{kind:?}");
        }
    }

    #[test]
    fn database_body_has_the_recorded_shape() {
        let db = Database {
            id: uuid::Uuid::nil(),
            instance: key("mi1"),
            name: "ps5612".into(),
            location: "westcentralus".into(),
            collation: "SQL_Latin1_General_CP1_CI_AS".into(),
            status: DatabaseStatus::Online,
            created_by_lrs: true,
            created_at: Utc
                .with_ymd_and_hms(2022, 9, 22, 15, 40, 2)
                .single()
                .expect("valid date"),
        };
        assert_eq!(
            database_body(&db, &key("mi1"), "PS5612"),
            json!({
                "properties": {"collation":"SQL_Latin1_General_CP1_CI_AS","status":"Online","creationDate":"2022-09-22T15:40:02Z","defaultSecondaryLocation":"westus2"},
                "location": "westcentralus",
                "id": "/subscriptions/s1/resourceGroups/Rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/PS5612",
                "name": "PS5612",
                "type": "Microsoft.Sql/managedInstances/databases"
            })
        );
    }
}
