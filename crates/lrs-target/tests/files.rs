//! Behaviour specific to the files target: the files it writes (page-accurate data files, the
//! log streams concatenated), that they survive a restart, exactly-once across simulated
//! crashes, and that failed restores leave the files as they were.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lrs_backup::{PAGE_SIZE, PageHeader, SetSink, SetVerifier, verify_page_checksum};
use lrs_target::conformance::{BackupFile, ForgedChain, assert_sql_number, chain};
use lrs_target::files::{CrashPoint, DATABASES_DIR, STAGING_DIR, database_folder_name};
use lrs_target::{
    DatabaseState, EmulatedOptions, FilesTarget, StripeInput, Target, TargetError, read_log,
};

const DB: &str = "Sales";
const FULL: &str = "Sales_FULL_01.bak";
const DIFF: &str = "Sales_DIFF_01.bak";

fn open(dir: &Path) -> FilesTarget {
    FilesTarget::open(dir, EmulatedOptions::default()).expect("open")
}

fn log_name(n: u32) -> String {
    format!("Sales_LOG_{n:05}.trn")
}

/// What a set carries, read with the backup library's verifier (independently of the target).
#[derive(Debug, Default, Clone)]
struct Contents {
    pages: BTreeMap<(u32, u32), Vec<u8>>,
    log: Vec<u8>,
}

impl SetSink for Contents {
    fn page(&mut self, file_id: u32, page_number: u32, page: &[u8; PAGE_SIZE]) {
        self.pages.insert((file_id, page_number), page.to_vec());
    }

    fn log(&mut self, bytes: &[u8]) {
        self.log.extend_from_slice(bytes);
    }
}

/// The pages and log of the (plain, single-family) backup at `path`.
async fn contents(path: &Path) -> Contents {
    let file = BackupFile::open(path).await;
    let set = file.first().clone();
    let bytes = std::fs::read(path).expect("backup bytes");
    let start = usize::try_from(set.start_offset).expect("offset");
    let end = usize::try_from(set.data_end_offset).expect("offset");
    let mut out = Contents::default();
    let mut verifier = SetVerifier::new(&set);
    verifier
        .feed_into(&bytes[start..end], &mut out)
        .expect("verified");
    verifier.finish().expect("complete");
    out
}

/// The database's files as the backups restored in `order` should leave them: every page at
/// its place (later sets overwrite), the log streams concatenated.
#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    pages: BTreeMap<(u32, u32), Vec<u8>>,
    log: Vec<u8>,
}

impl Expected {
    async fn after(chain: &ForgedChain, order: &[&str]) -> Expected {
        let mut expected = Expected::default();
        for name in order {
            let c = contents(&chain.path(name)).await;
            expected.pages.extend(c.pages);
            expected.log.extend_from_slice(&c.log);
        }
        expected
    }
}

/// Every file of a database folder, by name.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().into_string().expect("utf-8 name"),
                std::fs::read(e.path()).expect("file"),
            )
        })
        .collect()
}

/// Check a restored database folder against `expected`: the data file is sized by the full's
/// FILELISTONLY, every non-zero page has a valid checksum and sits at its own page id, the
/// pages are exactly the backups' pages, and the log file is the log streams concatenated.
fn assert_files(folder: &Path, expected: &Expected, data_size: u64) {
    let files = files_of(folder);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["Sales.mdf", "Sales_log.ldf"]);
    let data = &files["Sales.mdf"];
    assert_eq!(data.len() as u64, data_size, "sized by FILELISTONLY");
    let mut found = BTreeMap::new();
    for (index, page) in data.chunks_exact(PAGE_SIZE).enumerate() {
        if page.iter().all(|&b| b == 0) {
            continue;
        }
        let page: &[u8; PAGE_SIZE] = page.try_into().expect("a whole page");
        verify_page_checksum(page).unwrap_or_else(|e| panic!("page {index} of Sales.mdf: {e:?}"));
        let header = PageHeader::parse(page).expect("page header");
        assert_eq!(
            (
                u64::from(header.page_id.file),
                u64::from(header.page_id.page)
            ),
            (1, index as u64),
            "page at offset {} holds page {}",
            index * PAGE_SIZE,
            header.page_id
        );
        found.insert((1u32, u32::try_from(index).expect("index")), page.to_vec());
    }
    assert_eq!(
        found.len(),
        expected.pages.len(),
        "every page the backups carry, and no other"
    );
    assert!(found == expected.pages, "the pages are the backups' pages");
    let log = &files["Sales_log.ldf"];
    assert_eq!(log.len(), expected.log.len(), "log = the log streams");
    assert!(*log == expected.log, "the log streams, in restore order");
}

fn data_size(chain_full: &lrs_backup::BackupSet) -> u64 {
    chain_full
        .files
        .iter()
        .find(|f| f.file_id == 1)
        .map(|f| f.size)
        .expect("file 1")
}

fn staging_is_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir.join(STAGING_DIR))
        .expect("staging")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left in staging: {left:?}");
}

fn simulated_crash<T: std::fmt::Debug>(result: Result<T, TargetError>) {
    match result {
        Err(TargetError::Io(m)) => assert!(m.contains("simulated crash"), "{m}"),
        other => panic!("expected the simulated crash, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_chain_restores_into_page_accurate_files_that_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    // Logs 1..4; the differential is taken after log 2, so full, diff, logs 3 and 4 restore.
    let c = ForgedChain::write(chain(DB, 41, 1, 4)).await;
    let order = [FULL, DIFF, &log_name(3), &log_name(4)];
    let target = open(dir.path());
    for name in order {
        target
            .restore(DB, c.stripes(name).await)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let folder = target.database_dir(DB);
    assert_eq!(
        folder,
        dir.path().join(DATABASES_DIR).join("sales"),
        "one folder per database, named case-insensitively"
    );
    let expected = Expected::after(&c, &order).await;
    let full_only = Expected::after(&c, &[FULL]).await;
    assert!(
        expected
            .pages
            .iter()
            .any(|(k, v)| full_only.pages.get(k) != Some(v)),
        "the differential changes pages"
    );
    let mut log_streams = 0;
    for name in order {
        log_streams += contents(&c.path(name)).await.log.len();
    }
    assert_eq!(expected.log.len(), log_streams);
    let size = data_size(&c.set(FULL).await);
    assert_files(&folder, &expected, size);
    staging_is_empty(dir.path());

    // The log records the log file's length after each set.
    let lens: Vec<Option<u64>> = read_log(dir.path())
        .expect("read_log")
        .iter()
        .map(|e| e.set.as_ref().and_then(|s| s.log_file_len))
        .collect();
    let mut sum = 0u64;
    let mut want = Vec::new();
    for name in order {
        sum += contents(&c.path(name)).await.log.len() as u64;
        want.push(Some(sum));
    }
    assert_eq!(lens, want);

    // A restart keeps everything; recovery keeps the files.
    let before = files_of(&folder);
    let view = target.database(DB).await.expect("db");
    drop(target);
    let reopened = open(dir.path());
    assert_eq!(reopened.database(DB).await.expect("db"), view);
    assert_eq!(files_of(&folder), before);
    reopened.recover(DB).await.expect("recover");
    drop(reopened);
    let reopened = open(dir.path());
    assert_eq!(
        reopened.database(DB).await.expect("db").map(|d| d.state),
        Some(DatabaseState::Online)
    );
    assert_eq!(files_of(&folder), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_retried_after_a_crash_before_its_entry_lands_once() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain(DB, 42, 0, 3)).await;
    let target = open(dir.path());
    for name in [FULL, &log_name(1)] {
        target.restore(DB, c.stripes(name).await).await.expect(name);
    }
    let committed = Expected::after(&c, &[FULL, &log_name(1)]).await;
    let log_file = target.database_dir(DB).join("Sales_log.ldf");

    target.crash_next(CrashPoint::BeforeCommit);
    simulated_crash(target.restore(DB, c.stripes(&log_name(2)).await).await);
    let crashed_len = std::fs::metadata(&log_file).expect("log file").len();
    assert!(
        crashed_len > committed.log.len() as u64,
        "log 2's stream was durable past the committed length when the process died"
    );
    drop(target);

    // On open the uncommitted stream is cut off; the retry appends it exactly once.
    let target = open(dir.path());
    assert_eq!(
        std::fs::metadata(&log_file).expect("log file").len(),
        committed.log.len() as u64
    );
    assert_eq!(read_log(dir.path()).expect("read_log").len(), 2);
    for name in [log_name(2), log_name(3)] {
        target
            .restore(DB, c.stripes(&name).await)
            .await
            .expect("retry");
    }
    let expected = Expected::after(&c, &[FULL, &log_name(1), &log_name(2), &log_name(3)]).await;
    assert_files(
        &target.database_dir(DB),
        &expected,
        data_size(&c.set(FULL).await),
    );

    // The same without a restart: a crash before the entry, then the retry in the same
    // process (the next restore cuts the tail before it appends).
    let c2 = ForgedChain::write(chain("Inventory", 43, 0, 2)).await;
    target
        .restore("Inventory", c2.stripes("Inventory_FULL_01.bak").await)
        .await
        .expect("full");
    target.crash_next(CrashPoint::BeforeCommit);
    simulated_crash(
        target
            .restore("Inventory", c2.stripes("Inventory_LOG_00001.trn").await)
            .await,
    );
    for name in ["Inventory_LOG_00001.trn", "Inventory_LOG_00002.trn"] {
        target
            .restore("Inventory", c2.stripes(name).await)
            .await
            .expect(name);
    }
    let mut want = Vec::new();
    for name in [
        "Inventory_FULL_01.bak",
        "Inventory_LOG_00001.trn",
        "Inventory_LOG_00002.trn",
    ] {
        want.extend(contents(&c2.path(name)).await.log);
    }
    let got = std::fs::read(target.database_dir("Inventory").join("Inventory_log.ldf"))
        .expect("log file");
    assert!(got == want, "each log stream once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_or_differential_that_crashed_before_its_entry_leaves_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain(DB, 44, 1, 2)).await;
    let target = open(dir.path());
    target.crash_next(CrashPoint::BeforeCommit);
    simulated_crash(target.restore(DB, c.stripes(FULL).await).await);
    drop(target);
    let target = open(dir.path());
    assert_eq!(target.database(DB).await.expect("db"), None);
    assert!(!target.database_dir(DB).exists(), "no database folder");
    staging_is_empty(dir.path());

    target
        .restore(DB, c.stripes(FULL).await)
        .await
        .expect("full");
    let folder = target.database_dir(DB);
    let before = files_of(&folder);
    target.crash_next(CrashPoint::BeforeCommit);
    simulated_crash(target.restore(DB, c.stripes(DIFF).await).await);
    drop(target);
    let target = open(dir.path());
    assert_eq!(files_of(&folder), before, "the files as the full left them");
    staging_is_empty(dir.path());
    target
        .restore(DB, c.stripes(DIFF).await)
        .await
        .expect("retried diff");
    assert_files(
        &folder,
        &Expected::after(&c, &[FULL, DIFF]).await,
        data_size(&c.set(FULL).await),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_entry_is_finished_on_open_or_before_the_next_restore() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain(DB, 45, 1, 4)).await;
    let size = data_size(&c.set(FULL).await);
    let target = open(dir.path());

    // The full committed but its staged folder was not moved into place.
    target.crash_next(CrashPoint::AfterCommit);
    simulated_crash(target.restore(DB, c.stripes(FULL).await).await);
    let guid = c.set(FULL).await.header.backup_set_guid;
    assert_eq!(
        target
            .database(DB)
            .await
            .expect("db")
            .and_then(|d| d.last_applied_set),
        Some(guid),
        "committed"
    );
    let folder = target.database_dir(DB);
    assert!(!folder.exists(), "not installed yet");
    drop(target);
    let target = open(dir.path());
    assert_files(&folder, &Expected::after(&c, &[FULL]).await, size);
    staging_is_empty(dir.path());

    // The differential committed but its pages were not written; the next restore (no
    // restart) writes them first.
    target.crash_next(CrashPoint::AfterCommit);
    simulated_crash(target.restore(DB, c.stripes(DIFF).await).await);
    target
        .restore(DB, c.stripes(&log_name(3)).await)
        .await
        .expect("log 3");
    assert_files(
        &folder,
        &Expected::after(&c, &[FULL, DIFF, &log_name(3)]).await,
        size,
    );
    staging_is_empty(dir.path());
    let applied: Vec<Option<String>> = read_log(dir.path())
        .expect("read_log")
        .iter()
        .map(lrs_target::LogEntry::restored_set)
        .collect();
    assert_eq!(applied.len(), 3, "each set once: {applied:?}");
}

/// How [`damaged_copy`] damages a backup.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// A byte of the first data page: 3183 before any page is kept.
    FirstPage,
    /// The last backup checksum (after the log stream): 3189 once every page and every log
    /// byte has been handed to the target.
    LastChecksum,
}

/// The backup at `path` with `damage`, written as `out`.
async fn damaged_copy(path: &Path, out: PathBuf, damage: Damage) -> Vec<StripeInput> {
    let mut bytes = std::fs::read(path).expect("backup");
    let blocks = lrs_backup::mtf_layout(&bytes).expect("layout");
    let mut streams = blocks.iter().flat_map(|b| b.streams.iter());
    let at = match damage {
        Damage::FirstPage => {
            let mqda = streams
                .find(|s| s.tag.0 == *b"MQDA")
                .expect("a data stream");
            usize::try_from(mqda.offset).expect("offset") + 22 + 2 + 500
        }
        Damage::LastChecksum => {
            let csum = streams
                .rfind(|s| s.tag.0 == *b"CSUM")
                .expect("a checksum stream");
            usize::try_from(csum.offset).expect("offset") + 22
        }
    };
    bytes[at] ^= 0x20;
    std::fs::write(&out, bytes).expect("write the damaged copy");
    vec![BackupFile::open(&out).await.stripe(1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_sets_leave_the_files_as_they_were() {
    let dir = tempfile::tempdir().expect("dir");
    let scratch = tempfile::tempdir().expect("scratch");
    let c = ForgedChain::write(chain(DB, 46, 1, 2)).await;
    let size = data_size(&c.set(FULL).await);
    let target = open(dir.path());

    // A damaged full creates nothing.
    for (damage, number) in [(Damage::FirstPage, 3183), (Damage::LastChecksum, 3189)] {
        let bad_full = damaged_copy(&c.path(FULL), scratch.path().join("full.bak"), damage).await;
        match target.restore(DB, bad_full).await {
            Err(TargetError::Damaged { number: got, .. }) => assert_eq!(got, number),
            other => panic!("expected {number}, got {other:?}"),
        }
        assert!(!target.database_dir(DB).exists());
        staging_is_empty(dir.path());
    }

    // A damaged differential or log changes no page and no log byte, even when the damage is
    // found after all of its data was read.
    target
        .restore(DB, c.stripes(FULL).await)
        .await
        .expect("full");
    let folder = target.database_dir(DB);
    let before = files_of(&folder);
    for (damage, number) in [(Damage::FirstPage, 3183), (Damage::LastChecksum, 3189)] {
        let bad_diff = damaged_copy(&c.path(DIFF), scratch.path().join("diff.bak"), damage).await;
        match target.restore(DB, bad_diff).await {
            Err(TargetError::Damaged { number: got, .. }) => assert_eq!(got, number),
            other => panic!("expected {number}, got {other:?}"),
        }
        assert_eq!(files_of(&folder), before);
        staging_is_empty(dir.path());
    }
    let bad_log = damaged_copy(
        &c.path(&log_name(1)),
        scratch.path().join("log.trn"),
        Damage::LastChecksum,
    )
    .await;
    match target.restore(DB, bad_log).await {
        Err(TargetError::Damaged { number: 3189, .. }) => {}
        other => panic!("expected 3189, got {other:?}"),
    }
    assert_eq!(files_of(&folder), before);

    // A full over the restoring database starts the sequence again: its files replace the
    // differential's pages and the logs.
    target
        .restore(DB, c.stripes(DIFF).await)
        .await
        .expect("diff");
    target
        .restore(DB, c.stripes(&log_name(2)).await)
        .await
        .expect("log 2");
    target
        .restore("SALES", c.stripes(FULL).await)
        .await
        .expect("the full again");
    assert_files(&folder, &Expected::after(&c, &[FULL]).await, size);
    staging_is_empty(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_the_same_set_again_writes_nothing_twice() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain(DB, 47, 1, 4)).await;
    let target = open(dir.path());
    for name in [FULL, DIFF, DIFF, &log_name(3), &log_name(3)] {
        target.restore(DB, c.stripes(name).await).await.expect(name);
    }
    assert_files(
        &target.database_dir(DB),
        &Expected::after(&c, &[FULL, DIFF, &log_name(3)]).await,
        data_size(&c.set(FULL).await),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_removes_the_folder_and_names_stay_inside_the_target() {
    let dir = tempfile::tempdir().expect("dir");
    let c = ForgedChain::write(chain(DB, 48, 0, 1)).await;
    let target = Arc::new(open(dir.path()));
    let evil = "../../escape";
    for db in [DB, evil, "a/b", "."] {
        target
            .restore(db, c.stripes(FULL).await)
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        let folder = target.database_dir(db);
        assert_eq!(
            folder.parent(),
            Some(dir.path().join(DATABASES_DIR).as_path()),
            "{db}"
        );
        assert!(folder.join("Sales.mdf").is_file(), "{db}");
    }
    assert_eq!(database_folder_name(evil), "%2E%2E%2F%2E%2E%2Fescape");
    assert!(!dir.path().join("..").join("escape").exists());

    target.drop_database("sales").await.expect("drop");
    assert!(!target.database_dir(DB).exists());
    assert_eq!(target.database(DB).await.expect("db"), None);
    // A log into the dropped database is refused (it does not exist).
    assert_sql_number(
        target.restore(DB, c.stripes(&log_name(1)).await).await,
        3118,
    );
    // Recreated, it starts from its full's files only.
    target
        .restore(DB, c.stripes(FULL).await)
        .await
        .expect("full again");
    assert_files(
        &target.database_dir(DB),
        &Expected::after(&c, &[FULL]).await,
        data_size(&c.set(FULL).await),
    );

    // A drop whose folder removal a crash prevented is finished on open.
    let stale = target.database_dir(evil);
    drop(target);
    let log_path = dir.path().join(lrs_target::emulated::LOG_FILE);
    let mut log = std::fs::read_to_string(&log_path).expect("log");
    let seq = read_log(dir.path()).expect("read_log").len() + 1;
    log.push_str(&format!(
        "{{\"seq\":{seq},\"at\":\"2026-01-01T00:00:00Z\",\"op\":\"drop\",\"database\":\"{evil}\"}}\n"
    ));
    std::fs::write(&log_path, log).expect("append a drop entry");
    assert!(stale.exists());
    let target = open(dir.path());
    assert!(!stale.exists(), "removed on open");
    assert_eq!(target.database(evil).await.expect("db"), None);
    assert!(target.database_dir(DB).join("Sales.mdf").is_file());
}

/// Restore real SQL Server backups (each set: its stripes' paths under the fixture root, in
/// family order) and check every data file: each page the backups carry sits at its own page
/// id (checksum verified where the page has one), byte for byte the backups' last copy of it,
/// and the log file is every set's log stream in restore order.
async fn real_chain_lands_page_for_page(root: &Path, database: &str, sets: &[&[&str]]) {
    let dir = tempfile::tempdir().expect("dir");
    let target = open(dir.path());
    let mut expected = Expected::default();
    for stripes in sets {
        let mut inputs = Vec::new();
        for path in *stripes {
            let path = root.join(path);
            inputs.push(BackupFile::open(&path).await.stripe(1));
            let c = contents(&path).await;
            expected.pages.extend(c.pages);
            expected.log.extend_from_slice(&c.log);
        }
        target
            .restore(database, inputs)
            .await
            .unwrap_or_else(|e| panic!("{stripes:?}: {e}"));
    }
    let first = BackupFile::open(&root.join(sets[0][0])).await;
    let mut found = BTreeMap::new();
    let mut log = None;
    for (name, bytes) in files_of(&target.database_dir(database)) {
        if name.ends_with(".ldf") {
            assert!(log.is_none(), "one log file");
            log = Some(bytes);
            continue;
        }
        let entry = first
            .first()
            .files
            .iter()
            .find(|f| {
                f.logical_name
                    .as_deref()
                    .is_some_and(|l| name.starts_with(&format!("{l}.")))
            })
            .unwrap_or_else(|| panic!("{name} is named after a file of the set"));
        assert!(
            bytes.len() as u64 >= entry.size,
            "{name} sized by FILELISTONLY"
        );
        for (index, page) in bytes.chunks_exact(PAGE_SIZE).enumerate() {
            if page.iter().all(|&b| b == 0) {
                continue;
            }
            let page: &[u8; PAGE_SIZE] = page.try_into().expect("a whole page");
            let header = PageHeader::parse(page).expect("page header");
            assert_eq!(
                (
                    u32::from(header.page_id.file),
                    u64::from(header.page_id.page)
                ),
                (entry.file_id, index as u64),
                "{name}: page at offset {}",
                index * PAGE_SIZE
            );
            if header.has_checksum() {
                verify_page_checksum(page).unwrap_or_else(|e| panic!("{name} page {index}: {e:?}"));
            }
            found.insert(
                (entry.file_id, u32::try_from(index).expect("index")),
                page.to_vec(),
            );
        }
    }
    assert!(!expected.pages.is_empty() && !expected.log.is_empty());
    assert_eq!(found.len(), expected.pages.len());
    assert!(found == expected.pages, "the pages are the backups' pages");
    let log = log.expect("a log file");
    assert_eq!(log.len(), expected.log.len());
    assert!(log == expected.log, "the log streams, in restore order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_chains_land_page_for_page() {
    let Some(root) = lrs_target::conformance::real_fixtures() else {
        return;
    };
    let clean = "dataplat-appveyor-lab/RestoreTimeClean";
    real_chain_lands_page_for_page(
        &root,
        "RestoreTimeClean",
        &[
            &[&format!("{clean}/RestoreTimeClean.bak")],
            &[&format!("{clean}/RestoreTimeClean2.bak")],
            &[&format!("{clean}/RestoreTimeClean2_1.trn")],
            &[&format!("{clean}/RestoreTimeClean2_2.trn")],
            &[&format!("{clean}/RestoreTimeClean2_3.trn")],
        ],
    )
    .await;
    let diffs = "dataplat-appveyor-lab/DoubleDiffing";
    real_chain_lands_page_for_page(
        &root,
        "doublediff",
        &[
            &[&format!("{diffs}/difftest-full.bak")],
            &[&format!("{diffs}/difftest-diff1.bak")],
            &[&format!("{diffs}/difftest-diff2.bak")],
        ],
    )
    .await;
    let stripe = "dataplat-appveyor-lab/sql2008-backups/RestoreTimeStripe";
    real_chain_lands_page_for_page(
        &root,
        "StripeTest",
        &[
            &[
                &format!("{stripe}/Stripe1/RestoreTimeStripe2.bak"),
                &format!("{stripe}/Stripe2/RestoreTimeStripe2a.bak"),
            ],
            &[
                &format!("{stripe}/Stripe1/restoretime_21.trn"),
                &format!("{stripe}/Stripe2/restoretime_21a.trn"),
            ],
        ],
    )
    .await;
}
