//! SAS and failure behaviour against a real Azurite: what storage refuses and how the source
//! reports it. Skipped when Azurite is not installed, except under CI=true.

use std::sync::Arc;

use chrono::{Duration, Utc};
use lrs_source::sas::{SasError, SasToken};
use lrs_source::testing::Azurite;
use lrs_source::{
    BlobEntry, Source, SourceAuth, SourceError, SourceSettings, SourceSpec, open_source,
};

const FORBIDDEN: &str = "Unable to read blobs in storage container, exception: The remote server returned an error: (403) Forbidden.";

struct Fixture {
    azurite: Azurite,
    container: String,
}

impl Fixture {
    async fn start(name: &str) -> Option<Fixture> {
        let azurite = match Azurite::start() {
            Ok(Some(azurite)) => azurite,
            Ok(None) => return None,
            Err(e) => panic!("{e}"),
        };
        let container = format!("{name}-{}", Utc::now().timestamp_micros());
        azurite
            .create_container(&container)
            .await
            .expect("create container");
        azurite
            .upload(&container, "db1/full.bak", vec![7u8; 1000])
            .await
            .expect("upload");
        Some(Fixture { azurite, container })
    }

    fn sas(&self, permissions: &str, start_hours: i64, expiry_hours: i64) -> String {
        let now = Utc::now();
        self.azurite.container_sas(
            &self.container,
            permissions,
            now + Duration::hours(start_hours),
            now + Duration::hours(expiry_hours),
        )
    }

    fn source(&self, container: &str, auth: SourceAuth) -> Arc<dyn Source> {
        self.source_with(container, auth, &SourceSettings::default())
    }

    fn source_with(
        &self,
        container: &str,
        auth: SourceAuth,
        settings: &SourceSettings,
    ) -> Arc<dyn Source> {
        let spec = SourceSpec {
            uri: self.azurite.container_url(container, "db1"),
            auth,
        };
        open_source(&spec, settings).expect("open source")
    }
}

fn signature_of(token: &str) -> String {
    token
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .expect("token has sig")
        .to_string()
}

fn assert_denied(err: &SourceError, reason: &str, secret: &str) {
    let SourceError::AccessDenied { message, location } = err else {
        panic!("expected AccessDenied, got {err:?}");
    };
    assert!(message.starts_with(FORBIDDEN), "{message}");
    assert!(message.contains(reason), "{message}");
    let text = format!("{err} {err:?} {location}");
    assert!(!text.contains(secret), "signature leaked: {text}");
    let decoded = secret
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    assert!(!text.contains(&decoded), "signature leaked: {text}");
}

#[tokio::test]
async fn read_list_sas_lists_and_reads() {
    let Some(f) = Fixture::start("sas-ok").await else {
        return;
    };
    let token = f.sas("rl", -1, 1);
    assert_eq!(
        SasToken::parse(&token).and_then(|t| t.check(Utc::now(), Duration::minutes(5))),
        Ok(())
    );
    let source = f.source(&f.container, SourceAuth::Sas(token.clone()));
    let listing = source.list().await.expect("list");
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].name, "full.bak");
    assert_eq!(listing[0].size, 1000);
    let bytes = source
        .open(&listing[0])
        .read_range(10..20)
        .await
        .expect("read");
    assert_eq!(bytes.as_ref(), &[7u8; 10]);
    // A token pasted with its '?' still authorizes requests (as the storage SDKs do); the
    // SAS rules are what refuse it.
    let source = f.source(&f.container, SourceAuth::Sas(format!("?{token}")));
    assert_eq!(source.list().await.map(|l| l.len()), Ok(1));
    assert_eq!(
        SasToken::parse(&format!("?{token}")),
        Err(SasError::LeadingQuestionMark)
    );
    assert!(!format!("{source:?}").contains(&signature_of(&token)));
}

#[tokio::test]
async fn write_permission_is_refused_by_the_rules_though_storage_accepts_it() {
    let Some(f) = Fixture::start("sas-write").await else {
        return;
    };
    let token = f.sas("rwl", -1, 1);
    // Storage itself serves the listing...
    let source = f.source(&f.container, SourceAuth::Sas(token.clone()));
    assert_eq!(source.list().await.map(|l| l.len()), Ok(1));
    // ...but LRS refuses to start with it, naming granted and required permissions.
    let err = SasToken::parse(&token)
        .and_then(|t| t.check(Utc::now(), Duration::minutes(5)))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "the SAS token grants 'rwl' (read, write, list) but LRS requires exactly Read and List ('rl'): remove write"
    );
}

#[tokio::test]
async fn expired_sas_is_access_denied() {
    let Some(f) = Fixture::start("sas-expired").await else {
        return;
    };
    let token = f.sas("rl", -3, -1);
    assert!(matches!(
        SasToken::parse(&token).and_then(|t| t.check(Utc::now(), Duration::minutes(5))),
        Err(SasError::Expired { .. })
    ));
    let source = f.source(&f.container, SourceAuth::Sas(token.clone()));
    let err = source
        .list()
        .await
        .expect_err("expired token lists nothing");
    assert_denied(&err, "AuthorizationFailure", &signature_of(&token));

    // A token that expires mid-migration: the blob was listed with a good token, the read
    // with the expired one is denied, and the reader's error says so.
    let good = f.source(&f.container, SourceAuth::Sas(f.sas("rl", -1, 1)));
    let listing: Vec<BlobEntry> = good.list().await.expect("list");
    let read = source.open(&listing[0]).read_range(0..10).await;
    let io = read.expect_err("expired read");
    let classified = SourceError::from_io(&io).expect("a source error inside");
    assert_denied(classified, "AuthorizationFailure", &signature_of(&token));
    assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn not_yet_valid_and_wrong_signatures_are_access_denied() {
    let Some(f) = Fixture::start("sas-badsig").await else {
        return;
    };
    let future = f.sas("rl", 2, 4);
    let err = f
        .source(&f.container, SourceAuth::Sas(future.clone()))
        .list()
        .await
        .expect_err("not yet valid");
    assert_denied(&err, "AuthorizationFailure", &signature_of(&future));

    // The right fields signed with another key.
    let good = f.sas("rl", -1, 1);
    let forged = lrs_source::sas::sign_container_sas(
        "devstoreaccount1",
        "c29tZSBvdGhlciBrZXkgdGhhdCBpcyBub3QgdGhlIGFjY291bnQncw==",
        &f.container,
        "rl",
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    )
    .expect("sign");
    assert_ne!(signature_of(&good), signature_of(&forged));
    let err = f
        .source(&f.container, SourceAuth::Sas(forged.clone()))
        .list()
        .await
        .expect_err("wrong signature");
    assert_denied(&err, "AuthorizationFailure", &signature_of(&forged));

    // Read without List: storage refuses the listing.
    let read_only = f.sas("r", -1, 1);
    let err = f
        .source(&f.container, SourceAuth::Sas(read_only.clone()))
        .list()
        .await
        .expect_err("no list permission");
    assert_denied(
        &err,
        "AuthorizationPermissionMismatch",
        &signature_of(&read_only),
    );
}

#[tokio::test]
async fn missing_container_is_not_found() {
    let Some(f) = Fixture::start("sas-missing").await else {
        return;
    };
    let missing = format!("{}-nope", f.container);
    let token = f.azurite.container_sas(
        &missing,
        "rl",
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    let err = f
        .source(&missing, SourceAuth::Sas(token))
        .list()
        .await
        .expect_err("missing container");
    assert_eq!(
        err,
        SourceError::NotFound {
            location: f.azurite.container_url(&missing, "db1"),
            message: "Storage error code: ContainerNotFound.".into()
        }
    );
}

#[tokio::test]
async fn managed_identity_uses_the_configured_key() {
    let Some(f) = Fixture::start("mi").await else {
        return;
    };
    let listing = f
        .source(&f.container, SourceAuth::ManagedIdentity)
        .list()
        .await
        .expect("built-in devstoreaccount1 key");
    assert_eq!(listing.len(), 1);
    // A wrong key configured for the account: storage refuses.
    let settings = SourceSettings::default().with_account(
        "devstoreaccount1",
        "c29tZSBvdGhlciBrZXkgdGhhdCBpcyBub3QgdGhlIGFjY291bnQncw==",
    );
    let err = f
        .source_with(&f.container, SourceAuth::ManagedIdentity, &settings)
        .list()
        .await
        .expect_err("wrong key");
    assert_denied(&err, "AuthorizationFailure", "c29tZSBvdGhlciBrZXkg");
}
