//! Test harness: the real `lrs serve` binary on free ports (the influxdb3 pattern). It is
//! started with `--https 127.0.0.1:0 --http 127.0.0.1:0`, reports its ports on its first stdout
//! line, is ready once `/healthz` answers, and is killed (SIGKILL) on drop.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running `lrs serve`.
pub struct TestServer {
    child: Child,
    /// Plain-HTTP base URL (`http://127.0.0.1:PORT`).
    pub http: String,
    /// HTTPS address.
    pub https: String,
    /// The certificate clients should trust.
    pub cert: PathBuf,
}

/// ARM path prefix of the test instance.
pub const INSTANCE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1";
/// api-version the Azure CLI sends.
pub const API: &str = "api-version=2024-11-01-preview";

impl TestServer {
    /// Start `lrs serve` on `data_dir` with extra arguments and wait until it is healthy.
    pub async fn start(data_dir: &Path, extra: &[&str]) -> TestServer {
        Self::start_with(data_dir, extra, "warn", Stdio::inherit()).await
    }

    /// Start `lrs serve` logging at `info` (the access log too) into the file `log`: its
    /// stderr is that file, not a terminal.
    pub async fn start_logged(data_dir: &Path, extra: &[&str], log: &Path) -> TestServer {
        let file = std::fs::File::create(log).expect("create the log file");
        Self::start_with(data_dir, extra, "info", Stdio::from(file)).await
    }

    async fn start_with(
        data_dir: &Path,
        extra: &[&str],
        rust_log: &str,
        stderr: Stdio,
    ) -> TestServer {
        lrs_source::install_crypto_provider();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lrs"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn lrs serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("lrs serve did not report its ports ({e}): {line:?}"));
        let server = TestServer {
            child,
            http: format!("http://{}", ready["http"].as_str().expect("http")),
            https: ready["https"].as_str().expect("https").to_string(),
            cert: PathBuf::from(ready["cert"].as_str().expect("cert")),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(format!("{}/healthz", server.http)).send().await
                && r.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("lrs serve never became healthy");
    }

    /// Kill the process at once (SIGKILL: no shutdown code runs).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `{http}{INSTANCE}{path}?{API}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{INSTANCE}{path}?{API}", self.http)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write a forged chain with `lrs forge chain` into `dir`; returns the file names in backup
/// order.
pub fn forge_chain(dir: &Path, db: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args(["forge", "chain", "--db", db, "--out"])
        .arg(dir)
        .args(args)
        .output()
        .expect("lrs forge");
    assert!(
        out.status.success(),
        "lrs forge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("forged folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Start a continuous LRS migration of `database` from the local `folder` on `server` and
/// assert the PUT was accepted (202).
pub async fn start_continuous(
    client: &reqwest::Client,
    server: &TestServer,
    database: &str,
    folder: &Path,
) {
    let put = client
        .put(server.url(&format!("/databases/{database}")))
        .json(&serde_json::json!({
            "location": "westeurope",
            "properties": {
                "createMode": "RestoreExternalBackup",
                "storageContainerUri": format!("file://{}", folder.display()),
                "autoCompleteRestore": false
            }
        }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(
        put.status(),
        202,
        "{}",
        put.text().await.unwrap_or_default()
    );
}
