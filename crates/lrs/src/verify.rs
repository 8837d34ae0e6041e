//! `lrs verify`: `RESTORE VERIFYONLY [WITH CHECKSUM]` for local backup files. Every set of every
//! file is read once and checked as a restore would check it (`lrs_backup::SetVerifier`: MTF
//! structure, and for sets taken WITH CHECKSUM every page and the backup checksum). The exit
//! code is 0 only when every set of every file is valid.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use lrs_backup::{BackupMedia, FileReader, RangeRead, ReadOptions, VerifyError, VerifySummary};
use serde::Serialize;

use crate::inspect::collect_files;
use crate::table::Table;

/// Arguments of `lrs verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Backup files, or folders to search recursively.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// One JSON object per backup set instead of a table.
    #[arg(long)]
    json: bool,
}

/// The outcome of one set (or of a file that could not be read at all).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SetRow {
    file: String,
    position: Option<u16>,
    database_name: Option<String>,
    backup_type_description: Option<String>,
    valid: bool,
    /// SQL Server's error number for the failure (3183 page, 3189 backup checksum, 3241
    /// structure, 3279 media password, 3241 for a file whose headers cannot be read).
    error_number: Option<u32>,
    error: Option<String>,
    bytes: u64,
    pages: u64,
    pages_verified: u64,
    backup_checksums: u64,
}

pub(crate) async fn run(args: VerifyArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let files = collect_files(&args.paths)?;
    // Headers first (cheap), so the progress bar knows the total.
    let mut headers = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        let opened = FileReader::open(&path).map_err(|e| e.to_string());
        let media = match &opened {
            Ok(reader) => lrs_backup::read_backup_with(reader, ReadOptions::default())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        headers.push((name, opened, media));
    }
    let total: u64 = headers
        .iter()
        .filter_map(|(_, _, m)| m.as_ref().ok())
        .flat_map(|m| m.sets.iter())
        .map(|s| s.data_end_offset - s.start_offset)
        .sum();
    let sets: u64 = headers
        .iter()
        .filter_map(|(_, _, m)| m.as_ref().ok())
        .map(|m| m.sets.len() as u64)
        .sum();
    let bar = crate::progress::bytes(total, quiet);
    bar.set_message(format!("0/{sets} sets"));

    let mut rows = Vec::new();
    let mut done_sets = 0u64;
    for (name, opened, media) in headers {
        let (reader, media) = match (opened, media) {
            (Ok(reader), Ok(media)) => (reader, media),
            (_, Err(e)) | (Err(e), _) => {
                rows.push(unreadable(name, e));
                continue;
            }
        };
        let reader: Arc<dyn RangeRead> = Arc::new(reader);
        let results = if media.sets.iter().any(|s| s.media.media_password) {
            None
        } else {
            let progress_bar = bar.clone();
            let mut progress = move |n: u64| progress_bar.inc(n);
            Some(lrs_backup::verify_media(Arc::clone(&reader), &media, &mut progress).await)
        };
        done_sets += media.sets.len() as u64;
        bar.set_message(format!("{done_sets}/{sets} sets"));
        rows.extend(set_rows(&name, &media, results));
    }
    bar.finish_and_clear();

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &rows)?;
    }
    out.flush()?;
    let invalid = rows.iter().filter(|r| !r.valid).count();
    if invalid > 0 {
        eprintln!(
            "lrs: {invalid} of {} backup set(s) failed verification",
            rows.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn unreadable(file: String, error: String) -> SetRow {
    SetRow {
        file,
        position: None,
        database_name: None,
        backup_type_description: None,
        valid: false,
        error_number: Some(3241),
        error: Some(error),
        bytes: 0,
        pages: 0,
        pages_verified: 0,
        backup_checksums: 0,
    }
}

fn set_rows(
    file: &str,
    media: &BackupMedia,
    results: Option<Result<Vec<Result<VerifySummary, VerifyError>>, lrs_backup::BackupError>>,
) -> Vec<SetRow> {
    let row = |position: usize, outcome: Result<VerifySummary, (u32, String)>| {
        let set = &media.sets[position];
        let (summary, error) = match outcome {
            Ok(summary) => (summary, None),
            Err(e) => (VerifySummary::default(), Some(e)),
        };
        SetRow {
            file: file.to_string(),
            position: Some(set.header.position),
            database_name: set.header.database_name.clone(),
            backup_type_description: Some(set.header.backup_type_description.to_string()),
            valid: error.is_none(),
            error_number: error.as_ref().map(|e| e.0),
            error: error.map(|e| e.1),
            bytes: summary.bytes,
            pages: summary.pages,
            pages_verified: summary.pages_verified,
            backup_checksums: summary.backup_checksums,
        }
    };
    match results {
        // WITH MEDIAPASSWORD: SQL Server refuses to read the media without the password.
        None => (0..media.sets.len())
            .map(|i| {
                row(
                    i,
                    Err((3279, "Access is denied due to a password failure".into())),
                )
            })
            .collect(),
        Some(Err(e)) => (0..media.sets.len())
            .map(|i| row(i, Err((3203, format!("Read on \"{file}\" failed: {e}")))))
            .collect(),
        Some(Ok(results)) => results
            .into_iter()
            .enumerate()
            .map(|(i, r)| row(i, r.map_err(|e| (error_number(&e), e.to_string()))))
            .collect(),
    }
}

/// SQL Server's number for each kind of verification failure.
fn error_number(e: &VerifyError) -> u32 {
    match e {
        VerifyError::Page { .. } => 3183,
        VerifyError::BackupChecksum { .. } => 3189,
        VerifyError::Damaged { .. } => 3241,
    }
}

fn write_table(out: &mut impl Write, rows: &[SetRow]) -> std::io::Result<()> {
    let mut table = Table::new(&["File", "Pos", "Database", "Type", "Result"]);
    for r in rows {
        let result = match (&r.error_number, &r.error) {
            (Some(n), Some(e)) => format!("Msg {n}: {e}"),
            _ => format!(
                "The backup set on file {} is valid.",
                r.position.unwrap_or(1)
            ),
        };
        table.row(vec![
            r.file.clone(),
            r.position.map(|p| p.to_string()).unwrap_or_default(),
            r.database_name.clone().unwrap_or_default(),
            r.backup_type_description.clone().unwrap_or_default(),
            result,
        ]);
    }
    table.write(out)
}
