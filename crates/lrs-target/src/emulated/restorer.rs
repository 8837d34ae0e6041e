//! The restore machinery both targets share: the catalog, the rules, the durable log, the
//! per-database hold and the verified read of every stripe, generic over where the data a
//! restore reads goes ([`DataFiles`]): nowhere ([`NoFiles`], the emulated target) or into a
//! database's files on disk (the files target).
//!
//! A restore runs: rules check → the data files strategy opens a sink → every byte is read and
//! verified into the sink → the strategy makes what it wrote durable ([`DataFiles::prepare`]) →
//! the log entry is appended and synced (the commit point) → the strategy installs what it
//! staged ([`DataFiles::install`]). Whatever an interrupted install leaves is finished by
//! [`DataFiles::settle`] before the next operation on the database and on open.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lrs_backup::{FileListEntry, NoSink, SetSink};

use super::catalog::{self, Catalog, DbRecord};
use super::log::{AppliedSet, Journal, LOG_FILE, LogEntry, LogOp, LogWriter};
use super::{EmulatedOptions, MAX_NAME_CHARS, consume, rules};
use crate::media::{CheckedSet, SetFacts, check_stripes};
use crate::{RestoreOutcome, StripeInput, TargetDatabase, TargetError, sql};

/// What a restore is about to apply, for the data files strategy.
#[derive(Debug)]
pub(crate) struct Begin<'a> {
    /// The database as the caller named it.
    pub(crate) database: &'a str,
    /// Its record before this restore (None when a full creates it).
    pub(crate) current: Option<&'a DbRecord>,
    /// The set's header facts.
    pub(crate) facts: &'a SetFacts,
    /// The set's FILELISTONLY rows (from family 1).
    pub(crate) files: &'a [FileListEntry],
}

/// What [`DataFiles::prepare`] made durable: what to install after the commit and what the
/// log entry records about the log file.
#[derive(Debug)]
pub(crate) struct Prepared<S> {
    /// Left to do once the entry is durable.
    pub(crate) staged: S,
    /// The log file that received the set's log stream (None: unchanged).
    pub(crate) log_file: Option<String>,
    /// Its length with this set applied (None: unchanged).
    pub(crate) log_file_len: Option<u64>,
}

/// Where a target puts the data it reads.
///
/// Where each method runs: `settle_all` in `open`; `settle`, `begin`, `discard` and the sink's
/// writes on the restore's task (metadata changes and page-cache writes, no syncs); `prepare`,
/// `abandon`, `install` and `drop_database`, which sync, on the blocking pool.
pub(crate) trait DataFiles: fmt::Debug + Send + Sync + Sized + 'static {
    /// What the target is called in logs.
    const NAME: &'static str;
    /// Receives one restore's verified pages and log.
    type Sink: SetSink + Send + 'static;
    /// What a prepared restore leaves to do after its entry is durable.
    type Staged: Send + 'static;

    /// On open, with the catalog rebuilt from the log: bring every database's files in line
    /// with it (finish interrupted installs, drop what was never committed).
    fn settle_all(&self, catalog: &Catalog) -> Result<(), TargetError>;

    /// Before an operation on `database` (`current`: its record): finish what an interrupted
    /// earlier operation left.
    fn settle(&self, database: &str, current: Option<&DbRecord>) -> Result<(), TargetError>;

    /// Open the sink for one restore.
    fn begin(&self, restore: &Begin<'_>) -> Result<Self::Sink, TargetError>;

    /// The restore failed before it was prepared: throw away what the sink wrote.
    fn discard(&self, sink: Self::Sink);

    /// The set was read and verified: make what the sink wrote durable (before the entry).
    fn prepare(&self, sink: Self::Sink) -> Result<Prepared<Self::Staged>, TargetError>;

    /// The entry could not be written: throw away what was prepared.
    fn abandon(&self, staged: Self::Staged);

    /// The entry is durable: put what was prepared in place.
    fn install(&self, staged: Self::Staged) -> Result<(), TargetError>;

    /// The drop entry is durable: remove the database's files.
    fn drop_database(&self, database: &str) -> Result<(), TargetError>;
}

/// The emulated target's strategy: data is read and verified, and kept nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NoFiles;

impl DataFiles for NoFiles {
    const NAME: &'static str = "emulated";
    type Sink = NoSink;
    type Staged = ();

    fn settle_all(&self, _catalog: &Catalog) -> Result<(), TargetError> {
        Ok(())
    }

    fn settle(&self, _database: &str, _current: Option<&DbRecord>) -> Result<(), TargetError> {
        Ok(())
    }

    fn begin(&self, _restore: &Begin<'_>) -> Result<NoSink, TargetError> {
        Ok(NoSink)
    }

    fn discard(&self, _sink: NoSink) {}

    fn prepare(&self, _sink: NoSink) -> Result<Prepared<()>, TargetError> {
        Ok(Prepared {
            staged: (),
            log_file: None,
            log_file_len: None,
        })
    }

    fn abandon(&self, _staged: ()) {}

    fn install(&self, _staged: ()) -> Result<(), TargetError> {
        Ok(())
    }

    fn drop_database(&self, _database: &str) -> Result<(), TargetError> {
        Ok(())
    }
}

/// A target over a directory: its log, its catalog and its data files strategy.
#[derive(Debug)]
pub(crate) struct Restorer<F: DataFiles> {
    dir: PathBuf,
    options: EmulatedOptions,
    files: F,
    /// The journal (the exactly-once record). Lock order: `journal` before `state`.
    journal: Mutex<Box<dyn Journal>>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    catalog: Catalog,
    /// Number of the last journal entry applied to the catalog.
    seq: u64,
    /// Databases (by catalog key) an operation holds until its log line is written and its
    /// files are installed.
    busy: HashSet<String>,
}

/// Attempts to append an entry while other nodes keep taking the next number.
const MAX_APPEND_ATTEMPTS: usize = 100;

/// A lock that survives a panic elsewhere: the guarded data is only changed by code that does
/// not panic, so a poisoned lock still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds a database for one operation; dropping it (on any failure, or when the caller stops
/// waiting) releases the database.
#[derive(Debug)]
struct Busy<F: DataFiles> {
    inner: Arc<Restorer<F>>,
    key: Option<String>,
}

impl<F: DataFiles> Drop for Busy<F> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.inner.state).busy.remove(&key);
        }
    }
}

/// What a commit does once its entry is durable.
enum After<S> {
    Nothing,
    Install(S),
    DropFiles,
}

/// SQL Server's `sysname` limits: 1 to 128 characters.
fn check_name(database: &str) -> Result<(), TargetError> {
    let chars = database.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(sql::invalid_database_name(database));
    }
    Ok(())
}

fn task_failed(e: &tokio::task::JoinError) -> TargetError {
    TargetError::Io(format!("the commit task failed: {e}"))
}

impl<F: DataFiles> Restorer<F> {
    /// Open the target kept in `dir` (created if needed): replay its log to rebuild the
    /// catalog, truncating a torn final line (a write cut by a crash), then let `files`
    /// settle. A bad line anywhere else is an error naming it. Only one target may have a
    /// directory open at a time.
    pub(crate) fn open(
        dir: &Path,
        options: EmulatedOptions,
        files: F,
    ) -> Result<Arc<Restorer<F>>, TargetError> {
        let journal = LogWriter::journal(dir)?;
        Self::open_with(dir, options, files, Box::new(journal))
    }

    /// [`Restorer::open`] with another journal (a shared one).
    pub(crate) fn open_with(
        dir: &Path,
        options: EmulatedOptions,
        files: F,
        mut journal: Box<dyn Journal>,
    ) -> Result<Arc<Restorer<F>>, TargetError> {
        if options.chunk_size == 0 {
            return Err(TargetError::Io(format!(
                "the {} target's chunk_size must be at least 1 byte",
                F::NAME
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| TargetError::Io(format!("creating {}: {e}", dir.display())))?;
        let entries = journal.replay()?;
        let seq = entries.last().map_or(0, |e| e.seq);
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
        files.settle_all(&catalog)?;
        tracing::info!(
            dir = %dir.display(),
            entries = entries.len(),
            target = F::NAME,
            "target opened"
        );
        Ok(Arc::new(Restorer {
            dir: dir.to_path_buf(),
            options,
            files,
            journal: Mutex::new(journal),
            state: Mutex::new(State {
                catalog,
                seq,
                busy: HashSet::new(),
            }),
        }))
    }

    /// The directory holding the target's log.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the target was opened with.
    pub(crate) fn options(&self) -> &EmulatedOptions {
        &self.options
    }

    /// The data files strategy.
    pub(crate) fn files(&self) -> &F {
        &self.files
    }

    /// The public view of `database` (after what other nodes recorded).
    pub(crate) fn view(&self, database: &str) -> Result<Option<TargetDatabase>, TargetError> {
        self.catch_up()?;
        Ok(lock(&self.state).catalog.view(database))
    }

    /// Apply what other writers of a shared journal recorded since this node last looked.
    fn catch_up(&self) -> Result<(), TargetError> {
        let mut journal = lock(&self.journal);
        Self::catch_up_with(&mut **journal, &self.state)
    }

    fn catch_up_with(journal: &mut dyn Journal, state: &Mutex<State>) -> Result<(), TargetError> {
        let after = lock(state).seq;
        let newer = journal.newer(after)?;
        let mut state = lock(state);
        for entry in newer {
            if entry.seq <= state.seq {
                continue;
            }
            state.catalog.apply(&entry).map_err(|why| {
                TargetError::Io(format!(
                    "shared journal entry {} contradicts the catalog: {why}",
                    entry.seq
                ))
            })?;
            state.seq = entry.seq;
        }
        Ok(())
    }

    /// Hold `database` for an operation after `check` accepted its current state.
    fn reserve<T>(
        self: &Arc<Self>,
        database: &str,
        in_use: fn(&str) -> TargetError,
        check: impl FnOnce(&Catalog) -> Result<T, TargetError>,
    ) -> Result<(T, Busy<F>), TargetError> {
        self.catch_up()?;
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

    /// Write the change durably, apply it to the catalog, do what follows it on disk, and
    /// release the database (blocking: runs on the blocking pool).
    fn commit(
        &self,
        op: LogOp,
        database: &str,
        set: Option<AppliedSet>,
        after: After<F::Staged>,
        busy: Busy<F>,
    ) -> Result<LogEntry, TargetError> {
        let mut journal = lock(&self.journal);
        // Number the entry after the last one applied; when another node took that number,
        // apply its entries and take the next (its changes are to other databases: a job's
        // lease keeps one node per database).
        let mut appended = None;
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let entry = LogEntry {
                seq: lock(&self.state).seq + 1,
                at: chrono::Utc::now(),
                op,
                database: database.to_string(),
                set: set.clone(),
            };
            // What another node recorded meanwhile may have changed the database (a drop):
            // an entry the catalog would refuse is never written, or no node could replay the
            // journal past it.
            let mut probe = lock(&self.state).catalog.clone();
            if let Err(why) = probe.apply(&entry) {
                drop(journal);
                if let After::Install(staged) = after {
                    self.files.abandon(staged);
                }
                return Err(TargetError::Io(format!(
                    "{database} changed on another node while this operation ran: {why}"
                )));
            }
            let result = journal.append(&entry).and_then(|taken| {
                if taken {
                    Ok(true)
                } else {
                    Self::catch_up_with(&mut **journal, &self.state).map(|()| false)
                }
            });
            match result {
                Ok(true) => {
                    appended = Some(entry);
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    drop(journal);
                    if let After::Install(staged) = after {
                        self.files.abandon(staged);
                    }
                    return Err(e);
                }
            }
        }
        let Some(entry) = appended else {
            drop(journal);
            if let After::Install(staged) = after {
                self.files.abandon(staged);
            }
            return Err(TargetError::Io(format!(
                "the journal's next number was taken {MAX_APPEND_ATTEMPTS} times in a row"
            )));
        };
        let applied = {
            let mut state = lock(&self.state);
            state.seq = entry.seq;
            state.catalog.apply(&entry)
        };
        drop(journal);
        applied.map_err(|why| {
            TargetError::Io(format!(
                "log entry {} was written but the catalog refused it: {why}",
                entry.seq
            ))
        })?;
        // The change is committed: a failure from here on is finished by the next settle
        // (before the next operation on the database, or on open), so the database stays
        // held until it is done or has failed.
        match after {
            After::Nothing => {}
            After::Install(staged) => self.files.install(staged)?,
            After::DropFiles => self.files.drop_database(database)?,
        }
        drop(busy);
        tracing::debug!(seq = entry.seq, op = ?entry.op, database, "target change committed");
        Ok(entry)
    }

    pub(crate) async fn restore(
        self: Arc<Self>,
        database: String,
        stripes: Vec<StripeInput>,
    ) -> Result<RestoreOutcome, TargetError> {
        check_name(&database)?;
        let CheckedSet { facts, stripes } = check_stripes(stripes)?;
        let ((redo_after, current), busy) = self.reserve(
            &database,
            |_| sql::database_in_use(),
            |c| {
                let current = c.get(&database);
                let redo = rules::check_restore(&database, current, &facts)?;
                Ok((redo, current.cloned()))
            },
        )?;
        self.files.settle(&database, current.as_ref())?;
        let no_files: &[FileListEntry] = &[];
        let mut sink = self.files.begin(&Begin {
            database: &database,
            current: current.as_ref(),
            facts: &facts,
            files: stripes.first().map_or(no_files, |s| s.set.files.as_slice()),
        })?;
        let mut pacer = consume::Pacer::new(self.options.throughput_bytes_per_sec);
        let consumed = consume::consume(
            &database,
            &stripes,
            self.options.chunk_size,
            self.options.no_checksum,
            &mut pacer,
            &mut sink,
        )
        .await;
        let bytes = match consumed {
            Ok(bytes) => bytes,
            Err(e) => {
                self.files.discard(sink);
                return Err(e);
            }
        };
        if !pacer.slept().is_zero() {
            tracing::debug!(
                database,
                bytes,
                slept_ms = pacer.slept().as_millis(),
                "restore paced to the configured throughput"
            );
        }
        let mut set = AppliedSet {
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
            log_file: None,
            log_file_len: None,
        };
        // Preparing, the commit and the install run to the end even if this future is
        // dropped: the database stays held until its line is written (or the write failed).
        let inner = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let prepared = inner.files.prepare(sink)?;
            set.log_file = prepared.log_file;
            set.log_file_len = prepared.log_file_len;
            inner.commit(
                LogOp::Restore,
                &database,
                Some(set),
                After::Install(prepared.staged),
                busy,
            )
        })
        .await
        .map_err(|e| task_failed(&e))??;
        Ok(RestoreOutcome {
            bytes,
            redo_lsn: redo_after,
        })
    }

    pub(crate) async fn recover(self: Arc<Self>, database: String) -> Result<(), TargetError> {
        check_name(&database)?;
        let (current, busy) = self.reserve(
            &database,
            |_| sql::database_in_use(),
            |c| {
                let current = c.get(&database);
                rules::check_recover(&database, current)?;
                Ok(current.cloned())
            },
        )?;
        self.files.settle(&database, current.as_ref())?;
        let inner = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            inner.commit(LogOp::Recover, &database, None, After::Nothing, busy)
        })
        .await
        .map_err(|e| task_failed(&e))??;
        Ok(())
    }

    pub(crate) async fn drop_database(
        self: Arc<Self>,
        database: String,
    ) -> Result<(), TargetError> {
        check_name(&database)?;
        let (exists, busy) = self.reserve(&database, sql::cannot_drop_in_use, |c| {
            Ok(c.get(&database).is_some())
        })?;
        if !exists {
            // Nothing to drop, nothing to log.
            return Ok(());
        }
        let inner = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            inner.commit(LogOp::Drop, &database, None, After::DropFiles, busy)
        })
        .await
        .map_err(|e| task_failed(&e))??;
        Ok(())
    }
}
