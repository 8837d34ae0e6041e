//! `lrs serve`: the emulator itself — the ARM front end over the restore engine, with state in
//! SQLite (default, in the data folder) or PostgreSQL, and the emulated SQL Server target (or
//! the files target, which also writes the databases' files).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use lrs_arm::{AuthMode, ServeConfig};
use lrs_engine::stack::{JournalChoice, StackError, StackOptions, StoreChoice, TargetKind};
use lrs_engine::{Engine, Profile};
use lrs_source::{Secret, SourceSettings};
use lrs_target::EmulatedOptions;

/// Options of `lrs serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Folder for the state database, the generated TLS certificate and the target (its log in
    /// DATA_DIR/target, or its log and database files in DATA_DIR/target-files).
    #[arg(long, env = "LRS_DATA_DIR", default_value = "lrs-data")]
    data_dir: PathBuf,
    /// Restore target. emulated: applies sets with SQL Server's checks and keeps only its log
    /// (DATA_DIR/target). files: the same, and also writes what RESTORE writes, one folder per
    /// database under DATA_DIR/target-files/databases with its data files (the backups' pages
    /// at their place) and its log file (the log streams concatenated); no log redo, so not a
    /// database SQL Server could attach. Several nodes need DATA_DIR/target-files on shared
    /// storage.
    #[arg(long, value_enum, env = "LRS_TARGET", default_value = "emulated")]
    target: TargetArg,
    /// Where the emulated target records what it applied. file: DATA_DIR/target (this node
    /// only). store: the state store (--store), so that nodes sharing a store share the target
    /// and any node continues any migration. auto: store with a PostgreSQL --store (the setup
    /// for several nodes), file otherwise.
    #[arg(long, value_enum, env = "LRS_TARGET_JOURNAL", default_value = "auto")]
    target_journal: JournalArg,
    /// Key that seals SAS tokens in the state store (created, owner-only, when missing). Nodes
    /// that share a store (--store postgres://…) must use the same key file.
    #[arg(
        long,
        env = "LRS_SECRETS_KEY_FILE",
        default_value = "DATA_DIR/secrets.key"
    )]
    secrets_key_file: String,
    /// HTTPS listener (the ARM endpoint clients use); port 0 picks a free port.
    #[arg(long, env = "LRS_HTTPS", default_value = "127.0.0.1:8443")]
    https: SocketAddr,
    /// Serve no HTTPS at all (only with --http).
    #[arg(long)]
    no_https: bool,
    /// Also serve plain HTTP here (health checks, managed-identity tokens, SDKs with
    /// enforce_https=False).
    #[arg(long, env = "LRS_HTTP")]
    http: Option<SocketAddr>,
    /// PEM certificate for HTTPS instead of the generated one.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// State store: sqlite://PATH or postgres://… (default: SQLite in the data folder).
    #[arg(long, env = "LRS_STORE")]
    store: Option<String>,
    /// Behaviour profile: the 2021 preview (47-hour patch window, CHECKSUM mandatory) or GA
    /// (30-day jobs, CHECKSUM optional, managed identity, 150 per subscription).
    #[arg(long, value_enum, env = "LRS_PROFILE", default_value = "lrs-2021")]
    profile: ProfileArg,
    /// Run emulated time this many times faster than real time (e.g. 3600: an hour a second).
    #[arg(long, env = "LRS_TIME_SCALE", default_value_t = 1.0)]
    time_scale: f64,
    /// Answer 404 for unknown managed instances instead of creating them on first use.
    #[arg(long)]
    strict: bool,
    /// Bearer tokens: accept any (lenient) or only tokens this server issued (strict).
    #[arg(long, value_enum, default_value = "lenient")]
    auth: AuthArg,
    /// Seconds between folder scans of an idle job.
    #[arg(long, env = "LRS_POLL_INTERVAL", default_value_t = 2.0)]
    poll_interval: f64,
    /// Seconds a node's lease on a job lasts without renewal: when a node dies, another node
    /// sharing the store adopts its jobs within this time plus one poll.
    #[arg(long, env = "LRS_LEASE", default_value_t = 30.0)]
    lease: f64,
    /// `Retry-After` seconds on long-running operations (the real service says 15).
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Limit the target's restore speed to this many MB/s (realistic demos).
    #[arg(long)]
    target_throughput_mbps: Option<f64>,
    /// Storage account key for managed-identity access: NAME=BASE64KEY (repeatable).
    /// Azurite's devstoreaccount1 is known already.
    #[arg(long = "storage-account", value_name = "NAME=KEY")]
    storage_accounts: Vec<String>,
    /// Host names or addresses (host or host:port) of storage emulators to read path-style
    /// (Azurite in a compose file). Besides these, storage URIs may only name Azure's blob
    /// endpoints and loopback addresses.
    #[arg(long = "emulator-host")]
    emulator_hosts: Vec<String>,
    /// Minutes (emulated time) a migration under way keeps retrying storage it cannot reach,
    /// showing StorageBrokenIssueDetectedWhileInProgress, before it fails with
    /// StorageBrokenIssueDetectedTerminateRetries.
    #[arg(long, env = "LRS_STORAGE_OUTAGE_MINUTES", default_value_t = 60.0)]
    storage_outage_minutes: f64,
    /// Seconds (emulated time) a cutover's complete operation stays InProgress after the
    /// database came online and the start operation ended (the real service: 0 to 37 s)
    #[arg(long, env = "LRS_CUTOVER_LAG", default_value_t = 0.0)]
    cutover_lag: f64,
    /// Local folders (file://…) migrations may read, only below these roots (repeatable);
    /// without one, local storage URIs are refused. Symlinks inside are not followed.
    #[arg(long = "local-root", value_name = "DIR")]
    local_roots: Vec<PathBuf>,
    /// S3-compatible endpoint for s3:// storage URIs.
    #[arg(long, env = "LRS_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "LRS_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// S3 access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    s3_access_key_id: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    /// This node's name when several share one PostgreSQL store.
    #[arg(long, env = "LRS_NODE")]
    node: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProfileArg {
    #[value(name = "lrs-2021")]
    Lrs2021,
    Ga,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    Emulated,
    Files,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JournalArg {
    Auto,
    File,
    Store,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AuthArg {
    Lenient,
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Colours only for a person at a terminal: in files, pipes and journald they are escape
    // codes that grep and log shippers trip over.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn source_settings(args: &ServeArgs) -> anyhow::Result<SourceSettings> {
    let mut settings = SourceSettings::default();
    for pair in &args.storage_accounts {
        let Some((name, key)) = pair.split_once('=') else {
            bail!("--storage-account takes NAME=BASE64KEY, got a value without '='");
        };
        settings = settings.with_account(name.trim(), Secret::new(key.trim()));
    }
    settings.emulator_hosts.clone_from(&args.emulator_hosts);
    settings.local_roots = Some(args.local_roots.clone());
    settings.s3.endpoint.clone_from(&args.s3_endpoint);
    settings.s3.region.clone_from(&args.s3_region);
    settings.s3.access_key_id.clone_from(&args.s3_access_key_id);
    settings.s3.secret_access_key = args.s3_secret_access_key.clone().map(Secret::new);
    settings.s3.allow_http = args
        .s3_endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    Ok(settings)
}

/// A started emulator: the ARM endpoint's listeners over a running engine.
#[derive(Debug)]
pub(crate) struct Running {
    /// The listeners (their bound addresses and certificate).
    pub(crate) server: lrs_arm::RunningServer,
    /// The restore engine behind them.
    pub(crate) engine: Engine,
    /// The JSON line `lrs serve` prints when ready: addresses, certificate, profile, target.
    pub(crate) ready: serde_json::Value,
}

impl Running {
    /// Stop accepting requests, drain the open ones, then stop the engine's jobs.
    pub(crate) async fn stop(self) {
        self.server.shutdown().await;
        self.engine.stop().await;
    }
}

/// `lrs serve`'s options from its command-line words (`["--data-dir", "…", …]`), for
/// commands that run the emulator in-process with their own defaults (`lrs demo`).
pub(crate) fn args_from<I, T>(words: I) -> anyhow::Result<ServeArgs>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }
    use clap::Parser as _;
    let words =
        std::iter::once(std::ffi::OsString::from("serve")).chain(words.into_iter().map(Into::into));
    Ok(Serve::try_parse_from(words)?.args)
}

/// Run the emulator until SIGINT/SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let running = start(&args, "info").await?;
    let server = &running.server;
    // One machine-readable line on stdout: tests and scripts learn the ports (port 0) here.
    println!("{}", running.ready);
    if let Some(addr) = server.https_addr() {
        eprintln!(
            "lrs: ARM endpoint https://{addr}/  (trust {})",
            server.cert_path().map_or_else(
                || "the given certificate".to_string(),
                |p| p.display().to_string()
            )
        );
    }
    if let Some(addr) = server.http_addr() {
        eprintln!("lrs: plain HTTP on http://{addr}/");
    }

    wait_for_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Start the emulator as `args` say, logging to stderr (`RUST_LOG`, else `default_filter`).
pub(crate) async fn start(args: &ServeArgs, default_filter: &str) -> anyhow::Result<Running> {
    init_logging(args.log_format, default_filter);
    lrs_arm::install_crypto_provider();
    if !(args.poll_interval.is_finite() && args.poll_interval > 0.0) {
        bail!("--poll-interval must be a positive number of seconds");
    }
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        bail!("--time-scale must be a positive number");
    }
    if !(args.lease.is_finite() && args.lease >= 1.0) {
        bail!("--lease must be at least 1 second");
    }
    if !(args.storage_outage_minutes.is_finite() && args.storage_outage_minutes > 0.0) {
        bail!("--storage-outage-minutes must be a positive number");
    }
    if !(args.cutover_lag.is_finite() && (0.0..=86_400.0).contains(&args.cutover_lag)) {
        bail!("--cutover-lag must be from 0 to 86400 seconds");
    }
    // Everything the server writes (state store, its journal, keys, certificate, target) is
    // for its owner only: the store holds sealed credentials and the folder names databases.
    restrict_new_files();
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data folder {}", args.data_dir.display()))?;
    owner_only(&args.data_dir, 0o700)?;
    for name in ["lrs.db", "lrs.db-wal", "lrs.db-shm"] {
        let path = args.data_dir.join(name);
        if path.exists() {
            owner_only(&path, 0o600)?;
        }
    }
    let key_path = match args.secrets_key_file.strip_prefix("DATA_DIR/") {
        Some(rest) => args.data_dir.join(rest),
        None => PathBuf::from(&args.secrets_key_file),
    };
    let secrets = lrs_engine::secrets::SecretKey::load_or_create(&key_path)
        .with_context(|| format!("loading the secrets key {}", key_path.display()))?;

    // Whole bytes per second; a rate beyond u64 is no limit at all.
    let throughput = args
        .target_throughput_mbps
        .filter(|mbps| mbps.is_finite() && *mbps > 0.0)
        .and_then(|mbps| format!("{:.0}", mbps * 1024.0 * 1024.0).parse::<u64>().ok());
    let mut options = StackOptions::new(&args.data_dir);
    if let Some(url) = &args.store {
        options.store = StoreChoice::Url(url.clone());
    }
    options.target = match args.target {
        TargetArg::Emulated => TargetKind::Emulated,
        TargetArg::Files => TargetKind::Files,
    };
    options.journal = match args.target_journal {
        JournalArg::Auto => JournalChoice::Auto,
        JournalArg::File => JournalChoice::File,
        JournalArg::Store => JournalChoice::Store,
    };
    options.target_options = EmulatedOptions {
        throughput_bytes_per_sec: throughput,
        ..EmulatedOptions::default()
    };
    options.sources = source_settings(args)?;
    options.profile = match args.profile {
        ProfileArg::Lrs2021 => Profile::lrs_2021(),
        ProfileArg::Ga => Profile::ga(),
    };
    options.time_scale = args.time_scale;
    options.poll_interval = Duration::from_secs_f64(args.poll_interval);
    options.lease = Duration::from_secs_f64(args.lease);
    options.strict_instances = args.strict;
    options.secrets = Some(Arc::new(secrets));
    options.storage_outage_limit = Duration::from_secs_f64(args.storage_outage_minutes * 60.0);
    options.cutover_lag = Duration::from_secs_f64(args.cutover_lag);
    options.node = Some(match &args.node {
        Some(node) => node.clone(),
        None => node_name(&args.data_dir)?,
    });
    let engine = match options.build().await {
        Ok(stack) => stack.engine,
        Err(StackError::JournalForFilesTarget) => bail!(
            "--target-journal store is for the emulated target: the files target keeps \
             its databases' files in its own folder (see docs/engine.md, Targets)"
        ),
        Err(e) => return Err(e.into()),
    };

    let mut serve = ServeConfig::new(&args.data_dir);
    serve.https_addr = (!args.no_https).then_some(args.https);
    serve.http_addr = args.http;
    serve.tls_cert.clone_from(&args.tls_cert);
    serve.tls_key.clone_from(&args.tls_key);
    serve.retry_after_secs = args.retry_after;
    serve.auth = match args.auth {
        AuthArg::Lenient => AuthMode::Lenient,
        AuthArg::Strict => AuthMode::Strict,
    };
    let server = lrs_arm::start(serve, engine.clone())
        .await
        .context("starting the ARM endpoint")?;

    let ready = serde_json::json!({
        "https": server.https_addr().map(|a| a.to_string()),
        "http": server.http_addr().map(|a| a.to_string()),
        "cert": server.cert_path().map(|p| p.display().to_string()),
        "profile": match args.profile { ProfileArg::Lrs2021 => "lrs-2021", ProfileArg::Ga => "ga" },
        "target": match args.target { TargetArg::Emulated => "emulated", TargetArg::Files => "files" },
    });
    Ok(Running {
        server,
        engine,
        ready,
    })
}

/// This node's stable name, kept in the data folder: a restarted process is the same node, so
/// it takes its jobs back at once instead of waiting for their leases to run out.
fn node_name(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(name) if !name.trim().is_empty() => Ok(name.trim().to_string()),
        _ => {
            let name = format!("node-{}", uuid_like());
            std::fs::write(&path, &name).with_context(|| format!("writing {}", path.display()))?;
            Ok(name)
        }
    }
}

/// 16 random hex digits (from the process's hasher seed and the clock; uniqueness, not
/// secrecy, is what matters).
fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Wait for SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// New files and folders of this process are its owner's only (umask 077).
fn restrict_new_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Give `path` the permission bits `mode` (folders made before this version were 0755).
fn owner_only(path: &std::path::Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
