//! Bad input through the real server, as an API client sends it: each case gets its documented
//! code, and nothing is left behind (no database, no job).

mod support;

use lrs_testkit::server::{API, INSTANCE};
use serde_json::{Value, json};
use support::lrs_serve;

fn start_body(uri: &str, extra: Value) -> Value {
    let mut properties = json!({
        "createMode": "RestoreExternalBackup",
        "storageContainerUri": uri,
        "storageContainerSasToken": "sv=2022-11-02&sr=c&sp=rl&se=2099-01-01T00:00:00Z&sig=abc%3D",
        "autoCompleteRestore": false,
    });
    if let (Some(p), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({ "location": "westeurope", "properties": properties })
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_versions_and_storage_are_refused_and_leave_nothing() {
    let root = tempfile::tempdir().expect("dir");
    let blobs = root.path().join("blobs");
    let folder = blobs.join("db1");
    std::fs::create_dir_all(&folder).expect("folder");
    let outside = tempfile::tempdir().expect("dir");
    std::fs::write(outside.path().join("secret.bak"), b"not yours").expect("write");
    std::os::unix::fs::symlink(outside.path(), blobs.join("escape")).expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("secret.bak"), folder.join("passwd.bak"))
        .expect("symlink");
    let blobs_arg = blobs.display().to_string();
    let server = lrs_serve(&root.path().join("data"))
        .args(["--local-root", &blobs_arg])
        .start()
        .await;
    let client = reqwest::Client::new();
    let local = |p: &std::path::Path| format!("file://{}", p.display());
    let azurite = "http://127.0.0.1:10000/devstoreaccount1/backups/db1";
    // (database path segment, api-version, body, expected code)
    let cases: Vec<(String, &str, Value, &str)> = vec![
        (
            "a%00b".into(),
            API,
            start_body(azurite, json!({})),
            "InvalidResourceName",
        ),
        (
            "a%2Fb".into(),
            API,
            start_body(azurite, json!({})),
            "InvalidResourceName",
        ),
        (
            "x".repeat(200),
            API,
            start_body(azurite, json!({})),
            "InvalidResourceName",
        ),
        (
            "Sales%20".into(),
            API,
            start_body(azurite, json!({})),
            "CannotUseTrailingWhitespacesInDatabaseName",
        ),
        (
            "tempdb".into(),
            API,
            start_body(azurite, json!({})),
            "CannotUseReservedDatabaseName",
        ),
        (
            "db1".into(),
            "api-version=1999-01-01",
            start_body(azurite, json!({})),
            "NoRegisteredProviderFound",
        ),
        (
            "db1".into(),
            "api-version=garbage",
            start_body(azurite, json!({})),
            "InvalidApiVersionParameter",
        ),
        (
            "db1".into(),
            API,
            start_body(
                azurite,
                json!({"autoCompleteRestore": true, "lastBackupName": "log1.trn\r\n"}),
            ),
            "LastBackupNameHasNewline",
        ),
        (
            "db1".into(),
            API,
            start_body(
                azurite,
                json!({"autoCompleteRestore": true, "lastBackupName": "journal-é.trn"}),
            ),
            "LastBackupNameHasNonAsciiCharacter",
        ),
        (
            "db1".into(),
            API,
            start_body("https://a.blob.core.windows.net/backups/x\u{0}", json!({})),
            "InvalidDatabaseCreateOrUpdateRequest",
        ),
        (
            "db1".into(),
            API,
            start_body("file:///etc", json!({})),
            "BlobStorageFailure",
        ),
        (
            "db1".into(),
            API,
            start_body(&local(&blobs.join("escape")), json!({})),
            "BlobStorageFailure",
        ),
        (
            "db1".into(),
            API,
            start_body(&local(&blobs.join("db1/../../..")), json!({})),
            "BlobStorageFailure",
        ),
        (
            "db1".into(),
            API,
            start_body(
                "http://10.1.2.3:10000/devstoreaccount1/backups/x",
                json!({}),
            ),
            "BlobStorageFailure",
        ),
        (
            "db1".into(),
            API,
            start_body("https://attacker.example/backups/x", json!({})),
            "BlobStorageFailure",
        ),
    ];
    for (name, version, body, code) in cases {
        let url = format!("{}{INSTANCE}/databases/{name}?{version}", server.http);
        let r = client.put(&url).json(&body).send().await.expect("PUT");
        let status = r.status();
        let answer: Value = r.json().await.expect("JSON error");
        assert_eq!(status.as_u16(), 400, "{name} {version}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{name} {version}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("abc%3D") && !message.contains("sig="),
            "{message}"
        );
    }
    // Nothing was created.
    let list: Value = client
        .get(server.url("/databases"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["value"], json!([]), "{list}");

    // A folder inside the root starts; its symlink to a file outside is not even listed.
    let ok = client
        .put(server.url("/databases/db1"))
        .json(&json!({"location": "westeurope", "properties": {
            "createMode": "RestoreExternalBackup",
            "storageContainerUri": local(&folder),
            "autoCompleteRestore": false}}))
        .send()
        .await
        .expect("PUT");
    assert!(
        ok.status().is_success(),
        "{}",
        ok.text().await.unwrap_or_default()
    );
    for _ in 0..100 {
        let details: Value = client
            .get(server.url("/databases/db1/restoreDetails/Default"))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        if details["properties"]["status"] != "Initializing"
            || details["properties"]["numberOfFilesDetected"] != 0
        {
            assert_eq!(
                details["properties"]["numberOfFilesDetected"], 0,
                "{details}"
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let text = client
        .get(server.url("/databases/db1/restoreDetails/Default"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(
        !text.contains("passwd.bak") && !text.contains("secret"),
        "{text}"
    );
}
