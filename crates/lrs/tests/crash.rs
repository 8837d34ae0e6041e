//! Crash test: `lrs serve` is killed with SIGKILL at random points of a migration and
//! restarted; the migration still completes and every backup set is applied exactly once
//! (counted from the emulated target's durable log). On SQLite always; on PostgreSQL when
//! `LRS_TEST_POSTGRES_URL` is set (required under CI=true).

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{TestServer, forge_chain, lrs_serve};

/// A small xorshift generator: random kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn details(client: &reqwest::Client, server: &TestServer) -> Value {
    client
        .get(server.url("/databases/Crash/restoreDetails/Default"))
        .send()
        .await
        .expect("GET restoreDetails")
        .json()
        .await
        .expect("restore details JSON")
}

/// `shared`: the PostgreSQL database when the store (and with it the target's journal, as
/// `lrs serve` picks for a PostgreSQL store) is shared; the target's own log otherwise.
async fn migrate_with_kills(
    store_args: &[String],
    kills: u32,
    shared: Option<&lrs_store::testing::FreshDatabase>,
) {
    lrs_source::install_crypto_provider();
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    let folder = root.path().join("blobs").join("crash");
    let names = forge_chain(
        &folder,
        "Crash",
        &[
            "--checksum",
            "--diffs",
            "1",
            "--logs",
            "10",
            "--data-size",
            "8MiB",
            "--log-size",
            "4MiB",
        ],
    );
    let last_log = names
        .iter()
        .filter(|n| n.contains("_LOG_"))
        .max()
        .expect("a log")
        .clone();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);

    let root = folder.display().to_string();
    let mut args: Vec<&str> = vec![
        "--poll-interval",
        "0.05",
        "--target-throughput-mbps",
        "25",
        "--local-root",
        &root,
    ];
    args.extend(store_args.iter().map(String::as_str));
    let client = reqwest::Client::new();
    let mut server = lrs_serve(&data).args(&args).start().await;
    support::start_continuous(&client, &server, "Crash", &folder).await;

    // Kill points spread over the whole migration: wait until a random number of files is
    // restored (rising from kill to kill), then a random moment more, then SIGKILL.
    // Backup order: full, logs 1–5, diff, logs 6–10; the sequence is full, diff, logs 6–10.
    let mut thresholds: Vec<u64> = (0..kills).map(|_| rng.below(7)).collect();
    thresholds.sort_unstable();
    for (round, threshold) in thresholds.into_iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = details(&client, &server).await;
            let restored = seen["properties"]["numberOfFilesRestored"]
                .as_u64()
                .unwrap_or(0);
            if restored >= threshold || seen["properties"]["status"] == json!("Completed") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no progress before kill {round}: {seen:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(250))).await;
        let seen = details(&client, &server).await;
        eprintln!(
            "kill {round}: restored {} restoring {:?}",
            seen["properties"]["numberOfFilesRestored"],
            seen["properties"]["currentRestoringFileName"]
        );
        server.kill();
        server = lrs_serve(&data).args(&args).start().await;
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = details(&client, &server).await;
        if d["properties"]["lastRestoredFileName"] == json!(last_log) {
            break;
        }
        assert!(Instant::now() < deadline, "migration stalled: {d:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let complete = client
        .post(server.url("/databases/Crash/completeRestore"))
        .json(&json!({ "lastBackupName": last_log }))
        .send()
        .await
        .expect("POST completeRestore");
    assert_eq!(
        complete.status(),
        202,
        "{}",
        complete.text().await.unwrap_or_default()
    );
    support::wait_online(&client, &server, "Crash").await;

    let final_details = details(&client, &server).await;
    let restored_sets = ["fullBackupSets", "diffBackupSets", "logBackupSets"]
        .iter()
        .flat_map(|k| {
            final_details["properties"][k]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|s| s["status"] == json!("Restored"))
        .count();
    drop(server);
    let counts = match shared {
        Some(database) => shared_restore_counts(database).await,
        None => restore_counts(&data.join("target")),
    };
    assert_eq!(
        counts.len(),
        restored_sets,
        "target applied {} distinct sets, the plan restored {restored_sets}: {final_details:#}",
        counts.len()
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "a set was applied more than once (seed {seed}): {counts:?}"
    );
    // full + the differential + the logs after it.
    assert!(restored_sets >= 3, "{final_details:#}");
}

fn restore_counts(target: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for entry in lrs_target::read_log(target).expect("target log") {
        if let Some(set) = entry.restored_set() {
            *counts.entry(set).or_insert(0) += 1;
        }
    }
    counts
}

/// The same count from the journal in the shared store.
async fn shared_restore_counts(
    database: &lrs_store::testing::FreshDatabase,
) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let store = database.store().await;
    for (_, line) in store.target_lines_after(0).await.expect("journal") {
        let entry = lrs_target::decode_entry(&line).expect("entry");
        if let Some(set) = entry.restored_set() {
            *counts.entry(set).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_a_migration_on_sqlite_applies_every_set_once() {
    migrate_with_kills(&[], 6, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_a_migration_on_postgres_applies_every_set_once() {
    let Some(base) = lrs_store::testing::postgres_server_url() else {
        return;
    };
    let database = lrs_store::testing::FreshDatabase::create(&base).await;
    let url = database.url(&base);
    migrate_with_kills(&["--store".to_string(), url], 6, Some(&database)).await;
    database.drop_now().await;
}
