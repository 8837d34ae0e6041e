//! Two `lrs serve` nodes sharing one PostgreSQL store and its target journal: the node running
//! three migrations is killed (SIGKILL) after each has restored at least one set, and the other
//! node finishes all three, every set applied exactly once by the one shared record.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{forge_chain, lrs_serve};

const DATABASES: [&str; 3] = ["Alpha", "Bravo", "Charlie"];

async fn get(client: &reqwest::Client, url: String) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_nodes_migrations_finish_on_the_other_node_exactly_once() {
    let Some(base) = lrs_store::testing::postgres_server_url() else {
        return;
    };
    let database = lrs_store::testing::FreshDatabase::create(&base).await;
    let url = database.url(&base);
    let root = tempfile::tempdir().expect("dir");
    let blobs = root.path().join("blobs");
    let mut last_logs = HashMap::new();
    for db in DATABASES {
        let names = forge_chain(
            &blobs.join(db),
            db,
            &[
                "--checksum",
                "--logs",
                "6",
                "--data-size",
                "4MiB",
                "--log-size",
                "2MiB",
            ],
        );
        last_logs.insert(
            db,
            names
                .iter()
                .filter(|n| n.contains("_LOG_"))
                .max()
                .cloned()
                .expect("log"),
        );
    }
    let blobs_arg = blobs.display().to_string();
    let args = |extra: &'static str| {
        vec![
            "--store".to_string(),
            url.clone(),
            "--target-journal".into(),
            "store".into(),
            "--local-root".into(),
            blobs_arg.clone(),
            "--lease".into(),
            "2".into(),
            "--poll-interval".into(),
            "0.05".into(),
            "--target-throughput-mbps".into(),
            extra.into(),
        ]
    };
    let a_args = args("4");
    let b_args = args("100");
    let a = lrs_serve(&root.path().join("node-a"))
        .args(&a_args)
        .start()
        .await;
    let b = lrs_serve(&root.path().join("node-b"))
        .args(&b_args)
        .start()
        .await;
    let client = reqwest::Client::new();
    for db in DATABASES {
        let put = client
            .put(a.url(&format!("/databases/{db}")))
            .json(&json!({"location": "westeurope", "properties": {
                "createMode": "RestoreExternalBackup",
                "storageContainerUri": format!("file://{}", blobs.join(db).display()),
                "autoCompleteRestore": true,
                "lastBackupName": last_logs[db]}}))
            .send()
            .await
            .expect("PUT");
        assert!(
            put.status().is_success(),
            "{}",
            put.text().await.unwrap_or_default()
        );
    }
    // Each migration restores at least one set on node A (slowed to 4 MB/s) …
    for db in DATABASES {
        let mut restored = false;
        for _ in 0..600 {
            let d = get(
                &client,
                a.url(&format!("/databases/{db}/restoreDetails/Default")),
            )
            .await;
            if d["properties"]["lastRestoredFileName"].is_string() {
                restored = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(restored, "{db}: nothing restored on node A");
    }
    let statuses: Vec<Value> = {
        let mut v = Vec::new();
        for db in DATABASES {
            v.push(
                get(&client, a.url(&format!("/databases/{db}"))).await["properties"]["status"]
                    .clone(),
            );
        }
        v
    };
    assert!(
        statuses.iter().all(|s| s == "Restoring"),
        "still migrating when killed: {statuses:?}"
    );
    // … then node A dies.
    a.kill();
    let killed = Instant::now();
    for db in DATABASES {
        let mut online = false;
        for _ in 0..1200 {
            let d = get(&client, b.url(&format!("/databases/{db}"))).await;
            if d["properties"]["status"] == "Online" {
                online = true;
                break;
            }
            assert_ne!(
                d["properties"]["status"], "Inaccessible",
                "{db} failed on node B: {d}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let details = get(
            &client,
            b.url(&format!("/databases/{db}/restoreDetails/Default")),
        )
        .await;
        assert!(online, "{db} not online on node B: {details}");
    }
    eprintln!(
        "node B finished the three migrations {:?} after node A died",
        killed.elapsed()
    );

    // Exactly once, judged from the one shared record: every set once.
    let store = database.store().await;
    let lines = store.target_lines_after(0).await.expect("journal");
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for (_, line) in &lines {
        let entry = lrs_target::decode_entry(line).expect("entry");
        if let Some(guid) = entry.restored_set() {
            *counts
                .entry((entry.database.to_lowercase(), guid))
                .or_default() += 1;
        }
    }
    // Full + 6 logs per database.
    assert_eq!(counts.len(), 3 * 7, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    drop(b);
    database.drop_now().await;
}
