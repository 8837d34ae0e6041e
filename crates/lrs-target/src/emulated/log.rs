//! The target's durable, append-only log (`target-log.jsonl`): one JSON object per line, one
//! line per change (restore, recover, drop). A change happened exactly when its line is on disk;
//! the catalog is rebuilt from the log on open.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lrs_backup::{Guid, Lsn};
use serde::{Deserialize, Serialize};

use crate::TargetError;

/// Name of the log file inside the target's directory.
pub const LOG_FILE: &str = "target-log.jsonl";

/// Longest line accepted when reading the log back: real entries are a few hundred bytes, so a
/// longer "line" is corruption, and this bounds what a corrupt file can make us allocate.
const MAX_LINE: u64 = 64 * 1024;

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogOp {
    /// A backup set was restored WITH NORECOVERY.
    Restore,
    /// The database was recovered (`RESTORE … WITH RECOVERY`): it is online.
    Recover,
    /// The database was dropped.
    Drop,
}

/// The kind of backup set a restore applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// Full database backup.
    Full,
    /// Differential database backup.
    Differential,
    /// Transaction log backup.
    Log,
}

/// The backup set a `restore` entry applied, with the header facts replay needs to rebuild the
/// database's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSet {
    /// BackupSetGUID.
    pub backup_set_guid: Guid,
    /// Full, differential or log.
    pub backup_type: BackupKind,
    /// FirstLSN.
    pub first_lsn: Lsn,
    /// LastLSN.
    pub last_lsn: Lsn,
    /// CheckpointLSN.
    pub checkpoint_lsn: Lsn,
    /// The database's redo point after this restore.
    pub redo_lsn_after: Lsn,
    /// Bytes of the set's data consumed (see [`crate::RestoreOutcome::bytes`]).
    pub bytes: u64,
    /// Media families read.
    pub stripes: u16,
    /// FamilyGUID of the source database.
    pub family_guid: Guid,
    /// RecoveryForkID: the fork the database is on after this set.
    pub recovery_fork_id: Guid,
    /// FirstRecoveryForkID.
    pub first_recovery_fork_id: Guid,
    /// DifferentialBaseGUID (differentials only).
    pub differential_base_guid: Option<Guid>,
    /// Name of the source database in the backup's header.
    pub source_database: Option<String>,
    /// Files target only: the name of the database's log file (inside its folder) that
    /// received the set's log stream.
    pub log_file: Option<String>,
    /// Files target only: the length of that log file once this set was applied. A restore
    /// truncates the log file back to the committed length before appending, so a set retried
    /// after a crash never lands twice.
    pub log_file_len: Option<u64>,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// 1, 2, 3, … with no gaps.
    pub seq: u64,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// Restore, recover or drop.
    pub op: LogOp,
    /// The target database (case as given by the caller).
    pub database: String,
    /// The set restored (`restore` entries only).
    pub set: Option<AppliedSet>,
}

impl LogEntry {
    /// For a `restore` entry, the BackupSetGUID it applied in SQL Server's printed form (upper
    /// case): what crash tests count to check that every set was applied exactly once.
    pub fn restored_set(&self) -> Option<String> {
        self.set.as_ref().map(|s| s.backup_set_guid.to_string())
    }
}

/// The line as written: flat, LSNs as decimal strings, GUIDs in SQL Server's upper-case form.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    seq: u64,
    at: DateTime<Utc>,
    op: LogOp,
    database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup_set_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup_type: Option<BackupKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_lsn: Option<Lsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_lsn: Option<Lsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint_lsn: Option<Lsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redo_lsn_after: Option<Lsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stripes: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recovery_fork_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_recovery_fork_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    differential_base_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_file_len: Option<u64>,
}

impl Wire {
    fn of(entry: &LogEntry) -> Wire {
        let set = entry.set.as_ref();
        let guid = |g: Guid| g.to_string();
        Wire {
            seq: entry.seq,
            at: entry.at,
            op: entry.op,
            database: entry.database.clone(),
            backup_set_guid: set.map(|s| guid(s.backup_set_guid)),
            backup_type: set.map(|s| s.backup_type),
            first_lsn: set.map(|s| s.first_lsn),
            last_lsn: set.map(|s| s.last_lsn),
            checkpoint_lsn: set.map(|s| s.checkpoint_lsn),
            redo_lsn_after: set.map(|s| s.redo_lsn_after),
            bytes: set.map(|s| s.bytes),
            stripes: set.map(|s| s.stripes),
            family_guid: set.map(|s| guid(s.family_guid)),
            recovery_fork_id: set.map(|s| guid(s.recovery_fork_id)),
            first_recovery_fork_id: set.map(|s| guid(s.first_recovery_fork_id)),
            differential_base_guid: set.and_then(|s| s.differential_base_guid).map(guid),
            source_database: set.and_then(|s| s.source_database.clone()),
            log_file: set.and_then(|s| s.log_file.clone()),
            log_file_len: set.and_then(|s| s.log_file_len),
        }
    }

    fn into_entry(self) -> Result<LogEntry, String> {
        let set = match self.op {
            LogOp::Restore => {
                fn need<T>(v: Option<T>, field: &str) -> Result<T, String> {
                    v.ok_or_else(|| format!("a restore entry without \"{field}\""))
                }
                let guid = |v: Option<String>, field: &str| -> Result<Guid, String> {
                    let text = need(v, field)?;
                    parse_guid(&text).ok_or_else(|| format!("\"{field}\" is not a GUID: {text:?}"))
                };
                let differential_base_guid = match self.differential_base_guid {
                    None => None,
                    some => Some(guid(some, "differential_base_guid")?),
                };
                Some(AppliedSet {
                    backup_set_guid: guid(self.backup_set_guid, "backup_set_guid")?,
                    backup_type: need(self.backup_type, "backup_type")?,
                    first_lsn: need(self.first_lsn, "first_lsn")?,
                    last_lsn: need(self.last_lsn, "last_lsn")?,
                    checkpoint_lsn: need(self.checkpoint_lsn, "checkpoint_lsn")?,
                    redo_lsn_after: need(self.redo_lsn_after, "redo_lsn_after")?,
                    bytes: need(self.bytes, "bytes")?,
                    stripes: need(self.stripes, "stripes")?,
                    family_guid: guid(self.family_guid, "family_guid")?,
                    recovery_fork_id: guid(self.recovery_fork_id, "recovery_fork_id")?,
                    first_recovery_fork_id: guid(
                        self.first_recovery_fork_id,
                        "first_recovery_fork_id",
                    )?,
                    differential_base_guid,
                    source_database: self.source_database,
                    log_file: self.log_file,
                    log_file_len: self.log_file_len,
                })
            }
            LogOp::Recover | LogOp::Drop => None,
        };
        Ok(LogEntry {
            seq: self.seq,
            at: self.at,
            op: self.op,
            database: self.database,
            set,
        })
    }
}

/// Parse a GUID in the form [`Guid`]'s `Display` writes (`XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`,
/// either case): the first three groups are stored little-endian.
pub(crate) fn parse_guid(text: &str) -> Option<Guid> {
    let groups: Vec<&str> = text.split('-').collect();
    let [a, b, c, d, e] = groups.as_slice() else {
        return None;
    };
    if [a.len(), b.len(), c.len(), d.len(), e.len()] != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex = |s: &str| -> Option<Vec<u8>> {
        (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect()
    };
    let (mut a, mut b, mut c) = (hex(a)?, hex(b)?, hex(c)?);
    a.reverse();
    b.reverse();
    c.reverse();
    let bytes: Vec<u8> = [a, b, c, hex(d)?, hex(e)?].concat();
    bytes.try_into().ok().map(Guid)
}

/// What reading the log found.
#[derive(Debug)]
struct Scan {
    entries: Vec<LogEntry>,
    /// Bytes of complete, valid lines.
    valid_len: u64,
    /// The final line, when it is incomplete or unparsable (a write cut by a crash): its line
    /// number and why it was rejected.
    torn: Option<(u64, String)>,
}

/// Read every line of `source` (named `path` in errors). A bad final line is reported as torn;
/// a bad line anywhere else is an error naming it.
fn scan(source: impl Read, path: &Path) -> Result<Scan, TargetError> {
    let mut reader = BufReader::new(source);
    let mut entries: Vec<LogEntry> = Vec::new();
    let mut valid_len = 0u64;
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    // A line found bad; it is torn if nothing follows it, corruption otherwise.
    let mut pending_bad: Option<(u64, String)> = None;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| TargetError::Io(format!("reading {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some((bad_line, why)) = pending_bad.take() {
            return Err(corrupt(path, bad_line, &why));
        }
        let complete = buf.last() == Some(&b'\n');
        if !complete {
            if buf.len() as u64 > MAX_LINE {
                return Err(corrupt(
                    path,
                    line_no,
                    &format!("longer than {MAX_LINE} bytes"),
                ));
            }
            // No newline: the file ends inside this line.
            pending_bad = Some((line_no, "the line is incomplete".into()));
            continue;
        }
        match parse_line(&buf) {
            Ok(entry) => {
                let expected = entries.last().map_or(1, |e| e.seq + 1);
                if entry.seq != expected {
                    return Err(corrupt(
                        path,
                        line_no,
                        &format!(
                            "sequence number {} where {expected} was expected",
                            entry.seq
                        ),
                    ));
                }
                entries.push(entry);
                valid_len += n as u64;
            }
            Err(why) => pending_bad = Some((line_no, why)),
        }
    }
    Ok(Scan {
        entries,
        valid_len,
        torn: pending_bad,
    })
}

fn parse_line(line: &[u8]) -> Result<LogEntry, String> {
    let wire: Wire = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    wire.into_entry()
}

fn corrupt(path: &Path, line: u64, why: &str) -> TargetError {
    TargetError::Io(format!(
        "the target log {} is corrupt at line {line}: {why}",
        path.display()
    ))
}

/// Every entry of the log in `dir`, in order (tests and tools; reading does not change the
/// file). A torn final line (a write cut by a crash, which [`crate::emulated::EmulatedTarget::open`]
/// and [`crate::files::FilesTarget::open`] truncate away) is left out; a bad line anywhere else is an error naming it. A missing log is
/// an empty one.
pub fn read_log(dir: &Path) -> Result<Vec<LogEntry>, TargetError> {
    let path = dir.join(LOG_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TargetError::Io(format!("opening {}: {e}", path.display())));
        }
    };
    Ok(scan(file, &path)?.entries)
}

/// Where a target records its committed changes: the exactly-once record every restore is
/// judged by. The target's own file (one node) or a journal several nodes share (the state
/// store: `lrs_engine::journal::StoreJournal`), so that any node continues any migration.
pub trait Journal: Send + fmt::Debug {
    /// Every entry so far, in order (read once, when the target opens).
    fn replay(&mut self) -> Result<Vec<LogEntry>, TargetError>;
    /// Entries other writers appended after number `seq` (none for a private journal).
    fn newer(&mut self, seq: u64) -> Result<Vec<LogEntry>, TargetError>;
    /// Durably append `entry` as number `entry.seq`; `Ok(false)` when another writer took that
    /// number first (the caller applies [`Journal::newer`] and tries the next one).
    fn append(&mut self, entry: &LogEntry) -> Result<bool, TargetError>;
}

/// One journal line: the JSON form of an entry (the file's lines, the shared journal's rows).
pub fn encode_entry(entry: &LogEntry) -> Result<String, TargetError> {
    serde_json::to_string(&Wire::of(entry))
        .map_err(|e| TargetError::Io(format!("encoding a log entry: {e}")))
}

/// An entry from its journal line.
pub fn decode_entry(line: &str) -> Result<LogEntry, String> {
    parse_line(line.as_bytes())
}

impl Journal for LogWriter {
    fn replay(&mut self) -> Result<Vec<LogEntry>, TargetError> {
        Ok(std::mem::take(&mut self.opened))
    }

    fn newer(&mut self, _seq: u64) -> Result<Vec<LogEntry>, TargetError> {
        // The file is locked: this process is its only writer.
        Ok(Vec::new())
    }

    fn append(&mut self, entry: &LogEntry) -> Result<bool, TargetError> {
        if entry.seq != self.next_seq {
            return Err(TargetError::Io(format!(
                "the target log {} expected entry {} but was given {}",
                self.path.display(),
                self.next_seq,
                entry.seq
            )));
        }
        self.write(entry)?;
        Ok(true)
    }
}

/// The single writer of the log: appends one line per change and makes it durable before
/// reporting success.
#[derive(Debug)]
pub(crate) struct LogWriter {
    file: File,
    path: PathBuf,
    /// Length of the valid content (where the next line goes).
    len: u64,
    next_seq: u64,
    /// Set when a failed append could not be undone: the file may end in a partial line, so
    /// nothing more may be appended after it.
    broken: Option<String>,
    /// The entries read at open, until [`Journal::replay`] takes them.
    opened: Vec<LogEntry>,
}

impl LogWriter {
    /// Open (or create) the log in `dir`, lock it against a second writer, drop a torn final
    /// line, and return the writer with every entry.
    pub(crate) fn open(dir: &Path) -> Result<(LogWriter, Vec<LogEntry>), TargetError> {
        let io = |what: &str, e: std::io::Error| TargetError::Io(format!("{what}: {e}"));
        std::fs::create_dir_all(dir).map_err(|e| io(&format!("creating {}", dir.display()), e))?;
        let path = dir.join(LOG_FILE);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io(&format!("opening {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(TargetError::Io(format!(
                    "{} is in use by another target (one writer per directory)",
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io(&format!("locking {}", path.display()), e));
            }
        }
        // Make a new file's directory entry durable too (directories cannot be opened for
        // syncing on every platform; where they can, this is what makes a creation survive).
        #[cfg(unix)]
        if !existed {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io(&format!("syncing {}", dir.display()), e))?;
        }
        #[cfg(not(unix))]
        let _ = existed;
        let scan = scan(&mut file, &path)?;
        if let Some((line, why)) = &scan.torn {
            tracing::warn!(
                log = %path.display(),
                line,
                why = %why,
                "dropping the torn final line of the target log (a write cut by a crash)"
            );
            file.set_len(scan.valid_len)
                .and_then(|()| file.sync_data())
                .map_err(|e| io(&format!("truncating {}", path.display()), e))?;
        }
        let next_seq = scan.entries.last().map_or(1, |e| e.seq + 1);
        Ok((
            LogWriter {
                file,
                path,
                len: scan.valid_len,
                next_seq,
                broken: None,
                opened: Vec::new(),
            },
            scan.entries,
        ))
    }

    /// The log of `dir` as a [`Journal`] (its entries returned by the first `replay`).
    pub(crate) fn journal(dir: &Path) -> Result<LogWriter, TargetError> {
        let (mut writer, entries) = LogWriter::open(dir)?;
        writer.opened = entries;
        Ok(writer)
    }

    /// Write `entry` as the next line and sync it to disk. On failure the partial line is cut
    /// off again; if even that fails, the writer refuses every later append.
    fn write(&mut self, entry: &LogEntry) -> Result<(), TargetError> {
        if let Some(why) = &self.broken {
            return Err(TargetError::Io(format!(
                "the target log {} cannot be appended to: {why}",
                self.path.display()
            )));
        }
        let mut line = encode_entry(entry)?.into_bytes();
        line.push(b'\n');
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let undo = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            if let Err(undo) = undo {
                self.broken = Some(format!(
                    "an append failed ({e}) and could not be undone ({undo})"
                ));
            }
            return Err(TargetError::Io(format!(
                "appending to {}: {e}",
                self.path.display()
            )));
        }
        self.len += line.len() as u64;
        self.next_seq += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_round_trip_through_their_text() {
        let g = Guid([
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
            0x0f, 0xf0,
        ]);
        let text = g.to_string();
        assert_eq!(text, "04030201-0605-0807-090A-0B0C0D0E0FF0");
        assert_eq!(parse_guid(&text), Some(g));
        assert_eq!(parse_guid(&text.to_lowercase()), Some(g));
        assert_eq!(parse_guid("04030201-0605-0807-090A-0B0C0D0E0FF"), None);
        assert_eq!(parse_guid("0403020G-0605-0807-090A-0B0C0D0E0FF0"), None);
        assert_eq!(parse_guid("not a guid"), None);
    }

    #[test]
    fn a_bad_final_line_is_torn_and_a_bad_middle_line_is_corrupt() {
        let good = |seq: u64| {
            format!(
                "{{\"seq\":{seq},\"at\":\"2026-01-01T00:00:00Z\",\"op\":\"drop\",\"database\":\"A\"}}\n"
            )
        };
        let path = Path::new("t.jsonl");
        let text = format!("{}{}{{\"seq\":3,\"at\"", good(1), good(2));
        let s = scan(text.as_bytes(), path).expect("scan");
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.valid_len, (good(1).len() + good(2).len()) as u64);
        assert_eq!(s.torn.as_ref().map(|t| t.0), Some(3));

        let text = format!("{}garbage\n{}", good(1), good(2));
        let e = scan(text.as_bytes(), path).expect_err("corrupt");
        assert!(e.to_string().contains("corrupt at line 2"), "{e}");

        let text = format!("{}{}", good(1), good(3));
        let e = scan(text.as_bytes(), path).expect_err("gap");
        assert!(
            e.to_string()
                .contains("line 2: sequence number 3 where 2 was expected"),
            "{e}"
        );

        let text = format!("{}{}", good(1), "x".repeat(70_000));
        let e = scan(text.as_bytes(), path).expect_err("long");
        assert!(e.to_string().contains("line 2: longer than"), "{e}");
    }
}
