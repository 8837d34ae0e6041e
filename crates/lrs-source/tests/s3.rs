//! The conformance suite against an S3-compatible store named by `LRS_TEST_S3_ENDPOINT` (a
//! loopback URL such as `http://127.0.0.1:5000`); `scripts/test` starts moto's server for it
//! (scripts/services/s3.sh). Under `CI=true` a missing endpoint fails the suite; elsewhere it
//! says it was skipped.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use lrs_source::conformance::{Folder, FolderFactory, StoreFolder, run_all};
use lrs_source::{
    S3Settings, Secret, SourceAuth, SourceError, SourceSettings, SourceSpec,
    install_crypto_provider, open_source,
};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;

fn endpoint() -> Option<String> {
    match std::env::var("LRS_TEST_S3_ENDPOINT") {
        Ok(endpoint) => {
            let url = url::Url::parse(&endpoint).expect("LRS_TEST_S3_ENDPOINT is a URL");
            let host = url.host_str().unwrap_or_default();
            assert!(
                host == "127.0.0.1" || host == "localhost" || host == "[::1]",
                "LRS_TEST_S3_ENDPOINT must be a loopback address, got {endpoint}"
            );
            Some(endpoint.trim_end_matches('/').to_string())
        }
        Err(_) => {
            lrs_testkit::skip(
                "LRS_TEST_S3_ENDPOINT is not set (scripts/test starts an S3 server: \
                 scripts/services/s3.sh install)",
            );
            None
        }
    }
}

fn settings(endpoint: &str) -> SourceSettings {
    SourceSettings {
        s3: S3Settings {
            endpoint: Some(endpoint.to_string()),
            region: "us-east-1".into(),
            access_key_id: Some("testing".into()),
            secret_access_key: Some(Secret::new("testing")),
            session_token: None,
            allow_http: true,
        },
        ..SourceSettings::default()
    }
}

struct S3Factory {
    endpoint: String,
    bucket: String,
    store: Arc<dyn ObjectStore>,
}

impl FolderFactory for S3Factory {
    fn fresh<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<Folder, String>> {
        Box::pin(async move {
            let spec = SourceSpec {
                uri: format!("s3://{}/backups/{label}", self.bucket),
                auth: SourceAuth::Sas("sp=rl&se=2099-01-01&sig=unused".into()),
            };
            let source =
                open_source(&spec, &settings(&self.endpoint)).map_err(|e| e.to_string())?;
            let folder = format!("backups/{label}");
            Ok((
                source,
                Box::new(StoreFolder::new(Arc::clone(&self.store), &folder)) as _,
            ))
        })
    }
}

#[tokio::test]
async fn s3_conforms() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    install_crypto_provider();
    let bucket = format!("lrs-conformance-{}", Utc::now().timestamp_micros());
    // moto accepts an unsigned bucket creation.
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(response.status().is_success(), "{response:?}");
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint.as_str())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(bucket.as_str())
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .expect("store");
    let factory = S3Factory {
        endpoint: endpoint.clone(),
        bucket,
        store: Arc::new(store),
    };
    if let Err(e) = run_all(&factory).await {
        panic!("S3: {e}");
    }

    let missing = SourceSpec {
        uri: "s3://lrs-no-such-bucket/db1".into(),
        auth: SourceAuth::None,
    };
    let err = open_source(&missing, &settings(&endpoint))
        .expect("open")
        .list()
        .await
        .expect_err("missing bucket");
    assert!(
        matches!(&err, SourceError::NotFound { message, .. } if message.contains("NoSuchBucket")),
        "{err:?}"
    );
}
