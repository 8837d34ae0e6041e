//! The conformance suite every [`Target`] runs: one async check per restore behaviour, each
//! taking a fresh (empty) target and asserting exact values — redo points, error numbers and
//! message texts. Backups come from the forge (written into a temporary directory and read back
//! with the header reader) or, for the `real_*` checks, from the real SQL Server fixtures under
//! `$LRS_REAL_FIXTURES` (skipped with a message when the variable is not set).
//!
//! Test code: the checks panic on the first difference. Run them one per test (see
//! `tests/conformance.rs`), or all at once with [`all`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use lrs_backup::{BackupSet, CountingReader, FileReader, Lsn, RangeRead};
use lrs_forge::{ChainSpec, Compression, DatabaseSpec};

use crate::{DatabaseState, RestoreOutcome, StripeInput, Target, TargetError};

/// One conformance check: takes a fresh target, panics on a difference.
pub type Check = fn(Arc<dyn Target>) -> BoxFuture<'static, ()>;

/// Every check with its name, in a stable order.
pub fn all() -> Vec<(&'static str, Check)> {
    vec![
        ("full_diff_and_logs_apply_in_order", |t| {
            Box::pin(full_diff_and_logs_apply_in_order(t))
        }),
        ("a_log_restored_again_after_a_later_one_is_too_early", |t| {
            Box::pin(a_log_restored_again_after_a_later_one_is_too_early(t))
        }),
        ("the_log_just_restored_restores_again_without_change", |t| {
            Box::pin(the_log_just_restored_restores_again_without_change(t))
        }),
        ("a_skipped_log_is_too_recent", |t| {
            Box::pin(a_skipped_log_is_too_recent(t))
        }),
        ("a_differential_of_another_full_is_refused", |t| {
            Box::pin(a_differential_of_another_full_is_refused(t))
        }),
        ("restores_after_recovery_are_refused", |t| {
            Box::pin(restores_after_recovery_are_refused(t))
        }),
        ("a_dropped_database_is_gone", |t| {
            Box::pin(a_dropped_database_is_gone(t))
        }),
        ("a_full_of_another_database_is_refused", |t| {
            Box::pin(a_full_of_another_database_is_refused(t))
        }),
        ("a_striped_set_needs_every_family", |t| {
            Box::pin(a_striped_set_needs_every_family(t))
        }),
        ("compressed_sets_restore_and_report_their_bytes", |t| {
            Box::pin(compressed_sets_restore_and_report_their_bytes(t))
        }),
        ("logs_follow_the_database_across_a_recovery_fork", |t| {
            Box::pin(logs_follow_the_database_across_a_recovery_fork(t))
        }),
        ("every_byte_of_every_stripe_is_read", |t| {
            Box::pin(every_byte_of_every_stripe_is_read(t))
        }),
        ("a_corrupt_page_fails_the_restore_with_3183", |t| {
            Box::pin(a_corrupt_page_fails_the_restore_with_3183(t))
        }),
        ("a_damaged_block_fails_the_restore_with_3241", |t| {
            Box::pin(a_damaged_block_fails_the_restore_with_3241(t))
        }),
        (
            "a_broken_backup_checksum_fails_the_restore_with_3189",
            |t| Box::pin(a_broken_backup_checksum_fails_the_restore_with_3189(t)),
        ),
        ("real_media_password_backup_is_refused_with_3279", |t| {
            Box::pin(real_media_password_backup_is_refused_with_3279(t))
        }),
        ("real_restoretimeclean_restores_in_order", |t| {
            Box::pin(real_restoretimeclean_restores_in_order(t))
        }),
        (
            "real_stopat_restores_and_a_missing_log_is_too_recent",
            |t| Box::pin(real_stopat_restores_and_a_missing_log_is_too_recent(t)),
        ),
        ("real_striped_sets_restore", |t| {
            Box::pin(real_striped_sets_restore(t))
        }),
        ("real_double_differential_restores", |t| {
            Box::pin(real_double_differential_restores(t))
        }),
        ("real_log_ending_at_the_redo_point_restores", |t| {
            Box::pin(real_log_ending_at_the_redo_point_restores(t))
        }),
        ("real_compressed_full_restores", |t| {
            Box::pin(real_compressed_full_restores(t))
        }),
        ("real_checksummed_full_with_a_corrupt_page_is_3183", |t| {
            Box::pin(real_checksummed_full_with_a_corrupt_page_is_3183(t))
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Backups to restore

/// One backup file, read back: its path, a reader and the sets the header reader found.
#[derive(Debug, Clone)]
pub struct BackupFile {
    /// Where it is.
    pub path: PathBuf,
    /// Reader over it.
    pub reader: Arc<dyn RangeRead>,
    /// Its sets, by position.
    pub sets: Vec<BackupSet>,
}

impl BackupFile {
    /// Open `path` and read its headers.
    pub async fn open(path: &Path) -> BackupFile {
        let reader =
            FileReader::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        let media = lrs_backup::read_backup(&reader)
            .await
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        BackupFile {
            path: path.to_path_buf(),
            reader: Arc::new(reader),
            sets: media.sets,
        }
    }

    /// The stripe for the set at `position` (`WITH FILE = position`).
    pub fn stripe(&self, position: u16) -> StripeInput {
        let set = self
            .sets
            .iter()
            .find(|s| s.header.position == position)
            .unwrap_or_else(|| panic!("{} has no set at position {position}", self.path.display()))
            .clone();
        StripeInput {
            reader: Arc::clone(&self.reader),
            set,
        }
    }

    /// The set at position 1.
    pub fn first(&self) -> &BackupSet {
        self.sets
            .first()
            .unwrap_or_else(|| panic!("{} holds no backup set", self.path.display()))
    }
}

/// A chain written by the forge into a temporary directory (removed on drop).
#[derive(Debug)]
pub struct ForgedChain {
    dir: tempfile::TempDir,
    stripes: u16,
}

impl ForgedChain {
    /// Write `spec`'s files.
    pub async fn write(spec: ChainSpec) -> ForgedChain {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().to_path_buf();
        let stripes = spec.stripes.max(1);
        tokio::task::spawn_blocking(move || lrs_forge::write_chain(&spec, &path))
            .await
            .expect("forge task")
            .expect("forging the chain");
        ForgedChain { dir, stripes }
    }

    /// The files of the backup the forge named `name` (e.g. `Sales_LOG_00002.trn`), one per
    /// media family, in family order.
    pub async fn files(&self, name: &str) -> Vec<BackupFile> {
        let mut out = Vec::new();
        if self.stripes == 1 {
            out.push(BackupFile::open(&self.dir.path().join(name)).await);
        } else {
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "bak"));
            for family in 1..=self.stripes {
                let file = format!("{stem}_{family}of{}.{ext}", self.stripes);
                out.push(BackupFile::open(&self.dir.path().join(file)).await);
            }
        }
        out
    }

    /// Where the file the forge named `name` is (single-family chains).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every stripe of the backup named `name` (position 1).
    pub async fn stripes(&self, name: &str) -> Vec<StripeInput> {
        self.files(name).await.iter().map(|f| f.stripe(1)).collect()
    }

    /// The set of the backup named `name` (family 1, position 1).
    pub async fn set(&self, name: &str) -> BackupSet {
        self.files(name)
            .await
            .first()
            .map(|f| f.first().clone())
            .unwrap_or_else(|| panic!("no file for {name}"))
    }
}

/// A small database (256 KiB of data, 64 KiB of log per log backup) so the suite runs fast.
pub fn small_database(name: &str, seed: u64) -> DatabaseSpec {
    let mut db = DatabaseSpec::new(name);
    db.data_size = 256 * 1024;
    db.log_size = 64 * 1024;
    db.seed = seed;
    db
}

/// A chain of `small_database(name, seed)` with `diffs` differentials and `logs` logs.
pub fn chain(name: &str, seed: u64, diffs: u32, logs: u32) -> ChainSpec {
    ChainSpec {
        diffs,
        logs,
        ..ChainSpec::new(small_database(name, seed))
    }
}

/// Bytes a restore of `stripes` consumes: each stripe's set from its SSET block to the soft
/// filemark closing its data.
pub fn set_bytes(stripes: &[StripeInput]) -> u64 {
    stripes
        .iter()
        .map(|s| s.set.data_end_offset - s.set.start_offset)
        .sum()
}

fn log_name(db: &str, n: u32) -> String {
    format!("{db}_LOG_{n:05}.trn")
}

fn full_name(db: &str, n: u32) -> String {
    format!("{db}_FULL_{n:02}.bak")
}

fn diff_name(db: &str, n: u32) -> String {
    format!("{db}_DIFF_{n:02}.bak")
}

// ---------------------------------------------------------------------------------------------
// Assertion helpers

/// Restore and expect success, with the redo point at the set's LastLSN and the bytes of
/// [`set_bytes`].
pub async fn restore_ok(target: &dyn Target, database: &str, stripes: Vec<StripeInput>) -> Lsn {
    let set = stripes
        .first()
        .map(|s| s.set.clone())
        .expect("at least one stripe");
    let bytes = set_bytes(&stripes);
    let outcome = target.restore(database, stripes).await.unwrap_or_else(|e| {
        panic!(
            "restoring {} into {database}: {e}",
            set.header.backup_set_guid
        )
    });
    assert_eq!(
        outcome,
        RestoreOutcome {
            bytes,
            redo_lsn: set.header.last_lsn
        },
        "restore of {} ({})",
        set.header.backup_set_guid,
        set.header.backup_type_description
    );
    let db = target
        .database(database)
        .await
        .expect("database()")
        .expect("the database exists after a restore");
    assert_eq!(db.state, DatabaseState::Restoring);
    assert_eq!(db.redo_lsn, Some(set.header.last_lsn));
    assert_eq!(db.last_applied_set, Some(set.header.backup_set_guid));
    set.header.last_lsn
}

/// Expect a SQL Server error with exactly this number and text.
pub fn assert_sql(result: Result<impl std::fmt::Debug, TargetError>, number: u32, message: &str) {
    match result {
        Err(TargetError::Sql {
            number: got,
            message: text,
        }) => {
            assert_eq!((got, text.as_str()), (number, message));
        }
        other => panic!("expected Msg {number}: {message}\ngot {other:?}"),
    }
}

/// Expect a SQL Server error with this number (any text).
pub fn assert_sql_number(result: Result<impl std::fmt::Debug, TargetError>, number: u32) {
    match result {
        Err(TargetError::Sql { number: got, .. }) if got == number => {}
        other => panic!("expected Msg {number}, got {other:?}"),
    }
}

async fn state(target: &dyn Target, database: &str) -> (DatabaseState, Option<Lsn>) {
    let db = target
        .database(database)
        .await
        .expect("database()")
        .unwrap_or_else(|| panic!("database {database} should exist"));
    (db.state, db.redo_lsn)
}

// ---------------------------------------------------------------------------------------------
// Checks on forged chains

/// Full, differential, then the logs after it: each applies, the redo point moves to each
/// set's LastLSN exactly, names are case-insensitive (case kept as created), and recovery
/// brings the database online at the last redo point.
pub async fn full_diff_and_logs_apply_in_order(target: Arc<dyn Target>) {
    // Logs 1..4; the differential is taken after log 2.
    let chain = ForgedChain::write(chain("Sales", 1, 1, 4)).await;
    let t = target.as_ref();
    assert_eq!(t.database("Sales").await.expect("database()"), None);
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    let diff = chain.set(&diff_name("Sales", 1)).await;
    let log3 = chain.set(&log_name("Sales", 3)).await;
    assert!(
        log3.header.first_lsn <= diff.header.last_lsn
            && diff.header.last_lsn <= log3.header.last_lsn,
        "the forge takes the differential inside log 3's range"
    );
    restore_ok(t, "SALES", chain.stripes(&diff_name("Sales", 1)).await).await;
    restore_ok(t, "sales", chain.stripes(&log_name("Sales", 3)).await).await;
    let end = restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 4)).await).await;
    let db = t
        .database("sAlEs")
        .await
        .expect("database()")
        .expect("exists");
    assert_eq!(db.name, "Sales", "case as created");
    assert!(db.created_at <= chrono::Utc::now());
    t.recover("Sales").await.expect("recover");
    let online = t
        .database("Sales")
        .await
        .expect("database()")
        .expect("exists");
    assert_eq!(online.state, DatabaseState::Online);
    assert_eq!(online.redo_lsn, Some(end));
    assert_eq!(
        online.last_applied_set,
        Some(
            chain
                .set(&log_name("Sales", 4))
                .await
                .header
                .backup_set_guid
        )
    );
    assert_eq!(online.created_at, db.created_at);
}

/// A log restored again after a later one ends before the redo point: 4326, naming its
/// LastLSN and the redo point; the database does not change.
pub async fn a_log_restored_again_after_a_later_one_is_too_early(target: Arc<dyn Target>) {
    let chain = ForgedChain::write(chain("Sales", 2, 0, 2)).await;
    let t = target.as_ref();
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    let log1 = chain.set(&log_name("Sales", 1)).await;
    restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 1)).await).await;
    let redo = restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 2)).await).await;
    let again = t
        .restore("Sales", chain.stripes(&log_name("Sales", 1)).await)
        .await;
    assert_sql(
        again,
        4326,
        &format!(
            "The log in this backup set terminates at LSN {}, which is too early to apply to the \
             database. A more recent log backup that includes LSN {redo} can be restored.",
            log1.header.last_lsn
        ),
    );
    assert_eq!(
        state(t, "Sales").await,
        (DatabaseState::Restoring, Some(redo))
    );
}

/// The log just restored, restored once more: SQL Server runs it again without error (its
/// LastLSN is the redo point); nothing moves.
pub async fn the_log_just_restored_restores_again_without_change(target: Arc<dyn Target>) {
    let chain = ForgedChain::write(chain("Sales", 3, 0, 1)).await;
    let t = target.as_ref();
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    let redo = restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 1)).await).await;
    let again = restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 1)).await).await;
    assert_eq!(again, redo);
}

/// A log after a missing one begins after the redo point: 4305, naming its FirstLSN and the
/// LSN the missing log would include; the database does not change.
pub async fn a_skipped_log_is_too_recent(target: Arc<dyn Target>) {
    let chain = ForgedChain::write(chain("Sales", 4, 0, 3)).await;
    let t = target.as_ref();
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    let redo = restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 1)).await).await;
    let log3 = chain.set(&log_name("Sales", 3)).await;
    assert!(log3.header.first_lsn > redo);
    let skipped = t
        .restore("Sales", chain.stripes(&log_name("Sales", 3)).await)
        .await;
    assert_sql(
        skipped,
        4305,
        &format!(
            "The log in this backup set begins at LSN {}, which is too recent to apply to the \
             database. An earlier log backup that includes LSN {redo} can be restored.",
            log3.header.first_lsn
        ),
    );
    assert_eq!(
        state(t, "Sales").await,
        (DatabaseState::Restoring, Some(redo))
    );
}

/// A differential whose base is another full: 3136; restarting the sequence from its base
/// full (no REPLACE needed while restoring) then lets it apply.
pub async fn a_differential_of_another_full_is_refused(target: Arc<dyn Target>) {
    // Two fulls; the differential is taken after the second (its base).
    let spec = ChainSpec {
        fulls: 2,
        ..chain("Sales", 5, 1, 2)
    };
    let chain = ForgedChain::write(spec).await;
    let t = target.as_ref();
    let full2 = chain.set(&full_name("Sales", 2)).await;
    let diff = chain.set(&diff_name("Sales", 1)).await;
    assert_eq!(
        diff.header.differential_base_guid,
        Some(full2.header.backup_set_guid)
    );
    let redo = restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    let refused = t
        .restore("Sales", chain.stripes(&diff_name("Sales", 1)).await)
        .await;
    assert_sql(
        refused,
        3136,
        "This differential backup cannot be restored because the database has not been \
         restored to the correct earlier state.",
    );
    assert_eq!(
        state(t, "Sales").await,
        (DatabaseState::Restoring, Some(redo))
    );
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 2)).await).await;
    restore_ok(t, "Sales", chain.stripes(&diff_name("Sales", 1)).await).await;
}

/// Once recovered, nothing rolls forward: a log or a differential is 3117, a full of the same
/// database is 3159 (its log tail was not backed up), recovering again is 3153.
pub async fn restores_after_recovery_are_refused(target: Arc<dyn Target>) {
    let chain = ForgedChain::write(chain("Sales", 6, 1, 2)).await;
    let t = target.as_ref();
    let redo = restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    t.recover("Sales").await.expect("recover");
    let rollforward = "The log or differential backup cannot be restored because no files are \
                       ready to rollforward.";
    assert_sql(
        t.restore("Sales", chain.stripes(&log_name("Sales", 1)).await)
            .await,
        3117,
        rollforward,
    );
    assert_sql(
        t.restore("Sales", chain.stripes(&diff_name("Sales", 1)).await)
            .await,
        3117,
        rollforward,
    );
    assert_sql(
        t.restore("sales", chain.stripes(&full_name("Sales", 1)).await)
            .await,
        3159,
        "The tail of the log for the database \"Sales\" has not been backed up. Use BACKUP LOG \
         WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the \
         WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the \
         contents of the log.",
    );
    assert_sql(
        t.recover("Sales").await,
        3153,
        "The database is already fully recovered.",
    );
    assert_eq!(state(t, "Sales").await, (DatabaseState::Online, Some(redo)));
}

/// A dropped database is gone: `database()` is None, dropping it again is not an error, a log
/// into it is 3118 naming it, and a full creates it again.
pub async fn a_dropped_database_is_gone(target: Arc<dyn Target>) {
    let chain = ForgedChain::write(chain("Sales", 7, 0, 1)).await;
    let t = target.as_ref();
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    t.drop_database("SALES").await.expect("drop");
    assert_eq!(t.database("Sales").await.expect("database()"), None);
    t.drop_database("Sales")
        .await
        .expect("dropping a missing database");
    assert_sql(
        t.restore("Sales", chain.stripes(&log_name("Sales", 1)).await)
            .await,
        3118,
        "The database \"Sales\" does not exist. RESTORE can only create a database when \
         restoring either a full backup or a file backup of the primary file.",
    );
    assert_sql_number(t.recover("Sales").await, 3118);
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    restore_ok(t, "Sales", chain.stripes(&log_name("Sales", 1)).await).await;
}

/// A full of another database (another FamilyGUID) over an existing one: 3154 naming the
/// existing database, restoring or online.
pub async fn a_full_of_another_database_is_refused(target: Arc<dyn Target>) {
    let sales = ForgedChain::write(chain("Sales", 8, 0, 0)).await;
    let other = ForgedChain::write(chain("Inventory", 9, 0, 0)).await;
    let t = target.as_ref();
    let redo = restore_ok(t, "Sales", sales.stripes(&full_name("Sales", 1)).await).await;
    let message = "The backup set holds a backup of a database other than the existing 'Sales' \
                   database.";
    assert_sql(
        t.restore("Sales", other.stripes(&full_name("Inventory", 1)).await)
            .await,
        3154,
        message,
    );
    t.recover("Sales").await.expect("recover");
    assert_sql(
        t.restore("Sales", other.stripes(&full_name("Inventory", 1)).await)
            .await,
        3154,
        message,
    );
    assert_eq!(state(t, "Sales").await, (DatabaseState::Online, Some(redo)));
    // The same backup restores under another name.
    restore_ok(
        t,
        "Inventory",
        other.stripes(&full_name("Inventory", 1)).await,
    )
    .await;
}

/// A set striped over 3 files needs all 3: with 2, 3132 and nothing is created; a family given
/// twice is 3227; a file of another media set is 3258; all 3 in any order restore, and the bytes
/// are those of every stripe.
pub async fn a_striped_set_needs_every_family(target: Arc<dyn Target>) {
    let spec = ChainSpec {
        stripes: 3,
        ..chain("Sales", 10, 0, 1)
    };
    let chain = ForgedChain::write(spec).await;
    let t = target.as_ref();
    let full = chain.files(&full_name("Sales", 1)).await;
    assert_eq!(full.len(), 3);
    let two = vec![full[0].stripe(1), full[1].stripe(1)];
    assert_sql(
        t.restore("Sales", two).await,
        3132,
        "The media set has 3 media families but only 2 are provided. All members must be \
         provided.",
    );
    assert_eq!(t.database("Sales").await.expect("database()"), None);
    let twice = vec![full[0].stripe(1), full[1].stripe(1), full[1].stripe(1)];
    let device = full[1].reader.name().to_string();
    assert_sql(
        t.restore("Sales", twice).await,
        3227,
        &format!(
            "The backup media on \"{device}\" is part of media family 2 which has already been \
             processed on \"{device}\". Ensure that backup devices are correctly specified. For \
             tape devices, ensure that the correct volumes are loaded."
        ),
    );
    let log = chain.files(&log_name("Sales", 1)).await;
    let mixed = vec![full[0].stripe(1), full[1].stripe(1), log[2].stripe(1)];
    assert_sql(
        t.restore("Sales", mixed).await,
        3258,
        &format!(
            "The volume on the device \"{}\" is not part of the media set that is currently \
             being processed. Ensure that the backup devices are loaded with the correct media.",
            log[2].reader.name()
        ),
    );
    assert_eq!(t.database("Sales").await.expect("database()"), None);
    let shuffled = vec![full[2].stripe(1), full[0].stripe(1), full[1].stripe(1)];
    let bytes: u64 = full
        .iter()
        .map(|f| f.first().data_end_offset - f.first().start_offset)
        .sum();
    let outcome = t.restore("Sales", shuffled).await.expect("all families");
    assert_eq!(
        outcome,
        RestoreOutcome {
            bytes,
            redo_lsn: full[0].first().header.last_lsn
        }
    );
    restore_ok(t, "Sales", log.iter().map(|f| f.stripe(1)).collect()).await;
}

/// XPRESS and ZSTD compressed sets restore; their bytes are the decoded set bytes, the same as
/// the same chain written plain.
pub async fn compressed_sets_restore_and_report_their_bytes(target: Arc<dyn Target>) {
    let plain = ForgedChain::write(chain("Sales", 11, 0, 2)).await;
    let t = target.as_ref();
    let names = [
        full_name("Sales", 1),
        log_name("Sales", 1),
        log_name("Sales", 2),
    ];
    let mut plain_bytes = Vec::new();
    for name in &names {
        let stripes = plain.stripes(name).await;
        plain_bytes.push(set_bytes(&stripes));
        restore_ok(t, "Plain", stripes).await;
    }
    for (compression, database) in [(Compression::Xpress, "Xpress"), (Compression::Zstd, "Zstd")] {
        let spec = ChainSpec {
            compression,
            ..chain("Sales", 11, 0, 2)
        };
        let chain = ForgedChain::write(spec).await;
        for (name, plain) in names.iter().zip(&plain_bytes) {
            let files = chain.files(name).await;
            assert_eq!(
                files[0].first().header.compressed,
                1,
                "{name} is compressed"
            );
            let stripes: Vec<StripeInput> = files.iter().map(|f| f.stripe(1)).collect();
            assert_eq!(set_bytes(&stripes), *plain, "{name}: decoded = plain bytes");
            let size = std::fs::metadata(&files[0].path).expect("size").len();
            assert!(size < *plain, "{name}: the file is smaller than its data");
            restore_ok(t, database, stripes).await;
        }
    }
}

/// Every byte of every stripe's set is read (behind a counting reader), plain and compressed:
/// a restore that skipped data could not have checked it.
pub async fn every_byte_of_every_stripe_is_read(target: Arc<dyn Target>) {
    for (compression, database) in [
        (Compression::None, "Plain"),
        (Compression::Xpress, "Xpress"),
    ] {
        let spec = ChainSpec {
            compression,
            stripes: 2,
            ..chain("Sales", 31, 1, 1)
        };
        let forged = ForgedChain::write(spec).await;
        for name in [
            full_name("Sales", 1),
            diff_name("Sales", 1),
            log_name("Sales", 1),
        ] {
            let mut counters = Vec::new();
            let mut stripes = Vec::new();
            for file in forged.files(&name).await {
                let reader = FileReader::open(&file.path).expect("open");
                let counting = Arc::new(CountingReader::new(reader));
                counters.push((
                    Arc::clone(&counting),
                    file.first().clone(),
                    file.path.clone(),
                ));
                stripes.push(StripeInput {
                    reader: counting,
                    set: file.first().clone(),
                });
            }
            restore_ok(target.as_ref(), database, stripes).await;
            for (counter, set, path) in counters {
                let data = set.data_end_offset - set.start_offset;
                let read = counter.bytes_read();
                if compression == Compression::None {
                    assert!(
                        read >= data,
                        "{name}: read {read} of the set's {data} bytes"
                    );
                } else {
                    // Decoded bytes are counted by the target; the file must be read to its
                    // set's end, which for a single-set file is all of it but the end blocks.
                    let size = std::fs::metadata(&path).expect("size").len();
                    assert!(
                        read * 10 >= size * 9,
                        "{name}: read {read} of a {size}-byte file"
                    );
                }
            }
        }
    }
}

/// A forged full taken WITH CHECKSUM whose bytes `damage` changed (given the file's bytes and
/// its block layout), as a single stripe. The damage is done on disk, before the headers are
/// read, as a user's corrupted upload would be.
async fn damaged_full(
    name: &str,
    damage: impl FnOnce(&mut Vec<u8>, &[lrs_backup::BlockInfo]),
) -> (ForgedChain, Vec<StripeInput>) {
    let forged = ForgedChain::write(chain(name, 41, 0, 0)).await;
    let path = forged.path(&full_name(name, 1));
    let mut bytes = std::fs::read(&path).expect("read the forged full");
    let blocks = lrs_backup::mtf_layout(&bytes).expect("forged layout");
    damage(&mut bytes, &blocks);
    std::fs::write(&path, &bytes).expect("write the damaged full");
    let stripes = forged.stripes(&full_name(name, 1)).await;
    assert!(
        stripes[0].set.header.has_backup_checksums,
        "forged WITH CHECKSUM"
    );
    (forged, stripes)
}

/// Restore a forged full that `damage` changed into a database named `Sales`, and expect the
/// damage error `(kind, number)` whose text contains `needle`, with no database left behind.
async fn restore_damaged_full(
    target: &dyn Target,
    damage: impl FnOnce(&mut Vec<u8>, &[lrs_backup::BlockInfo]),
    (kind, number): (crate::Damage, u32),
    needle: &str,
) {
    let (_forged, stripes) = damaged_full("Sales", damage).await;
    let result = target.restore("Sales", stripes).await;
    assert_damaged(target, "Sales", result, kind, number, needle).await;
}

/// Offset and length of the first stream `tag` in `blocks`.
fn first_stream(blocks: &[lrs_backup::BlockInfo], tag: &[u8; 4]) -> (usize, u64) {
    let s = blocks
        .iter()
        .flat_map(|b| b.streams.iter())
        .find(|s| s.tag.0 == *tag)
        .unwrap_or_else(|| panic!("no {} stream", String::from_utf8_lossy(tag)));
    (usize::try_from(s.offset).expect("offset"), s.length)
}

/// Expect the damage error `number` of kind `damage` whose text contains `needle`, and no
/// database left behind.
async fn assert_damaged(
    target: &dyn Target,
    database: &str,
    result: Result<RestoreOutcome, TargetError>,
    kind: crate::Damage,
    number: u32,
    needle: &str,
) {
    match result {
        Err(TargetError::Damaged {
            damage,
            number: got,
            message,
        }) => {
            assert_eq!((damage, got), (kind, number), "{message}");
            assert!(
                message.contains(needle),
                "{message:?} should contain {needle:?}"
            );
        }
        other => panic!("expected Msg {number} ({kind:?}), got {other:?}"),
    }
    assert!(
        target
            .database(database)
            .await
            .expect("database()")
            .is_none(),
        "a failed full restore leaves no database"
    );
}

/// One flipped byte inside a data page of a full taken WITH CHECKSUM: 3183 naming the page and
/// the database, as SQL Server words it.
pub async fn a_corrupt_page_fails_the_restore_with_3183(target: Arc<dyn Target>) {
    restore_damaged_full(
        target.as_ref(),
        |bytes, blocks| {
            let (mqda, _) = first_stream(blocks, b"MQDA");
            // Page 7 of the data stream (file 1 page 7), a byte in its rows.
            bytes[mqda + 22 + 2 + 7 * 8192 + 500] ^= 0x20;
        },
        (crate::Damage::CorruptPage, 3183),
        "RESTORE detected an error on page (1:7) in database \"Sales\" as read from the backup \
         set.",
    )
    .await;
}

/// A damaged MTF block header inside the set (its checksum no longer matches): 3241.
pub async fn a_damaged_block_fails_the_restore_with_3241(target: Arc<dyn Target>) {
    restore_damaged_full(
        target.as_ref(),
        |bytes, blocks| {
            let msda = blocks
                .iter()
                .find(|b| b.tag.0 == *b"MSDA")
                .expect("MSDA block");
            bytes[usize::try_from(msda.offset).expect("offset") + 24] ^= 0x01;
        },
        (crate::Damage::DamagedSet, 3241),
        "is incorrectly formed. SQL Server cannot process this media family.",
    )
    .await;
}

/// The backup checksum (CSUM stream) after the data no longer matches it: 3189.
pub async fn a_broken_backup_checksum_fails_the_restore_with_3189(target: Arc<dyn Target>) {
    restore_damaged_full(
        target.as_ref(),
        |bytes, blocks| {
            let (csum, _) = first_stream(blocks, b"CSUM");
            bytes[csum + 22] ^= 0x80;
        },
        (crate::Damage::DamagedSet, 3189),
        "Damage to the backup set was detected.",
    )
    .await;
}

/// A backup written WITH MEDIAPASSWORD (real fixture) cannot be restored without the password,
/// which LRS cannot pass: 3279, and nothing is created.
pub async fn real_media_password_backup_is_refused_with_3279(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let stripes = real(&root, &["dataplat-appveyor-lab/backuppassword/passwd.bak"]).await;
    assert!(stripes[0].set.media.media_password);
    let result = target.restore("stripetest", stripes).await;
    assert_sql(result, 3279, "Access is denied due to a password failure");
    assert!(
        target
            .database("stripetest")
            .await
            .expect("database()")
            .is_none()
    );
}

/// A chain through a recovery fork: the log spanning the fork applies (it starts on the
/// database's fork) and moves the database to the new fork, so the next log applies too.
pub async fn logs_follow_the_database_across_a_recovery_fork(target: Arc<dyn Target>) {
    let spec = ChainSpec {
        fork_after: Some(2),
        ..chain("Sales", 12, 0, 4)
    };
    let chain = ForgedChain::write(spec).await;
    let t = target.as_ref();
    let log3 = chain.set(&log_name("Sales", 3)).await;
    assert_ne!(
        log3.header.first_recovery_fork_id,
        log3.header.recovery_fork_id
    );
    restore_ok(t, "Sales", chain.stripes(&full_name("Sales", 1)).await).await;
    for n in 1..=4 {
        restore_ok(t, "Sales", chain.stripes(&log_name("Sales", n)).await).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Checks on real SQL Server backups

/// The real-fixture root, or None (a skip by lrs_testkit's policy) when `LRS_REAL_FIXTURES` is
/// not set.
pub fn real_fixtures() -> Option<PathBuf> {
    lrs_testkit::real_fixtures()
}

/// The stripes (position 1) of the real backup files `paths`, relative to the fixture root.
async fn real(root: &Path, paths: &[&str]) -> Vec<StripeInput> {
    let mut out = Vec::new();
    for p in paths {
        out.push(BackupFile::open(&root.join(p)).await.stripe(1));
    }
    out
}

/// RestoreTimeClean (SQL Server 2008 R2): the full, the differential and the three logs after
/// it, in the order `docs/planner.md` gives; then recovery.
pub async fn real_restoretimeclean_restores_in_order(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let dir = "dataplat-appveyor-lab/RestoreTimeClean";
    let t = target.as_ref();
    for file in [
        "RestoreTimeClean.bak",
        "RestoreTimeClean2.bak",
        "RestoreTimeClean2_1.trn",
        "RestoreTimeClean2_2.trn",
        "RestoreTimeClean2_3.trn",
    ] {
        let stripes = real(&root, &[&format!("{dir}/{file}")]).await;
        restore_ok(t, "RestoreTimeClean", stripes).await;
    }
    assert_eq!(
        state(t, "RestoreTimeClean").await.1.map(|l| l.to_string()),
        Some("25000000022000001".to_string())
    );
    t.recover("RestoreTimeClean").await.expect("recover");
}

/// StopAt: the full and every log restore in order (the dbatools suite restores this folder
/// on a real server). Without `StopAt_21.trn`, `StopAt_23.trn` is 4305 beginning at LSN
/// 19000000021500001, the FirstLSN SQL Server printed for it.
pub async fn real_stopat_restores_and_a_missing_log_is_too_recent(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let dir = "dataplat-appveyor-lab/sql2008-backups/StopAt";
    let t = target.as_ref();
    for file in [
        "StopAt.bak",
        "StopAt_1.trn",
        "StopAt_2.trn",
        "StopAt_21.trn",
        "StopAt_23.trn",
    ] {
        restore_ok(t, "StopAt", real(&root, &[&format!("{dir}/{file}")]).await).await;
    }
    let mut redo = Lsn::default();
    for file in ["StopAt.bak", "StopAt_1.trn", "StopAt_2.trn"] {
        redo = restore_ok(
            t,
            "StopAtGap",
            real(&root, &[&format!("{dir}/{file}")]).await,
        )
        .await;
    }
    assert_eq!(redo.to_string(), "19000000019300001");
    let gap = t
        .restore(
            "StopAtGap",
            real(&root, &[&format!("{dir}/StopAt_23.trn")]).await,
        )
        .await;
    assert_sql(
        gap,
        4305,
        "The log in this backup set begins at LSN 19000000021500001, which is too recent to \
             apply to the database. An earlier log backup that includes LSN 19000000019300001 can be \
             restored.",
    );
}

/// RestoreTimeStripe: every set striped over two files (`Stripe1/X`, `Stripe2/Xa`); the latest
/// full and the logs after it restore with both members, and one member alone is 3132.
pub async fn real_striped_sets_restore(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let dir = "dataplat-appveyor-lab/sql2008-backups/RestoreTimeStripe";
    let t = target.as_ref();
    let pair = |a: &str, b: &str| [format!("{dir}/Stripe1/{a}"), format!("{dir}/Stripe2/{b}")];
    let full = pair("RestoreTimeStripe2.bak", "RestoreTimeStripe2a.bak");
    let alone = real(&root, &[&full[0]]).await;
    assert_sql(
        t.restore("StripeTest", alone).await,
        3132,
        "The media set has 2 media families but only 1 are provided. All members must be \
             provided.",
    );
    restore_ok(t, "StripeTest", real(&root, &[&full[0], &full[1]]).await).await;
    for (a, b) in [
        ("restoretime_21.trn", "restoretime_21a.trn"),
        ("RestoreTimeStripe_22.trn", "RestoreTimeStripe_22a.trn"),
        ("RestoreTimeStripe_23.trn", "RestoreTimeStripe_23a.trn"),
    ] {
        let files = pair(a, b);
        restore_ok(t, "StripeTest", real(&root, &[&files[0], &files[1]]).await).await;
    }
    t.recover("StripeTest").await.expect("recover");
}

/// DoubleDiffing: the full, then both differentials on it, one after the other (the dbatools
/// suite restores exactly this sequence on a real server).
pub async fn real_double_differential_restores(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let t = target.as_ref();
    for file in [
        "difftest-full.bak",
        "difftest-diff1.bak",
        "difftest-diff2.bak",
    ] {
        let path = format!("dataplat-appveyor-lab/DoubleDiffing/{file}");
        restore_ok(t, "doublediff", real(&root, &[&path]).await).await;
    }
}

/// dbareports: the full, the latest differential, the log that ends exactly at the
/// differential's LastLSN, and the empty log at that same LSN all restore.
pub async fn real_log_ending_at_the_redo_point_restores(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let dir = "dataplat-appveyor-lab/sql2008-backups/dbareports";
    let t = target.as_ref();
    let mut redo = Vec::new();
    for file in [
        "FULL/SQL2008_dbareports_FULL_20170518_041739.bak",
        "DIFF/SQL2008_dbareports_DIFF_20170518_041826.bak",
        "LOG/SQL2008_dbareports_LOG_20170518_041831.trn",
        "LOG/SQL2008_dbareports_LOG_20170518_041837.trn",
    ] {
        redo.push(
            restore_ok(
                t,
                "dbareports",
                real(&root, &[&format!("{dir}/{file}")]).await,
            )
            .await,
        );
    }
    assert_eq!(
        redo[1], redo[2],
        "the log ends exactly at the differential's LastLSN"
    );
    assert_eq!(redo[2], redo[3], "the empty log sits at that LSN");
}

/// northwind.bak: a compressed (XPRESS) full from SQL Server 2016 restores; its bytes are its
/// decoded set bytes, more than the file holds.
pub async fn real_compressed_full_restores(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let path = root.join("Guilderm-SC-701_ClassWork/northwind.bak");
    let file = BackupFile::open(&path).await;
    assert_eq!(file.first().header.compressed, 1);
    let stripes = vec![file.stripe(1)];
    let bytes = set_bytes(&stripes);
    let size = std::fs::metadata(&path).expect("size").len();
    assert!(
        bytes > size,
        "decoded {bytes} bytes from a {size}-byte file"
    );
    restore_ok(target.as_ref(), "Northwind", stripes).await;
}

/// The real dbareports full (SQL Server 2008 R2, WITH CHECKSUM) with one flipped byte in the
/// rows of its 30th data page: 3183 naming that page, as SQL Server reports it; the same file
/// unflipped restores.
pub async fn real_checksummed_full_with_a_corrupt_page_is_3183(target: Arc<dyn Target>) {
    let Some(root) = real_fixtures() else { return };
    let source = root.join(
            "dataplat-appveyor-lab/sql2008-backups/dbareports/FULL/SQL2008_dbareports_FULL_20170518_041739.bak",
        );
    let mut bytes = std::fs::read(&source).expect("read the real full");
    let blocks = lrs_backup::mtf_layout(&bytes).expect("layout");
    let (mqda, _) = first_stream(&blocks, b"MQDA");
    let page_at = mqda + 22 + 2 + 30 * 8192;
    let file = u16::from_le_bytes([bytes[page_at + 36], bytes[page_at + 37]]);
    let page = u32::from_le_bytes([
        bytes[page_at + 32],
        bytes[page_at + 33],
        bytes[page_at + 34],
        bytes[page_at + 35],
    ]);
    assert_eq!((bytes[page_at], file), (1, 1), "a formatted page of file 1");
    bytes[page_at + 4000] ^= 0x01;
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = dir.path().join("dbareports_FULL.bak");
    std::fs::write(&copy, &bytes).expect("write the damaged copy");
    let damaged = BackupFile::open(&copy).await;
    assert!(damaged.first().header.has_backup_checksums);
    let result = target.restore("dbareports", vec![damaged.stripe(1)]).await;
    assert_damaged(
        target.as_ref(),
        "dbareports",
        result,
        crate::Damage::CorruptPage,
        3183,
        &format!(
            "RESTORE detected an error on page (1:{page}) in database \"dbareports\" as read from \
                 the backup set."
        ),
    )
    .await;
    restore_ok(target.as_ref(), "dbareports", real(&root, &[
            "dataplat-appveyor-lab/sql2008-backups/dbareports/FULL/SQL2008_dbareports_FULL_20170518_041739.bak",
        ]).await)
        .await;
}
