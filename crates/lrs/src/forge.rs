//! `lrs forge chain | live`: write synthetic SQL Server backup chains for tests and demos.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use lrs_backup::{BackupDateTime, Layout, RecoveryModel};
use lrs_forge::{
    Chain, ChainSpec, Compression, DatabaseSpec, ForgeProgress, ForgedFile, PlannedFile,
};

/// What to forge.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ForgeCommand {
    /// Write a whole backup chain (fulls, differentials, logs) into a folder.
    Chain(ChainArgs),
    /// Keep adding log backups to a folder, like a running server (continuous-mode demos).
    Live(LiveArgs),
}

/// The database and how its backups are written.
#[derive(Debug, clap::Args)]
pub(crate) struct DatabaseArgs {
    /// Database name.
    #[arg(long)]
    db: String,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Server name written into the headers (`MACHINE` or `MACHINE\INSTANCE`).
    #[arg(long, default_value = "SQL01")]
    server: String,
    /// Data size of a full backup, e.g. 256MiB.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    data_size: u64,
    /// Log carried by each log backup, e.g. 8MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    log_size: u64,
    /// Write backups WITH CHECKSUM (page checksums and CSUM streams).
    #[arg(long)]
    checksum: bool,
    /// Compression: none, xpress (SQL Server's default) or zstd (SQL Server 2025).
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    compress: Compression,
    /// SQL Server layout to mimic: 2016 (2016–2022), 2012 (2012–2014), 2008r2 or 2005.
    #[arg(long, default_value = "2016", value_parser = parse_layout)]
    layout: Layout,
    /// Soft filemark size (BACKUP ... BLOCKSIZE): 512 or 4096.
    #[arg(long, default_value_t = 512)]
    block_size: u32,
    /// Recovery model: full, bulk-logged or simple.
    #[arg(long, default_value = "full", value_parser = parse_recovery_model)]
    recovery_model: RecoveryModel,
    /// Start time of the first backup (server local time), YYYY-MM-DDTHH:MM:SS.
    #[arg(long, default_value = "2026-11-26T22:00:00", value_parser = parse_datetime)]
    start: BackupDateTime,
    /// Time between backups in the headers, e.g. 5m.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    interval: Duration,
    /// Seed: the same arguments and seed write the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Log files of the database (several make a layout Managed Instance refuses).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    log_files: u32,
}

impl DatabaseArgs {
    fn spec(&self) -> anyhow::Result<DatabaseSpec> {
        if !matches!(self.block_size, 512 | 4096) {
            bail!("--block-size must be 512 or 4096");
        }
        Ok(DatabaseSpec {
            database: self.db.clone(),
            server: self.server.clone(),
            layout: self.layout,
            data_size: self.data_size,
            log_size: self.log_size,
            checksum: self.checksum,
            recovery_model: self.recovery_model,
            start: self.start,
            interval_seconds: self.interval.as_secs().max(1),
            seed: self.seed,
            log_files: self.log_files,
        })
    }
}

/// `lrs forge chain`.
#[derive(Debug, clap::Args)]
pub(crate) struct ChainArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Full backups.
    #[arg(long, default_value_t = 1)]
    fulls: u32,
    /// Differential backups, spread between the logs.
    #[arg(long, default_value_t = 0)]
    diffs: u32,
    /// Log backups.
    #[arg(long, default_value_t = 10)]
    logs: u32,
    /// Files per backup (striped media set).
    #[arg(long, default_value_t = 1)]
    stripes: u16,
    /// Also take a copy-only full right after the first full.
    #[arg(long)]
    copy_only_full: bool,
    /// Leave out the log backup after log N (a hole in the chain).
    #[arg(long)]
    gap_after: Option<u32>,
    /// Restore and recover the database after log N (a new recovery fork).
    #[arg(long)]
    fork_after: Option<u32>,
    /// Append all log backups to one file (positions 1, 2, ...).
    #[arg(long)]
    append: bool,
}

/// `lrs forge live`.
#[derive(Debug, clap::Args)]
pub(crate) struct LiveArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Wall-clock time between new log backups, e.g. 5s.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    every: Duration,
    /// Stop after this many log backups (default: run until interrupted).
    #[arg(long)]
    count: Option<u32>,
}

/// Run a forge command.
pub(crate) fn run(command: ForgeCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match command {
        ForgeCommand::Chain(args) => {
            if args.stripes == 0 || args.stripes > 64 {
                bail!("--stripes must be between 1 and 64");
            }
            let spec = ChainSpec {
                db: args.db.spec()?,
                fulls: args.fulls.max(1),
                diffs: args.diffs,
                logs: args.logs,
                stripes: args.stripes,
                compression: args.db.compress,
                copy_only_full: args.copy_only_full,
                gap_after: args.gap_after,
                fork_after: args.fork_after,
                append: args.append,
                soft_filemark_size: args.db.block_size,
            };
            let total_files = lrs_forge::plan(&spec).len() as u64 * u64::from(spec.stripes);
            let bar = crate::progress::bytes(lrs_forge::estimated_bytes(&spec), quiet);
            let mut done = 0u64;
            bar.set_message(format!("0/{total_files} files"));
            let files = lrs_forge::write_chain_with(&spec, &args.db.out, &mut |event| {
                match event {
                    ForgeProgress::Bytes(n) => {
                        bar.inc(n);
                        // The estimate leaves out MTF headers: grow rather than overflow.
                        if bar.length().is_some_and(|len| bar.position() > len) {
                            bar.set_length(bar.position());
                        }
                    }
                    ForgeProgress::File(_) => {
                        done += 1;
                        bar.set_message(format!("{done}/{total_files} files"));
                    }
                }
            })
            .with_context(|| format!("writing into {}", args.db.out.display()))?;
            bar.finish_and_clear();
            report(&files);
            Ok(ExitCode::SUCCESS)
        }
        ForgeCommand::Live(args) => live(&args),
    }
}

fn live(args: &LiveArgs) -> anyhow::Result<ExitCode> {
    let db = args.db.spec()?;
    let spec = ChainSpec {
        compression: args.db.compress,
        soft_filemark_size: args.db.block_size,
        ..ChainSpec::new(db.clone())
    };
    let mut chain = Chain::new(db);
    let write = |file: PlannedFile| -> anyhow::Result<()> {
        let files = lrs_forge::write_planned(&spec, &file, &args.db.out)
            .with_context(|| format!("writing into {}", args.db.out.display()))?;
        report(&files);
        Ok(())
    };
    std::fs::create_dir_all(&args.db.out)?;
    write(PlannedFile {
        name: format!("{}_FULL_01.bak", args.db.db),
        sets: vec![chain.full(false)],
    })?;
    let mut n = 0u32;
    while args.count.is_none_or(|count| n < count) {
        std::thread::sleep(args.every);
        n += 1;
        if let Some(set) = chain.log() {
            write(PlannedFile {
                name: format!("{}_LOG_{n:05}.trn", args.db.db),
                sets: vec![set],
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(files: &[ForgedFile]) {
    for f in files {
        for (kind, first, last) in &f.sets {
            println!(
                "{}  {} bytes  {}  FirstLSN {first}  LastLSN {last}",
                f.path.display(),
                f.bytes,
                kind.description()
            );
        }
    }
}

/// `256MiB`, `8MB`, `1GiB`, `4096`.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size unit in {s:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// `500ms`, `5s`, `2m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("unknown duration unit in {s:?} (use ms, s, m, h)")),
    }
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    match s {
        "none" => Ok(Compression::None),
        "xpress" => Ok(Compression::Xpress),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(format!("unknown compression {s:?} (none, xpress, zstd)")),
    }
}

fn parse_layout(s: &str) -> Result<Layout, String> {
    match s.to_ascii_lowercase().as_str() {
        "2016" | "2017" | "2019" | "2022" => Ok(Layout::Sql2016),
        "2014" | "2012" => Ok(Layout::Sql2012),
        "2008r2" | "2008" => Ok(Layout::Sql2008R2),
        "2005" => Ok(Layout::Sql2005),
        _ => Err(format!("unknown layout {s:?} (2016, 2012, 2008r2 or 2005)")),
    }
}

fn parse_recovery_model(s: &str) -> Result<RecoveryModel, String> {
    match s.to_ascii_lowercase().as_str() {
        "full" => Ok(RecoveryModel::Full),
        "bulk-logged" | "bulk_logged" => Ok(RecoveryModel::BulkLogged),
        "simple" => Ok(RecoveryModel::Simple),
        _ => Err(format!(
            "unknown recovery model {s:?} (full, bulk-logged, simple)"
        )),
    }
}

fn parse_datetime(s: &str) -> Result<BackupDateTime, String> {
    let err = || format!("invalid time {s:?} (expected YYYY-MM-DDTHH:MM:SS)");
    let digits: Vec<u16> = s
        .split(['-', 'T', ' ', ':'])
        .map(|p| p.parse::<u16>().map_err(|_| err()))
        .collect::<Result<_, _>>()?;
    let [year, month, day, hour, minute, second] = digits[..] else {
        return Err(err());
    };
    let small = |v: u16| u8::try_from(v).map_err(|_| err());
    let t = BackupDateTime {
        year,
        month: small(month)?,
        day: small(day)?,
        hour: small(hour)?,
        minute: small(minute)?,
        second: small(second)?,
    };
    // Round-trip through the on-disk encoding to validate the fields.
    match BackupDateTime::from_mtf(t.to_mtf()) {
        Ok(Some(valid)) if valid == t => Ok(t),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("8MB"), Ok(8_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_datetime("2026-13-01T00:00:00").is_err());
        assert!(parse_datetime("2026-11-26T22:00:00").is_ok());
    }
}
