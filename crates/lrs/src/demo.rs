//! `lrs demo`: the whole story on one machine, with no Azure and no Docker. It starts the
//! emulator in-process (`lrs serve`'s code with demo defaults), forges a database's full backup
//! into a local folder and keeps adding log backups to it, starts a continuous migration of
//! that folder, prints how to watch it (endpoint, dashboard, `az` commands), and on Ctrl-C cuts
//! over with the last restored backup and stops.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use lrs_forge::{Chain, ChainSpec, DatabaseSpec, PlannedFile};
use serde_json::{Value, json};

use crate::serve;

/// Resource group of the demo's managed instance.
const RESOURCE_GROUP: &str = "rg1";
/// The demo's managed instance.
const INSTANCE: &str = "mi1";
/// api-version of the demo's own requests (the one az sends).
const API_VERSION: &str = "2024-11-01-preview";
/// How long the cutover may take (restore the last logs, complete, come online).
const CUTOVER_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `lrs demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Folder for the emulator's state, certificate and the forged backups (default: a new
    /// temporary folder, removed on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTPS port of the ARM endpoint on 127.0.0.1 (0: a free port). Not `lrs serve`'s 8443,
    /// so the demo runs beside a server.
    #[arg(long, default_value_t = 9443)]
    port: u16,
    /// Seconds between new log backups.
    #[arg(long, default_value_t = 10.0)]
    interval: f64,
    /// Run emulated time this many times faster than real time (as `lrs serve --time-scale`).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Name of the demo database.
    #[arg(long, default_value = "demo")]
    database: String,
}

/// Run the demo until SIGINT/SIGTERM, then cut over and stop.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        bail!("--interval must be at least 0.1 seconds");
    }
    if args.database.is_empty()
        || !args
            .database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("--database takes letters, digits, '_' and '-' (it names files and a URL)");
    }
    // The temporary folder lives until the end of this function: the emulator's files are in it.
    let temp = match &args.data_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("lrs-demo-")
                .tempdir()
                .context("creating a temporary folder")?,
        ),
    };
    let data_dir = match (&args.data_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => bail!("no data folder"),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data folder {}", data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&data_dir)
        .with_context(|| format!("resolving {}", data_dir.display()))?;
    let root = data_dir.join("backups");
    let folder = root.join(&args.database);
    // Backups are written here first, then renamed into the folder, so the emulator never
    // lists a half-written file.
    let staging = data_dir.join("staging");
    if folder.exists() {
        bail!(
            "{} exists already: give a new --data-dir (the demo forges a new chain each time)",
            folder.display()
        );
    }
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;

    // Scan the folder a few times per interval, so new logs are restored soon after they land.
    let poll = (args.interval / 4.0).clamp(0.05, 2.0);
    let serve_args = serve::args_from([
        "--data-dir".to_string(),
        data_dir.display().to_string(),
        "--https".to_string(),
        format!("127.0.0.1:{}", args.port),
        "--local-root".to_string(),
        root.display().to_string(),
        "--time-scale".to_string(),
        args.time_scale.to_string(),
        "--poll-interval".to_string(),
        poll.to_string(),
    ])?;
    // Warnings only: the demo's own lines are the story, the access log would drown them.
    let running = serve::start(&serve_args, "warn").await?;
    let Some(addr) = running.server.https_addr() else {
        bail!("the emulator has no HTTPS listener");
    };
    let cert = running
        .server
        .cert_path()
        .map(Path::to_path_buf)
        .context("the emulator has no certificate")?;
    let outcome = demo(
        &args,
        &running,
        addr.port(),
        &cert,
        &folder,
        &staging,
        temp.is_some(),
    )
    .await;
    running.stop().await;
    match outcome {
        Ok(()) => {
            println!("lrs demo: stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

/// Everything between starting the emulator and stopping it.
async fn demo(
    args: &DemoArgs,
    running: &serve::Running,
    port: u16,
    cert: &Path,
    folder: &Path,
    staging: &Path,
    temporary: bool,
) -> anyhow::Result<()> {
    let db = &args.database;
    let api = Api::new(port, cert, db)?;
    let mut forge = Forge::new(db, folder, staging);

    // The machine-readable line of `lrs serve` first: scripts and tests learn the port here.
    println!("{}", running.ready);
    let first = forge.full()?;
    let log = forge.log()?;
    println!(
        "lrs demo: forged {first} and {log} into {}{}",
        folder.display(),
        if temporary {
            " (a temporary folder, removed on exit; --data-dir keeps it)"
        } else {
            ""
        }
    );
    api.start_migration(folder).await?;
    let endpoint = format!("https://localhost:{port}");
    println!(
        "lrs demo: continuous migration of database {db} started from file://{} \
         (a new log backup every {} s)",
        folder.display(),
        args.interval
    );
    println!("lrs demo: ARM endpoint  {endpoint}/");
    println!("lrs demo: dashboard     {endpoint}/");
    println!("lrs demo: certificate   {}", cert.display());
    println!();
    print!(
        "{}",
        crate::admin::az_setup_text(&endpoint, cert, "LrsEmu", lrs_arm::DEFAULT_TENANT_ID)?
    );
    println!("# Then watch the migration:");
    println!(
        "az sql midb log-replay show -g {RESOURCE_GROUP} --mi {INSTANCE} -n {db} \
         --query \"{{status:status, restored:numberOfFilesRestored, last:lastRestoredFileName}}\" -o json"
    );
    println!("az sql midb show -g {RESOURCE_GROUP} --mi {INSTANCE} -n {db} --query status -o tsv");
    println!();
    println!("lrs demo: ready (Ctrl-C cuts over and stops)");

    let signal = serve::wait_for_signal();
    tokio::pin!(signal);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(args.interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            () = &mut signal => break,
            _ = ticker.tick() => {
                let name = forge.log()?;
                let details = api.details().await.unwrap_or(Value::Null);
                println!(
                    "lrs demo: wrote {name}; restored {} file(s), last {}",
                    details["properties"]["numberOfFilesRestored"].as_u64().unwrap_or(0),
                    details["properties"]["lastRestoredFileName"].as_str().unwrap_or("-"),
                );
            }
        }
    }

    println!(
        "lrs demo: interrupted: no more log backups; cutting over after {}",
        forge.last
    );
    // A second Ctrl-C gives up on the cutover: the signal handler replaced the default
    // action, so without this the process could only be killed.
    tokio::select! {
        result = api.cut_over(&forge.last) => result,
        () = serve::wait_for_signal() => bail!("interrupted again: stopped without cutting over"),
    }
}

/// Writes the demo's backup chain, one file at a time.
struct Forge {
    chain: Chain,
    spec: ChainSpec,
    db: String,
    folder: PathBuf,
    staging: PathBuf,
    logs: u32,
    /// The newest file in the folder.
    last: String,
}

impl Forge {
    fn new(db: &str, folder: &Path, staging: &Path) -> Forge {
        let mut spec = DatabaseSpec::new(db);
        // Small, so that the demo starts in a moment; WITH CHECKSUM (DatabaseSpec's default),
        // which the default lrs-2021 profile requires.
        spec.data_size = 8 << 20;
        spec.log_size = 256 << 10;
        Forge {
            chain: Chain::new(spec.clone()),
            spec: ChainSpec::new(spec),
            db: db.to_string(),
            folder: folder.to_path_buf(),
            staging: staging.to_path_buf(),
            logs: 0,
            last: String::new(),
        }
    }

    fn full(&mut self) -> anyhow::Result<String> {
        let set = self.chain.full(false);
        self.write(format!("{}_FULL_01.bak", self.db), set)
    }

    fn log(&mut self) -> anyhow::Result<String> {
        let set = self
            .chain
            .log()
            .context("the chain has no full backup to follow")?;
        self.logs += 1;
        self.write(format!("{}_LOG_{:05}.trn", self.db, self.logs), set)
    }

    /// Write into the staging folder, then rename into place (one atomic step on one file
    /// system). A small file: written on the runtime's thread.
    fn write(&mut self, name: String, set: lrs_backup::SetSpec) -> anyhow::Result<String> {
        let file = PlannedFile {
            name: name.clone(),
            sets: vec![set],
        };
        for forged in lrs_forge::write_planned(&self.spec, &file, &self.staging)
            .with_context(|| format!("forging {name}"))?
        {
            let Some(file_name) = forged.path.file_name() else {
                bail!("the forge wrote {}, not a file", forged.path.display());
            };
            let target = self.folder.join(file_name);
            std::fs::rename(&forged.path, &target)
                .with_context(|| format!("moving {name} into {}", self.folder.display()))?;
        }
        self.last.clone_from(&name);
        Ok(name)
    }
}

/// The demo's requests to its own ARM endpoint, over HTTPS with the generated certificate.
struct Api {
    client: reqwest::Client,
    database: String,
}

impl Api {
    fn new(port: u16, cert: &Path, db: &str) -> anyhow::Result<Api> {
        let pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let mut builder = reqwest::Client::builder();
        for c in reqwest::Certificate::from_pem_bundle(&pem)
            .context("the generated certificate is not PEM")?
        {
            builder = builder.add_root_certificate(c);
        }
        Ok(Api {
            client: builder.build().context("building the HTTP client")?,
            database: format!(
                "https://localhost:{port}/subscriptions/{}/resourceGroups/{RESOURCE_GROUP}\
                 /providers/Microsoft.Sql/managedInstances/{INSTANCE}/databases/{db}",
                lrs_arm::DEFAULT_SUBSCRIPTION_ID
            ),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}?api-version={API_VERSION}", self.database)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let response = request.send().await.with_context(|| what.to_string())?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{what} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn start_migration(&self, folder: &Path) -> anyhow::Result<()> {
        let body = json!({
            "location": "westeurope",
            "properties": {
                "createMode": "RestoreExternalBackup",
                "storageContainerUri": format!("file://{}", folder.display()),
                "autoCompleteRestore": false
            }
        });
        self.send(
            self.client.put(self.url("")).json(&body),
            "starting the migration",
        )
        .await
        .map(drop)
    }

    async fn details(&self) -> anyhow::Result<Value> {
        self.send(
            self.client.get(self.url("/restoreDetails/Default")),
            "reading the restore details",
        )
        .await
    }

    /// Wait until `last` is restored, complete with it, and wait until the database is Online.
    async fn cut_over(&self, last: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + CUTOVER_TIMEOUT;
        let details = loop {
            let details = self.details().await?;
            if details["properties"]["lastRestoredFileName"] == json!(last) {
                break details;
            }
            if Instant::now() > deadline {
                bail!("{last} was not restored within {CUTOVER_TIMEOUT:?}: {details}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let restored = details["properties"]["numberOfFilesRestored"]
            .as_u64()
            .unwrap_or(0);
        println!("lrs demo: completing the migration with {last} ({restored} file(s) restored)");
        self.send(
            self.client
                .post(self.url("/completeRestore"))
                .json(&json!({ "lastBackupName": last })),
            "completing the migration",
        )
        .await?;
        loop {
            let db = self
                .send(self.client.get(self.url("")), "reading the database")
                .await?;
            let status = db["properties"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if status == "Online" {
                println!(
                    "lrs demo: database {} is Online",
                    db["name"].as_str().unwrap_or("?")
                );
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the database did not come online within {CUTOVER_TIMEOUT:?}: {db}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
