//! The backup forge: realistic synthetic SQL Server backup chains for tests, demos and
//! benchmarks, byte-compatible with what SQL Server writes (see `lrs_backup::BackupWriter`).
//!
//! A [`ChainSpec`] describes a scenario (fulls, differentials, logs, sizes, stripes, gaps,
//! forks, copy-only fulls, appended sets, compression); [`plan`] turns it into files and
//! backup sets with consistent LSNs, GUIDs and dates; [`write_chain`] writes them, streaming
//! (constant memory for plain output). Everything is deterministic from the seed.

mod chain;
mod clock;
mod pages;
mod rng;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use chain::{Chain, DatabaseSpec};
use lrs_backup::{BackupType, BackupWriter, ContainerOptions, Layout, Lsn, MediaSpec, SetSpec};
pub use pages::PageGenerator;
use rng::Rng;

/// How backup files are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain MTF (`TAPE`).
    None,
    /// `MSSQLBAK` container with XPRESS-Huffman chunks (SQL Server 2008–2022 default).
    Xpress,
    /// `MSSQLBAK` container with ZSTD chunks (SQL Server 2025).
    Zstd,
}

/// A scenario: what backups to take of one database and how to write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// The database and its data.
    pub db: DatabaseSpec,
    /// Full backups (at least 1).
    pub fulls: u32,
    /// Differential backups, spread between the logs.
    pub diffs: u32,
    /// Log backups.
    pub logs: u32,
    /// Files per backup (striped media set).
    pub stripes: u16,
    /// Output compression.
    pub compression: Compression,
    /// Add a copy-only full right after the first full.
    pub copy_only_full: bool,
    /// Leave out the log backup after log N (a hole in the chain).
    pub gap_after: Option<u32>,
    /// Restore and recover the database after log N (a new recovery fork).
    pub fork_after: Option<u32>,
    /// Append all log backups to one file (`WITH NOINIT`) instead of one file each.
    pub append: bool,
    /// Soft filemark size: 512, or 4096 (`BLOCKSIZE = 4096`).
    pub soft_filemark_size: u32,
}

impl ChainSpec {
    /// One full backup of `db` and nothing else: plain, one file, 512-byte soft filemarks.
    /// Change fields to add differentials, logs, stripes, problems or compression.
    pub fn new(db: DatabaseSpec) -> Self {
        ChainSpec {
            db,
            fulls: 1,
            diffs: 0,
            logs: 0,
            stripes: 1,
            compression: Compression::None,
            copy_only_full: false,
            gap_after: None,
            fork_after: None,
            append: false,
            soft_filemark_size: 512,
        }
    }
}

/// One backup file to write: its name and the sets it holds, in position order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// File name (before the stripe suffix).
    pub name: String,
    /// Backup sets, positions 1, 2, ...
    pub sets: Vec<SetSpec>,
}

/// A file the forge wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// What each set in it is: type, first and last LSN.
    pub sets: Vec<(BackupType, Lsn, Lsn)>,
}

/// The backups of `spec` in the order they are taken, grouped into files.
pub fn plan(spec: &ChainSpec) -> Vec<PlannedFile> {
    let mut chain = Chain::new(spec.db.clone());
    let db = &spec.db.database;
    let mut files = Vec::new();
    let mut appended_logs = Vec::new();
    let fulls = spec.fulls.max(1);
    // Later fulls and the differentials are spread evenly among the logs.
    // (k * logs / of) <= logs, so it fits a u32.
    let slot = |k: u32, of: u32| {
        let at = if of == 0 {
            0
        } else {
            u64::from(k) * u64::from(spec.logs) / u64::from(of)
        };
        u32::try_from(at).unwrap_or(spec.logs)
    };
    let diff_after: Vec<u32> = (1..=spec.diffs).map(|k| slot(k, spec.diffs + 1)).collect();
    let full_after: Vec<u32> = (1..fulls).map(|k| slot(k, fulls)).collect();
    let (mut n_full, mut n_diff) = (1u32, 0u32);
    files.push(PlannedFile {
        name: format!("{db}_FULL_{n_full:02}.bak"),
        sets: vec![chain.full(false)],
    });
    if spec.copy_only_full {
        files.push(PlannedFile {
            name: format!("{db}_FULL_COPY_ONLY.bak"),
            sets: vec![chain.full(true)],
        });
    }
    for log in 0..=spec.logs {
        if log > 0 {
            if let Some(set) = chain.log() {
                let skipped = spec.gap_after == Some(log - 1);
                if !skipped {
                    if spec.append {
                        appended_logs.push(set);
                    } else {
                        files.push(PlannedFile {
                            name: format!("{db}_LOG_{log:05}.trn"),
                            sets: vec![set],
                        });
                    }
                }
            }
            if spec.fork_after == Some(log) {
                chain.fork();
            }
        }
        for _ in full_after.iter().filter(|&&after| after == log) {
            n_full += 1;
            files.push(PlannedFile {
                name: format!("{db}_FULL_{n_full:02}.bak"),
                sets: vec![chain.full(false)],
            });
        }
        for _ in diff_after.iter().filter(|&&after| after == log) {
            n_diff += 1;
            if let Some(set) = chain.differential() {
                files.push(PlannedFile {
                    name: format!("{db}_DIFF_{n_diff:02}.bak"),
                    sets: vec![set],
                });
            }
        }
    }
    if !appended_logs.is_empty() {
        for (i, set) in appended_logs.iter_mut().enumerate() {
            set.position = u16::try_from(i + 1).unwrap_or(u16::MAX);
        }
        files.push(PlannedFile {
            name: format!("{db}_LOG.trn"),
            sets: appended_logs,
        });
    }
    files
}

/// Write every file of `spec` into `dir` (created if needed).
pub fn write_chain(spec: &ChainSpec, dir: &Path) -> io::Result<Vec<ForgedFile>> {
    write_chain_with(spec, dir, &mut |_| {})
}

/// What [`write_chain_with`] reports while it writes, for progress displays.
#[derive(Debug)]
pub enum ForgeProgress<'a> {
    /// This many more bytes of backup were generated (plain MTF, before any compression:
    /// [`estimated_bytes`] counts the same bytes).
    Bytes(u64),
    /// A file is complete.
    File(&'a ForgedFile),
}

/// [`write_chain`], calling `progress` as bytes are generated and files completed. The files
/// are the same bytes as [`write_chain`]'s.
pub fn write_chain_with(
    spec: &ChainSpec,
    dir: &Path,
    progress: &mut dyn FnMut(ForgeProgress<'_>),
) -> io::Result<Vec<ForgedFile>> {
    check_spec(spec)?;
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(spec.db.seed ^ 0x5EED);
    let mut written = Vec::new();
    for file in plan(spec) {
        let forged = write_file_with(spec, &file, dir, &mut rng, progress)?;
        for f in &forged {
            progress(ForgeProgress::File(f));
        }
        written.extend(forged);
    }
    Ok(written)
}

/// About how many bytes [`write_chain_with`] reports as [`ForgeProgress::Bytes`] for `spec`:
/// the data pages and log of every set (the MTF headers around them are not counted, so
/// the real figure is slightly higher). For progress bars, not for allocation.
pub fn estimated_bytes(spec: &ChainSpec) -> u64 {
    plan(spec)
        .iter()
        .flat_map(|f| f.sets.iter())
        .map(|set| {
            let pages: u64 = set
                .files
                .iter()
                .filter(|f| !f.is_log)
                .map(|f| u64::from(f.pages_in_backup))
                .sum();
            pages * 8192 + set.log_bytes
        })
        .sum()
}

/// Counts what passes through to `inner` and reports it.
struct Counting<'p, W> {
    inner: W,
    progress: &'p mut dyn FnMut(ForgeProgress<'_>),
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        (self.progress)(ForgeProgress::Bytes(n as u64));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Refuse combinations SQL Server cannot produce.
fn check_spec(spec: &ChainSpec) -> io::Result<()> {
    if spec.db.layout == Layout::Sql2005 && spec.compression != Compression::None {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "SQL Server 2005 cannot write compressed backups (BACKUP ... WITH COMPRESSION \
             arrived in SQL Server 2008): forge the 2005 layout without compression",
        ));
    }
    Ok(())
}

/// Write one planned file (one path per stripe).
pub fn write_planned(
    spec: &ChainSpec,
    file: &PlannedFile,
    dir: &Path,
) -> io::Result<Vec<ForgedFile>> {
    check_spec(spec)?;
    let mut rng = Rng::new(spec.db.seed ^ file.name.len() as u64);
    write_file(spec, file, dir, &mut rng)
}

fn write_file(
    spec: &ChainSpec,
    file: &PlannedFile,
    dir: &Path,
    rng: &mut Rng,
) -> io::Result<Vec<ForgedFile>> {
    write_file_with(spec, file, dir, rng, &mut |_| {})
}

fn write_file_with(
    spec: &ChainSpec,
    file: &PlannedFile,
    dir: &Path,
    rng: &mut Rng,
    progress: &mut dyn FnMut(ForgeProgress<'_>),
) -> io::Result<Vec<ForgedFile>> {
    let stripes = spec.stripes.max(1);
    let media_set_id = rng.guid();
    let mut out = Vec::new();
    for family in 1..=stripes {
        let name = if stripes == 1 {
            file.name.clone()
        } else {
            let (stem, ext) = file.name.rsplit_once('.').unwrap_or((&file.name, "bak"));
            format!("{stem}_{family}of{stripes}.{ext}")
        };
        let path = dir.join(&name);
        let media = MediaSpec {
            layout: spec.db.layout,
            soft_filemark_size: spec.soft_filemark_size,
            media_set_id,
            family_count: stripes,
            family_sequence_number: family,
            media_family_id: u32::try_from(rng.next_u64() >> 32).unwrap_or(0),
            media_date: file
                .sets
                .first()
                .map_or(spec.db.start, |s| s.backup_start_date),
            media_name: None,
        };
        let bytes = match spec.compression {
            Compression::None => {
                // Counted above the buffer: progress moves with what the writer produced.
                let sink = Counting {
                    inner: BufWriter::with_capacity(1 << 20, File::create(&path)?),
                    progress: &mut *progress,
                };
                write_sets(sink, media, &file.sets, family, stripes, spec.db.seed)?
                    .inner
                    .into_inner()
                    .map_err(|e| e.into_error())?;
                std::fs::metadata(&path)?.len()
            }
            compression => {
                let sink = Counting {
                    inner: Vec::new(),
                    progress: &mut *progress,
                };
                let mtf = write_sets(sink, media, &file.sets, family, stripes, spec.db.seed)?.inner;
                let options = ContainerOptions::default();
                let container = match compression {
                    Compression::Xpress => lrs_backup::compress_xpress(&mtf, options),
                    _ => lrs_backup::compress_zstd(&mtf, options),
                }
                .map_err(io::Error::other)?;
                std::fs::write(&path, &container)?;
                container.len() as u64
            }
        };
        let sets = file
            .sets
            .iter()
            .map(|s| (s.backup_type, s.first_lsn, s.last_lsn))
            .collect();
        out.push(ForgedFile { path, bytes, sets });
    }
    Ok(out)
}

/// Write `sets` as media family `family` of `stripes`: each family carries its share of the
/// data pages (SQL Server spreads a striped backup over its files).
fn write_sets<W: Write>(
    sink: W,
    media: MediaSpec,
    sets: &[SetSpec],
    family: u16,
    stripes: u16,
    seed: u64,
) -> io::Result<W> {
    let mut writer = BackupWriter::new(sink, media)?;
    for set in sets {
        let mut share = set.clone();
        for f in share.files.iter_mut().filter(|f| !f.is_log) {
            let (pages, k, n) = (f.pages_in_backup, u32::from(family) - 1, u32::from(stripes));
            f.pages_in_backup = pages / n + u32::from(k < pages % n);
        }
        share.log_bytes = set.log_bytes.div_ceil(u64::from(stripes));
        let mut pages = PageGenerator::new(
            seed ^ u64::from(family),
            set.checkpoint_lsn,
            set.has_backup_checksums,
        );
        writer.write_set(&share, &mut pages)?;
    }
    writer.finish()
}
