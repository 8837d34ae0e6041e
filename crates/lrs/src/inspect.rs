//! `lrs headeronly | filelistonly | labelonly PATH...`: read backup headers from files and
//! folders and print them as a table or as JSON with SQL Server's column names.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use futures::StreamExt;
use lrs_backup::{
    BackupError, BackupHeader, BackupMedia, FileListEntry, FileReader, MediaLabel, ReadOptions,
};
use serde::Serialize;

use crate::table::Table;

/// Files read at the same time.
const PARALLEL_READS: usize = 16;

/// Arguments shared by the three inspection commands.
#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Backup files or folders (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print a JSON array whose keys are SQL Server's column names, plus `File`.
    #[arg(long)]
    json: bool,
    /// Read files that end early (uploads in progress) from their provisional header copy.
    #[arg(long)]
    allow_truncated: bool,
    /// Find every set by walking all blocks of each file instead of the two-read fast path
    /// (slower; the reference the fast path is checked against).
    #[arg(long)]
    block_walk: bool,
}

/// Which RESTORE ... ONLY report to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    Header,
    FileList,
    Label,
}

/// Read every file under `args.paths` and print the report. Fails (exit 1) only when no file
/// could be read at all.
pub(crate) async fn run(
    report: Report,
    args: InspectArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let options = ReadOptions {
        allow_truncated: args.allow_truncated,
        block_walk: args.block_walk,
    };
    let results = read_all(&args.paths, options, quiet).await?;

    let readable = results.iter().filter(|(_, r)| r.is_ok()).count();
    let mut out = std::io::stdout().lock();
    if args.json {
        write_json(&mut out, report, &results)?;
    } else {
        write_table(&mut out, report, &results)?;
    }
    out.flush()?;
    if readable == 0 {
        eprintln!(
            "lrs: none of the {} file(s) could be read as a backup",
            results.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Read the headers of every file under `paths` (files or folders), in path order, several at
/// a time. Each result is paired with the file's path as text. Files done out of the total
/// show on standard error when it is a terminal (see `crate::progress`) unless `quiet`.
pub(crate) async fn read_all(
    paths: &[PathBuf],
    options: ReadOptions,
    quiet: bool,
) -> anyhow::Result<Vec<(String, Result<BackupMedia, BackupError>)>> {
    let files = collect_files(paths)?;
    let bar = crate::progress::files(files.len() as u64, quiet);
    let results = futures::stream::iter(files)
        .map(|path| async move {
            let name = path.display().to_string();
            let result = match FileReader::open(&path) {
                Ok(reader) => lrs_backup::read_backup_with(&reader, options).await,
                Err(e) => Err(BackupError {
                    file: name.clone(),
                    offset: 0,
                    kind: lrs_backup::ErrorKind::Io(e.to_string()),
                }),
            };
            (name, result)
        })
        .buffered(PARALLEL_READS)
        .inspect(|_| bar.inc(1))
        .collect()
        .await;
    bar.finish_and_clear();
    Ok(results)
}

/// Files named on the command line, plus every file below named folders, in path order.
pub(crate) fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort();
    for entry in entries {
        let meta = std::fs::symlink_metadata(&entry)?;
        if meta.is_dir() {
            walk(&entry, files)?;
        } else if meta.is_file() && !is_hidden_readme(&entry) {
            files.push(entry);
        }
    }
    Ok(())
}

/// Documentation that sits beside fixtures is not a backup candidate worth reporting.
fn is_hidden_readme(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("md"))
}

#[derive(Serialize)]
struct HeaderRow<'a> {
    #[serde(rename = "File")]
    file: &'a str,
    #[serde(flatten)]
    header: &'a BackupHeader,
    /// Not a SQL Server column: how the reader found the set's final configuration block
    /// (`direct`, `tail-search`, `block-walk`, or `provisional` for a truncated file).
    #[serde(rename = "HeaderPath")]
    header_path: &'static str,
}

#[derive(Serialize)]
struct FileRow<'a> {
    #[serde(rename = "File")]
    file: &'a str,
    #[serde(rename = "Position")]
    position: u16,
    #[serde(flatten)]
    entry: &'a FileListEntry,
}

#[derive(Serialize)]
struct LabelRow<'a> {
    #[serde(rename = "File")]
    file: &'a str,
    #[serde(flatten)]
    label: &'a MediaLabel,
}

#[derive(Serialize)]
struct ErrorRow<'a> {
    #[serde(rename = "File")]
    file: &'a str,
    #[serde(rename = "Error")]
    error: String,
    #[serde(rename = "ErrorOffset")]
    offset: u64,
}

fn write_json(
    out: &mut impl Write,
    report: Report,
    results: &[(String, Result<BackupMedia, BackupError>)],
) -> anyhow::Result<()> {
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for (file, result) in results {
        match result {
            Ok(media) => match report {
                Report::Header => {
                    for set in &media.sets {
                        rows.push(serde_json::to_value(HeaderRow {
                            file,
                            header: &set.header,
                            header_path: set.header_path.as_str(),
                        })?);
                    }
                }
                Report::FileList => {
                    for set in &media.sets {
                        for entry in &set.files {
                            let position = set.header.position;
                            rows.push(serde_json::to_value(FileRow {
                                file,
                                position,
                                entry,
                            })?);
                        }
                    }
                }
                Report::Label => {
                    rows.push(serde_json::to_value(LabelRow {
                        file,
                        label: &media.label,
                    })?);
                }
            },
            Err(e) => rows.push(serde_json::to_value(ErrorRow {
                file,
                error: e.kind.to_string(),
                offset: e.offset,
            })?),
        }
    }
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    writeln!(out)?;
    Ok(())
}

fn write_table(
    out: &mut impl Write,
    report: Report,
    results: &[(String, Result<BackupMedia, BackupError>)],
) -> anyhow::Result<()> {
    let mut table = match report {
        Report::Header => Table::new(&[
            "File",
            "Pos",
            "Type",
            "Database",
            "Server",
            "FirstLSN",
            "LastLSN",
            "CheckpointLSN",
            "DatabaseBackupLSN",
            "Started",
            "Checksums",
            "CopyOnly",
            "Version",
        ]),
        Report::FileList => Table::new(&[
            "File",
            "Pos",
            "LogicalName",
            "Type",
            "FileGroupName",
            "Size",
            "BackupSizeInBytes",
            "PhysicalName",
        ]),
        Report::Label => Table::new(&[
            "File",
            "MediaSetId",
            "FamilyCount",
            "FamilySequenceNumber",
            "SoftwareName",
            "MediaDate",
            "IsCompressed",
        ]),
    };
    let mut errors = Vec::new();
    for (file, result) in results {
        let media = match result {
            Ok(media) => media,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match report {
            Report::Header => {
                for set in &media.sets {
                    let h = &set.header;
                    table.row(vec![
                        file.clone(),
                        h.position.to_string(),
                        h.backup_type_description.to_string(),
                        opt(&h.database_name),
                        opt(&h.server_name),
                        h.first_lsn.to_string(),
                        h.last_lsn.to_string(),
                        h.checkpoint_lsn.to_string(),
                        h.database_backup_lsn.to_string(),
                        local_time(h.backup_start_date),
                        yes_no(h.has_backup_checksums),
                        yes_no(h.is_copy_only),
                        format!(
                            "{}.{}.{}",
                            h.software_version_major,
                            h.software_version_minor,
                            h.software_version_build
                        ),
                    ]);
                }
            }
            Report::FileList => {
                for set in &media.sets {
                    for f in &set.files {
                        table.row(vec![
                            file.clone(),
                            set.header.position.to_string(),
                            opt(&f.logical_name),
                            f.file_type.letter().to_string(),
                            opt(&f.file_group_name),
                            f.size.to_string(),
                            f.backup_size_in_bytes.to_string(),
                            opt(&f.physical_name),
                        ]);
                    }
                }
            }
            Report::Label => {
                let l = &media.label;
                table.row(vec![
                    file.clone(),
                    l.media_set_id.to_string(),
                    l.family_count.to_string(),
                    l.family_sequence_number.to_string(),
                    opt(&l.software_name),
                    local_time(l.media_date),
                    l.is_compressed.to_string(),
                ]);
            }
        }
    }
    table.write(out)?;
    if !errors.is_empty() {
        writeln!(out, "\nNot readable as a backup ({}):", errors.len())?;
        for e in errors {
            writeln!(out, "  {e}")?;
        }
    }
    Ok(())
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "NULL".to_string())
}

/// A backup's local date-time as SQL Server Management Studio shows it (space, no `T`).
fn local_time(value: Option<lrs_backup::BackupDateTime>) -> String {
    value
        .map(|d| d.to_string().replacen('T', " ", 1))
        .unwrap_or_default()
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}
