//! The emulated SQL Server target: applies backup sets the way SQL Server's RESTORE does —
//! same checks, same error numbers and texts — without a SQL Server.
//!
//! * **Rules.** Each database has a redo point, a recovery fork and a differential base; a set
//!   that does not fit is refused as SQL Server refuses it (3154, 3159, 3118, 3117, 3136, 3120,
//!   4326, 4305, 4330: the rules, with the evidence for each, are documented in the source,
//!   `emulated/rules.rs`), and a striped set needs all its media families (3132 and the other
//!   device errors of `media.rs`).
//! * **Data.** Every byte of the set's data is read from each stripe in `chunk_size` pieces
//!   (compressed files are decoded), so restore throughput is real; an optional limit keeps each
//!   restore's average rate under a configured number of bytes per second.
//! * **Durability.** Every change is one line of an append-only JSON-lines log
//!   (`target-log.jsonl`), synced before the call returns: a set is applied exactly when its
//!   line is on disk. [`EmulatedTarget::open`] replays the log, dropping a torn final line left
//!   by a crash. [`read_log`] lets tests count what was applied.
//! * **Concurrency.** Restores into different databases run in parallel; appends are serialized
//!   by one writer. A second operation on a database that is being restored is refused with
//!   3101 (3702 for a drop), as SQL Server refuses it while the first holds the database.
//!
//! Decisions where SQL Server's behaviour is not certain (documented on the rules): recovering
//! an online database is an error (3153); recovering a missing one is 3118; a full over a
//! restoring database of the same family restarts the sequence; names are case-insensitive.

mod catalog;
mod consume;
mod log;
mod rules;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::future::BoxFuture;

use self::catalog::Catalog;
use self::log::LogWriter;
pub use self::log::{AppliedSet, BackupKind, LOG_FILE, LogEntry, LogOp, read_log};
use crate::media::{CheckedSet, check_stripes};
use crate::{RestoreOutcome, StripeInput, Target, TargetDatabase, TargetError, sql};

/// Default size of each read from a plain backup file: 1 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 1024 * 1024;

/// Largest database name SQL Server accepts (`sysname`).
const MAX_NAME_CHARS: usize = 128;

/// How the emulated target reads backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedOptions {
    /// Keep each restore's average read rate at or under this many bytes per second (realistic
    /// demos); `None` reads as fast as the source allows.
    pub throughput_bytes_per_sec: Option<u64>,
    /// Bytes per read from a plain backup file (at least 1; compressed files are read as their
    /// chunks decode).
    pub chunk_size: usize,
}

impl Default for EmulatedOptions {
    fn default() -> Self {
        EmulatedOptions {
            throughput_bytes_per_sec: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

/// The emulated SQL Server target over a directory that holds its log. Cheap to clone (clones
/// share the target).
#[derive(Debug, Clone)]
pub struct EmulatedTarget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    options: EmulatedOptions,
    /// The single log writer. Lock order: `writer` before `state`.
    writer: Mutex<LogWriter>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    catalog: Catalog,
    /// Databases (by catalog key) an operation holds until its log line is written.
    busy: HashSet<String>,
}

/// A lock that survives a panic elsewhere: the guarded data is only changed by code that does
/// not panic, so a poisoned lock still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds a database for one operation; dropping it (on any failure, or when the caller stops
/// waiting) releases the database.
#[derive(Debug)]
struct Busy {
    inner: Arc<Inner>,
    key: Option<String>,
}

impl Busy {
    /// Release while already holding the state lock.
    fn release(mut self, state: &mut State) {
        if let Some(key) = self.key.take() {
            state.busy.remove(&key);
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.inner.state).busy.remove(&key);
        }
    }
}

impl EmulatedTarget {
    /// Open the target kept in `dir` (created if needed): replay its log to rebuild the
    /// catalog, truncating a torn final line (a write cut by a crash); a bad line anywhere else
    /// is an error naming it. Only one target may have a directory open at a time.
    pub fn open(dir: &Path, options: EmulatedOptions) -> Result<EmulatedTarget, TargetError> {
        if options.chunk_size == 0 {
            return Err(TargetError::Io(
                "the emulated target's chunk_size must be at least 1 byte".into(),
            ));
        }
        let (writer, entries) = LogWriter::open(dir)?;
        let mut catalog = Catalog::default();
        for entry in &entries {
            catalog.apply(entry).map_err(|why| {
                TargetError::Io(format!(
                    "the target log {} contradicts itself at entry {}: {why}",
                    dir.join(LOG_FILE).display(),
                    entry.seq
                ))
            })?;
        }
        tracing::info!(
            dir = %dir.display(),
            entries = entries.len(),
            "emulated target opened"
        );
        Ok(EmulatedTarget {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                options,
                writer: Mutex::new(writer),
                state: Mutex::new(State {
                    catalog,
                    busy: HashSet::new(),
                }),
            }),
        })
    }

    /// The directory holding the target's log.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the target was opened with.
    pub fn options(&self) -> &EmulatedOptions {
        &self.inner.options
    }
}

/// SQL Server's `sysname` limits: 1 to 128 characters.
fn check_name(database: &str) -> Result<(), TargetError> {
    let chars = database.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(sql::invalid_database_name(database));
    }
    Ok(())
}

impl Inner {
    /// Hold `database` for an operation after `check` accepted its current state.
    fn reserve<T>(
        self: &Arc<Self>,
        database: &str,
        in_use: fn(&str) -> TargetError,
        check: impl FnOnce(&Catalog) -> Result<T, TargetError>,
    ) -> Result<(T, Busy), TargetError> {
        let key = catalog::key(database);
        let mut state = lock(&self.state);
        if state.busy.contains(&key) {
            return Err(in_use(database));
        }
        let value = check(&state.catalog)?;
        state.busy.insert(key.clone());
        Ok((
            value,
            Busy {
                inner: Arc::clone(self),
                key: Some(key),
            },
        ))
    }

    /// Write the change durably, then apply it to the catalog and release the database
    /// (blocking: runs on the blocking pool).
    fn commit(
        &self,
        op: LogOp,
        database: &str,
        set: Option<AppliedSet>,
        busy: Busy,
    ) -> Result<LogEntry, TargetError> {
        let mut writer = lock(&self.writer);
        let entry = writer.append(op, database, set)?;
        let mut state = lock(&self.state);
        let applied = state.catalog.apply(&entry);
        busy.release(&mut state);
        drop(state);
        drop(writer);
        applied.map_err(|why| {
            TargetError::Io(format!(
                "log entry {} was written but the catalog refused it: {why}",
                entry.seq
            ))
        })?;
        tracing::debug!(seq = entry.seq, op = ?entry.op, database, "target change committed");
        Ok(entry)
    }

    async fn restore(
        self: Arc<Self>,
        database: String,
        stripes: Vec<StripeInput>,
    ) -> Result<RestoreOutcome, TargetError> {
        check_name(&database)?;
        let CheckedSet { facts, stripes } = check_stripes(stripes)?;
        let (redo_after, busy) = self.reserve(
            &database,
            |_| sql::database_in_use(),
            |c| rules::check_restore(&database, c.get(&database), &facts),
        )?;
        let mut pacer = consume::Pacer::new(self.options.throughput_bytes_per_sec);
        let bytes = consume::consume(
            &database,
            &stripes,
            self.options.chunk_size,
            &mut pacer,
            &mut lrs_backup::NoSink,
        )
        .await?;
        if !pacer.slept().is_zero() {
            tracing::debug!(
                database,
                bytes,
                slept_ms = pacer.slept().as_millis(),
                "restore paced to the configured throughput"
            );
        }
        let set = AppliedSet {
            backup_set_guid: facts.guid,
            backup_type: facts.kind,
            first_lsn: facts.first_lsn,
            last_lsn: facts.last_lsn,
            checkpoint_lsn: facts.checkpoint_lsn,
            redo_lsn_after: redo_after,
            bytes,
            stripes: facts.family_count,
            family_guid: facts.family_guid,
            recovery_fork_id: facts.recovery_fork_id,
            first_recovery_fork_id: facts.first_recovery_fork_id,
            differential_base_guid: facts.differential_base_guid,
            source_database: facts.source_database,
        };
        // The commit runs to the end even if this future is dropped: the database stays held
        // until its line is written (or the write failed).
        let inner = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            inner.commit(LogOp::Restore, &database, Some(set), busy)
        })
        .await
        .map_err(|e| TargetError::Io(format!("the commit task failed: {e}")))??;
        Ok(RestoreOutcome {
            bytes,
            redo_lsn: redo_after,
        })
    }

    async fn recover(self: Arc<Self>, database: String) -> Result<(), TargetError> {
        check_name(&database)?;
        let ((), busy) = self.reserve(
            &database,
            |_| sql::database_in_use(),
            |c| rules::check_recover(&database, c.get(&database)),
        )?;
        let inner = Arc::clone(&self);
        tokio::task::spawn_blocking(move || inner.commit(LogOp::Recover, &database, None, busy))
            .await
            .map_err(|e| TargetError::Io(format!("the commit task failed: {e}")))??;
        Ok(())
    }

    async fn drop_database(self: Arc<Self>, database: String) -> Result<(), TargetError> {
        check_name(&database)?;
        let (exists, busy) = self.reserve(&database, sql::cannot_drop_in_use, |c| {
            Ok(c.get(&database).is_some())
        })?;
        if !exists {
            // Nothing to drop, nothing to log.
            return Ok(());
        }
        let inner = Arc::clone(&self);
        tokio::task::spawn_blocking(move || inner.commit(LogOp::Drop, &database, None, busy))
            .await
            .map_err(|e| TargetError::Io(format!("the commit task failed: {e}")))??;
        Ok(())
    }
}

impl Target for EmulatedTarget {
    fn restore(
        &self,
        database: &str,
        stripes: Vec<StripeInput>,
    ) -> BoxFuture<'_, Result<RestoreOutcome, TargetError>> {
        Box::pin(Arc::clone(&self.inner).restore(database.to_string(), stripes))
    }

    fn recover(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(Arc::clone(&self.inner).recover(database.to_string()))
    }

    fn drop_database(&self, database: &str) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(Arc::clone(&self.inner).drop_database(database.to_string()))
    }

    fn database(
        &self,
        database: &str,
    ) -> BoxFuture<'_, Result<Option<TargetDatabase>, TargetError>> {
        let view = lock(&self.inner.state).catalog.view(database);
        Box::pin(async move { Ok(view) })
    }
}
