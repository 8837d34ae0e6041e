//! Shared by the `lrs` tests: the real `lrs serve` of this crate ([`lrs_serve`], the harness of
//! `lrs_testkit::server`), forged chains, and starting a migration over HTTP.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::Command;

pub use lrs_testkit::server::{ServerBuilder, TestServer};

/// `lrs serve` of this crate's binary on `data_dir`, on free ports: add flags with `.args`,
/// then `.start().await` waits until it is healthy (and panics, saying why, if it is not).
pub fn lrs_serve(data_dir: &Path) -> ServerBuilder {
    // The tests' own HTTPS clients (reqwest without a built-in provider) need one.
    lrs_source::install_crypto_provider();
    TestServer::builder(env!("CARGO_BIN_EXE_lrs")).data_dir(data_dir)
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

/// Poll `GET …/databases/{database}` on `server` until it says `Online` (fails after 60 s,
/// showing the last answer).
pub async fn wait_online(client: &reqwest::Client, server: &TestServer, database: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let db: serde_json::Value = client
            .get(server.url(&format!("/databases/{database}")))
            .send()
            .await
            .expect("GET database")
            .json()
            .await
            .expect("database JSON");
        if db["properties"]["status"] == "Online" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{database} never came online: {db:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
