//! Serving the application: HTTPS (rustls) and optional plain-HTTP listeners over hyper, with
//! graceful shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::app::{AppState, ListenerInfo, Settings, router};
use crate::auth::TokenIssuer;
use crate::backend::Backend;
use crate::config::ServeConfig;
use crate::tls;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is contradictory or incomplete.
    #[error("invalid server configuration: {0}")]
    Config(String),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A certificate or key file is unusable.
    #[error("TLS material {path}: {reason}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file under the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server: its bound addresses and the means to stop it. Dropping it also stops the
/// listeners (without waiting for open connections).
#[derive(Debug)]
pub struct RunningServer {
    https_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    cert_path: Option<PathBuf>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Stops a [`RunningServer`] from anywhere (a signal handler, another task).
#[derive(Debug, Clone)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    /// Stop accepting connections and drain the open ones.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl RunningServer {
    /// The bound HTTPS address (the real port when 0 was asked for).
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The bound plain-HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The PEM file clients should trust for the HTTPS listener (`REQUESTS_CA_BUNDLE`).
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert_path.as_deref()
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Wait until the server stops (after [`ShutdownHandle::shutdown`]) and its connections
    /// are drained.
    pub async fn wait(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "listener task failed");
            }
        }
    }

    /// Stop accepting connections, let open requests finish (up to 10 s), and return.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.wait().await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Start serving `engine` as configured. Binds every listener before returning, so the
/// addresses are known (port 0 picks free ports).
pub async fn start(
    config: ServeConfig,
    engine: lrs_engine::Engine,
) -> Result<RunningServer, ServeError> {
    start_with_backend(config, Arc::new(engine)).await
}

/// [`start`] over any [`Backend`] (tests use in-memory fakes).
pub async fn start_with_backend(
    config: ServeConfig,
    backend: Arc<dyn Backend>,
) -> Result<RunningServer, ServeError> {
    if config.https_addr.is_none() && config.http_addr.is_none() {
        return Err(ServeError::Config(
            "no listener: give an HTTPS address, an HTTP address, or both".into(),
        ));
    }
    tls::install_crypto_provider();
    let app = build_router(&config, backend)?;
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut https_addr = None;
    let mut cert_path = None;
    if let Some(addr) = config.https_addr {
        let setup = tls::setup(
            &config.data_dir,
            config.tls_cert.as_deref(),
            config.tls_key.as_deref(),
        )?;
        let listener = bind(addr).await?;
        https_addr = Some(local_addr(&listener, addr)?);
        cert_path = Some(setup.cert_path.clone());
        let acceptor = TlsAcceptor::from(setup.config);
        tasks.push(tokio::spawn(serve(
            listener,
            Some(acceptor),
            app.clone(),
            shutdown.clone(),
        )));
    }
    let mut http_addr = None;
    if let Some(addr) = config.http_addr {
        let listener = bind(addr).await?;
        http_addr = Some(local_addr(&listener, addr)?);
        tasks.push(tokio::spawn(serve(listener, None, app, shutdown.clone())));
    }
    tracing::info!(
        https = ?https_addr,
        http = ?http_addr,
        cert = ?cert_path,
        "ARM front end listening"
    );
    Ok(RunningServer {
        https_addr,
        http_addr,
        cert_path,
        shutdown,
        tasks,
    })
}

/// The application for `config` (without listeners): handy for in-process use.
pub fn build_router(config: &ServeConfig, backend: Arc<dyn Backend>) -> Result<Router, ServeError> {
    let key_path = config.data_dir.join("auth").join("token-signing.key");
    let tokens = TokenIssuer::load_or_create(&key_path).map_err(|source| ServeError::Io {
        path: key_path,
        source,
    })?;
    let state = AppState::new(backend, Settings::from_config(config), tokens);
    Ok(router(state))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, ServeError> {
    listener.local_addr().map_err(|source| ServeError::Bind {
        addr: asked,
        source,
    })
}

/// Accept connections until `shutdown`, then drain them.
async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: CancellationToken,
) {
    let Ok(local_addr) = listener.local_addr() else {
        tracing::error!("listener has no local address");
        return;
    };
    let info = ListenerInfo {
        https: tls.is_some(),
        local_addr,
    };
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Answers are small and written whole: without this, Nagle's algorithm holds the last
        // segment of an answer until the client's next request acknowledges the previous one
        // (seen as 5–40 ms latency over HTTP/2 in docs/benchmarks.md).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(info);
                request
            });
        let service = TowerToHyperService::new(service);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let result =
                match tls {
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                    None => {
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("open connections did not finish within the drain timeout");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeBackend;
    use std::net::Ipv4Addr;

    fn config(dir: &Path) -> ServeConfig {
        let mut config = ServeConfig::new(dir);
        config.https_addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        config.http_addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        config
    }

    fn client_trusting(certs: Vec<reqwest::Certificate>) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only(certs)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    }

    #[tokio::test]
    async fn https_with_the_generated_certificate_verifies_by_name_and_ip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = start_with_backend(config(dir.path()), Arc::new(FakeBackend::default()))
            .await
            .expect("start");
        let port = server.https_addr().expect("https").port();
        assert_ne!(port, 0);
        assert_eq!(
            server.cert_path(),
            Some(dir.path().join("tls/cert.pem").as_path())
        );

        // Trust only the generated CA: verification is on, no danger options.
        let ca = std::fs::read(dir.path().join("tls/ca.pem")).expect("ca.pem");
        let client = client_trusting(vec![reqwest::Certificate::from_pem(&ca).expect("pem")]);
        for host in ["localhost", "127.0.0.1"] {
            let response = client
                .get(format!("https://{host}:{port}/healthz"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("https://{host}:{port}: {e:?}"));
            assert_eq!(response.status(), reqwest::StatusCode::OK, "{host}");
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body, serde_json::json!({"status": "ok"}));
        }

        // cert.pem works as a CA bundle too (what REQUESTS_CA_BUNDLE gets).
        let bundle = std::fs::read(dir.path().join("tls/cert.pem")).expect("cert.pem");
        let client =
            client_trusting(reqwest::Certificate::from_pem_bundle(&bundle).expect("bundle"));
        let response = client
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .expect("bundle-trusting client");
        assert_eq!(response.status(), reqwest::StatusCode::OK);

        // LRO URLs carry the https scheme and the Host the client used.
        let uri = format!(
            "https://localhost:{port}/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/db1?api-version=2024-11-01-preview"
        );
        let response = client
            .put(uri)
            .json(&serde_json::json!({"location":"westeurope","properties":{"createMode":"RestoreExternalBackup","storageContainerUri":"https://a.blob.core.windows.net/c","storageContainerSasToken":"sp=rl&sig=x"}}))
            .send()
            .await
            .expect("put");
        assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
        let async_url = response
            .headers()
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            async_url.starts_with(&format!("https://localhost:{port}/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Sql/locations/westeurope/managedDatabaseRestoreAzureAsyncOperation/")),
            "{async_url}"
        );
        let poll = client.get(&async_url).send().await.expect("poll");
        assert_eq!(poll.status(), reqwest::StatusCode::OK);

        // A client that trusts another CA refuses the server.
        let other = tempfile::tempdir().expect("tempdir");
        let other_ca = {
            let s = tls::setup(other.path(), None, None).expect("other cert");
            drop(s);
            std::fs::read(other.path().join("tls/ca.pem")).expect("other ca")
        };
        let stranger = client_trusting(vec![
            reqwest::Certificate::from_pem(&other_ca).expect("pem"),
        ]);
        assert!(
            stranger
                .get(format!("https://localhost:{port}/healthz"))
                .send()
                .await
                .is_err()
        );

        // Plain HTTP listener.
        let http = server.http_addr().expect("http");
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(format!("http://{http}/healthz"))
            .send()
            .await
            .expect("http");
        assert_eq!(response.status(), reqwest::StatusCode::OK);

        server.shutdown().await;
        assert!(
            tokio::net::TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .await
                .is_err(),
            "listener still open after shutdown"
        );
    }

    #[tokio::test]
    async fn the_certificate_is_reused_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = start_with_backend(config(dir.path()), Arc::new(FakeBackend::default()))
            .await
            .expect("start");
        let pem = std::fs::read(dir.path().join("tls/cert.pem")).expect("cert");
        first.shutdown().await;
        let second = start_with_backend(config(dir.path()), Arc::new(FakeBackend::default()))
            .await
            .expect("restart");
        assert_eq!(
            std::fs::read(dir.path().join("tls/cert.pem")).expect("cert"),
            pem
        );
        second.shutdown().await;
    }

    #[tokio::test]
    async fn configuration_errors_are_specific() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = config(dir.path());
        c.https_addr = None;
        c.http_addr = None;
        match start_with_backend(c, Arc::new(FakeBackend::default())).await {
            Err(ServeError::Config(msg)) => assert!(msg.contains("no listener")),
            other => panic!("{other:?}"),
        }
        // A port that is taken.
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = taken.local_addr().expect("addr");
        let mut c = config(dir.path());
        c.https_addr = None;
        c.http_addr = Some(addr);
        match start_with_backend(c, Arc::new(FakeBackend::default())).await {
            Err(ServeError::Bind { addr: a, .. }) => assert_eq!(a, addr),
            other => panic!("{other:?}"),
        }
    }
}
