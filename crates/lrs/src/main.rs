//! `lrs`: the Log Replay Service emulator's command line.
//!
//! `lrs serve` runs the emulator (the ARM endpoint over the restore engine). The other
//! subcommands inspect backups the way SQL Server's `RESTORE HEADERONLY`, `FILELISTONLY` and
//! `LABELONLY` do, plan restores, and forge synthetic backups.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod demo;
mod forge;
mod inspect;
mod plan;
mod progress;
mod serve;
mod table;
mod verify;

/// Log Replay Service emulator.
#[derive(Debug, Parser)]
#[command(name = "lrs", version, about)]
struct Cli {
    /// No progress bars on standard error (there are none when it is not a terminal either).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the emulator: the ARM endpoint (HTTPS) over the restore engine.
    Serve(Box<serve::ServeArgs>),
    /// Emulate system events (software update, failover) on a running server.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Run the emulator with a forged database migrating continuously (no Azure, no Docker);
    /// Ctrl-C cuts over and stops.
    Demo(demo::DemoArgs),
    /// Print the commands that point the Azure CLI at a running server.
    AzSetup(admin::AzSetupArgs),
    /// One row per backup set, like RESTORE HEADERONLY.
    Headeronly(inspect::InspectArgs),
    /// The database files of each backup set, like RESTORE FILELISTONLY.
    Filelistonly(inspect::InspectArgs),
    /// The media header of each file, like RESTORE LABELONLY.
    Labelonly(inspect::InspectArgs),
    /// Check every backup set of local files like RESTORE VERIFYONLY WITH CHECKSUM.
    Verify(verify::VerifyArgs),
    /// The restore plan for a folder of backups, as T-SQL (or JSON).
    Plan(plan::PlanArgs),
    /// Write synthetic SQL Server backups (chains, live log streams).
    #[command(subcommand)]
    Forge(forge::ForgeCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lrs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let quiet = cli.quiet;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Admin(command) => admin::run(command).await,
            Command::AzSetup(args) => admin::az_setup(&args),
            Command::Demo(args) => demo::run(args).await,
            Command::Forge(command) => forge::run(command, quiet),
            Command::Plan(args) => plan::run(args, quiet).await,
            Command::Verify(args) => verify::run(args, quiet).await,
            Command::Headeronly(args) => inspect::run(inspect::Report::Header, args, quiet).await,
            Command::Filelistonly(args) => {
                inspect::run(inspect::Report::FileList, args, quiet).await
            }
            Command::Labelonly(args) => inspect::run(inspect::Report::Label, args, quiet).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lrs: {e:#}");
            ExitCode::FAILURE
        }
    }
}
