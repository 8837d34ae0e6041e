//! The ARM front end over the real engine (SQLite store, emulated target, local folders of
//! forged backups), driven over HTTPS with a client that trusts only the generated CA: the
//! sequences az and PowerShell run (docs/references.md#client-call-sequences).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lrs_arm::{RunningServer, ServeConfig};
use lrs_engine::stack::{StackOptions, StoreChoice};
use lrs_engine::{Engine, Profile};
use lrs_forge::{ChainSpec, DatabaseSpec, write_chain};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SUB: &str = "00000000-1111-2222-3333-444444444444";
const API: &str = "api-version=2024-11-01-preview";

struct Emulator {
    server: RunningServer,
    engine: Engine,
    client: reqwest::Client,
    base: String,
    root: tempfile::TempDir,
}

impl Emulator {
    async fn start() -> Emulator {
        lrs_arm::install_crypto_provider();
        let root = tempfile::tempdir().expect("temp dir");
        let mut options = StackOptions::new(root.path());
        options.store = StoreChoice::Url(format!(
            "sqlite://{}",
            root.path().join("state.db").display()
        ));
        options.profile = Profile::lrs_2021();
        options.poll_interval = Duration::from_millis(50);
        let engine = options.build().await.expect("stack").engine;

        let mut serve = ServeConfig::new(root.path().join("arm"));
        serve.https_addr = Some(([127, 0, 0, 1], 0).into());
        let server = lrs_arm::start(serve, engine.clone()).await.expect("serve");
        let port = server.https_addr().expect("https").port();
        let ca = std::fs::read(root.path().join("arm/tls/ca.pem")).expect("ca.pem");
        let client = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("pem")])
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Emulator {
            server,
            engine,
            client,
            base: format!("https://localhost:{port}"),
            root,
        }
    }

    fn db_url(&self, db: &str) -> String {
        format!(
            "{}/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/{db}",
            self.base
        )
    }

    /// A folder holding a forged chain (full, `diffs` differentials, `logs` logs); returns it
    /// and the file names in backup order.
    fn chain(&self, db: &str, diffs: u32, logs: u32) -> (PathBuf, Vec<String>) {
        let mut spec = ChainSpec::new(DatabaseSpec::new(db));
        spec.db.data_size = 2 * 1024 * 1024;
        spec.diffs = diffs;
        spec.logs = logs;
        let staging = self.root.path().join("staging").join(db);
        let folder = self.root.path().join("blobs").join(db);
        std::fs::create_dir_all(&folder).expect("folder");
        let files = write_chain(&spec, &staging).expect("forge");
        let names = files
            .iter()
            .map(|f| {
                f.path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        (staging, names)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, headers, body)
    }

    /// Poll an Azure-AsyncOperation URL until it leaves InProgress (liveness bound only).
    async fn wait(&self, async_url: &str) -> Value {
        for _ in 0..400 {
            let (status, headers, body) = self.send(self.client.get(async_url)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(header(&headers, "retry-after"), "1");
            if body["status"] != "InProgress" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("operation {async_url} still in progress");
    }
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn copy_into(staging: &Path, names: &[String], folder: &Path) {
    for name in names {
        std::fs::copy(staging.join(name), folder.join(name)).expect("upload");
    }
}

#[tokio::test]
async fn az_autocomplete_start_wait_show_and_stop() {
    let e = Emulator::start().await;
    // az start: GET MI for the location (created on first use).
    let (status, _, mi) = e
        .send(e.client.get(format!(
            "{}/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1?{API}",
            e.base
        )))
        .await;
    assert_eq!(status, StatusCode::OK, "{mi}");
    let location = mi["location"].as_str().expect("location").to_string();

    let (staging, names) = e.chain("Sales", 1, 2);
    let folder = e.root.path().join("blobs/Sales");
    copy_into(&staging, &names, &folder);
    let last = names.last().expect("files").clone();
    let (status, headers, body) = e
        .send(
            e.client
                .put(format!("{}?{API}", e.db_url("Sales")))
                .json(&json!({
                    "location": location,
                    "properties": {
                        "createMode": "RestoreExternalBackup",
                        "storageContainerUri": format!("file://{}", folder.display()),
                        "storageContainerSasToken": "",
                        "autoCompleteRestore": true,
                        "lastBackupName": last,
                    }
                })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body["operation"],
        "CreateExternalManagedBackupRestoreV2Request"
    );
    let async_url = header(&headers, "azure-asyncoperation").to_string();
    assert!(
        async_url.starts_with(&format!(
            "{}/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/locations/{location}/managedDatabaseRestoreAzureAsyncOperation/",
            e.base
        )),
        "{async_url}"
    );

    // The start operation ends when the last backup is restored and the database is online.
    let done = e.wait(&async_url).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert!(done.get("endTime").is_none(), "{done}");
    let (status, _, db) = e
        .send(e.client.get(format!("{}?{API}", e.db_url("sales"))))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(db["properties"]["status"], "Online");
    assert_eq!(db["name"], "sales");
    let (status, _, result) = e.send(e.client.get(header(&headers, "location"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["properties"]["status"], "Online");

    // show, in both shapes.
    let details_url = format!("{}/restoreDetails/Default", e.db_url("Sales"));
    let (status, _, details) = e.send(e.client.get(format!("{details_url}?{API}"))).await;
    assert_eq!(status, StatusCode::OK, "{details}");
    assert_eq!(details["properties"]["type"], "LRSRestore");
    assert_eq!(details["properties"]["status"], "Completed");
    assert_eq!(details["properties"]["percentCompleted"], 100);
    assert_eq!(details["properties"]["lastRestoredFileName"], last.as_str());
    assert_eq!(details["properties"]["numberOfFilesDetected"], 4);
    assert_eq!(details["name"], "Default");
    let (_, _, old) = e
        .send(
            e.client
                .get(format!("{details_url}?api-version=2021-11-01")),
        )
        .await;
    assert!(old["properties"].get("type").is_none());
    assert_eq!(old["properties"]["percentCompleted"], 100.0);
    assert!(old["properties"]["unrestorableFiles"].is_array());

    // stop: DELETE → 202 on the drop family; then the database is gone: the resource
    // provider's 404 (it existed), not the gateway's.
    let (status, headers, body) = e
        .send(e.client.delete(format!("{}?{API}", e.db_url("Sales"))))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["operation"], "DropManagedDatabase");
    let drop = e.wait(header(&headers, "azure-asyncoperation")).await;
    assert_eq!(drop["status"], "Succeeded", "{drop}");
    let (status, headers, body) = e
        .send(e.client.get(format!("{}?{API}", e.db_url("Sales"))))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(headers.get("x-ms-failure-cause").is_none(), "{headers:?}");
    assert_eq!(
        body["error"],
        serde_json::json!({"code": "ResourceNotFound", "message": "The requested resource of type 'Microsoft.Sql/managedInstances/databases' with name 'Sales' was not found."})
    );

    // The instance's operations: the drop, then the start (newest first), both ended; show one.
    let ops_url = format!(
        "{}/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/operations",
        e.base
    );
    let (status, _, ops) = e.send(e.client.get(format!("{ops_url}?{API}"))).await;
    assert_eq!(status, StatusCode::OK, "{ops}");
    let listed: Vec<(String, String, i64)> = ops["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|o| {
            let p = &o["properties"];
            (
                p["operation"].as_str().unwrap_or_default().to_string(),
                p["state"].as_str().unwrap_or_default().to_string(),
                p["percentComplete"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                "DropManagedDatabase".to_string(),
                "Succeeded".to_string(),
                100
            ),
            (
                "CreateExternalManagedBackupRestoreV2Request".to_string(),
                "Succeeded".to_string(),
                100
            ),
        ]
    );
    let start_id = ops["value"][1]["name"].as_str().expect("name").to_string();
    assert_eq!(done["name"], start_id.as_str());
    let (status, _, op) = e
        .send(e.client.get(format!("{ops_url}/{start_id}?{API}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert_eq!(op["properties"]["managedInstanceName"], "mi1");
    assert_eq!(
        op["properties"]["description"],
        "Log replay migration of database 'Sales' (createMode RestoreExternalBackup)."
    );

    e.engine.shutdown();
    e.server.shutdown().await;
}

#[tokio::test]
async fn continuous_mode_then_complete_restore() {
    let e = Emulator::start().await;
    let (staging, names) = e.chain("Orders", 0, 2);
    let folder = e.root.path().join("blobs/Orders");
    copy_into(&staging, &names, &folder);
    let last = names.last().expect("files").clone();
    let (status, headers, body) = e
        .send(
            e.client
                .put(format!("{}?{API}", e.db_url("Orders")))
                .json(&json!({
                    "location": "westeurope",
                    "properties": {
                        "createMode": "RestoreExternalBackup",
                        "storageContainerUri": format!("file://{}", folder.display()),
                        "storageContainerSasToken": "",
                        "autoCompleteRestore": false,
                    }
                })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let start_async = header(&headers, "azure-asyncoperation").to_string();

    // Wait until every file is restored (the start operation stays InProgress meanwhile).
    let details_url = format!("{}/restoreDetails/Default?{API}", e.db_url("Orders"));
    let mut restored = false;
    for _ in 0..400 {
        let (_, _, d) = e.send(e.client.get(&details_url)).await;
        if d["properties"]["lastRestoredFileName"] == last.as_str() {
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(restored, "the last log was never restored");
    let (_, _, op) = e.send(e.client.get(&start_async)).await;
    assert_eq!(op["status"], "InProgress");

    // complete without a name: the engine refuses (400).
    let complete_url = format!("{}/completeRestore?{API}", e.db_url("Orders"));
    let (status, _, body) = e.send(e.client.post(&complete_url).json(&json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["code"].is_string());

    // complete with the last restored file: 202, then the Location result is the database.
    let (status, headers, body) = e
        .send(
            e.client
                .post(&complete_url)
                .json(&json!({"lastBackupName": last})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["operation"], "ManagedDatabaseCompleteExternalRestore");
    let done = e.wait(header(&headers, "azure-asyncoperation")).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let (status, _, result) = e.send(e.client.get(header(&headers, "location"))).await;
    assert_eq!(status, StatusCode::CREATED, "{result}");
    assert_eq!(result["properties"]["status"], "Online");
    let start = e.wait(&start_async).await;
    assert_eq!(start["status"], "Succeeded");

    e.engine.shutdown();
    e.server.shutdown().await;
}

#[tokio::test]
async fn plain_database_has_no_restore_details() {
    let e = Emulator::start().await;
    let (status, headers, body) = e
        .send(
            e.client
                .put(format!("{}?{API}", e.db_url("plain")))
                .json(&json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["operation"], "CreateManagedDatabase");
    let done = e.wait(header(&headers, "azure-asyncoperation")).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let (status, _, body) = e
        .send(e.client.get(format!(
            "{}/restoreDetails/Default?api-version=2022-02-01-preview",
            e.db_url("plain")
        )))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "RestoreDetailsNotAvailableOrExpired");
    let (status, _, list) = e
        .send(e.client.get(format!(
            "{}/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases?{API}",
            e.base
        )))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["value"][0]["name"], "plain");
    assert_eq!(list["value"][0]["properties"]["status"], "Online");

    e.engine.shutdown();
    e.server.shutdown().await;
}
