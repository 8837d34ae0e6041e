//! The one test server: the real `lrs serve` binary on free loopback ports (the influxdb3
//! pattern), used by the `lrs` crate's tests and by `arm_bench`.
//!
//! [`ServerBuilder::spawn`] starts `lrs serve --https 127.0.0.1:0 --http 127.0.0.1:0` plus the
//! caller's flags, reads the JSON line the server prints once it listens (its addresses and
//! certificate), waits until `GET /healthz` on the plain listener answers 200, and hands back a
//! [`TestServer`], which kills the process (SIGKILL) when dropped. The caller says where the
//! binary is: tests pass `env!("CARGO_BIN_EXE_lrs")`, the benchmark its `--lrs` path.
//!
//! The Python client suite has the same harness in `tests/clients/harness.py`.

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// ARM path prefix of the test instance (subscription, resource group `rg1`, instance `mi1`).
pub const INSTANCE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1";
/// The `api-version` query the Azure CLI sends.
pub const API: &str = "api-version=2024-11-01-preview";

/// Why a test server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The binary could not be run.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary's path.
        binary: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The server's data or log folder could not be made, or its output not read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The server exited (or closed its stdout) before printing its ready line.
    #[error("lrs serve exited before printing its ready line")]
    NoReadyLine,
    /// The ready line is not the JSON `lrs serve` prints.
    #[error("lrs serve did not report its addresses ({reason}): {line:?}")]
    BadReadyLine {
        /// The line read.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No ready line, or no healthy `/healthz`, within the time allowed.
    #[error("lrs serve was not {what} within {limit:?}")]
    Timeout {
        /// `ready` (no line) or `healthy` (no 200 from `/healthz`).
        what: &'static str,
        /// The time allowed.
        limit: Duration,
    },
}

/// Where the server's standard error goes.
#[derive(Debug)]
enum Stderr {
    Inherit,
    File(PathBuf),
}

/// How to start a [`TestServer`]: the binary, its data folder and extra flags.
#[derive(Debug)]
pub struct ServerBuilder {
    binary: PathBuf,
    data_dir: Option<PathBuf>,
    args: Vec<OsString>,
    rust_log: String,
    stderr: Stderr,
    timeout: Duration,
}

impl ServerBuilder {
    /// `lrs serve` of the binary at `binary`, on a temporary data folder (removed with the
    /// server), logging at `warn` to this process's stderr.
    pub fn new(binary: impl Into<PathBuf>) -> ServerBuilder {
        ServerBuilder {
            binary: binary.into(),
            data_dir: None,
            args: Vec::new(),
            rust_log: "warn".into(),
            stderr: Stderr::Inherit,
            timeout: Duration::from_secs(30),
        }
    }

    /// Keep the state in `dir` (`--data-dir`; kept after the server stops, so that another
    /// server can start on it).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> ServerBuilder {
        self.data_dir = Some(dir.into());
        self
    }

    /// More flags of `lrs serve` (after `--data-dir`, `--https` and `--http`).
    pub fn args<I, S>(mut self, args: I) -> ServerBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// `RUST_LOG` of the server (default `warn`; `info` adds the access log).
    pub fn rust_log(mut self, filter: &str) -> ServerBuilder {
        filter.clone_into(&mut self.rust_log);
        self
    }

    /// Write the server's stderr into the file `path` (created or truncated) instead of this
    /// process's stderr.
    pub fn stderr_to(mut self, path: impl Into<PathBuf>) -> ServerBuilder {
        self.stderr = Stderr::File(path.into());
        self
    }

    /// How long to wait for the ready line, and then for `/healthz` (default 30 s each).
    pub fn timeout(mut self, limit: Duration) -> ServerBuilder {
        self.timeout = limit;
        self
    }

    /// Start the server and wait until it is ready and healthy.
    pub async fn spawn(self) -> Result<TestServer, ServerError> {
        let (data_dir, temp) = match self.data_dir.clone() {
            Some(dir) => (dir, None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("lrs-test-server-")
                    .tempdir()
                    .map_err(|source| ServerError::Io {
                        what: "creating a temporary data folder",
                        source,
                    })?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let stderr =
            match &self.stderr {
                Stderr::Inherit => Stdio::inherit(),
                Stderr::File(path) => Stdio::from(std::fs::File::create(path).map_err(
                    |source| ServerError::Io {
                        what: "creating the server's log file",
                        source,
                    },
                )?),
            };
        let mut child = Command::new(&self.binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(&self.args)
            .env("RUST_LOG", &self.rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|source| ServerError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        // From here on `server` owns the process: an early return kills it.
        let stdout = child.stdout.take();
        let mut server = TestServer {
            child,
            http: String::new(),
            https: String::new(),
            cert: PathBuf::new(),
            data_dir,
            _temp: temp,
        };
        let line = read_ready_line(stdout, self.timeout).await?;
        let ready: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| ServerError::BadReadyLine {
                line: line.clone(),
                reason: e.to_string(),
            })?;
        let field = |name: &str| {
            ready[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ServerError::BadReadyLine {
                    line: line.clone(),
                    reason: format!("no \"{name}\""),
                })
        };
        server.http = format!("http://{}", field("http")?);
        server.https = field("https")?;
        server.cert = PathBuf::from(field("cert")?);
        let started = Instant::now();
        while !healthy(&server.http).await {
            if started.elapsed() > self.timeout {
                return Err(ServerError::Timeout {
                    what: "healthy",
                    limit: self.timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(server)
    }

    /// [`ServerBuilder::spawn`] for tests: panics, saying why, when the server does not start.
    #[allow(clippy::panic)]
    pub async fn start(self) -> TestServer {
        match self.spawn().await {
            Ok(server) => server,
            Err(e) => panic!("{e}"),
        }
    }
}

/// The first line of the server's stdout, read off the runtime's threads.
async fn read_ready_line(
    stdout: Option<std::process::ChildStdout>,
    limit: Duration,
) -> Result<String, ServerError> {
    let stdout = stdout.ok_or(ServerError::NoReadyLine)?;
    let read = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(ServerError::Timeout {
            what: "ready",
            limit,
        }),
        Ok(Err(_)) => Err(ServerError::NoReadyLine),
        Ok(Ok(Err(source))) => Err(ServerError::Io {
            what: "reading the server's ready line",
            source,
        }),
        Ok(Ok(Ok(line))) if line.trim().is_empty() => Err(ServerError::NoReadyLine),
        Ok(Ok(Ok(line))) => Ok(line),
    }
}

/// Whether `GET {base}/healthz` answers 200 (one HTTP/1.1 request on a fresh connection).
async fn healthy(base: &str) -> bool {
    let Some(host) = base.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut stream) = tokio::net::TcpStream::connect(host).await else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.ends_with(b" 200")
}

/// A running `lrs serve`, killed when dropped.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    /// Plain-HTTP base URL (`http://127.0.0.1:PORT`).
    pub http: String,
    /// HTTPS address (`127.0.0.1:PORT`).
    pub https: String,
    /// The certificate clients should trust.
    pub cert: PathBuf,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A builder for `lrs serve` of the binary at `binary`.
    pub fn builder(binary: impl Into<PathBuf>) -> ServerBuilder {
        ServerBuilder::new(binary)
    }

    /// The server's process id (for `/proc` readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `{http}{INSTANCE}{path}?{API}`: an ARM URL of the test instance on the plain listener.
    pub fn url(&self, path: &str) -> String {
        format!("{}{INSTANCE}{path}?{API}", self.http)
    }

    /// Kill the process at once (SIGKILL: no shutdown code runs).
    pub fn kill(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
