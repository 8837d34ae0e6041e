//! Calls the clients make besides the SQL ones (docs/references.md#plumbing): subscriptions,
//! tenants and the cloud metadata `az cloud register` reads.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::list_body;
use crate::app::{AppState, Ctx};
use crate::json::json_response;
use crate::resources::{subscription_body, tenant_body};

fn display_name(state: &AppState, id: &str) -> String {
    let configured = &state.settings().subscription;
    if configured.id.eq_ignore_ascii_case(id) {
        configured.display_name.clone()
    } else {
        format!("LRS emulator ({id})")
    }
}

/// `GET /subscriptions`: the configured subscription plus every one seen in an ARM call.
pub(super) fn list_subscriptions(state: &AppState) -> Response {
    let tenant = &state.settings().tenant_id;
    let items: Vec<Value> = state
        .known_subscriptions()
        .iter()
        .map(|id| subscription_body(id, &display_name(state, id), tenant))
        .collect();
    let count = items.len();
    let mut body = list_body(items);
    body["count"] = json!({"type": "Total", "value": count});
    json_response(StatusCode::OK, &body)
}

/// `GET /subscriptions/{sub}`: every subscription exists here (instances are created on first
/// use), so any id is answered.
pub(super) fn get_subscription(state: &AppState, id: &str) -> Response {
    json_response(
        StatusCode::OK,
        &subscription_body(id, &display_name(state, id), &state.settings().tenant_id),
    )
}

/// `GET /tenants`.
pub(super) fn list_tenants(state: &AppState) -> Response {
    let mut body = list_body(vec![tenant_body(&state.settings().tenant_id)]);
    body["count"] = json!({"type": "Total", "value": 1});
    json_response(StatusCode::OK, &body)
}

/// `GET /metadata/endpoints`: one cloud description (the object az's `_arm_to_cli_mapper`
/// reads) whose resource manager and login endpoint are this server. Storage and SQL suffixes
/// are Azure's: backups still live in (emulated) Azure storage.
pub(super) fn metadata_endpoints(ctx: &Ctx) -> Response {
    let base = &ctx.base;
    let body = json!({
        "name": "LrsEmulator",
        "portal": format!("{base}/"),
        "resourceManager": format!("{base}/"),
        "authentication": {
            "loginEndpoint": format!("{base}/"),
            "audiences": [
                "https://management.core.windows.net/",
                "https://management.azure.com/"
            ],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "sqlManagement": format!("{base}/"),
        "batch": "https://batch.core.windows.net/",
        "gallery": "https://gallery.azure.com/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "suffixes": {
            "storage": "core.windows.net",
            "keyVaultDns": "vault.azure.net",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "acrLoginServer": "azurecr.io"
        }
    });
    json_response(StatusCode::OK, &body)
}
