//! How the front end is served: listeners, TLS, auth, limits and the identity data it reports.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The subscription `az login` finds when nothing else is known.
pub const DEFAULT_SUBSCRIPTION_ID: &str = "00000000-0000-0000-0000-000000000001";
/// The tenant the emulated AAD authority and `/tenants` report.
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-00000000000a";
/// The request-body limit unless configured (LRS bodies are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Whether ARM calls need a token this server issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Any bearer token, or none, is accepted (the real clients never validate tokens either).
    #[default]
    Lenient,
    /// ARM and admin calls need a bearer token issued by this server's token endpoints, not
    /// expired, already valid (`nbf`), for ARM's audience (`aud`) and for the configured tenant
    /// (`tid`, `iss`); anything else gets ARM's 401 with ARM's code
    /// (`InvalidAuthenticationTokenAudience`, `InvalidAuthenticationTokenTenant`, ...). An
    /// emulation of ARM's checks, not access control: the token endpoints issue to anyone.
    Strict,
}

/// The subscription listed by `GET /subscriptions` even before any instance exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    /// Subscription id (a GUID string).
    pub id: String,
    /// `displayName`.
    pub display_name: String,
}

impl Default for SubscriptionInfo {
    fn default() -> Self {
        SubscriptionInfo {
            id: DEFAULT_SUBSCRIPTION_ID.to_string(),
            display_name: "LRS emulator".to_string(),
        }
    }
}

/// Everything [`crate::start`] needs besides the engine.
#[derive(Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Where the generated TLS certificate (`tls/`) and the token signing key live.
    pub data_dir: PathBuf,
    /// HTTPS listener (port 0 picks a free port); None for none.
    pub https_addr: Option<SocketAddr>,
    /// Plain-HTTP listener (the clients refuse bearer tokens over http, but the MSI token
    /// endpoint and scripts can use it); None for none.
    pub http_addr: Option<SocketAddr>,
    /// PEM certificate chain to serve instead of the generated one (needs `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// `Retry-After` seconds on long-running operations (the real service says 15).
    pub retry_after_secs: u64,
    /// Token checking on ARM calls.
    pub auth: AuthMode,
    /// Largest request body accepted, in bytes (larger → 413).
    pub body_limit: usize,
    /// Tenant id reported by `/tenants`, subscriptions and tokens.
    pub tenant_id: String,
    /// The subscription always listed.
    pub subscription: SubscriptionInfo,
    /// Value the MSI endpoint requires in `X-IDENTITY-HEADER`; None accepts any non-empty value.
    pub identity_header: Option<String>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("data_dir", &self.data_dir)
            .field("https_addr", &self.https_addr)
            .field("http_addr", &self.http_addr)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("auth", &self.auth)
            .field("body_limit", &self.body_limit)
            .field("tenant_id", &self.tenant_id)
            .field("subscription", &self.subscription)
            // The MSI header value is a shared secret.
            .field(
                "identity_header",
                &self.identity_header.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ServeConfig {
    /// Defaults: HTTPS on 127.0.0.1:8443 with a generated certificate, no HTTP listener,
    /// `Retry-After: 1`, lenient auth, 1 MiB bodies.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServeConfig {
            data_dir: data_dir.into(),
            https_addr: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 8443))),
            http_addr: None,
            tls_cert: None,
            tls_key: None,
            retry_after_secs: 1,
            auth: AuthMode::Lenient,
            body_limit: DEFAULT_BODY_LIMIT,
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            subscription: SubscriptionInfo::default(),
            identity_header: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_identity_header() {
        let mut c = ServeConfig::new("/d");
        c.identity_header = Some("msi-shared-secret".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("msi-shared-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("127.0.0.1:8443"));
    }
}
