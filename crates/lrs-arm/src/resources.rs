//! JSON bodies of the ARM resources this front end serves (arm-contract §1.1, §1.6, §1.7).

use lrs_store::{Database, Instance, InstanceKey};
use serde_json::{Map, Value, json};

use crate::json::timestamp;
use crate::route::instance_id;

/// Read-only or secret instance properties that a PUT may carry but that are never stored or
/// echoed back.
const NOT_STORED_PROPERTIES: [&str; 3] =
    ["administratorLoginPassword", "provisioningState", "state"];

/// The parts of a `PUT managedInstance` body the store keeps (`sku`, `properties`, `tags`,
/// `identity`), as a JSON object; the password and read-only properties are dropped.
pub(crate) fn instance_resource_json(body: &Map<String, Value>) -> Value {
    let mut kept = Map::new();
    for key in ["sku", "tags", "identity"] {
        if let Some(v) = body.get(key) {
            kept.insert(key.to_string(), v.clone());
        }
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
pub(crate) fn instance_body(instance: &Instance, key: &InstanceKey) -> Value {
    let stored: Map<String, Value> = match serde_json::from_str(&instance.resource_json) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let name_lower = key.instance.to_ascii_lowercase();
    let mut properties = json!({
        "provisioningState": "Succeeded",
        "fullyQualifiedDomainName": format!("{name_lower}.lrsemulator.database.windows.net"),
        "state": "Ready",
        "licenseType": "LicenseIncluded",
        "vCores": 4,
        "storageSizeInGB": 256,
        "collation": "SQL_Latin1_General_CP1_CI_AS",
        "dnsZone": "lrsemulator",
        "publicDataEndpointEnabled": false,
        "proxyOverride": "Default",
        "timezoneId": "UTC",
        "zoneRedundant": false,
    });
    if let (Some(Value::Object(given)), Some(defaults)) =
        (stored.get("properties"), properties.as_object_mut())
    {
        for (k, v) in given {
            if !NOT_STORED_PROPERTIES.contains(&k.as_str()) {
                defaults.insert(k.clone(), v.clone());
            }
        }
    }
    let sku = stored.get("sku").cloned().unwrap_or_else(
        || json!({"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 4}),
    );
    let mut body = Map::new();
    body.insert("sku".into(), sku);
    body.insert("properties".into(), properties);
    body.insert("location".into(), instance.location.as_str().into());
    for key in ["tags", "identity"] {
        if let Some(v) = stored.get(key) {
            body.insert(key.into(), v.clone());
        }
    }
    body.insert("id".into(), instance_id(key).into());
    body.insert("name".into(), key.instance.as_str().into());
    body.insert("type".into(), "Microsoft.Sql/managedInstances".into());
    Value::Object(body)
}

/// A managed database as `GET` returns it (arm-contract §1.6); `key` and `name` give the
/// spelling of `id` and `name`.
pub(crate) fn database_body(database: &Database, key: &InstanceKey, name: &str) -> Value {
    json!({
        "properties": {
            "collation": database.collation,
            "status": database.status.as_str(),
            "creationDate": timestamp(&database.created_at),
        },
        "location": database.location,
        "id": format!("{}/databases/{}", instance_id(key), name),
        "name": name,
        "type": "Microsoft.Sql/managedInstances/databases",
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
        let kept = instance_resource_json(body.as_object().expect("object"));
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
        let body = instance_body(&instance, &key("MI1"));
        assert_eq!(body["location"], "westeurope");
        assert_eq!(body["sku"], json!({"name":"BC_Gen5"}));
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
        let body = instance_body(&instance, &key("mi1"));
        assert_eq!(body["sku"]["name"], "GP_Gen5");
        assert_eq!(body["properties"]["state"], "Ready");
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
                "properties": {"collation":"SQL_Latin1_General_CP1_CI_AS","status":"Online","creationDate":"2022-09-22T15:40:02Z"},
                "location": "westcentralus",
                "id": "/subscriptions/s1/resourceGroups/Rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/PS5612",
                "name": "PS5612",
                "type": "Microsoft.Sql/managedInstances/databases"
            })
        );
    }
}
