//! Restore jobs reading a real Azurite with real SAS tokens: a migration from blob storage,
//! the SAS rules checked at start, and a token the storage refuses failing the job with the
//! real service's error. Skipped when Azurite is not installed (an error under CI=true).

mod support;

use chrono::{TimeDelta, Utc};
use lrs_engine::{EngineError, Profile, Refusal, StartRestore};
use lrs_source::testing::Azurite;
use lrs_store::{DatabaseStatus, OperationStatus};
use support::{Harness, chain, instance, stage};

fn azurite() -> Option<Azurite> {
    match Azurite::start() {
        Ok(Some(azurite)) => Some(azurite),
        // Not installed: Azurite::start recorded the skip (lrs_testkit).
        Ok(None) => None,
        Err(e) => panic!("Azurite could not start: {e}"),
    }
}

fn request(database: &str, uri: String, sas: Option<String>, last: Option<&str>) -> StartRestore {
    StartRestore {
        instance: instance(),
        database: database.into(),
        location: "westeurope".into(),
        collation: None,
        storage_uri: Some(uri),
        sas_token: sas,
        identity: None,
        auto_complete: last.is_some(),
        last_backup_name: last.map(str::to_string),
    }
}

/// Upload a forged chain into `container/folder`; returns the names in backup order.
async fn upload_chain(
    azurite: &Azurite,
    h: &Harness,
    container: &str,
    folder: &str,
    db: &str,
) -> Vec<String> {
    azurite
        .create_container(container)
        .await
        .expect("container");
    let files = stage(
        &chain(db, 1, 2),
        &h.root.path().join(format!("staging-{db}")),
    );
    for (name, path) in &files {
        let bytes = std::fs::read(path).expect("read staged file");
        azurite
            .upload(container, &format!("{folder}/{name}"), bytes)
            .await
            .expect("upload");
    }
    files.into_iter().map(|(name, _)| name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_from_azurite_with_a_read_list_sas_completes() {
    let Some(azurite) = azurite() else { return };
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let names = upload_chain(&azurite, &h, "backups", "sales", "Sales").await;
    let now = Utc::now();
    let sas = azurite.container_sas(
        "backups",
        "rl",
        now - TimeDelta::minutes(1),
        now + TimeDelta::hours(1),
    );
    let last = names.last().expect("names").clone();
    let op = h
        .engine
        .start_restore(request(
            "Sales",
            azurite.container_url("backups", "sales"),
            Some(sas),
            Some(&last),
        ))
        .await
        .expect("start");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
    let db = h.engine.database(&instance(), "Sales").await.expect("db");
    assert_eq!(db.status, DatabaseStatus::Online);
    let details = h
        .engine
        .restore_details(&instance(), "Sales")
        .await
        .expect("details");
    assert_eq!(details.number_of_files_detected, 4);
    assert_eq!(
        details.last_restored_file_name.as_deref(),
        Some(last.as_str())
    );
    // full, diff, and the log after the diff.
    h.assert_applied_once(3);
}

#[tokio::test(flavor = "multi_thread")]
async fn sas_rules_refuse_the_start_and_never_echo_the_signature() {
    let Some(azurite) = azurite() else { return };
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    azurite.create_container("rules").await.expect("container");
    let uri = azurite.container_url("rules", "db");
    let now = Utc::now();
    let cases = [
        (
            "write",
            azurite.container_sas(
                "rules",
                "rwl",
                now - TimeDelta::minutes(1),
                now + TimeDelta::hours(1),
            ),
        ),
        (
            "expired",
            azurite.container_sas(
                "rules",
                "rl",
                now - TimeDelta::hours(2),
                now - TimeDelta::hours(1),
            ),
        ),
        (
            "not yet valid",
            azurite.container_sas(
                "rules",
                "rl",
                now + TimeDelta::hours(1),
                now + TimeDelta::hours(2),
            ),
        ),
        (
            "leading ?",
            format!(
                "?{}",
                azurite.container_sas(
                    "rules",
                    "rl",
                    now - TimeDelta::minutes(1),
                    now + TimeDelta::hours(1)
                )
            ),
        ),
    ];
    for (what, sas) in cases {
        let signature = sas
            .split('&')
            .find_map(|p| p.strip_prefix("sig="))
            .expect("signature")
            .to_string();
        let err = h
            .engine
            .start_restore(request("Rules", uri.clone(), Some(sas), None))
            .await
            .expect_err(what);
        let EngineError::Refused(Refusal::StorageRefused { reason }) = &err else {
            panic!("{what}: {err:?}")
        };
        assert!(
            !reason.contains(&signature),
            "{what}: signature leaked in {reason}"
        );
    }
    // A token pasted into the URI is refused too.
    let sas = azurite.container_sas(
        "rules",
        "rl",
        now - TimeDelta::minutes(1),
        now + TimeDelta::hours(1),
    );
    let err = h
        .engine
        .start_restore(request(
            "Rules",
            format!("{uri}?{sas}"),
            Some(sas.clone()),
            None,
        ))
        .await
        .expect_err("token in URI");
    assert!(
        matches!(err, EngineError::Refused(Refusal::StorageRefused { .. })),
        "{err:?}"
    );
    // Nothing was created by the refused starts.
    assert!(h.engine.database(&instance(), "Rules").await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sas_the_storage_refuses_fails_the_job_with_blob_storage_failure() {
    let Some(azurite) = azurite() else { return };
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    upload_chain(&azurite, &h, "denied", "db", "Denied").await;
    let now = Utc::now();
    let good = azurite.container_sas(
        "denied",
        "rl",
        now - TimeDelta::minutes(1),
        now + TimeDelta::hours(1),
    );
    // Same rules, forged signature: LRS's checks pass, the storage answers 403.
    let forged: String = good
        .split('&')
        .map(|p| {
            if p.starts_with("sig=") {
                "sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D".to_string()
            } else {
                p.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let op = h
        .engine
        .start_restore(request(
            "Denied",
            azurite.container_url("denied", "db"),
            Some(forged),
            None,
        ))
        .await
        .expect("start is accepted");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(error.code, "BlobStorageFailure");
    assert!(
        error.message.starts_with(
            "Unable to read blobs in storage container, exception: The remote server returned an error: (403) Forbidden."
        ),
        "{}",
        error.message
    );
    assert!(
        !error.message.contains("AAAAAAAAAAAAAAAA"),
        "{}",
        error.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_identity_reads_with_the_configured_account_key_under_ga() {
    let Some(azurite) = azurite() else { return };
    let h = Harness::new(Profile::ga(), 1.0).await;
    let names = upload_chain(&azurite, &h, "identity", "db", "Ident").await;
    let last = names.last().expect("names").clone();
    let mut start = request(
        "Ident",
        azurite.container_url("identity", "db"),
        Some(String::new()),
        Some(&last),
    );
    start.identity = Some("ManagedIdentity".into());
    let op = h.engine.start_restore(start).await.expect("start");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
}

#[tokio::test(flavor = "multi_thread")]
async fn continuous_mode_on_azurite_restores_uploads_during_the_run_until_complete() {
    let Some(azurite) = azurite() else { return };
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    azurite.create_container("live").await.expect("container");
    let files = stage(&chain("Live", 0, 3), &h.root.path().join("staging-live"));
    let put = |i: usize| {
        let (name, path) = files[i].clone();
        let azurite = &azurite;
        async move {
            let bytes = std::fs::read(&path).expect("read staged file");
            azurite
                .upload("live", &format!("db/{name}"), bytes)
                .await
                .expect("upload");
        }
    };
    put(0).await;
    put(1).await;
    let now = Utc::now();
    let sas = azurite.container_sas(
        "live",
        "rl",
        now - TimeDelta::minutes(1),
        now + TimeDelta::hours(1),
    );
    let op = h
        .engine
        .start_restore(request(
            "Live",
            azurite.container_url("live", "db"),
            Some(sas),
            None,
        ))
        .await
        .expect("start");
    let first_log = files[1].0.clone();
    h.wait_restored("Live", &first_log).await;
    put(2).await;
    put(3).await;
    let last = files[3].0.clone();
    let details = h
        .wait_details("Live", "the uploaded logs", |d| {
            d.last_restored_file_name.as_deref() == Some(last.as_str())
        })
        .await;
    assert_eq!(details.number_of_files_detected, 4);
    assert_eq!(details.number_of_files_restored, 4);
    assert_eq!(
        details.last_uploaded_file_name.as_deref(),
        Some(last.as_str())
    );
    let complete = h
        .engine
        .complete_restore(&instance(), "Live", Some(last))
        .await
        .expect("complete");
    assert_eq!(
        h.wait_operation(&complete).await.status,
        OperationStatus::Succeeded
    );
    assert_eq!(
        h.wait_operation(&op).await.status,
        OperationStatus::Succeeded
    );
    assert_eq!(
        h.engine
            .database(&instance(), "Live")
            .await
            .expect("db")
            .status,
        DatabaseStatus::Online
    );
}

/// A TCP proxy in front of Azurite that can be cut (new connections closed at once, open ones
/// dropped) and restored: storage that refuses connections, then comes back.
struct Proxy {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut watch = watch.clone();
                if !*watch.borrow() {
                    continue; // dropped: the connection is closed at once
                }
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { addr, up }
    }

    fn set(&self, up: bool) {
        let _ = self.up.send(up);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_outage_shows_while_in_progress_then_the_migration_completes() {
    let Some(azurite) = azurite() else { return };
    let mut h = Harness::new(Profile::lrs_2021(), 1.0).await;
    let names = upload_chain(&azurite, &h, "outage", "sales", "Sales").await;
    let endpoint = azurite.container_url("outage", "sales");
    let host = endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host")
        .to_string();
    let proxy = Proxy::start(host.parse().expect("address")).await;
    let uri = endpoint.replacen(&host, &proxy.addr.to_string(), 1);
    let now = Utc::now();
    let sas = azurite.container_sas(
        "outage",
        "rl",
        now - TimeDelta::minutes(1),
        now + TimeDelta::hours(1),
    );
    h.engine
        .start_restore(request("Sales", uri.clone(), Some(sas.clone()), None))
        .await
        .expect("start");
    // Continuous: full, diff and the log after it restore, then the job polls.
    let last = names.last().expect("names").clone();
    h.wait_restored("Sales", &last).await;

    proxy.set(false);
    let details = h
        .wait_details("Sales", "the outage in restore details", |d| {
            d.block_reason.as_deref().is_some_and(|r| {
                r == "StorageBrokenIssueDetectedWhileInProgress: Storage connection is broken. \
                      Retrying automatically..."
            })
        })
        .await;
    assert_eq!(
        details.status, "Blocked",
        "waiting for the storage, not failed"
    );
    proxy.set(true);
    h.wait_details("Sales", "the outage to clear", |d| d.block_reason.is_none())
        .await;
    let op = h
        .engine
        .complete_restore(&instance(), "Sales", Some(last.clone()))
        .await
        .expect("complete");
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
    h.assert_applied_once(3);

    // An outage longer than the limit ends the job with the spec's code.
    h.config.storage_outage_limit = std::time::Duration::from_secs(2);
    h.restart().await;
    let op = h
        .engine
        .start_restore(request("Other", uri, Some(sas), None))
        .await
        .expect("start");
    h.wait_restored("Other", &last).await;
    proxy.set(false);
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(
        (error.code.as_str(), error.message.as_str()),
        (
            "StorageBrokenIssueDetectedTerminateRetries",
            "Storage connection is still broken. Please verify and try again."
        )
    );

    // A job whose storage cannot be reached at all when it starts fails at once.
    let op = h
        .engine
        .start_restore(request(
            "Third",
            azurite
                .container_url("outage", "sales")
                .replacen(&host, &proxy.addr.to_string(), 1),
            Some(azurite.container_sas(
                "outage",
                "rl",
                now - TimeDelta::minutes(1),
                now + TimeDelta::hours(1),
            )),
            None,
        ))
        .await
        .expect("start");
    let done = h.wait_operation(&op).await;
    assert_eq!(
        done.error.map(|e| e.code),
        Some("StorageBrokenIssueDetectedAtTheStart".to_string())
    );
}
