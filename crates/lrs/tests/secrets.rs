//! Secrets at rest: a SAS token given to `lrs serve` is sealed in the state store, the data
//! folder and its files are the owner's only, and a job that ends forgets its token.

mod support;

use std::path::Path;

use lrs_store::{InstanceKey, StorageAuth};
use lrs_testkit::server::INSTANCE;
use support::lrs_serve;

const SIGNATURE: &str = "Zm9yZ2VkU2lnbmF0dXJlVGhhdE11c3ROb3RMZWFr";

/// Every file below `dir`, with its bytes.
fn files(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else {
            let bytes = std::fs::read(&path).expect("read");
            out.push((path, bytes));
        }
    }
}

async fn job_auth(data: &Path, database_id: Option<uuid::Uuid>) -> (uuid::Uuid, StorageAuth) {
    let store = lrs_store::open_store(&format!("sqlite://{}", data.join("lrs.db").display()))
        .await
        .expect("open the store");
    let id = match database_id {
        Some(id) => id,
        None => {
            let key = InstanceKey {
                subscription: "00000000-1111-2222-3333-444444444444".into(),
                resource_group: "rg1".into(),
                instance: "mi1".into(),
            };
            store.list_databases(&key).await.expect("databases")[0].id
        }
    };
    let job = store
        .job_for_database(id)
        .await
        .expect("job")
        .expect("a job");
    (id, job.auth)
}

#[tokio::test(flavor = "multi_thread")]
async fn sas_tokens_are_sealed_at_rest_and_forgotten_when_the_job_ends() {
    let root = tempfile::tempdir().expect("dir");
    let data = root.path().join("data");
    let server = lrs_serve(&data).start().await;
    let sas = format!("sv=2022-11-02&sr=c&sp=rl&se=2099-01-01T00:00:00Z&sig={SIGNATURE}");
    let body = serde_json::json!({
        "location": "westeurope",
        "properties": {
            "createMode": "RestoreExternalBackup",
            // Nothing listens there: the job keeps retrying, its token stays stored.
            "storageContainerUri": "https://127.0.0.1:9/devstoreaccount1/backups/sales",
            "storageContainerSasToken": sas,
            "autoCompleteRestore": false,
        }
    });
    let client = reqwest::Client::new();
    let put = client
        .put(server.url("/databases/Sales"))
        .json(&body)
        .send()
        .await
        .expect("PUT");
    assert!(
        put.status().is_success(),
        "{}",
        put.text().await.unwrap_or_default()
    );
    server.kill();

    let (database_id, auth) = job_auth(&data, None).await;
    let StorageAuth::Sas(stored) = auth else {
        panic!("{auth:?}")
    };
    assert!(stored.starts_with("sealed1:"), "stored as {stored:?}");
    let mut all = Vec::new();
    files(&data, &mut all);
    assert!(all.len() >= 3, "store, key and certificate at least");
    for (path, bytes) in &all {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(SIGNATURE),
            "{} holds the SAS signature",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "the data folder");
        for (path, _) in &all {
            assert_eq!(
                mode(path) & 0o077,
                0,
                "{} is readable by others",
                path.display()
            );
        }
    }

    // Stopping the migration ends the job: the token is gone from the store.
    let server = lrs_serve(&data).start().await;
    let delete = client
        .delete(server.url("/databases/Sales"))
        .send()
        .await
        .expect("DELETE");
    assert!(delete.status().is_success());
    let op = delete
        .headers()
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("operation URL");
    let op = op.replacen("https://management.azure.com", &server.http, 1);
    for _ in 0..200 {
        let status: serde_json::Value = client
            .get(&op)
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("JSON");
        if status["status"] != "InProgress" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    server.kill();
    let (_, auth) = job_auth(&data, Some(database_id)).await;
    assert_eq!(
        auth,
        StorageAuth::Sas(String::new()),
        "{INSTANCE}: the ended job keeps no token"
    );
}
