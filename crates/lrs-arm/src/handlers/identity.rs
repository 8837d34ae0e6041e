//! The emulated identity endpoints (docs/references.md#pointing-the-clients-at-the-emulator): an
//! AAD authority for service-principal login (OpenID configuration, token endpoint, MSAL instance
//! discovery) and the App Service managed-identity token endpoint.
//!
//! OAuth errors use the OAuth error body (`{"error","error_description"}`), not the ARM
//! envelope, because MSAL parses them.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::{AppState, Ctx};
use crate::auth::{TOKEN_LIFETIME_SECS, TokenRequest};
use crate::error::ApiError;
use crate::json::json_response;

/// Object id used for principals whose client id is not a GUID, and client id of the managed
/// identity.
const EMULATOR_PRINCIPAL: &str = "00000000-0000-0000-0000-0000000000c1";

/// The App Service MSI header.
const IDENTITY_HEADER: HeaderName = HeaderName::from_static("x-identity-header");

/// The tenant id a token carries: the path's tenant when it is a GUID, else the configured one
/// (`common`, `organizations`, a domain name...).
fn tenant_id(state: &AppState, tenant: &str) -> String {
    match Uuid::parse_str(tenant) {
        Ok(_) => tenant.to_string(),
        Err(_) => state.settings().tenant_id.clone(),
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration` (and the v1 form): what MSAL reads to
/// find the token endpoint. Every URL points at this server.
pub(super) fn openid_configuration(ctx: &Ctx, tenant: &str) -> Response {
    let base = &ctx.base;
    let v2 = ctx.path.to_ascii_lowercase().contains("/v2.0/");
    let (oauth, issuer) = if v2 {
        (
            format!("{base}/{tenant}/oauth2/v2.0"),
            format!("{base}/{tenant}/v2.0"),
        )
    } else {
        (
            format!("{base}/{tenant}/oauth2"),
            format!("{base}/{tenant}/"),
        )
    };
    let body = json!({
        "token_endpoint": format!("{oauth}/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "authorization_endpoint": format!("{oauth}/authorize"),
        "issuer": issuer,
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": ["client_credentials"],
        "request_uri_parameter_supported": false,
        "cloud_instance_name": "lrsemulator",
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /{tenant}/discovery/instance`: MSAL's instance discovery, answered with this server as
/// the only alias.
pub(super) fn instance_discovery(ctx: &Ctx, tenant: &str) -> Response {
    // MSAL passes the authority's authorize URL; its first path segment is the tenant to point
    // the discovery at.
    let authorize_tenant = ctx
        .query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "authorization_endpoint")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|endpoint| url::Url::parse(&endpoint).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_string))
        })
        .filter(|t| !t.is_empty());
    let tenant = authorize_tenant.as_deref().unwrap_or(tenant);
    let host = ctx
        .base
        .split_once("://")
        .map(|(_, h)| h)
        .unwrap_or(&ctx.base);
    let body = json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", ctx.base),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    });
    json_response(StatusCode::OK, &body)
}

/// An OAuth error answer (what AAD and MSAL speak).
fn oauth_error(status: StatusCode, error: &str, aadsts: u32, description: &str) -> Response {
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{aadsts}: {description}"),
            "error_codes": [aadsts],
            "timestamp": Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": Uuid::new_v4().to_string(),
            "correlation_id": Uuid::new_v4().to_string(),
        }),
    )
}

/// The resource a client-credentials request is for: v2 `scope`
/// (`https://management.core.windows.net//.default`) or v1 `resource`.
fn requested_audience(form: &[(String, String)]) -> Option<String> {
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(resource) = get("resource").filter(|r| !r.is_empty()) {
        return Some(resource.to_string());
    }
    get("scope")?
        .split_whitespace()
        .find(|s| !["openid", "profile", "offline_access", "email"].contains(s))
        .map(|s| s.strip_suffix("/.default").unwrap_or(s).to_string())
        .filter(|s| !s.is_empty())
}

/// `POST /{tenant}/oauth2/v2.0/token` (and v1 `/oauth2/token`): client credentials → a token
/// this server signs. The client secret is not checked.
pub(super) fn token(state: &AppState, ctx: &Ctx, tenant: &str) -> Result<Response, ApiError> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&ctx.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let grant = get("grant_type").unwrap_or_default();
    if grant.is_empty() {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ));
    }
    if grant != "client_credentials" {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!(
                "The app requested an unsupported grant type '{grant}'. This emulator issues \
                 tokens for client_credentials only (az login --service-principal)."
            ),
        ));
    }
    let Some(client_id) = get("client_id").filter(|c| !c.is_empty()) else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let Some(audience) = requested_audience(&form) else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope' (or 'resource').",
        ));
    };
    let tid = tenant_id(state, tenant);
    let object_id = match Uuid::parse_str(client_id) {
        Ok(_) => client_id,
        Err(_) => EMULATOR_PRINCIPAL,
    };
    let issuer = format!("{}/{tid}/", ctx.base);
    let now = Utc::now();
    let issued = state.tokens().issue(
        &TokenRequest {
            audience: &audience,
            issuer: &issuer,
            tenant_id: &tid,
            app_id: client_id,
            object_id,
        },
        now,
    );
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
        "access_token": issued.token,
    });
    if !ctx.path.to_ascii_lowercase().contains("/v2.0/") {
        // v1 (ADAL-era) answers also carry these, as strings.
        body["expires_on"] = issued.expires_on.to_string().into();
        body["not_before"] = now.timestamp().to_string().into();
        body["resource"] = audience.into();
    }
    let mut response = json_response(StatusCode::OK, &body);
    no_store(&mut response);
    Ok(response)
}

/// Token answers must not be cached.
fn no_store(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `GET /msi/token?api-version=2019-08-01&resource=…` with `X-IDENTITY-HEADER` (App Service
/// managed identity, `az login --identity`).
pub(super) fn managed_identity_token(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let presented = ctx
        .headers
        .get(IDENTITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let Some(presented) = presented else {
        return Err(ApiError::bad_request(
            "MissingIdentityHeader",
            "The X-IDENTITY-HEADER header is required (set IDENTITY_HEADER next to \
             IDENTITY_ENDPOINT for the client).",
        ));
    };
    if let Some(expected) = &state.settings().identity_header
        && expected != presented
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidIdentityHeader",
            "The X-IDENTITY-HEADER value does not match the one this emulator was configured \
             with.",
        ));
    }
    let query: Vec<(String, String)> = ctx
        .query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(resource) = get("resource") else {
        return Err(ApiError::bad_request(
            "MissingParameter",
            "The query parameter 'resource' is required (e.g. \
             resource=https://management.core.windows.net/).",
        ));
    };
    let client_id = get("client_id").unwrap_or(EMULATOR_PRINCIPAL);
    let tid = state.settings().tenant_id.clone();
    let issuer = format!("{}/{tid}/", ctx.base);
    let issued = state.tokens().issue(
        &TokenRequest {
            audience: resource,
            issuer: &issuer,
            tenant_id: &tid,
            app_id: client_id,
            object_id: EMULATOR_PRINCIPAL,
        },
        Utc::now(),
    );
    let body: Value = json!({
        "access_token": issued.token,
        "expires_on": issued.expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    });
    let mut response = json_response(StatusCode::OK, &body);
    no_store(&mut response);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn audience_from_scope_or_resource() {
        assert_eq!(
            requested_audience(&form(&[(
                "scope",
                "https://management.core.windows.net//.default"
            )])),
            Some("https://management.core.windows.net/".into())
        );
        assert_eq!(
            requested_audience(&form(&[(
                "scope",
                "openid offline_access https://management.azure.com/.default"
            )])),
            Some("https://management.azure.com".into())
        );
        assert_eq!(
            requested_audience(&form(&[("resource", "https://management.azure.com/")])),
            Some("https://management.azure.com/".into())
        );
        assert_eq!(requested_audience(&form(&[("scope", "openid")])), None);
    }
}
