//! [`open_source`]: from a job's container URI and credential to a [`Source`].

use std::fmt;
use std::sync::{Arc, Once};

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::location::{self, Location};
use crate::object::ObjectStoreSource;
use crate::sas::{self, redact};
use crate::settings::{RetrySettings, SourceSettings};
use crate::{Source, SourceError};

/// Which folder a job reads and with what credential: `storageContainerUri` plus
/// `storageContainerSasToken` or `storageContainerIdentity`.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The folder: `https://{account}.blob.core.windows.net/{container}[/{folder}]`,
    /// `http(s)://{host}:{port}/{account}/{container}[/{folder}]` (Azurite and other
    /// path-style emulators), `file:///{path}` or a plain path, or `s3://{bucket}[/{folder}]`.
    pub uri: String,
    /// How to authenticate.
    pub auth: SourceAuth,
}

impl fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceSpec")
            .field("uri", &redact(&self.uri))
            .field("auth", &self.auth)
            .finish()
    }
}

/// The credential a job gives for its folder.
#[derive(Clone, PartialEq, Eq)]
pub enum SourceAuth {
    /// A SAS token (`storageContainerSasToken`). For Azure sources it authorizes every
    /// request; for local and S3 sources it is only subject to the SAS rules (checked by the
    /// caller with [`crate::sas`]), access uses the emulator's own settings.
    Sas(String),
    /// `storageContainerIdentity: ManagedIdentity`: the emulator reads the account with the key
    /// configured for it in [`SourceSettings::accounts`].
    ManagedIdentity,
    /// Anonymous access (public containers, local folders).
    None,
}

impl fmt::Debug for SourceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceAuth::Sas(_) => f.write_str("Sas(<redacted>)"),
            SourceAuth::ManagedIdentity => f.write_str("ManagedIdentity"),
            SourceAuth::None => f.write_str("None"),
        }
    }
}

/// Install the TLS crypto provider the HTTP clients need (reqwest is built with rustls and no
/// default provider). Idempotent; an already installed provider is kept.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Check a storage URI the way [`open_source`] will (its form, an allowed host, a local folder
/// under the configured roots), so that a request can be refused before anything starts.
pub fn check_location(uri: &str, settings: &SourceSettings) -> Result<(), SourceError> {
    location::parse(uri, settings).map(|_| ())
}

/// Build the source a job reads: parse the URI, pick the backend, attach the credential.
/// Nothing is requested from the store yet: access problems show up at the first listing.
pub fn open_source(
    spec: &SourceSpec,
    settings: &SourceSettings,
) -> Result<Arc<dyn Source>, SourceError> {
    let location = location::parse(&spec.uri, settings)?;
    let describe = location.describe();
    let source = match &location {
        Location::Local { dir } => {
            let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
            let folder = object_store::path::Path::from_absolute_path(dir).map_err(|e| {
                SourceError::Invalid(format!("local folder {}: {e}", dir.display()))
            })?;
            ObjectStoreSource::new(store, folder.as_ref(), describe, settings.retry.clone())?
                .with_local_dir(dir.clone())
        }
        Location::Azure {
            service,
            account,
            container,
            folder,
        } => {
            install_crypto_provider();
            let mut builder = MicrosoftAzureBuilder::new()
                .with_account(account.as_str())
                .with_container_name(container.as_str())
                // Client options first: they replace allow_http as a whole.
                .with_client_options(client_options(&settings.retry))
                .with_endpoint(service.as_str().trim_end_matches('/').to_string())
                .with_allow_http(service.scheme() == "http")
                .with_retry(no_retries(&settings.retry));
            builder = match &spec.auth {
                SourceAuth::Sas(token) => {
                    let pairs = sas::query_pairs(token).map_err(|e| {
                        SourceError::Invalid(format!("SAS token for {describe}: {e}"))
                    })?;
                    builder.with_sas_authorization(pairs)
                }
                SourceAuth::ManagedIdentity => {
                    let key = settings.accounts.get(account).ok_or_else(|| {
                        SourceError::ManagedIdentityNotConfigured {
                            account: account.clone(),
                        }
                    })?;
                    builder.with_access_key(key.expose())
                }
                SourceAuth::None => builder.with_skip_signature(true),
            };
            let store = builder.build().map_err(|e| {
                SourceError::Invalid(format!("{describe}: {}", redact(&e.to_string())))
            })?;
            ObjectStoreSource::new(Arc::new(store), folder, describe, settings.retry.clone())?
        }
        Location::S3 { bucket, folder } => {
            install_crypto_provider();
            let s3 = &settings.s3;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket.as_str())
                .with_region(s3.region.as_str())
                .with_client_options(client_options(&settings.retry))
                .with_allow_http(s3.allow_http)
                .with_retry(no_retries(&settings.retry));
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint.as_str());
            }
            builder = match (&s3.access_key_id, &s3.secret_access_key) {
                (Some(id), Some(secret)) => {
                    let builder = builder
                        .with_access_key_id(id.as_str())
                        .with_secret_access_key(secret.expose());
                    match &s3.session_token {
                        Some(token) => builder.with_token(token.expose()),
                        None => builder,
                    }
                }
                // No credentials: unsigned requests (never the instance-metadata lookup).
                _ => builder.with_skip_signature(true),
            };
            let store = builder.build().map_err(|e| {
                SourceError::Invalid(format!("{describe}: {}", redact(&e.to_string())))
            })?;
            ObjectStoreSource::new(Arc::new(store), folder, describe, settings.retry.clone())?
        }
    };
    Ok(Arc::new(source))
}

/// The client's own retries are off: [`crate::retry`] is the one retry policy.
fn no_retries(retry: &RetrySettings) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 0,
        retry_timeout: retry.request_timeout,
    }
}

fn client_options(retry: &RetrySettings) -> ClientOptions {
    ClientOptions::new()
        .with_timeout(retry.request_timeout)
        .with_connect_timeout(retry.connect_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_spec_hides_the_token() {
        let spec = SourceSpec {
            uri: "https://a.blob.core.windows.net/c01/db".into(),
            auth: SourceAuth::Sas("sp=rl&se=2026-01-01&sig=TOPSECRET".into()),
        };
        let debug = format!("{spec:?}");
        assert!(!debug.contains("TOPSECRET"), "{debug}");
        assert!(debug.contains("Sas(<redacted>)"), "{debug}");
        // A token pasted into the URI is redacted too.
        let spec = SourceSpec {
            uri: "https://a.blob.core.windows.net/c01/db?sig=TOPSECRET".into(),
            auth: SourceAuth::None,
        };
        assert!(!format!("{spec:?}").contains("TOPSECRET"));
    }

    #[test]
    fn debug_of_sources_and_readers_hides_the_token() {
        let spec = SourceSpec {
            uri: "http://127.0.0.1:9/devstoreaccount1/c01/db".into(),
            auth: SourceAuth::Sas("sp=rl&se=2026-01-01&sig=TOPSECRET".into()),
        };
        let source = open_source(&spec, &SourceSettings::default()).expect("opens");
        let reader = source.open(&crate::BlobEntry {
            name: "full.bak".into(),
            size: 10,
            etag: None,
            last_modified: chrono::DateTime::UNIX_EPOCH,
        });
        let debug = format!("{source:?} {reader:?}");
        assert!(!debug.contains("TOPSECRET"), "{debug}");
        assert!(
            debug.contains("http://127.0.0.1:9/devstoreaccount1/c01/db/full.bak"),
            "{debug}"
        );
    }

    #[test]
    fn managed_identity_needs_a_configured_account() {
        let spec = SourceSpec {
            uri: "https://unknownacct.blob.core.windows.net/c01/db".into(),
            auth: SourceAuth::ManagedIdentity,
        };
        let err = open_source(&spec, &SourceSettings::default()).err();
        assert_eq!(
            err,
            Some(SourceError::ManagedIdentityNotConfigured {
                account: "unknownacct".into()
            })
        );
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with(
                "Managed identity is not set up properly. Please verify and try again."
            ),
            "{text}"
        );
        assert!(text.contains("'unknownacct'"), "{text}");
        // Azurite's account is known out of the box; with a configured key any account works.
        let azurite = SourceSpec {
            uri: "http://127.0.0.1:10000/devstoreaccount1/c01/db".into(),
            auth: SourceAuth::ManagedIdentity,
        };
        assert!(open_source(&azurite, &SourceSettings::default()).is_ok());
        let settings = SourceSettings::default().with_account("unknownacct", "a2V5");
        let source = open_source(&spec, &settings).expect("opens");
        assert_eq!(
            source.describe(),
            "https://unknownacct.blob.core.windows.net/c01/db"
        );
    }

    #[test]
    fn sources_describe_their_folder() {
        let settings = SourceSettings::default();
        let open = |uri: &str, auth: SourceAuth| {
            open_source(
                &SourceSpec {
                    uri: uri.into(),
                    auth,
                },
                &settings,
            )
            .map(|s| s.describe().to_string())
        };
        assert_eq!(
            open("file:///var/backups/db1", SourceAuth::None),
            Ok("file:///var/backups/db1".into())
        );
        assert_eq!(
            open("s3://bucket/db1", SourceAuth::None),
            Ok("s3://bucket/db1".into())
        );
        assert_eq!(
            open(
                "https://acct.blob.core.windows.net/c01/db1",
                SourceAuth::Sas("?sp=rl&se=2026-01-01&sig=abc".into())
            ),
            Ok("https://acct.blob.core.windows.net/c01/db1".into())
        );
        assert!(matches!(
            open(
                "https://acct.blob.core.windows.net/c01/db1",
                SourceAuth::Sas("  ".into())
            ),
            Err(SourceError::Invalid(m)) if m.contains("SAS token for https://acct.blob.core.windows.net/c01/db1: the SAS token is empty")
        ));
    }
}
