//! The files target's [`DataFiles`] strategy: where each restore's pages and log go on disk,
//! how they are made durable before the log entry, installed after it, and settled after a
//! crash.
//!
//! Layout under the target's folder:
//!
//! * `databases/<folder>/`: a database's files (see [`super::names`]).
//! * `staging/<folder>.full-<GUID>.partial/`: a full being written; renamed to
//!   `staging/<folder>.full-<GUID>/` once every file is synced (it is then complete).
//! * `staging/<folder>.diff-<GUID>.partial`: a differential's pages being journaled (a JSON
//!   header line naming the data files, then one record per page: file id and page number as
//!   little-endian u32, then the 8 KiB page); renamed to `staging/<folder>.diff-<GUID>` once
//!   synced.
//! * `staging/<folder>.old/`: a database's previous files while a full replaces them.
//!
//! A staged full or differential is installed after its entry is durable. A complete staging
//! whose GUID is the database's last applied set is installed again by [`DiskFiles::settle`]
//! (installing is idempotent: a full's files, or a differential's pages, are the same every
//! time); any other staging was never committed and is removed. Log streams are written to the
//! end of the live log file, past its committed length, which the entry records: anything past
//! that length was never committed and is cut off before the next restore and on open.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use lrs_backup::{Guid, PAGE_SIZE, SetSink};
use serde::{Deserialize, Serialize};

use super::names::{NamedFile, database_folder_name, is_safe_file_name, name_files};
use super::{DATABASES_DIR, STAGING_DIR};
use crate::TargetError;
use crate::emulated::BackupKind;
use crate::emulated::catalog::{Catalog, DbRecord};
use crate::emulated::restorer::{Begin, DataFiles, Prepared};

/// The log file's name when a set lists no log file.
const FALLBACK_LOG_FILE: &str = "log.ldf";
/// Staging name kinds.
const FULL: &str = "full";
const DIFF: &str = "diff";
/// Suffix of a staging that is still being written.
const PARTIAL: &str = ".partial";
/// Longest journal header accepted when reading one back (it names a set's files).
const MAX_JOURNAL_HEADER: u64 = 1 << 20;
/// Bytes of a journal page record before the page: file id and page number.
const RECORD_HEAD: usize = 8;
/// Page size in bytes, as a file offset unit.
const PAGE_BYTES: u64 = PAGE_SIZE as u64;

fn io_error(what: &str, path: &Path, e: io::Error) -> TargetError {
    TargetError::Io(format!("{what} {}: {e}", path.display()))
}

/// Make a directory's entries (creations, renames, removals) durable. Directories cannot be
/// opened for syncing on every platform; where they can, this is what makes a rename survive.
fn sync_dir(path: &Path) -> Result<(), TargetError> {
    #[cfg(unix)]
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing", path, e))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Remove a file or a folder with everything in it; a missing one is not an error.
fn remove(path: &Path) -> Result<(), TargetError> {
    let removed = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("removing", path, e)),
        _ => Ok(()),
    }
}

fn exists(path: &Path) -> Result<bool, TargetError> {
    path.try_exists()
        .map_err(|e| io_error("looking for", path, e))
}

fn rename(from: &Path, to: &Path) -> Result<(), TargetError> {
    fs::rename(from, to).map_err(|e| {
        TargetError::Io(format!(
            "renaming {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

fn create(path: &Path) -> Result<File, TargetError> {
    File::create(path).map_err(|e| io_error("creating", path, e))
}

fn write_at(file: &mut File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// Cut `path` back to `len` bytes if it is longer (a log stream that never committed).
fn truncate_log(path: &Path, len: u64) -> Result<(), TargetError> {
    let file = match OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("opening", path, e)),
    };
    let actual = file
        .metadata()
        .map_err(|e| io_error("reading the size of", path, e))?
        .len();
    if actual > len {
        tracing::info!(
            log_file = %path.display(),
            committed = len,
            found = actual,
            "cutting a log stream that never committed off the log file"
        );
        file.set_len(len)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("truncating", path, e))?;
    }
    Ok(())
}

/// Read exactly `buf.len()` bytes; `Ok(false)` at a clean end of file before the first byte.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the journal ends inside a page record",
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The first line of a differential's journal: the data files its pages go to.
#[derive(Debug, Serialize, Deserialize)]
struct JournalHeader {
    files: Vec<JournalFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalFile {
    id: u32,
    name: String,
    size: u64,
}

#[cfg(feature = "testing")]
use super::CrashPoint;

/// The files target's strategy over `databases/` and `staging/` in the target's folder.
#[derive(Debug)]
pub(crate) struct DiskFiles {
    databases: PathBuf,
    staging: PathBuf,
    #[cfg(feature = "testing")]
    crash: std::sync::Mutex<Option<CrashPoint>>,
}

/// Bytes of consecutive pages gathered before one write (a full's pages arrive in order).
const WRITE_RUN: usize = 1 << 20;

/// A database file being written.
#[derive(Debug)]
struct OpenFile {
    file_id: u32,
    path: PathBuf,
    file: File,
    /// Consecutive pages not written yet, and the file offset of the first.
    run: Vec<u8>,
    run_at: u64,
}

impl OpenFile {
    fn new(file_id: u32, path: PathBuf, file: File) -> Self {
        OpenFile {
            file_id,
            path,
            file,
            run: Vec::new(),
            run_at: 0,
        }
    }

    /// Write `page` at page `number`, gathering consecutive pages into one write: one write
    /// call per page made the files target half as fast as `cp`.
    fn put(&mut self, number: u32, page: &[u8; PAGE_SIZE]) -> Result<(), TargetError> {
        let at = u64::from(number) * PAGE_BYTES;
        let follows = self.run_at + self.run.len() as u64 == at;
        if !self.run.is_empty() && (!follows || self.run.len() >= WRITE_RUN) {
            self.flush()?;
        }
        if self.run.is_empty() {
            self.run_at = at;
            self.run.reserve(WRITE_RUN);
        }
        self.run.extend_from_slice(page);
        Ok(())
    }

    /// Write the gathered pages.
    fn flush(&mut self) -> Result<(), TargetError> {
        if !self.run.is_empty() {
            write_at(&mut self.file, self.run_at, &self.run)
                .map_err(|e| io_error("writing pages to", &self.path, e))?;
            self.run.clear();
        }
        Ok(())
    }

    /// Write what is gathered and sync the file.
    fn flush_and_sync(&mut self) -> Result<(), TargetError> {
        self.flush()?;
        self.file
            .sync_all()
            .map_err(|e| io_error("syncing", &self.path, e))
    }
}

/// Where a restore's pages go.
#[derive(Debug)]
enum Pages {
    /// A full: straight into the staged copies of the data files.
    Files(Vec<OpenFile>),
    /// A differential: records in the staging journal.
    Journal {
        path: PathBuf,
        out: BufWriter<File>,
        ids: Vec<u32>,
    },
    /// A log backup (which carries no pages), or a set restored again right after itself.
    Nowhere,
}

/// The log file a restore appends its log stream to.
#[derive(Debug)]
struct LogOut {
    name: String,
    path: PathBuf,
    file: File,
    /// Committed length when the restore began (where its stream starts).
    base: u64,
    written: u64,
}

/// What installing a committed restore does.
#[derive(Debug)]
enum Install {
    Nothing,
    Full { folder: String, guid: Guid },
    Diff { folder: String, guid: Guid },
}

/// How to undo what a restore wrote before it committed.
#[derive(Debug, Default)]
struct Cleanup {
    remove: Vec<PathBuf>,
    /// The live log file and its committed length.
    log: Option<(PathBuf, u64)>,
}

impl Cleanup {
    /// Best effort: what is left is removed by the next settle.
    fn run(&self) {
        for path in &self.remove {
            if let Err(e) = remove(path) {
                tracing::warn!(error = %e, "could not remove an uncommitted staging");
            }
        }
        if let Some((path, len)) = &self.log
            && let Err(e) = truncate_log(path, *len)
        {
            tracing::warn!(error = %e, "could not cut an uncommitted log stream");
        }
    }
}

/// The sink of one restore into the files target.
#[derive(Debug)]
pub(crate) struct DiskSink {
    pages: Pages,
    log: Option<LogOut>,
    /// The first write error: the sink cannot fail a write itself, so the restore reports it
    /// when it prepares.
    error: Option<TargetError>,
    /// Pages of a file id that is not a data file of the set (only possible without
    /// checksums: WITH CHECKSUM sets are verified to hold no such page), kept nowhere.
    stray_pages: u64,
    install: Install,
    cleanup: Cleanup,
}

impl DiskSink {
    fn new() -> Self {
        DiskSink {
            pages: Pages::Nowhere,
            log: None,
            error: None,
            stray_pages: 0,
            install: Install::Nothing,
            cleanup: Cleanup::default(),
        }
    }
}

impl SetSink for DiskSink {
    fn page(&mut self, file_id: u32, page_number: u32, page: &[u8; PAGE_SIZE]) {
        if self.error.is_some() {
            return;
        }
        let written = match &mut self.pages {
            Pages::Files(files) => match files.iter_mut().find(|f| f.file_id == file_id) {
                Some(f) => f.put(page_number, page),
                None => {
                    self.stray_pages += 1;
                    Ok(())
                }
            },
            Pages::Journal { path, out, ids } => {
                if ids.contains(&file_id) {
                    out.write_all(&file_id.to_le_bytes())
                        .and_then(|()| out.write_all(&page_number.to_le_bytes()))
                        .and_then(|()| out.write_all(page))
                        .map_err(|e| io_error("writing to", path, e))
                } else {
                    self.stray_pages += 1;
                    Ok(())
                }
            }
            Pages::Nowhere => Ok(()),
        };
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    fn log(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(log) = &mut self.log {
            match log.file.write_all(bytes) {
                Ok(()) => log.written += bytes.len() as u64,
                Err(e) => self.error = Some(io_error("appending to", &log.path, e)),
            }
        }
    }
}

/// A restore made durable, waiting for its entry.
#[derive(Debug)]
pub(crate) struct Staged {
    install: Install,
    cleanup: Cleanup,
}

impl DiskFiles {
    /// The strategy for the target in `dir` (folders are created when it settles).
    pub(crate) fn new(dir: &Path) -> Self {
        DiskFiles {
            databases: dir.join(DATABASES_DIR),
            staging: dir.join(STAGING_DIR),
            #[cfg(feature = "testing")]
            crash: std::sync::Mutex::new(None),
        }
    }

    /// The folder of `database`'s files.
    pub(crate) fn database_dir(&self, database: &str) -> PathBuf {
        self.databases.join(database_folder_name(database))
    }

    /// Make the next restore stop at `at` as if the process died there.
    #[cfg(feature = "testing")]
    pub(crate) fn crash_next(&self, at: CrashPoint) {
        *self
            .crash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }

    /// Fail (leaving everything on disk as it is) when a crash was asked for at `point`.
    #[cfg(feature = "testing")]
    fn simulate(&self, point: CrashPoint) -> Result<(), TargetError> {
        let mut crash = self
            .crash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *crash == Some(point) {
            *crash = None;
            return Err(TargetError::Io(format!("simulated crash ({point:?})")));
        }
        Ok(())
    }

    fn staged(&self, folder: &str, kind: &str, guid: Guid, partial: bool) -> PathBuf {
        let suffix = if partial { PARTIAL } else { "" };
        self.staging.join(format!("{folder}.{kind}-{guid}{suffix}"))
    }

    fn old(&self, folder: &str) -> PathBuf {
        self.staging.join(format!("{folder}.old"))
    }

    /// Open the database's log file at its committed length (a longer file holds a stream
    /// that never committed: it is cut off).
    fn open_log(
        &self,
        folder: &str,
        current: Option<&DbRecord>,
        named: &[NamedFile],
    ) -> Result<LogOut, TargetError> {
        let base = current.map_or(0, |c| c.log_len);
        let name = current
            .and_then(|c| c.log_file.clone())
            .or_else(|| named.iter().find(|f| f.is_log).map(|f| f.name.clone()))
            .unwrap_or_else(|| FALLBACK_LOG_FILE.to_string());
        if !is_safe_file_name(&name) {
            return Err(TargetError::Io(format!(
                "the target log names the log file {name:?} of database folder {folder}, which \
                 is not a name this target writes"
            )));
        }
        let path = self.databases.join(folder).join(&name);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error("opening", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| io_error("reading the size of", &path, e))?
            .len();
        if len < base {
            return Err(TargetError::Io(format!(
                "{} holds {len} bytes, fewer than the {base} its restores committed",
                path.display()
            )));
        }
        file.set_len(base)
            .and_then(|()| file.seek(SeekFrom::Start(base)).map(drop))
            .map_err(|e| io_error("positioning", &path, e))?;
        Ok(LogOut {
            name,
            path,
            file,
            base,
            written: 0,
        })
    }

    /// Fill `sink` for the restore `b` (a failure leaves what it made in `sink.cleanup`).
    fn fill(&self, sink: &mut DiskSink, b: &Begin<'_>) -> Result<(), TargetError> {
        let folder = database_folder_name(b.database);
        let guid = b.facts.guid;
        let named = name_files(b.files);
        match b.facts.kind {
            BackupKind::Full => {
                let partial = self.staged(&folder, FULL, guid, true);
                let ready = self.staged(&folder, FULL, guid, false);
                // Leftovers of an attempt that failed or was cut short.
                remove(&partial)?;
                remove(&ready)?;
                sink.cleanup.remove = vec![partial.clone(), ready];
                fs::create_dir_all(&partial).map_err(|e| io_error("creating", &partial, e))?;
                let mut files = Vec::new();
                for f in &named {
                    let path = partial.join(&f.name);
                    let file = create(&path)?;
                    if f.is_log {
                        // Log streams go to the first log file; others stay empty.
                        if sink.log.is_none() {
                            sink.log = Some(LogOut {
                                name: f.name.clone(),
                                path,
                                file,
                                base: 0,
                                written: 0,
                            });
                        }
                    } else {
                        file.set_len(f.size)
                            .map_err(|e| io_error("sizing", &path, e))?;
                        files.push(OpenFile::new(f.file_id, path, file));
                    }
                }
                if sink.log.is_none() {
                    let path = partial.join(FALLBACK_LOG_FILE);
                    sink.log = Some(LogOut {
                        name: FALLBACK_LOG_FILE.to_string(),
                        file: create(&path)?,
                        path,
                        base: 0,
                        written: 0,
                    });
                }
                sink.pages = Pages::Files(files);
                sink.install = Install::Full { folder, guid };
            }
            BackupKind::Differential => {
                let partial = self.staged(&folder, DIFF, guid, true);
                let ready = self.staged(&folder, DIFF, guid, false);
                remove(&partial)?;
                remove(&ready)?;
                sink.cleanup.remove = vec![partial.clone(), ready];
                let data: Vec<&NamedFile> = named.iter().filter(|f| !f.is_log).collect();
                let header = JournalHeader {
                    files: data
                        .iter()
                        .map(|f| JournalFile {
                            id: f.file_id,
                            name: f.name.clone(),
                            size: f.size,
                        })
                        .collect(),
                };
                let mut out = BufWriter::with_capacity(1 << 20, create(&partial)?);
                serde_json::to_writer(&mut out, &header)
                    .map_err(io::Error::other)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| io_error("writing", &partial, e))?;
                sink.pages = Pages::Journal {
                    path: partial,
                    out,
                    ids: data.iter().map(|f| f.file_id).collect(),
                };
                let log = self.open_log(&folder, b.current, &named)?;
                sink.cleanup.log = Some((log.path.clone(), log.base));
                sink.log = Some(log);
                sink.install = Install::Diff { folder, guid };
            }
            BackupKind::Log => {
                let log = self.open_log(&folder, b.current, &named)?;
                sink.cleanup.log = Some((log.path.clone(), log.base));
                sink.log = Some(log);
            }
        }
        Ok(())
    }

    /// Sync what the sink wrote and mark a staging complete; return the log file's name and
    /// committed-to-be length.
    fn make_durable(
        &self,
        pages: Pages,
        log: Option<LogOut>,
        install: &Install,
    ) -> Result<(Option<String>, Option<u64>), TargetError> {
        match pages {
            Pages::Files(mut files) => {
                for f in &mut files {
                    f.flush_and_sync()?;
                }
            }
            Pages::Journal { path, out, .. } => {
                let file = out
                    .into_inner()
                    .map_err(|e| io_error("writing", &path, e.into_error()))?;
                file.sync_all().map_err(|e| io_error("syncing", &path, e))?;
            }
            Pages::Nowhere => {}
        }
        let log_entry = match log {
            Some(log) => {
                log.file
                    .sync_all()
                    .map_err(|e| io_error("syncing", &log.path, e))?;
                (Some(log.name), Some(log.base + log.written))
            }
            None => (None, None),
        };
        match install {
            Install::Nothing => {}
            Install::Full { folder, guid } => {
                let partial = self.staged(folder, FULL, *guid, true);
                sync_dir(&partial)?;
                rename(&partial, &self.staged(folder, FULL, *guid, false))?;
                sync_dir(&self.staging)?;
            }
            Install::Diff { folder, guid } => {
                rename(
                    &self.staged(folder, DIFF, *guid, true),
                    &self.staged(folder, DIFF, *guid, false),
                )?;
                sync_dir(&self.staging)?;
            }
        }
        Ok(log_entry)
    }

    /// Put a committed full's staged folder in place of the database's folder.
    fn install_full(&self, folder: &str, guid: Guid) -> Result<(), TargetError> {
        let ready = self.staged(folder, FULL, guid, false);
        let live = self.databases.join(folder);
        let old = self.old(folder);
        // An `old` left by an interrupted install is the database's files before this full.
        remove(&old)?;
        if exists(&live)? {
            rename(&live, &old)?;
        }
        rename(&ready, &live)?;
        sync_dir(&self.databases)?;
        sync_dir(&self.staging)?;
        remove(&old)?;
        tracing::debug!(folder = %live.display(), "full backup's files installed");
        Ok(())
    }

    /// Write a committed differential's journaled pages into the database's files.
    fn install_diff(&self, folder: &str, guid: Guid) -> Result<(), TargetError> {
        let path = self.staged(folder, DIFF, guid, false);
        let live = self.databases.join(folder);
        let corrupt = |why: &str| {
            TargetError::Io(format!(
                "the differential journal {} is corrupt: {why}",
                path.display()
            ))
        };
        let file = File::open(&path).map_err(|e| io_error("opening", &path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_JOURNAL_HEADER)
            .read_until(b'\n', &mut line)
            .map_err(|e| io_error("reading", &path, e))?;
        if line.last() != Some(&b'\n') {
            return Err(corrupt("its header line is incomplete"));
        }
        let header: JournalHeader =
            serde_json::from_slice(&line).map_err(|e| corrupt(&e.to_string()))?;
        let mut files = Vec::with_capacity(header.files.len());
        for f in header.files {
            if !is_safe_file_name(&f.name) {
                return Err(corrupt(&format!("it names the file {:?}", f.name)));
            }
            let path = live.join(&f.name);
            // A file the full did not have (added to the database since) is created.
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io_error("opening", &path, e))?;
            let len = file
                .metadata()
                .map_err(|e| io_error("reading the size of", &path, e))?
                .len();
            if len < f.size {
                file.set_len(f.size)
                    .map_err(|e| io_error("sizing", &path, e))?;
            }
            files.push(OpenFile::new(f.id, path, file));
        }
        let mut head = [0u8; RECORD_HEAD];
        let mut page = [0u8; PAGE_SIZE];
        let mut pages = 0u64;
        while read_full(&mut reader, &mut head).map_err(|e| io_error("reading", &path, e))? {
            reader
                .read_exact(&mut page)
                .map_err(|e| io_error("reading", &path, e))?;
            let file_id = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let page_number = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            let Some(f) = files.iter_mut().find(|f| f.file_id == file_id) else {
                return Err(corrupt(&format!(
                    "a page of file {file_id}, which its header does not list"
                )));
            };
            f.put(page_number, &page)?;
            pages += 1;
        }
        for f in &mut files {
            f.flush_and_sync()?;
        }
        remove(&path)?;
        sync_dir(&self.staging)?;
        tracing::debug!(folder = %live.display(), pages, "differential backup's pages installed");
        Ok(())
    }

    /// Install a complete staging of the database's last applied set, if one is left.
    fn finish_install(&self, folder: &str, record: &DbRecord) -> Result<(), TargetError> {
        if exists(&self.staged(folder, FULL, record.last_applied, false))? {
            self.install_full(folder, record.last_applied)?;
        }
        if exists(&self.staged(folder, DIFF, record.last_applied, false))? {
            self.install_diff(folder, record.last_applied)?;
        }
        Ok(())
    }

    fn cut_log(&self, folder: &str, record: &DbRecord) -> Result<(), TargetError> {
        match &record.log_file {
            Some(name) if is_safe_file_name(name) => {
                truncate_log(&self.databases.join(folder).join(name), record.log_len)
            }
            _ => Ok(()),
        }
    }

    fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, TargetError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io_error("listing", dir, e))? {
            let entry = entry.map_err(|e| io_error("listing", dir, e))?;
            match entry.file_name().into_string() {
                Ok(name) => out.push((name, entry.path())),
                Err(name) => tracing::warn!(
                    name = ?name,
                    dir = %dir.display(),
                    "leaving an entry this target did not write"
                ),
            }
        }
        Ok(out)
    }
}

impl DataFiles for DiskFiles {
    const NAME: &'static str = "files";
    type Sink = DiskSink;
    type Staged = Staged;

    fn settle_all(&self, catalog: &Catalog) -> Result<(), TargetError> {
        for dir in [&self.databases, &self.staging] {
            fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
        }
        let by_folder: HashMap<String, &DbRecord> = catalog
            .records()
            .map(|r| (database_folder_name(&r.name), r))
            .collect();
        for (name, path) in Self::entries(&self.staging)? {
            let Some((folder, rest)) = name.split_once('.') else {
                tracing::warn!(path = %path.display(), "leaving an entry this target did not write");
                continue;
            };
            let ready = |kind: &str| {
                rest.strip_prefix(kind)
                    .and_then(|r| r.strip_prefix('-'))
                    .and_then(|g| g.parse::<Guid>().ok())
            };
            let committed = |guid: Guid| {
                by_folder
                    .get(folder)
                    .is_some_and(|r| r.last_applied == guid)
            };
            if rest == "old" || rest.ends_with(PARTIAL) {
                remove(&path)?;
            } else if let Some(guid) = ready(FULL) {
                if committed(guid) {
                    tracing::info!(
                        folder,
                        "finishing a full backup's install cut short by a crash"
                    );
                    self.install_full(folder, guid)?;
                } else {
                    remove(&path)?;
                }
            } else if let Some(guid) = ready(DIFF) {
                if committed(guid) {
                    tracing::info!(
                        folder,
                        "finishing a differential backup's install cut short by a crash"
                    );
                    self.install_diff(folder, guid)?;
                } else {
                    remove(&path)?;
                }
            } else {
                tracing::warn!(path = %path.display(), "leaving an entry this target did not write");
            }
        }
        for (name, path) in Self::entries(&self.databases)? {
            if !by_folder.contains_key(&name) {
                // Its drop committed but the removal did not happen.
                tracing::info!(path = %path.display(), "removing the files of a dropped database");
                remove(&path)?;
            }
        }
        for (folder, record) in &by_folder {
            self.cut_log(folder, record)?;
        }
        sync_dir(&self.databases)?;
        sync_dir(&self.staging)
    }

    fn settle(&self, database: &str, current: Option<&DbRecord>) -> Result<(), TargetError> {
        let Some(record) = current else {
            return Ok(());
        };
        let folder = database_folder_name(database);
        self.finish_install(&folder, record)?;
        self.cut_log(&folder, record)
    }

    fn begin(&self, b: &Begin<'_>) -> Result<DiskSink, TargetError> {
        let mut sink = DiskSink::new();
        let again = b.facts.kind != BackupKind::Full
            && b.current.is_some_and(|c| c.last_applied == b.facts.guid);
        if again {
            // The set just applied, restored again: SQL Server changes nothing, and its pages
            // and log are in the files already.
            return Ok(sink);
        }
        match self.fill(&mut sink, b) {
            Ok(()) => Ok(sink),
            Err(e) => {
                self.discard(sink);
                Err(e)
            }
        }
    }

    fn discard(&self, sink: DiskSink) {
        let cleanup = {
            let DiskSink { cleanup, .. } = sink;
            cleanup
        };
        cleanup.run();
    }

    fn prepare(&self, sink: DiskSink) -> Result<Prepared<Staged>, TargetError> {
        let DiskSink {
            pages,
            log,
            error,
            stray_pages,
            install,
            cleanup,
        } = sink;
        let durable = match error {
            Some(e) => {
                drop((pages, log));
                Err(e)
            }
            None => self.make_durable(pages, log, &install),
        };
        let (log_file, log_file_len) = match durable {
            Ok(done) => done,
            Err(e) => {
                cleanup.run();
                return Err(e);
            }
        };
        if stray_pages > 0 {
            tracing::warn!(
                pages = stray_pages,
                "pages of file ids that are not data files of the set were not written"
            );
        }
        #[cfg(feature = "testing")]
        self.simulate(CrashPoint::BeforeCommit)?;
        Ok(Prepared {
            staged: Staged { install, cleanup },
            log_file,
            log_file_len,
        })
    }

    fn abandon(&self, staged: Staged) {
        staged.cleanup.run();
    }

    fn install(&self, staged: Staged) -> Result<(), TargetError> {
        #[cfg(feature = "testing")]
        self.simulate(CrashPoint::AfterCommit)?;
        match staged.install {
            Install::Nothing => Ok(()),
            Install::Full { folder, guid } => self.install_full(&folder, guid),
            Install::Diff { folder, guid } => self.install_diff(&folder, guid),
        }
    }

    fn drop_database(&self, database: &str) -> Result<(), TargetError> {
        let folder = database_folder_name(database);
        remove(&self.databases.join(&folder))?;
        let prefix = format!("{folder}.");
        for (name, path) in Self::entries(&self.staging)? {
            if name.starts_with(&prefix) {
                remove(&path)?;
            }
        }
        sync_dir(&self.databases)?;
        sync_dir(&self.staging)
    }
}
