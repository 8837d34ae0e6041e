//! Test support (feature `testing`): an Azurite harness and a [`Source`] wrapper that counts
//! what a caller asks of the store.
//!
//! [`Azurite::start`] uses the Azurite named by `LRS_AZURITE_BLOB_URL` (e.g.
//! `http://127.0.0.1:10000/devstoreaccount1`) when set, and otherwise spawns its own
//! in-memory `azurite-blob` on a free loopback port, killed when the harness is dropped. When
//! `azurite-blob` is not installed the harness is skipped (`Ok(None)`), except under
//! `CI=true`, where that is an error: install it with `scripts/services/azurite.sh install`.
//!
//! Raw requests (create a container, upload, delete) are signed with SharedKey for the
//! well-known `devstoreaccount1` key and only ever go to loopback addresses.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lrs_backup::RangeRead;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use url::{Host, Url};

use crate::conformance::FolderFixture;
use crate::sas::{hmac_sha256_base64, sign_container_sas};
use crate::settings::{AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY};
use crate::{BlobEntry, Source, SourceError, install_crypto_provider};

/// Env var naming an already running Azurite blob endpoint to use instead of spawning one.
pub const AZURITE_URL_ENV: &str = "LRS_AZURITE_BLOB_URL";

/// Storage service version of the raw requests.
const API_VERSION: &str = "2020-12-06";

/// How long a spawned Azurite may take to open its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Characters escaped in blob names inside URLs (everything but unreserved characters; `/`
/// separates the name's segments and is kept).
const NAME_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A running Azurite blob service, spawned by the harness or given by `LRS_AZURITE_BLOB_URL`.
#[derive(Debug)]
pub struct Azurite {
    child: Option<Child>,
    log: Option<PathBuf>,
    api: AzuriteApi,
}

/// The raw REST calls the harness makes (cheap to clone; used by folder fixtures).
#[derive(Clone)]
pub struct AzuriteApi {
    endpoint: String,
    key: Vec<u8>,
    client: reqwest::Client,
}

impl fmt::Debug for AzuriteApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzuriteApi")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Azurite {
    /// Start (or attach to) Azurite. `Ok(None)` when it is not installed and not under CI:
    /// the caller skips its test.
    pub fn start() -> Result<Option<Azurite>, String> {
        install_crypto_provider();
        if let Ok(url) = std::env::var(AZURITE_URL_ENV) {
            let endpoint = external_endpoint(&url)?;
            return Ok(Some(Azurite {
                child: None,
                log: None,
                api: AzuriteApi::new(endpoint)?,
            }));
        }
        if !on_path("azurite-blob") {
            if lrs_testkit::under_ci() {
                return Err("azurite-blob is not installed and CI=true: run `scripts/services/azurite.sh install` (or set LRS_AZURITE_BLOB_URL)".into());
            }
            lrs_testkit::skip(
                "azurite-blob is not installed (scripts/services/azurite.sh install)",
            );
            return Ok(None);
        }
        let mut last_error = String::new();
        // A free port can be taken by someone else before Azurite binds it: try a few.
        for _ in 0..3 {
            match spawn() {
                Ok(azurite) => return Ok(Some(azurite)),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// The blob endpoint with the account: `http://127.0.0.1:{port}/devstoreaccount1`.
    pub fn blob_endpoint(&self) -> &str {
        &self.api.endpoint
    }

    /// The raw REST client (for fixtures that outlive a borrow of the harness).
    pub fn api(&self) -> AzuriteApi {
        self.api.clone()
    }

    /// Create container `name`.
    pub async fn create_container(&self, name: &str) -> Result<(), String> {
        self.api.create_container(name).await
    }

    /// Upload `bytes` as block blob `blob_name` (may contain `/`) in `container`.
    pub async fn upload(
        &self,
        container: &str,
        blob_name: &str,
        bytes: impl Into<Bytes>,
    ) -> Result<(), String> {
        self.api.upload(container, blob_name, bytes.into()).await
    }

    /// Delete blob `blob_name` from `container`.
    pub async fn delete(&self, container: &str, blob_name: &str) -> Result<(), String> {
        self.api.delete(container, blob_name).await
    }

    /// A service SAS for `container` signed with the account key (token without `?`).
    pub fn container_sas(
        &self,
        container: &str,
        permissions: &str,
        start: DateTime<Utc>,
        expiry: DateTime<Utc>,
    ) -> String {
        self.api
            .container_sas(container, permissions, start, expiry)
    }

    /// The container URI of `folder` in `container` (`…/devstoreaccount1/{container}/{folder}`;
    /// an empty folder gives the container itself).
    pub fn container_url(&self, container: &str, folder: &str) -> String {
        self.api.container_url(container, folder)
    }

    /// A fixture that writes into `folder` of `container`.
    pub fn folder(&self, container: &str, folder: &str) -> AzuriteFolder {
        AzuriteFolder {
            api: self.api.clone(),
            container: container.to_string(),
            folder: folder.trim_matches('/').to_string(),
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // azurite-blob is the node process itself (a `#!/usr/bin/env node` script).
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(log) = self.log.take() {
            let _ = std::fs::remove_file(log);
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// `LRS_AZURITE_BLOB_URL`, checked to be a loopback address, with the account appended when
/// missing.
fn external_endpoint(url: &str) -> Result<String, String> {
    let parsed = Url::parse(url.trim())
        .map_err(|e| format!("{AZURITE_URL_ENV}='{url}' is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback {
        return Err(format!(
            "{AZURITE_URL_ENV}='{url}' is not a loopback address: tests only talk to loopback"
        ));
    }
    let base = parsed.as_str().trim_end_matches('/').to_string();
    if parsed.path().trim_matches('/').is_empty() {
        Ok(format!("{base}/{AZURITE_ACCOUNT}"))
    } else {
        Ok(base)
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn spawn() -> Result<Azurite, String> {
    let port = free_port()?;
    let log = std::env::temp_dir().join(format!("lrs-azurite-{}-{port}.log", std::process::id()));
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let child = Command::new("azurite-blob")
        .args([
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
        ])
        .arg(port.to_string())
        // Nothing should be written with in-memory persistence; if it is, not into the repo.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start azurite-blob: {e}"))?;
    let mut azurite = Azurite {
        child: Some(child),
        log: Some(log.clone()),
        api: AzuriteApi::new(format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"))?,
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(azurite);
        }
        if let Some(child) = azurite.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "azurite-blob exited ({status}) before listening on port {port}: {}",
                output.trim()
            ));
        }
        if started.elapsed() > START_TIMEOUT {
            // Dropping `azurite` kills the process.
            return Err(format!(
                "azurite-blob did not listen on port {port} within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl AzuriteApi {
    fn new(endpoint: String) -> Result<Self, String> {
        install_crypto_provider();
        let key = BASE64
            .decode(AZURITE_ACCOUNT_KEY)
            .map_err(|e| format!("Azurite account key: {e}"))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(AzuriteApi {
            endpoint,
            key,
            client,
        })
    }

    /// Create container `name`.
    pub async fn create_container(&self, name: &str) -> Result<(), String> {
        let url = format!("{}/{name}?restype=container", self.endpoint);
        self.send(Method::PUT, &url, &[], Bytes::new(), StatusCode::CREATED)
            .await
    }

    /// Upload `bytes` as block blob `blob_name` in `container`.
    pub async fn upload(
        &self,
        container: &str,
        blob_name: &str,
        bytes: Bytes,
    ) -> Result<(), String> {
        let url = self.blob_url(container, blob_name);
        self.send(
            Method::PUT,
            &url,
            &[("x-ms-blob-type", "BlockBlob")],
            bytes,
            StatusCode::CREATED,
        )
        .await
    }

    /// Delete blob `blob_name` from `container`.
    pub async fn delete(&self, container: &str, blob_name: &str) -> Result<(), String> {
        let url = self.blob_url(container, blob_name);
        self.send(
            Method::DELETE,
            &url,
            &[],
            Bytes::new(),
            StatusCode::ACCEPTED,
        )
        .await
    }

    /// A service SAS for `container`.
    pub fn container_sas(
        &self,
        container: &str,
        permissions: &str,
        start: DateTime<Utc>,
        expiry: DateTime<Utc>,
    ) -> String {
        // The well-known key is valid base64, so signing cannot fail.
        sign_container_sas(
            AZURITE_ACCOUNT,
            AZURITE_ACCOUNT_KEY,
            container,
            permissions,
            start,
            expiry,
        )
        .unwrap_or_default()
    }

    /// The URI of `folder` in `container`.
    pub fn container_url(&self, container: &str, folder: &str) -> String {
        let folder = folder.trim_matches('/');
        if folder.is_empty() {
            format!("{}/{container}", self.endpoint)
        } else {
            format!("{}/{container}/{}", self.endpoint, escape_name(folder))
        }
    }

    fn blob_url(&self, container: &str, blob_name: &str) -> String {
        format!("{}/{container}/{}", self.endpoint, escape_name(blob_name))
    }

    /// Send a SharedKey-signed request and expect `expected`.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        expected: StatusCode,
    ) -> Result<(), String> {
        let parsed = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let mut ms_headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        ms_headers.push(("x-ms-date".into(), date));
        ms_headers.push(("x-ms-version".into(), API_VERSION.into()));
        ms_headers.sort();
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let signature = hmac_sha256_base64(
            &self.key,
            &shared_key_string(method.as_str(), &length, &ms_headers, &parsed),
        )
        .map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .request(method.clone(), parsed)
            .header(
                "Authorization",
                format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
            )
            .header("Content-Length", body.len().to_string());
        for (k, v) in &ms_headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status();
        if status == expected {
            Ok(())
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(format!(
                "{method} {url}: expected {expected}, got {status}: {text}"
            ))
        }
    }
}

fn escape_name(name: &str) -> String {
    name.split('/')
        .map(|segment| utf8_percent_encode(segment, NAME_ESCAPE).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The SharedKey string-to-sign: verb, the standard headers (only Content-Length is ever
/// set here), the sorted `x-ms-` headers, then the canonicalized resource
/// (`/{account}{path}` plus sorted, decoded query parameters).
fn shared_key_string(
    method: &str,
    content_length: &str,
    ms_headers: &[(String, String)],
    url: &Url,
) -> String {
    let mut s = format!("{method}\n\n\n{content_length}\n\n\n\n\n\n\n\n\n");
    for (k, v) in ms_headers {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(&format!("/{AZURITE_ACCOUNT}{}", url.path()));
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    query.sort();
    for (k, v) in query {
        s.push_str(&format!("\n{k}:{v}"));
    }
    s
}

/// Writes into one folder of an Azurite container.
#[derive(Debug, Clone)]
pub struct AzuriteFolder {
    api: AzuriteApi,
    container: String,
    folder: String,
}

impl AzuriteFolder {
    fn blob(&self, name: &str) -> String {
        if self.folder.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.folder)
        }
    }
}

impl FolderFixture for AzuriteFolder {
    fn put<'a>(&'a self, name: &'a str, bytes: Bytes) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.api
                .upload(&self.container, &self.blob(name), bytes)
                .await
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.api.delete(&self.container, &self.blob(name)).await })
    }
}

/// Counts what is asked of a source: listings, opened readers, range requests and bytes.
#[derive(Debug)]
pub struct CountingSource {
    inner: Arc<dyn Source>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    lists: AtomicU64,
    opens: AtomicU64,
    reads: AtomicU64,
    bytes: AtomicU64,
}

impl CountingSource {
    /// Count what goes through to `inner`.
    pub fn new(inner: Arc<dyn Source>) -> Self {
        CountingSource {
            inner,
            counters: Arc::default(),
        }
    }

    /// Calls to [`Source::list`].
    pub fn lists(&self) -> u64 {
        self.counters.lists.load(Ordering::SeqCst)
    }

    /// Calls to [`Source::open`].
    pub fn opens(&self) -> u64 {
        self.counters.opens.load(Ordering::SeqCst)
    }

    /// Range requests through opened readers.
    pub fn reads(&self) -> u64 {
        self.counters.reads.load(Ordering::SeqCst)
    }

    /// Bytes returned by those requests.
    pub fn bytes_read(&self) -> u64 {
        self.counters.bytes.load(Ordering::SeqCst)
    }
}

impl Source for CountingSource {
    fn describe(&self) -> &str {
        self.inner.describe()
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<BlobEntry>, SourceError>> {
        self.counters.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list()
    }

    fn open(&self, entry: &BlobEntry) -> Arc<dyn RangeRead> {
        self.counters.opens.fetch_add(1, Ordering::SeqCst);
        Arc::new(CountingReader {
            inner: self.inner.open(entry),
            counters: Arc::clone(&self.counters),
        })
    }
}

#[derive(Debug)]
struct CountingReader {
    inner: Arc<dyn RangeRead>,
    counters: Arc<Counters>,
}

impl RangeRead for CountingReader {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.inner.size()
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        Box::pin(async move {
            self.counters.reads.fetch_add(1, Ordering::SeqCst);
            let bytes = self.inner.read_range(range).await?;
            self.counters
                .bytes
                .fetch_add(bytes.len() as u64, Ordering::SeqCst);
            Ok(bytes)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_endpoints_must_be_loopback() {
        assert_eq!(
            external_endpoint("http://127.0.0.1:10000"),
            Ok("http://127.0.0.1:10000/devstoreaccount1".into())
        );
        assert_eq!(
            external_endpoint("http://localhost:10000/devstoreaccount1/"),
            Ok("http://localhost:10000/devstoreaccount1".into())
        );
        assert!(
            external_endpoint("http://10.0.0.5:10000")
                .is_err_and(|e| e.contains("not a loopback address"))
        );
    }

    #[test]
    fn shared_key_string_layout() {
        let url =
            Url::parse("http://127.0.0.1:1/devstoreaccount1/c01?restype=container").expect("url");
        let headers = vec![
            (
                "x-ms-date".to_string(),
                "Mon, 01 Jun 2026 12:00:00 GMT".to_string(),
            ),
            ("x-ms-version".to_string(), API_VERSION.to_string()),
        ];
        assert_eq!(
            shared_key_string("PUT", "", &headers, &url),
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 01 Jun 2026 12:00:00 GMT\nx-ms-version:2020-12-06\n/devstoreaccount1/devstoreaccount1/c01\nrestype:container"
        );
        assert_eq!(escape_name("db 1/a+b.bak"), "db%201/a%2Bb.bak");
    }
}
