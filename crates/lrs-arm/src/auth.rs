//! Access tokens: the emulated AAD and MSI endpoints issue JWTs, and strict mode accepts only
//! those on ARM calls.
//!
//! Tokens are real JWT structures (base64url header, payload and signature) with the claims clients
//! read after login (`aud`, `tid`, `oid`, `appid`, `exp`…), signed with HMAC-SHA256 under a key
//! kept in the data directory. The signature is how strict mode recognises "a token this server
//! issued" without remembering every token, and it keeps tokens valid across restarts. Clients
//! never verify the signature (docs/references.md#pointing-the-clients-at-the-emulator).

use std::fs;
use std::io;
use std::path::Path;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Lifetime of issued tokens, as AAD's `expires_in` says.
pub(crate) const TOKEN_LIFETIME_SECS: i64 = 3599;

/// Issues and checks this server's tokens.
pub(crate) struct TokenIssuer {
    /// HMAC-SHA256 keyed with the signing key; cloned for each signature.
    mac: HmacSha256,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(<key redacted>)")
    }
}

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenRequest<'a> {
    /// Audience (the resource).
    pub audience: &'a str,
    /// Issuer URL.
    pub issuer: &'a str,
    /// Tenant id.
    pub tenant_id: &'a str,
    /// Application (client) id.
    pub app_id: &'a str,
    /// Object id of the principal.
    pub object_id: &'a str,
}

/// An issued token.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Expiry, seconds since the epoch.
    pub expires_on: i64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    /// Not three base64url parts with a JSON payload.
    Malformed,
    /// Not signed by this server.
    BadSignature,
    /// Expired at this time.
    Expired(i64),
}

impl TokenIssuer {
    /// An issuer with a fresh random key (tokens die with the process).
    #[cfg(test)]
    pub(crate) fn ephemeral() -> io::Result<Self> {
        Self::from_key(&random_key())
    }

    fn from_key(key: &[u8; 32]) -> io::Result<Self> {
        let mac = HmacSha256::new_from_slice(key)
            .map_err(|e| io::Error::other(format!("token signing key rejected by HMAC: {e}")))?;
        Ok(TokenIssuer { mac })
    }

    /// The issuer whose key is stored at `path`, creating the key (owner-only permissions) on
    /// first use. An unreadable key file is replaced, with a warning: old tokens become invalid.
    pub(crate) fn load_or_create(path: &Path) -> io::Result<Self> {
        match fs::read_to_string(path) {
            Ok(text) => {
                if let Some(key) = parse_hex_key(text.trim()) {
                    return Self::from_key(&key);
                }
                tracing::warn!(path = %path.display(), "token signing key is not 64 hex digits; replacing it");
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let key = random_key();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        write_private(path, hex.as_bytes())?;
        Self::from_key(&key)
    }

    /// A signed token for `request`, valid from `now` for [`TOKEN_LIFETIME_SECS`].
    pub(crate) fn issue(&self, request: &TokenRequest<'_>, now: DateTime<Utc>) -> IssuedToken {
        let iat = now.timestamp();
        let exp = iat + TOKEN_LIFETIME_SECS;
        let header = json!({"typ": "JWT", "alg": "HS256"});
        let payload = json!({
            "aud": request.audience,
            "iss": request.issuer,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "appid": request.app_id,
            "appidacr": "1",
            "idp": request.issuer,
            "idtyp": "app",
            "oid": request.object_id,
            "sub": request.object_id,
            "tid": request.tenant_id,
            "uti": Uuid::new_v4().simple().to_string(),
            "ver": "1.0",
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        IssuedToken {
            token: format!("{signing_input}.{signature}"),
            expires_on: exp,
        }
    }

    /// The claims of `token` when this server signed it and it has not expired at `now`.
    pub(crate) fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Value, TokenRejection> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenRejection::Malformed)?;
        let mut mac = self.mac.clone();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenRejection::BadSignature)?;
        let claims: Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenRejection::Malformed)?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenRejection::Malformed)?;
        if exp <= now.timestamp() {
            return Err(TokenRejection::Expired(exp));
        }
        Ok(claims)
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }
}

/// 32 random bytes from the OS generator (via two v4 UUIDs: 244 random bits).
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    key
}

fn parse_hex_key(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// Write a file readable by its owner only.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Audiences ARM accepts (its own error message lists them).
const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

/// Seconds of clock skew allowed on `nbf`, as AAD's validators allow.
const CLOCK_SKEW_SECS: i64 = 300;

/// The claims ARM checks on a token it can verify: the audience is ARM's, it is already valid
/// (`nbf`), and it was issued by and for the subscription's tenant (`tid`, and an `iss` of that
/// tenant). An emulation of ARM's answers, not access control: every token comes from this
/// server's own endpoints, which issue one to anyone who asks.
fn check_claims(
    claims: &serde_json::Value,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<(), (&'static str, String)> {
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    let audience = text("aud").unwrap_or_default();
    if !ARM_AUDIENCES.contains(&audience) {
        return Err((
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{audience}'. \
                 It should exactly match with one of the allowed audiences '{}'.",
                ARM_AUDIENCES.join("','")
            ),
        ));
    }
    let not_before = claims.get("nbf").and_then(serde_json::Value::as_i64);
    if not_before.is_none_or(|nbf| nbf > now.timestamp() + CLOCK_SKEW_SECS) {
        return Err((
            "InvalidAuthenticationToken",
            "The access token is not yet valid (its 'nbf' claim is in the future or missing)."
                .into(),
        ));
    }
    let issuer = text("iss").unwrap_or_default();
    let tenant = text("tid").unwrap_or_default();
    if !tenant.eq_ignore_ascii_case(tenant_id)
        || !issuer
            .to_ascii_lowercase()
            .ends_with(&format!("/{}/", tenant_id.to_ascii_lowercase()))
    {
        return Err((
            "InvalidAuthenticationTokenTenant",
            format!(
                "The access token is from the wrong issuer '{issuer}'. It must match the tenant \
                 '{tenant_id}' associated with this subscription. Please use the authority (URL) \
                 '/{tenant_id}' of this emulator to get the token."
            ),
        ));
    }
    Ok(())
}

/// Strict mode's check of `Authorization: Bearer …`: Ok when this server issued the token and
/// it is still valid, else ARM's 401 with a `WWW-Authenticate` challenge naming `authority`.
pub(crate) fn check_bearer(
    headers: &HeaderMap,
    issuer: &TokenIssuer,
    authority: &str,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let unauthorized = |code: &'static str, message: String, description: &str| {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message).with_challenge(format!(
            "Bearer authorization_uri=\"{authority}\", error=\"invalid_token\", \
             error_description=\"{description}\""
        ))
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".into(),
            "The authentication failed because of missing 'Authorization' header.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return Err(unauthorized(
            "AuthenticationFailedInvalidHeader",
            "Authentication failed. The 'Authorization' header is provided in an invalid format."
                .into(),
            "The authentication failed because of an invalid 'Authorization' header.",
        ));
    };
    match issuer.verify(token, now) {
        Ok(claims) => check_claims(&claims, tenant_id, now)
            .map_err(|(code, message)| unauthorized(code, message, "The access token is invalid.")),
        Err(TokenRejection::Expired(exp)) => {
            let expired = DateTime::<Utc>::from_timestamp(exp, 0).unwrap_or(now);
            Err(unauthorized(
                "ExpiredAuthenticationToken",
                format!(
                    "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    expired.format("%-m/%-d/%Y %-I:%M:%S %p"),
                    now.format("%-m/%-d/%Y %-I:%M:%S %p")
                ),
                "The access token has expired.",
            ))
        }
        Err(TokenRejection::Malformed | TokenRejection::BadSignature) => Err(unauthorized(
            "InvalidAuthenticationToken",
            "The access token is invalid: it was not issued by this emulator's token endpoints \
             (/{tenant}/oauth2/v2.0/token or /msi/token)."
                .into(),
            "The access token is invalid.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request() -> TokenRequest<'static> {
        TokenRequest {
            audience: "https://management.core.windows.net/",
            issuer: "https://localhost:8443/t1/",
            tenant_id: "t1",
            app_id: "22222222-2222-2222-2222-222222222222",
            object_id: "33333333-3333-3333-3333-333333333333",
        }
    }

    #[test]
    fn issued_tokens_are_jwts_with_the_claims_clients_read() {
        let issuer = TokenIssuer::ephemeral().expect("key");
        let now = Utc::now();
        let t = issuer.issue(&request(), now);
        let parts: Vec<&str> = t.token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url payload"))
                .expect("JSON payload");
        assert_eq!(payload["aud"], "https://management.core.windows.net/");
        assert_eq!(payload["tid"], "t1");
        assert_eq!(payload["oid"], "33333333-3333-3333-3333-333333333333");
        assert_eq!(payload["appid"], "22222222-2222-2222-2222-222222222222");
        assert_eq!(payload["exp"], now.timestamp() + TOKEN_LIFETIME_SECS);
        assert_eq!(t.expires_on, now.timestamp() + TOKEN_LIFETIME_SECS);
        assert!(issuer.verify(&t.token, now).is_ok());
    }

    #[test]
    fn foreign_tampered_and_expired_tokens_are_refused() {
        let issuer = TokenIssuer::ephemeral().expect("key");
        let other = TokenIssuer::ephemeral().expect("key");
        let now = Utc::now();
        let t = issuer.issue(&request(), now);
        assert_eq!(
            other.verify(&t.token, now),
            Err(TokenRejection::BadSignature)
        );
        let mut parts: Vec<String> = t.token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"exp":99999999999,"tid":"evil"}"#);
        assert_eq!(
            issuer.verify(&parts.join("."), now),
            Err(TokenRejection::BadSignature)
        );
        assert_eq!(
            issuer.verify("fake-token", now),
            Err(TokenRejection::Malformed)
        );
        let later = now + chrono::Duration::seconds(TOKEN_LIFETIME_SECS + 1);
        assert_eq!(
            issuer.verify(&t.token, later),
            Err(TokenRejection::Expired(t.expires_on))
        );
    }

    #[test]
    fn key_is_persisted_so_tokens_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("auth").join("token-signing.key");
        let first = TokenIssuer::load_or_create(&path).expect("create key");
        let token = first.issue(&request(), Utc::now());
        let second = TokenIssuer::load_or_create(&path).expect("load key");
        assert!(second.verify(&token.token, Utc::now()).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::write(&path, "garbage").expect("corrupt");
        let third = TokenIssuer::load_or_create(&path).expect("replace key");
        assert_eq!(
            third.verify(&token.token, Utc::now()),
            Err(TokenRejection::BadSignature)
        );
    }

    #[test]
    fn bearer_check_answers_with_arm_codes_and_a_challenge() {
        let issuer = TokenIssuer::ephemeral().expect("key");
        let now = Utc::now();
        let mut headers = HeaderMap::new();
        let e = check_bearer(&headers, &issuer, "https://h/t", "t1", now).expect_err("no header");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.code(), "AuthenticationFailed");

        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        let e = check_bearer(&headers, &issuer, "https://h/t", "t1", now).expect_err("basic");
        assert_eq!(e.code(), "AuthenticationFailedInvalidHeader");

        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer fake-token"),
        );
        let e = check_bearer(&headers, &issuer, "https://h/t", "t1", now).expect_err("fake");
        assert_eq!(e.code(), "InvalidAuthenticationToken");

        let t = issuer.issue(&request(), now);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("bearer {}", t.token)).expect("header"),
        );
        assert!(check_bearer(&headers, &issuer, "https://h/t", "t1", now).is_ok());
        let e = check_bearer(
            &headers,
            &issuer,
            "https://h/t",
            "t1",
            now + chrono::Duration::hours(2),
        )
        .expect_err("expired");
        assert_eq!(e.code(), "ExpiredAuthenticationToken");
    }

    #[test]
    fn strict_mode_checks_audience_not_before_issuer_and_tenant() {
        let issuer = TokenIssuer::ephemeral().expect("key");
        let now = Utc::now();
        let check = |request: &TokenRequest<'_>, issued_at: DateTime<Utc>| {
            let t = issuer.issue(request, issued_at);
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", t.token)).expect("header"),
            );
            check_bearer(&headers, &issuer, "https://h/t1", "t1", now).map_err(|e| {
                assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
                (e.code().to_string(), e.to_string())
            })
        };
        assert!(check(&request(), now).is_ok());
        for audience in ARM_AUDIENCES {
            assert!(
                check(
                    &TokenRequest {
                        audience,
                        ..request()
                    },
                    now
                )
                .is_ok()
            );
        }
        // A storage token (what the MSI endpoint hands a job) is not for ARM.
        let (code, message) = check(
            &TokenRequest {
                audience: "https://storage.azure.com/",
                ..request()
            },
            now,
        )
        .expect_err("storage audience");
        assert_eq!(code, "InvalidAuthenticationTokenAudience");
        assert!(
            message.contains("'https://storage.azure.com/'"),
            "{message}"
        );
        // Issued for later (nbf = its issue time).
        let (code, _) =
            check(&request(), now + chrono::Duration::minutes(10)).expect_err("not yet valid");
        assert_eq!(code, "InvalidAuthenticationToken");
        // Another tenant, or a tenant's token whose issuer names another.
        let other_tenant = TokenRequest {
            tenant_id: "t2",
            issuer: "https://localhost:8443/t2/",
            ..request()
        };
        let (code, message) = check(&other_tenant, now).expect_err("tenant");
        assert_eq!(code, "InvalidAuthenticationTokenTenant");
        assert!(
            message.contains("'https://localhost:8443/t2/'"),
            "{message}"
        );
        let mixed = TokenRequest {
            issuer: "https://localhost:8443/t2/",
            ..request()
        };
        assert_eq!(
            check(&mixed, now).expect_err("issuer").0,
            "InvalidAuthenticationTokenTenant"
        );
    }
}
