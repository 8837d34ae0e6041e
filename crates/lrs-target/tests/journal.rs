//! Two emulated targets sharing one journal (what two nodes sharing a store do): each sees what
//! the other applied, continues the other's restore sequence, takes the next number when the
//! other took it first, and never records an entry the shared catalog would refuse.

use std::sync::{Arc, Mutex};

use lrs_target::conformance::{ForgedChain, chain};
use lrs_target::{EmulatedOptions, EmulatedTarget, Journal, LogEntry, Target, TargetError};

/// A journal in memory, shared by clones (the store's `target_log` in miniature).
#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mutex<Vec<LogEntry>>>);

impl Journal for Shared {
    fn replay(&mut self) -> Result<Vec<LogEntry>, TargetError> {
        Ok(self.0.lock().expect("lock").clone())
    }

    fn newer(&mut self, seq: u64) -> Result<Vec<LogEntry>, TargetError> {
        Ok(self
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| e.seq > seq)
            .cloned()
            .collect())
    }

    fn append(&mut self, entry: &LogEntry) -> Result<bool, TargetError> {
        let mut entries = self.0.lock().expect("lock");
        if entries.last().map_or(0, |e| e.seq) + 1 != entry.seq {
            return Ok(false);
        }
        entries.push(entry.clone());
        Ok(true)
    }
}

fn node(journal: &Shared) -> (tempfile::TempDir, EmulatedTarget) {
    let dir = tempfile::tempdir().expect("dir");
    let target = EmulatedTarget::open_with_journal(
        dir.path(),
        EmulatedOptions::default(),
        Box::new(journal.clone()),
    )
    .expect("open");
    (dir, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_a_journal_continue_each_others_restores() {
    let journal = Shared::default();
    let (_a_dir, a) = node(&journal);
    let (_b_dir, b) = node(&journal);
    let sales = ForgedChain::write(chain("Sales", 61, 0, 3)).await;
    let other = ForgedChain::write(chain("Other", 62, 0, 1)).await;

    a.restore("Sales", sales.stripes("Sales_FULL_01.bak").await)
        .await
        .expect("full on A");
    // B knows it at once and continues the sequence; A then follows B.
    let on_b = b.database("sales").await.expect("view").expect("on B");
    let full = sales.set("Sales_FULL_01.bak").await;
    assert_eq!(on_b.redo_lsn, Some(full.header.last_lsn));
    b.restore("Sales", sales.stripes("Sales_LOG_00001.trn").await)
        .await
        .expect("log 1 on B");
    // B took the next number while A's view was old: A catches up and appends after it.
    b.restore("Other", other.stripes("Other_FULL_01.bak").await)
        .await
        .expect("other full on B");
    a.restore("Sales", sales.stripes("Sales_LOG_00002.trn").await)
        .await
        .expect("log 2 on A after B's entries");
    let seqs: Vec<u64> = journal
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "gap-free, each entry once");

    // A log restored again on the other node is refused as SQL Server refuses it (4326).
    let again = b
        .restore("Sales", sales.stripes("Sales_LOG_00001.trn").await)
        .await;
    assert!(
        matches!(&again, Err(TargetError::Sql { number: 4326, .. })),
        "{again:?}"
    );

    // A drop on B: A sees it, and a restore on A no longer finds the database.
    b.drop_database("Sales").await.expect("drop on B");
    assert!(a.database("Sales").await.expect("view").is_none());
    let after = a
        .restore("Sales", sales.stripes("Sales_LOG_00003.trn").await)
        .await;
    assert!(
        matches!(after, Err(TargetError::Sql { number: 3118, .. })),
        "{after:?}"
    );

    // A third node opening the journal rebuilds the same catalog.
    let (_c_dir, c) = node(&journal);
    assert!(c.database("Sales").await.expect("view").is_none());
    assert_eq!(
        c.database("Other").await.expect("view").map(|d| d.redo_lsn),
        Some(Some(other.set("Other_FULL_01.bak").await.header.last_lsn))
    );
}
