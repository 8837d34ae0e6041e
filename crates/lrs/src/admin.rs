//! `lrs admin …` (emulate system events on a running server) and `lrs az-setup` (the commands
//! that point the Azure CLI at it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

/// Where the running server is and how to trust it.
#[derive(Debug, Args)]
pub(crate) struct Endpoint {
    /// Base URL of `lrs serve`.
    #[arg(long, env = "LRS_ENDPOINT", default_value = "https://localhost:8443")]
    endpoint: String,
    /// CA certificate (PEM) to trust for HTTPS: the one `lrs serve` generated.
    #[arg(long, env = "LRS_CACERT", default_value = "lrs-data/tls/cert.pem")]
    cacert: PathBuf,
}

/// System events the real service undergoes, on demand.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// A system-managed software update now: stops `lrs-2021` jobs past their 47-hour window;
    /// suspends and resumes `ga` jobs.
    SystemPatch(Endpoint),
    /// A failover of one managed instance now: a job still restoring its first full fails and
    /// its database is dropped; other jobs resume.
    Failover {
        #[command(flatten)]
        endpoint: Endpoint,
        /// Subscription id.
        #[arg(long)]
        subscription: String,
        /// Resource group.
        #[arg(long)]
        resource_group: String,
        /// Managed instance name.
        #[arg(long)]
        instance: String,
    },
    /// Inject a fault: make a migration fail, stall or slow down with a code of docs/errors.md
    /// (the next migration started, or the next request the code refuses, unless --database
    /// names one).
    Inject(InjectArgs),
    /// List the injected faults.
    Faults(Endpoint),
    /// Clear every injected fault, or one (--id).
    ClearFaults {
        #[command(flatten)]
        endpoint: Endpoint,
        /// The fault to clear (its id from `inject` or `faults`).
        #[arg(long)]
        id: Option<String>,
    },
}

/// What a fault does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Effect {
    /// Refuse the request or fail the migration with the code.
    Fail,
    /// Hold the migration until cleared: it keeps listing its folder but restores nothing;
    /// restore details show the code.
    Stall,
    /// Delay each restore (shown restoring meanwhile) and the drop of the migration by
    /// --delay-ms, or until cleared.
    Slow,
}

/// Options of `lrs admin inject`.
#[derive(Debug, Args)]
pub(crate) struct InjectArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// A code of docs/errors.md (required to fail; shown by a stall).
    #[arg(long)]
    code: Option<String>,
    /// What the fault does.
    #[arg(long, value_enum, default_value = "fail")]
    effect: Effect,
    /// Delay per restore for --effect slow.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Keep firing until cleared (default: once).
    #[arg(long)]
    until_cleared: bool,
    /// Show this message instead of the catalogue's.
    #[arg(long)]
    message: Option<String>,
    /// Aim at this database (with --subscription, --resource-group, --instance).
    #[arg(long, requires_all = ["subscription", "resource_group", "instance"])]
    database: Option<String>,
    /// Subscription id of --database.
    #[arg(long)]
    subscription: Option<String>,
    /// Resource group of --database.
    #[arg(long)]
    resource_group: Option<String>,
    /// Managed instance of --database.
    #[arg(long)]
    instance: Option<String>,
}

impl InjectArgs {
    /// The JSON body of `POST /admin/faults`.
    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "effect": match self.effect {
                Effect::Fail => "fail",
                Effect::Stall => "stall",
                Effect::Slow => "slow",
            },
            "once": !self.until_cleared,
        });
        let optional = [
            ("code", self.code.clone().map(serde_json::Value::from)),
            ("delayMs", self.delay_ms.map(serde_json::Value::from)),
            ("message", self.message.clone().map(serde_json::Value::from)),
            (
                "database",
                self.database.clone().map(serde_json::Value::from),
            ),
            (
                "subscription",
                self.subscription.clone().map(serde_json::Value::from),
            ),
            (
                "resourceGroup",
                self.resource_group.clone().map(serde_json::Value::from),
            ),
            (
                "instance",
                self.instance.clone().map(serde_json::Value::from),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                body[key] = value;
            }
        }
        body
    }
}

fn client(endpoint: &Endpoint) -> anyhow::Result<reqwest::Client> {
    lrs_arm::install_crypto_provider();
    let mut builder = reqwest::Client::builder();
    if endpoint.endpoint.starts_with("https://") {
        let pem = std::fs::read(&endpoint.cacert).with_context(|| {
            format!(
                "reading the server's certificate {} (give --cacert)",
                endpoint.cacert.display()
            )
        })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .context("the --cacert file is not a PEM certificate bundle")?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("building the HTTP client")
}

/// Run `lrs admin …`.
pub(crate) async fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    let (endpoint, method, path, body) = match &command {
        AdminCommand::Inject(args) => (
            &args.endpoint,
            reqwest::Method::POST,
            "/admin/faults".to_string(),
            Some(args.body()),
        ),
        AdminCommand::Faults(endpoint) => (
            endpoint,
            reqwest::Method::GET,
            "/admin/faults".to_string(),
            None,
        ),
        AdminCommand::ClearFaults { endpoint, id } => (
            endpoint,
            reqwest::Method::DELETE,
            match id {
                Some(id) => format!("/admin/faults/{id}"),
                None => "/admin/faults".to_string(),
            },
            None,
        ),
        AdminCommand::SystemPatch(_) | AdminCommand::Failover { .. } => {
            return run_event(command).await;
        }
    };
    let url = format!("{}{path}", endpoint.endpoint.trim_end_matches('/'));
    let mut request = client(endpoint)?.request(method.clone(), &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{method} {url} answered {status}: {text}");
    }
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `lrs admin system-patch` and `lrs admin failover`.
async fn run_event(command: AdminCommand) -> anyhow::Result<ExitCode> {
    let (endpoint, path, query) = match &command {
        AdminCommand::SystemPatch(endpoint) => (endpoint, "/admin/system-patch", Vec::new()),
        AdminCommand::Failover {
            endpoint,
            subscription,
            resource_group,
            instance,
        } => (
            endpoint,
            "/admin/failover",
            vec![
                ("subscription", subscription.as_str()),
                ("resourceGroup", resource_group.as_str()),
                ("instance", instance.as_str()),
            ],
        ),
        AdminCommand::Inject(_) | AdminCommand::Faults(_) | AdminCommand::ClearFaults { .. } => {
            bail!("not a system event")
        }
    };
    let base = format!("{}{path}", endpoint.endpoint.trim_end_matches('/'));
    let url = url::Url::parse_with_params(&base, &query)
        .with_context(|| format!("--endpoint is not a URL: {base}"))?;
    let response = client(endpoint)?
        .post(url.clone())
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("POST {url} answered {status}: {body}");
    }
    println!("{body}");
    Ok(ExitCode::SUCCESS)
}

/// Options of `lrs az-setup`.
#[derive(Debug, Args)]
pub(crate) struct AzSetupArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// Name of the az cloud to register.
    #[arg(long, default_value = "LrsEmu")]
    cloud: String,
    /// Tenant id for the service-principal login.
    #[arg(long, default_value = lrs_arm::DEFAULT_TENANT_ID)]
    tenant: String,
}

/// Print the commands that point the Azure CLI at this server
/// (docs/references.md#pointing-the-clients-at-the-emulator).
pub(crate) fn az_setup(args: &AzSetupArgs) -> anyhow::Result<ExitCode> {
    let cert = std::fs::canonicalize(&args.endpoint.cacert)
        .unwrap_or_else(|_| args.endpoint.cacert.clone());
    print!(
        "{}",
        az_setup_text(&args.endpoint.endpoint, &cert, &args.cloud, &args.tenant)?
    );
    Ok(ExitCode::SUCCESS)
}

/// The shell lines `lrs az-setup` prints (each ending in a newline) for the server at
/// `endpoint` whose certificate is `cert`: shared with `lrs demo`.
pub(crate) fn az_setup_text(
    endpoint: &str,
    cert: &std::path::Path,
    cloud: &str,
    tenant: &str,
) -> anyhow::Result<String> {
    let endpoint = endpoint.trim_end_matches('/');
    if !endpoint.starts_with("https://") {
        bail!("az needs an https endpoint (bearer tokens are refused over http): {endpoint}");
    }
    Ok(format!(
        "# Point the Azure CLI at the LRS emulator (isolated profile; paste into a shell)\n\
         export AZURE_CONFIG_DIR=\"$PWD/.azure-lrs\"\n\
         export REQUESTS_CA_BUNDLE={cert}\n\
         az config set core.instance_discovery=false core.collect_telemetry=false\n\
         az cloud register -n {cloud} --endpoint-resource-manager {endpoint}/ \\\n  \
         --endpoint-active-directory {endpoint} \\\n  \
         --endpoint-active-directory-resource-id https://management.core.windows.net/ \\\n  \
         --skip-endpoint-discovery\n\
         az cloud set -n {cloud}\n\
         az login --service-principal -u 22222222-2222-2222-2222-222222222222 -p any-secret \
         --tenant {tenant}\n",
        cert = cert.display(),
    ))
}
