//! Behaviour specific to the emulated target: its durable log (replay, torn and corrupt lines),
//! throughput pacing, concurrency and read failures.

use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use lrs_backup::{BackupSet, RangeRead};
use lrs_target::conformance::{ForgedChain, assert_sql, assert_sql_number, chain, set_bytes};
use lrs_target::emulated::{BackupKind, LOG_FILE, LogOp};
use lrs_target::{
    DatabaseState, EmulatedOptions, EmulatedTarget, StripeInput, Target, TargetError, read_log,
};
use tokio::sync::Notify;

fn open(dir: &Path) -> EmulatedTarget {
    EmulatedTarget::open(dir, EmulatedOptions::default()).expect("open")
}

fn log_path(dir: &Path) -> std::path::PathBuf {
    dir.join(LOG_FILE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_log_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("dir");
    let a = ForgedChain::write(chain("Sales", 21, 0, 1)).await;
    let b = ForgedChain::write(chain("Inventory", 22, 0, 0)).await;
    let full_a = a.stripes("Sales_FULL_01.bak").await;
    let log_a = a.stripes("Sales_LOG_00001.trn").await;
    let full_b = b.stripes("Inventory_FULL_01.bak").await;
    let (set_full_a, set_log_a): (BackupSet, BackupSet) =
        (full_a[0].set.clone(), log_a[0].set.clone());
    let (bytes_full_a, bytes_log_a) = (set_bytes(&full_a), set_bytes(&log_a));

    let target = open(dir.path());
    target.restore("Sales", full_a).await.expect("full");
    target.restore("Sales", log_a).await.expect("log");
    target
        .restore("Inventory", full_b.clone())
        .await
        .expect("full b");
    target.recover("Inventory").await.expect("recover");
    target.restore("Gone", full_b).await.expect("full gone");
    target.drop_database("Gone").await.expect("drop");
    let before = (
        target.database("Sales").await.expect("db"),
        target.database("Inventory").await.expect("db"),
    );
    let log = read_log(dir.path()).expect("read_log");

    // A second writer on the same directory is refused while the first is open.
    let second = EmulatedTarget::open(dir.path(), EmulatedOptions::default());
    assert!(
        matches!(&second, Err(TargetError::Io(m)) if m.contains("in use")),
        "{second:?}"
    );
    drop(target);

    let ops: Vec<(u64, LogOp, &str)> = log
        .iter()
        .map(|e| (e.seq, e.op, e.database.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (1, LogOp::Restore, "Sales"),
            (2, LogOp::Restore, "Sales"),
            (3, LogOp::Restore, "Inventory"),
            (4, LogOp::Recover, "Inventory"),
            (5, LogOp::Restore, "Gone"),
            (6, LogOp::Drop, "Gone"),
        ]
    );
    let first = log[0].set.as_ref().expect("restore entry has its set");
    assert_eq!(first.backup_set_guid, set_full_a.header.backup_set_guid);
    assert_eq!(first.backup_type, BackupKind::Full);
    assert_eq!(first.first_lsn, set_full_a.header.first_lsn);
    assert_eq!(first.last_lsn, set_full_a.header.last_lsn);
    assert_eq!(first.redo_lsn_after, set_full_a.header.last_lsn);
    assert_eq!(first.bytes, bytes_full_a);
    assert_eq!(first.stripes, 1);
    assert_eq!(first.source_database.as_deref(), Some("Sales"));
    let second = log[1].set.as_ref().expect("set");
    assert_eq!(second.backup_type, BackupKind::Log);
    assert_eq!(second.redo_lsn_after, set_log_a.header.last_lsn);
    assert_eq!(second.bytes, bytes_log_a);
    assert!(log[3].set.is_none());
    assert_eq!(
        log[0].restored_set(),
        Some(set_full_a.header.backup_set_guid.to_string())
    );
    assert_eq!(log[3].restored_set(), None);

    // The raw line: one JSON object, LSNs as decimal strings, GUIDs upper case.
    let text = std::fs::read_to_string(log_path(dir.path())).expect("log text");
    let line: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("line 1")).expect("json");
    assert_eq!(line["op"], "restore");
    assert_eq!(line["backup_type"], "full");
    assert_eq!(
        line["backup_set_guid"],
        set_full_a.header.backup_set_guid.to_string()
    );
    assert_eq!(line["last_lsn"], set_full_a.header.last_lsn.to_string());
    assert_eq!(line["bytes"], bytes_full_a);

    let reopened = open(dir.path());
    let after = (
        reopened.database("Sales").await.expect("db"),
        reopened.database("Inventory").await.expect("db"),
    );
    assert_eq!(after, before);
    assert_eq!(
        after.1.as_ref().map(|d| d.state),
        Some(DatabaseState::Online)
    );
    assert_eq!(reopened.database("Gone").await.expect("db"), None);
    assert_eq!(read_log(dir.path()).expect("read_log"), log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_final_line_is_truncated_on_open() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 23, 0, 2)).await;
    let target = open(dir.path());
    target
        .restore("Sales", c.stripes("Sales_FULL_01.bak").await)
        .await
        .expect("full");
    drop(target);
    let path = log_path(dir.path());
    let good = std::fs::read(&path).expect("log");
    let before = read_log(dir.path()).expect("read_log");

    for torn in [
        &b"{\"seq\":2,\"at\":\"2026-"[..],
        b"garbage that is not JSON\n",
    ] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("append");
        f.write_all(torn).expect("write torn line");
        drop(f);
        // Readers skip it without touching the file.
        assert_eq!(read_log(dir.path()).expect("read_log"), before);
        let reopened = open(dir.path());
        assert_eq!(std::fs::read(&path).expect("log"), good, "truncated");
        drop(reopened);
    }

    // Appends continue at the next sequence number.
    let target = open(dir.path());
    target
        .restore("Sales", c.stripes("Sales_LOG_00001.trn").await)
        .await
        .expect("log 1");
    let log = read_log(dir.path()).expect("read_log");
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        target
            .database("Sales")
            .await
            .expect("db")
            .and_then(|d| d.redo_lsn),
        Some(c.set("Sales_LOG_00001.trn").await.header.last_lsn)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_middle_line_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 24, 0, 2)).await;
    let target = open(dir.path());
    target
        .restore("Sales", c.stripes("Sales_FULL_01.bak").await)
        .await
        .expect("full");
    target
        .restore("Sales", c.stripes("Sales_LOG_00001.trn").await)
        .await
        .expect("log 1");
    target
        .restore("Sales", c.stripes("Sales_LOG_00002.trn").await)
        .await
        .expect("log 2");
    drop(target);
    let path = log_path(dir.path());
    let text = std::fs::read_to_string(&path).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let broken = format!("{}\n{{\"seq\":2,\"at\":oops}}\n{}\n", lines[0], lines[2]);
    std::fs::write(&path, broken).expect("rewrite");

    let opened = EmulatedTarget::open(dir.path(), EmulatedOptions::default());
    match opened {
        Err(TargetError::Io(m)) => assert!(m.contains("corrupt at line 2"), "{m}"),
        other => panic!("expected a corrupt-log error, got {other:?}"),
    }
    match read_log(dir.path()) {
        Err(TargetError::Io(m)) => assert!(m.contains("corrupt at line 2"), "{m}"),
        other => panic!("expected a corrupt-log error, got {other:?}"),
    }
    // The file is left as it was for inspection.
    assert!(
        std::fs::read_to_string(&path)
            .expect("log")
            .contains("oops")
    );

    // A log that contradicts itself (a log restore into a database it never created).
    let only_log = format!("{}\n", lines[1].replace("\"seq\":2", "\"seq\":1"));
    std::fs::write(&path, only_log).expect("rewrite");
    match EmulatedTarget::open(dir.path(), EmulatedOptions::default()) {
        Err(TargetError::Io(m)) => assert!(m.contains("contradicts itself at entry 1"), "{m}"),
        other => panic!("expected a contradiction, got {other:?}"),
    }
}

/// With the clock paused, time moves only by the pacer's sleeps (file reads and log syncs run
/// on the blocking pool, which holds the clock), so the restore's virtual duration is exactly
/// what its sleep plan adds up to: the bytes at the configured rate.
#[tokio::test(start_paused = true)]
async fn the_throughput_limit_paces_each_restore() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 25, 0, 0)).await;
    let limit = 256 * 1024;
    let target = EmulatedTarget::open(
        dir.path(),
        EmulatedOptions {
            throughput_bytes_per_sec: Some(limit),
            chunk_size: 16 * 1024,
            ..EmulatedOptions::default()
        },
    )
    .expect("open");
    let stripes = c.stripes("Sales_FULL_01.bak").await;
    let bytes = set_bytes(&stripes);
    assert!(
        bytes > limit,
        "the full takes more than a second at the limit"
    );
    let t0 = tokio::time::Instant::now();
    let outcome = target.restore("Sales", stripes).await.expect("restore");
    let elapsed = t0.elapsed();
    assert_eq!(outcome.bytes, bytes);
    let due = Duration::from_nanos(bytes * 1_000_000_000 / limit);
    assert!(elapsed >= due, "{elapsed:?} < {due:?}");
    // Timer granularity (1 ms per sleep) is the only slack.
    let sleeps = bytes.div_ceil(16 * 1024);
    assert!(
        elapsed <= due + Duration::from_millis(sleeps + 1),
        "{elapsed:?} is more than {due:?} plus timer slack"
    );
    let log = read_log(dir.path()).expect("read_log");
    assert_eq!(log[0].set.as_ref().map(|s| s.bytes), Some(bytes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_restores_into_two_databases_both_land() {
    let dir = tempfile::tempdir().expect("dir");
    let a = ForgedChain::write(chain("Sales", 26, 0, 3)).await;
    let b = ForgedChain::write(chain("Inventory", 27, 0, 3)).await;
    let target = Arc::new(open(dir.path()));
    let mut tasks = Vec::new();
    for (c, db) in [(a, "Sales"), (b, "Inventory")] {
        let target = Arc::clone(&target);
        tasks.push(tokio::spawn(async move {
            let mut names = vec![format!("{db}_FULL_01.bak")];
            names.extend((1..=3).map(|n| format!("{db}_LOG_{n:05}.trn")));
            for name in names {
                target
                    .restore(db, c.stripes(&name).await)
                    .await
                    .unwrap_or_else(|e| panic!("{db} {name}: {e}"));
            }
            c.set(&format!("{db}_LOG_00003.trn")).await.header.last_lsn
        }));
    }
    let mut ends = Vec::new();
    for t in tasks {
        ends.push(t.await.expect("task"));
    }
    let log = read_log(dir.path()).expect("read_log");
    assert_eq!(log.len(), 8);
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u64>>()
    );
    for (db, end) in ["Sales", "Inventory"].into_iter().zip(ends) {
        assert_eq!(log.iter().filter(|e| e.database == db).count(), 4);
        assert_eq!(
            target
                .database(db)
                .await
                .expect("db")
                .and_then(|d| d.redo_lsn),
            Some(end)
        );
    }
}

/// A reader that holds every read until opened, and says when a read is waiting.
#[derive(Debug)]
struct Gate {
    inner: Arc<dyn RangeRead>,
    open: AtomicBool,
    opened: Notify,
    waiting: Notify,
}

impl Gate {
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.opened.notify_waiters();
    }
}

impl RangeRead for Gate {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn size(&self) -> BoxFuture<'_, std::io::Result<u64>> {
        self.inner.size()
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, std::io::Result<Bytes>> {
        Box::pin(async move {
            while !self.open.load(Ordering::SeqCst) {
                let opened = self.opened.notified();
                tokio::pin!(opened);
                opened.as_mut().enable();
                self.waiting.notify_one();
                if self.open.load(Ordering::SeqCst) {
                    break;
                }
                opened.await;
            }
            self.inner.read_range(range).await
        })
    }
}

fn gated(stripes: Vec<StripeInput>) -> (Vec<StripeInput>, Arc<Gate>) {
    let stripe = stripes.into_iter().next().expect("one stripe");
    let gate = Arc::new(Gate {
        inner: stripe.reader,
        open: AtomicBool::new(false),
        opened: Notify::new(),
        waiting: Notify::new(),
    });
    let reader: Arc<dyn RangeRead> = Arc::clone(&gate) as Arc<dyn RangeRead>;
    (
        vec![StripeInput {
            reader,
            set: stripe.set,
        }],
        gate,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_being_restored_is_held_until_its_line_is_written() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 28, 0, 1)).await;
    let target = Arc::new(open(dir.path()));
    let (stripes, gate) = gated(c.stripes("Sales_FULL_01.bak").await);
    let running = {
        let target = Arc::clone(&target);
        tokio::spawn(async move { target.restore("Sales", stripes).await })
    };
    gate.waiting.notified().await;
    // The full is reading its data: the database is in use, and does not exist yet.
    assert_sql(
        target
            .restore("SALES", c.stripes("Sales_FULL_01.bak").await)
            .await,
        3101,
        "Exclusive access could not be obtained because the database is in use.",
    );
    assert_sql_number(target.recover("Sales").await, 3101);
    assert_sql(
        target.drop_database("sales").await,
        3702,
        "Cannot drop database \"sales\" because it is currently in use.",
    );
    assert_eq!(target.database("Sales").await.expect("db"), None);
    // Other databases are not held.
    target
        .restore("Other", c.stripes("Sales_FULL_01.bak").await)
        .await
        .expect("another database restores meanwhile");
    gate.open();
    running
        .await
        .expect("task")
        .expect("the held restore completes");
    target
        .restore("Sales", c.stripes("Sales_LOG_00001.trn").await)
        .await
        .expect("released after the commit");
    let log = read_log(dir.path()).expect("read_log");
    let dbs: Vec<&str> = log.iter().map(|e| e.database.as_str()).collect();
    assert_eq!(dbs, ["Other", "Sales", "Sales"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_restore_releases_the_database_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 29, 0, 0)).await;
    let target = Arc::new(open(dir.path()));
    let (stripes, gate) = gated(c.stripes("Sales_FULL_01.bak").await);
    let running = {
        let target = Arc::clone(&target);
        tokio::spawn(async move { target.restore("Sales", stripes).await })
    };
    gate.waiting.notified().await;
    running.abort();
    assert!(running.await.is_err(), "aborted");
    assert_eq!(read_log(dir.path()).expect("read_log"), vec![]);
    assert_eq!(target.database("Sales").await.expect("db"), None);
    target
        .restore("Sales", c.stripes("Sales_FULL_01.bak").await)
        .await
        .expect("the database is free again");
}

/// A source whose every read fails (a storage outage).
#[derive(Debug)]
struct Failing {
    inner: Arc<dyn RangeRead>,
}

impl RangeRead for Failing {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn size(&self) -> BoxFuture<'_, std::io::Result<u64>> {
        self.inner.size()
    }

    fn read_range(&self, _range: Range<u64>) -> BoxFuture<'_, std::io::Result<Bytes>> {
        Box::pin(async {
            Err(std::io::Error::other(
                "connection reset by the storage account",
            ))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_or_incomplete_data_is_a_read_error_and_applies_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 30, 0, 0)).await;
    let target = open(dir.path());
    let mut stripes = c.stripes("Sales_FULL_01.bak").await;
    stripes[0].reader = Arc::new(Failing {
        inner: Arc::clone(&stripes[0].reader),
    });
    match target.restore("Sales", stripes).await {
        Err(TargetError::Read(m)) => {
            assert!(m.contains("connection reset by the storage account"), "{m}");
            assert!(m.contains("Sales_FULL_01.bak"), "{m}");
        }
        other => panic!("expected a read error, got {other:?}"),
    }

    // A file cut before its set's closing filemark (an upload in progress).
    let files = c.files("Sales_FULL_01.bak").await;
    let data = std::fs::read(&files[0].path).expect("file");
    let cut_at = usize::try_from(files[0].first().data_end_offset).expect("offset") - 4096;
    let cut = lrs_backup::MemoryReader::new("cut.bak", data[..cut_at].to_vec());
    let media = lrs_backup::read_backup_with(
        &cut,
        lrs_backup::ReadOptions {
            allow_truncated: true,
            ..Default::default()
        },
    )
    .await
    .expect("lenient read");
    let stripe = StripeInput {
        reader: Arc::new(cut),
        set: media.sets[0].clone(),
    };
    match target.restore("Sales", vec![stripe]).await {
        Err(TargetError::Read(m)) => assert!(m.contains("incomplete"), "{m}"),
        other => panic!("expected a read error, got {other:?}"),
    }
    assert_eq!(target.database("Sales").await.expect("db"), None);
    assert_eq!(read_log(dir.path()).expect("read_log"), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_missing_devices_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain("Sales", 31, 0, 0)).await;
    let target = open(dir.path());
    assert_sql(
        target.restore("Sales", vec![]).await,
        3207,
        "Backup or restore requires at least one backup device. Rerun your statement specifying \
         a backup device.",
    );
    assert_sql(
        target
            .restore("", c.stripes("Sales_FULL_01.bak").await)
            .await,
        3123,
        "Invalid database name '' specified for backup or restore operation.",
    );
    let long = "x".repeat(129);
    assert_sql_number(
        target
            .restore(&long, c.stripes("Sales_FULL_01.bak").await)
            .await,
        3123,
    );
    let longest = "é".repeat(128);
    target
        .restore(&longest, c.stripes("Sales_FULL_01.bak").await)
        .await
        .expect("128 characters is a valid name");
    assert!(
        EmulatedTarget::open(
            &dir.path().join("other"),
            EmulatedOptions {
                chunk_size: 0,
                ..EmulatedOptions::default()
            }
        )
        .is_err()
    );
}
