//! Shared by the engine's integration tests: an engine over a local folder, an SQLite store and
//! the emulated target, plus forged chains staged for upload.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use lrs_engine::stack::{Stack, StackOptions, StoreChoice};
use lrs_engine::{Profile, RestoreDetails, StartRestore};
use lrs_forge::{ChainSpec, DatabaseSpec, write_chain};
use lrs_store::{InstanceKey, Operation, OperationStatus};

/// A running engine ([`Stack`]: engine, store, target, config; reached through `Deref`) with
/// the temporary folder it lives in.
pub struct Harness {
    pub stack: Stack,
    pub root: tempfile::TempDir,
}

impl std::ops::Deref for Harness {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }
}

pub fn instance() -> InstanceKey {
    InstanceKey {
        subscription: "00000000-1111-2222-3333-444444444444".into(),
        resource_group: "rg1".into(),
        instance: "mi1".into(),
    }
}

impl Harness {
    /// An engine with `profile`, emulated time running `scale`× faster, fast polls, over an
    /// SQLite store and the emulated target in a temporary folder.
    pub async fn new(profile: Profile, scale: f64) -> Harness {
        let root = tempfile::tempdir().expect("temp dir");
        let mut options = StackOptions::new(root.path());
        options.store = StoreChoice::Url(format!(
            "sqlite://{}",
            root.path().join("state.db").display()
        ));
        options.profile = profile;
        options.time_scale = scale;
        options.poll_interval = Duration::from_millis(50);
        options.lease = Duration::from_secs(5);
        let stack = options.build().await.expect("stack");
        Harness { stack, root }
    }

    /// The folder a database's backups are uploaded to.
    pub fn folder(&self, name: &str) -> PathBuf {
        let dir = self.root.path().join("blobs").join(name);
        std::fs::create_dir_all(&dir).expect("folder");
        dir
    }

    pub fn target_dir(&self) -> PathBuf {
        self.stack.target_dir.clone()
    }

    /// Start request over a local folder.
    pub fn start_request(&self, database: &str, folder: &Path, last: Option<&str>) -> StartRestore {
        StartRestore {
            instance: instance(),
            database: database.into(),
            location: "westeurope".into(),
            collation: None,
            storage_uri: Some(format!("file://{}", folder.display())),
            sas_token: None,
            identity: None,
            auto_complete: last.is_some(),
            last_backup_name: last.map(str::to_string),
        }
    }

    /// Poll restore details until `done` holds (liveness bound, not a performance check).
    pub async fn wait_details(
        &self,
        database: &str,
        what: &str,
        done: impl Fn(&RestoreDetails) -> bool,
    ) -> RestoreDetails {
        let mut last = None;
        for _ in 0..600 {
            if let Ok(details) = self.engine.restore_details(&instance(), database).await {
                if done(&details) {
                    return details;
                }
                last = Some(details);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}; last details: {last:#?}");
    }

    /// Wait until restore details name `file` as the last restored file.
    pub async fn wait_restored(&self, database: &str, file: &str) -> RestoreDetails {
        self.wait_details(database, &format!("{file} restored"), |d| {
            d.last_restored_file_name.as_deref() == Some(file)
        })
        .await
    }

    /// Assert that restore details of a failed migration show status `Failed` with the job's
    /// error message as `blockReason`, as the real service shows them.
    pub async fn assert_details_failed(&self, database: &str, message: &str) {
        let details = self
            .engine
            .restore_details(&instance(), database)
            .await
            .expect("details");
        assert_eq!(details.status, "Failed", "{database}");
        assert_eq!(details.block_reason.as_deref(), Some(message), "{database}");
    }

    /// Assert from the target's durable log that `sets` distinct sets were applied, each once.
    pub fn assert_applied_once(&self, sets: usize) {
        let counts = restore_counts(&self.target_dir());
        assert_eq!(counts.len(), sets, "{counts:?}");
        assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    }

    /// Poll an operation until it is no longer InProgress.
    pub async fn wait_operation(&self, op: &Operation) -> Operation {
        for _ in 0..600 {
            let now = self.engine.operation(op.id).await.expect("operation");
            if now.status != OperationStatus::InProgress {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("operation {:?} still in progress", op.kind);
    }
}

/// A forged chain written to a staging folder; returns (file name, path) in backup order.
pub fn stage(spec: &ChainSpec, dir: &Path) -> Vec<(String, PathBuf)> {
    write_chain(spec, dir)
        .expect("forge")
        .into_iter()
        .map(|f| {
            let name = f
                .path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, f.path)
        })
        .collect()
}

/// Upload (copy) staged files into a folder.
pub fn upload(files: &[(String, PathBuf)], folder: &Path) {
    for (name, path) in files {
        std::fs::copy(path, folder.join(name)).expect("copy");
    }
}

/// A chain of one full, `diffs` differentials and `logs` logs of database `db`.
pub fn chain(db: &str, diffs: u32, logs: u32) -> ChainSpec {
    let mut spec = ChainSpec::new(DatabaseSpec::new(db));
    spec.db.data_size = 2 * 1024 * 1024;
    spec.diffs = diffs;
    spec.logs = logs;
    spec
}

/// How many times each set was restored, per the target's durable log.
pub fn restore_counts(target_dir: &Path) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for entry in lrs_target::read_log(target_dir).expect("target log") {
        if let Some(guid) = entry.restored_set() {
            *counts.entry(guid).or_insert(0) += 1;
        }
    }
    counts
}

/// An autocomplete migration of `db` (full and three logs) whose folder lacks log 2, waited
/// for until it is `Blocked` on the gap. Returns the staged files, the folder (upload
/// `files[2..3]` to fill the gap), the start operation and the blocked details.
pub async fn start_with_a_gap(
    h: &Harness,
    db: &str,
) -> (Vec<(String, PathBuf)>, PathBuf, Operation, RestoreDetails) {
    let files = stage(&chain(db, 0, 3), &h.root.path().join("staging"));
    let folder = h.folder(&db.to_lowercase());
    upload(
        &[files[0].clone(), files[1].clone(), files[3].clone()],
        &folder,
    );
    let last = files[3].0.clone();
    let op = h
        .engine
        .start_restore(h.start_request(db, &folder, Some(&last)))
        .await
        .expect("start");
    let blocked = h
        .wait_details(db, "the gap to block", |d| d.status == "Blocked")
        .await;
    (files, folder, op, blocked)
}
