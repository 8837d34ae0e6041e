//! What the emulator itself knows about storage: account keys that stand in for managed
//! identities, emulator hosts, S3 credentials and the retry policy. Every secret in here is a
//! [`Secret`], so printing the settings never prints a key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Azurite's documented development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// Azurite's documented, public key for [`AZURITE_ACCOUNT`] (not a secret: it is printed in
/// Azurite's README and every Azure SDK).
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A credential that must never reach a log line, a `Debug` dump or an API answer.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that has to use it (signing, a request header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// How a failing storage request is retried: exponential backoff, a bounded number of
/// attempts. Only transient failures (5xx, timeouts, connection errors) are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Factor applied to the wait after each failed attempt (at least 1).
    pub multiplier: u32,
    /// Longest time one HTTP request may take before it counts as a (transient) timeout.
    pub request_timeout: Duration,
    /// Longest time to establish a connection.
    pub connect_timeout: Duration,
}

impl Default for RetrySettings {
    /// 4 attempts, 200 ms doubling up to 5 s, 30 s per request, 5 s to connect.
    fn default() -> Self {
        RetrySettings {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            multiplier: 2,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl RetrySettings {
    /// The wait before attempt `attempt + 1`, given that `attempt` (1-based) just failed.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1)
            .checked_pow(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// Where and how S3-compatible sources (`s3://bucket/prefix`) are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Endpoint URL (`http://127.0.0.1:5000` for moto or MinIO); AWS when absent.
    pub endpoint: Option<String>,
    /// Region used for signing.
    pub region: String,
    /// Access key id; requests are unsigned (public buckets) when absent.
    pub access_key_id: Option<String>,
    /// Secret access key that goes with `access_key_id`.
    pub secret_access_key: Option<Secret>,
    /// Session token for temporary credentials.
    pub session_token: Option<Secret>,
    /// Allow plain `http://` endpoints (local S3 stand-ins).
    pub allow_http: bool,
}

impl Default for S3Settings {
    /// AWS, `us-east-1`, unsigned, HTTPS only.
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: false,
        }
    }
}

/// Everything [`crate::open_source`] needs besides the job's own URI and credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    /// Storage account name → account key (base64). A job started with
    /// `storageContainerIdentity: ManagedIdentity` reads its account with the key configured
    /// here: the emulator's stand-in for the managed instance's identity having been granted
    /// access. Holds Azurite's `devstoreaccount1` by default.
    pub accounts: BTreeMap<String, Secret>,
    /// Hosts (`host` or `host:port`) whose URLs are path-style emulator URLs
    /// (`http://host:port/{account}/{container}/…`) although the host is a name, e.g. `azurite`
    /// in a compose file. IP addresses and `localhost` are always path-style.
    pub emulator_hosts: Vec<String>,
    /// S3-compatible stores.
    pub s3: S3Settings,
    /// Retry policy for every storage request.
    pub retry: RetrySettings,
    /// Local folders (`file://…`) may only be read under these roots (`lrs serve --local-root`);
    /// `None` leaves them unrestricted (library use and tests), `Some(empty)` refuses them all.
    pub local_roots: Option<Vec<std::path::PathBuf>>,
}

impl Default for SourceSettings {
    fn default() -> Self {
        let mut accounts = BTreeMap::new();
        accounts.insert(
            AZURITE_ACCOUNT.to_string(),
            Secret::new(AZURITE_ACCOUNT_KEY),
        );
        SourceSettings {
            accounts,
            emulator_hosts: Vec::new(),
            s3: S3Settings::default(),
            retry: RetrySettings::default(),
            local_roots: None,
        }
    }
}

impl SourceSettings {
    /// Add (or replace) the key used for managed-identity access to `account`.
    pub fn with_account(mut self, account: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.accounts.insert(account.into(), key.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_keys() {
        let settings = SourceSettings::default().with_account("acct", "c2VjcmV0a2V5");
        let mut s3 = S3Settings {
            secret_access_key: Some(Secret::new("aws-secret-value")),
            ..S3Settings::default()
        };
        s3.session_token = Some(Secret::new("session-token-value"));
        let settings = SourceSettings { s3, ..settings };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("c2VjcmV0a2V5"), "{debug}");
        assert!(!debug.contains(AZURITE_ACCOUNT_KEY), "{debug}");
        assert!(!debug.contains("aws-secret-value"), "{debug}");
        assert!(!debug.contains("session-token-value"), "{debug}");
        assert!(debug.contains("acct"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let retry = RetrySettings {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            multiplier: 2,
            ..RetrySettings::default()
        };
        let waits: Vec<u128> = (1..=6).map(|a| retry.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 700, 700, 700]);
        // Absurd attempt numbers saturate instead of overflowing.
        assert_eq!(retry.backoff(u32::MAX), Duration::from_millis(700));
    }
}
