//! `lrs plan PATH...`: the restore plan for the backups in a folder, as the T-SQL a DBA would
//! run, then what is skipped or unusable and why; `--json` for machines.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use lrs_backup::ReadOptions;
use lrs_plan::{Options, Plan, Planner, SetKind, SourceFile};

use crate::inspect::read_all;

/// Arguments of `lrs plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// Backup files or folders (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Behaviour profile: lrs-2021 (backups must have CHECKSUM) or ga (CHECKSUM optional).
    #[arg(long, default_value = "lrs-2021", value_parser = ["lrs-2021", "ga"])]
    profile: String,
    /// Only plan backups of this source database (default: the one with the most backups).
    #[arg(long)]
    database: Option<String>,
    /// Name of the database to restore as, in the T-SQL (default: the source name).
    #[arg(long)]
    target: Option<String>,
}

/// Plan the restore of the backups under `args.paths`.
pub(crate) async fn run(args: PlanArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let results = read_all(&args.paths, ReadOptions::default(), quiet).await?;
    let files = results.into_iter().map(|(name, result)| SourceFile {
        // The reader already knows each readable file's size; no second stat.
        size: result.as_ref().map_or(0, |media| media.file_size),
        content: result.map_err(|e| format!("{} (at byte offset {})", e.kind, e.offset)),
        name,
    });
    let options = Options {
        require_checksum: args.profile == "lrs-2021",
        database: args.database.clone(),
    };
    let plan = Planner::plan_files(options, files);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &plan)?;
        writeln!(out)?;
    } else {
        write_tsql(&mut out, &plan, args.target.as_deref())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `[name]` with `]` doubled.
fn quote_name(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `N'text'` with `'` doubled.
fn quote_string(s: &str) -> String {
    format!("N'{}'", s.replace('\'', "''"))
}

fn write_tsql(out: &mut impl Write, plan: &Plan, target: Option<&str>) -> std::io::Result<()> {
    let source = plan.database.as_deref().unwrap_or("database");
    let db = quote_name(target.unwrap_or(source));
    writeln!(
        out,
        "-- Restore plan for source database {} ({} backup sets)",
        quote_name(source),
        plan.order.len()
    )?;
    for set in plan.sequence() {
        let statement = if set.kind == SetKind::Log {
            "RESTORE LOG"
        } else {
            "RESTORE DATABASE"
        };
        let disks: Vec<String> = set
            .stripes
            .iter()
            .map(|s| format!("DISK = {}", quote_string(&s.file)))
            .collect();
        let position = set.stripes.first().map_or(1, |s| s.position);
        writeln!(
            out,
            "{statement} {db} FROM {} WITH FILE = {position}, NORECOVERY;  -- {:?} {} .. {}",
            disks.join(", "),
            set.kind,
            set.first_lsn,
            set.last_lsn
        )?;
    }
    if let Some(blocked) = &plan.blocked {
        writeln!(out, "-- Blocked: {}", blocked.reason)?;
        if let Some(e) = &blocked.sql_error {
            writeln!(out, "--   Msg {}: {}", e.number, e.message)?;
        }
    } else if !plan.order.is_empty() {
        writeln!(
            out,
            "-- Then, at cutover: RESTORE DATABASE {db} WITH RECOVERY;"
        )?;
    }
    let skipped: Vec<_> = plan
        .sets
        .iter()
        .filter(|s| s.status == lrs_plan::SetStatus::Skipped)
        .collect();
    if !skipped.is_empty() {
        writeln!(out, "-- Skipped ({}):", skipped.len())?;
        for s in skipped {
            writeln!(
                out,
                "--   {}: {}",
                s.first_stripe_name,
                s.reason.as_deref().unwrap_or("")
            )?;
            if let Some(e) = &s.sql_error {
                writeln!(out, "--     Msg {}: {}", e.number, e.message)?;
            }
        }
    }
    if !plan.unrestorable.is_empty() {
        writeln!(out, "-- Unrestorable ({}):", plan.unrestorable.len())?;
        for u in &plan.unrestorable {
            writeln!(out, "--   {}: {}", u.name, u.reason)?;
        }
    }
    Ok(())
}
