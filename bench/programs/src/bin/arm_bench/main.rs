//! Benchmarks of `lrs serve` with many migrations (issues #6 and #7):
//!
//! 1. memory per active job: `VmRSS` of `lrs serve` idle, then with N continuous jobs (each on
//!    its own Azurite folder, its full backup and first log restored, polling);
//! 2. latency of `GET …/restoreDetails/Default` over HTTPS at a fixed request rate (open loop:
//!    requests leave on schedule whatever the answers do, and latency counts from the
//!    scheduled time), first with the N jobs idle, then with new logs arriving;
//! 3. optionally, `wrk` (closed loop) for the saturation throughput.
//!
//! Run with `cargo run --release -p lrs-bench --bin arm_bench -- [--option value …]`
//! after `cargo build --release -p lrs`; see `bench/README.md`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use lrs_bench::{
    Args, BenchResult, Staged, cpu_time, forge, machine, memory_kib, stamp, summary, upload_all,
    upload_one,
};
use lrs_forge::{ChainSpec, DatabaseSpec};
use lrs_source::testing::{Azurite, AzuriteApi};
use lrs_testkit::server::{ServerError, TestServer};
use serde_json::{Value, json};

const CONTAINER: &str = "arm";
const INSTANCE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/bench/providers/Microsoft.Sql/managedInstances/mi1";
const API: &str = "api-version=2024-11-01-preview";

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match Args::parse(&argv) {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("arm_bench: {e}");
        std::process::exit(1);
    }
}

/// `lrs serve` under measurement (started by `lrs_testkit::server`, killed when dropped) and
/// the file its stderr goes to (removed after it).
struct Server {
    lrs: TestServer,
    stderr: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    /// Start the `lrs` binary at `lrs` on free ports and wait until it is healthy.
    async fn start(lrs: &Path, poll_interval: f64) -> BenchResult<Server> {
        let log_dir = tempfile::tempdir()?;
        let stderr = log_dir.path().join("lrs-serve.log");
        let server = TestServer::builder(lrs)
            .args(["--poll-interval", &poll_interval.to_string()])
            .stderr_to(&stderr)
            .spawn()
            .await
            .map_err(|e| match e {
                ServerError::Spawn { .. } => {
                    format!("{e} (build it: cargo build --release -p lrs)")
                }
                e => e.to_string(),
            })?;
        Ok(Server {
            lrs: server,
            stderr,
            _log_dir: log_dir,
        })
    }

    fn pid(&self) -> u32 {
        self.lrs.pid()
    }

    /// The HTTPS address (`127.0.0.1:PORT`).
    fn https(&self) -> &str {
        &self.lrs.https
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{INSTANCE}{path}?{API}", self.https())
    }

    fn cert(&self) -> &Path {
        &self.lrs.cert
    }
}

fn database(i: usize) -> String {
    format!("Db{i:03}")
}

fn folder(i: usize) -> String {
    format!("db{i:03}")
}

/// Open-loop results.
struct Load {
    /// From the scheduled send time to the last body byte (what an open-loop client sees).
    latencies: Vec<Duration>,
    /// From the moment the task actually started the request (client-side delays excluded).
    service: Vec<Duration>,
    errors: usize,
    sent: usize,
    max_in_flight: usize,
    max_send_delay: Duration,
    bytes: u64,
    elapsed: Duration,
}

/// Send GETs to `urls` (round robin) at `rate` per second for `duration`, each on schedule
/// whatever the earlier ones do; latency is from the scheduled send time to the last body byte.
async fn open_loop(
    client: &reqwest::Client,
    urls: &[String],
    rate: f64,
    duration: Duration,
) -> BenchResult<Load> {
    // A request count from a rate and a duration given on the command line (small numbers).
    #[allow(clippy::cast_possible_truncation)]
    let total = (rate * duration.as_secs_f64()).round().max(0.0) as usize;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total);
    let mut max_send_delay = Duration::ZERO;
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at).await;
        max_send_delay = max_send_delay.max(tokio::time::Instant::now() - at);
        let client = client.clone();
        let url = urls[i % urls.len()].clone();
        let in_flight = Arc::clone(&in_flight);
        let max_in_flight = Arc::clone(&max_in_flight);
        tasks.push(tokio::spawn(async move {
            let sent = tokio::time::Instant::now();
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_in_flight.fetch_max(now, Ordering::SeqCst);
            let result = async {
                let response = client.get(&url).bearer_auth("bench").send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, body.len()))
            }
            .await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (at.elapsed(), sent.elapsed(), result)
        }));
    }
    let mut load = Load {
        latencies: Vec::with_capacity(total),
        service: Vec::with_capacity(total),
        errors: 0,
        sent: total,
        max_in_flight: 0,
        max_send_delay,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        match task.await {
            Ok((latency, service, Ok((status, bytes)))) if status.as_u16() == 200 => {
                load.latencies.push(latency);
                load.service.push(service);
                load.bytes += bytes as u64;
            }
            Ok((_, _, Ok((status, _)))) => {
                load.errors += 1;
                if load.errors <= 3 {
                    eprintln!("  answer {status}");
                }
            }
            Ok((_, _, Err(e))) => {
                load.errors += 1;
                if load.errors <= 3 {
                    eprintln!("  request failed: {e}");
                }
            }
            Err(e) => return Err(format!("load task: {e}").into()),
        }
    }
    load.elapsed = start.elapsed();
    load.max_in_flight = max_in_flight.load(Ordering::SeqCst);
    Ok(load)
}

fn report_load(label: &str, load: &Load, rate: f64, cpu: Duration) {
    println!(
        "  [{}] loadavg {}",
        stamp(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut sorted = load.latencies.clone();
    sorted.sort();
    println!(
        "  {label}: {} requests scheduled at {rate} req/s over {:.1} s; {} OK, {} errors; {:.1} KiB per answer; max in flight {}; latest send {:.2} ms behind schedule",
        load.sent,
        load.elapsed.as_secs_f64(),
        load.latencies.len(),
        load.errors,
        load.bytes as f64 / load.latencies.len().max(1) as f64 / 1024.0,
        load.max_in_flight,
        load.max_send_delay.as_secs_f64() * 1000.0
    );
    println!(
        "    latency from the scheduled time {}",
        summary(&load.latencies)
    );
    println!(
        "    latency from the actual send    {}",
        summary(&load.service)
    );
    println!(
        "    p99.9={:.2} ms; lrs serve CPU {:.2} s over the phase ({:.0}% of one core)",
        lrs_bench::quantile(&sorted, 0.999).as_secs_f64() * 1000.0,
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 100.0 / load.elapsed.as_secs_f64().max(0.001)
    );
}

fn print_memory(label: &str, pid: u32) -> BenchResult<u64> {
    let (rss, hwm) = memory_kib(pid)?;
    let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    println!("  {label}: VmRSS {rss} KiB, VmHWM {hwm} KiB, {threads} threads");
    Ok(rss)
}

async fn details(client: &reqwest::Client, url: &str) -> BenchResult<Value> {
    let response = client.get(url).bearer_auth("bench").send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status.as_u16() != 200 {
        return Err(format!("GET restoreDetails: {status}: {body}").into());
    }
    Ok(body)
}

/// Wait until database `i` has restored `name`.
async fn wait_one_restored(
    client: &reqwest::Client,
    server: &Server,
    i: usize,
    name: &str,
    limit: Duration,
) -> BenchResult<()> {
    let started = Instant::now();
    let url = server.url(&format!(
        "/databases/{}/restoreDetails/Default",
        database(i)
    ));
    loop {
        let d = details(client, &url).await?;
        if d["properties"]["lastRestoredFileName"].as_str() == Some(name) {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(format!(
                "{} did not restore {name} within {limit:?}: {d}",
                database(i)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until every database's last restored file is `name`.
async fn wait_restored(
    client: &reqwest::Client,
    server: &Server,
    jobs: usize,
    name: &str,
    limit: Duration,
) -> BenchResult<Duration> {
    let started = Instant::now();
    let mut pending: Vec<usize> = (0..jobs).collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for &i in &pending {
            let d = details(
                client,
                &server.url(&format!(
                    "/databases/{}/restoreDetails/Default",
                    database(i)
                )),
            )
            .await?;
            let last = d["properties"]["lastRestoredFileName"]
                .as_str()
                .unwrap_or("");
            let status = d["properties"]["status"].as_str().unwrap_or("");
            if status == "Failed" {
                return Err(format!("{} failed: {d}", database(i)).into());
            }
            if last != name {
                still.push(i);
            }
        }
        pending = still;
        if started.elapsed() > limit {
            return Err(format!(
                "{} databases did not restore {name} within {limit:?}",
                pending.len()
            )
            .into());
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(started.elapsed())
}

async fn run(args: Args) -> BenchResult<()> {
    let lrs = PathBuf::from(args.string("lrs", "target/release/lrs"));
    let jobs: usize = args.number("jobs", 100)?;
    let rate: f64 = args.number("rate", 200.0)?;
    let idle_secs: f64 = args.number("idle-duration", 30.0)?;
    let busy_secs: f64 = args.number("duration", 60.0)?;
    let poll_interval: f64 = args.number("poll-interval", 2.0)?;
    let log_every: f64 = args.number("log-every", 10.0)?;
    let settle: f64 = args.number("settle", 10.0)?;
    let wrk_secs: f64 = args.number("wrk-duration", 0.0)?;
    if jobs == 0 || rate <= 0.0 || log_every <= 0.0 {
        return Err("--jobs, --rate and --log-every must be positive".into());
    }
    println!("{}", machine());
    println!("started {}", stamp());
    lrs_source::install_crypto_provider();

    let azurite = Azurite::start()?.ok_or(
        "azurite-blob is not installed (scripts/services/azurite.sh install) and LRS_AZURITE_BLOB_URL is not set",
    )?;
    azurite.create_container(CONTAINER).await?;
    let api: AzuriteApi = azurite.api();

    // One forged chain, uploaded to every folder: jobs do not share anything but the
    // process, and each restores into its own target database.
    // Logs per database for the busy phase (a small number from the command line).
    #[allow(clippy::cast_possible_truncation)]
    let logs_needed = (busy_secs / log_every).ceil().clamp(0.0, 10_000.0) as u32 + 3;
    let mut db = DatabaseSpec::new("Arm");
    let data_mib: u64 = args.number("data-size-mib", 2)?;
    db.data_size = data_mib << 20;
    db.log_size = 64 << 10;
    let mut spec = ChainSpec::new(db);
    spec.logs = logs_needed;
    let staging = tempfile::tempdir()?;
    let staged: Vec<Staged> = forge(&spec, staging.path())?;
    let t = Instant::now();
    for i in 0..jobs {
        upload_all(&api, CONTAINER, &folder(i), &staged[..2], 2).await?;
    }
    println!(
        "uploaded the full ({} bytes) and log 1 ({} bytes) to {jobs} folders in {:.1} s",
        staged[0].size,
        staged[1].size,
        t.elapsed().as_secs_f64()
    );

    let server = Server::start(&lrs, poll_interval).await?;
    let pem = std::fs::read(server.cert())?;
    // HTTP/1.1 by default, as the Azure CLI (Python requests) and PowerShell (.NET) speak it;
    // --http http2 lets ALPN pick HTTP/2 (reqwest offers it: another crate enables the feature).
    let builder = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem)?])
        .timeout(Duration::from_secs(30));
    let client = match args.string("http", "http1").as_str() {
        "http1" => builder.http1_only().build()?,
        "http2" => builder.build()?,
        other => return Err(format!("--http must be http1 or http2, not {other}").into()),
    };
    println!(
        "lrs serve pid {} on https://{} (--poll-interval {poll_interval}, RUST_LOG=warn, SQLite store)",
        server.pid(),
        server.https()
    );
    let probe = client
        .get(format!("https://{}/healthz", server.https()))
        .send()
        .await?;
    let version = format!("{:?}", probe.version());
    println!("HTTPS client speaks {version} to lrs serve (rustls, keep-alive, one pool)");
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("\nmemory:");
    let rss0 = print_memory("idle, no jobs", server.pid())?;

    // Baseline: the same open loop on /healthz (no store, no engine): what the client, TLS and
    // the HTTP stack cost by themselves on this machine; it also warms up the connections.
    let health = vec![format!("https://{}/healthz", server.https())];
    let baseline_secs: f64 = args.number("baseline-duration", 15.0)?;
    if baseline_secs > 0.0 {
        println!("\nbaseline: GET /healthz over HTTPS ({version}), open loop, no jobs:");
        let cpu_before = cpu_time(server.pid())?;
        let load = open_loop(
            &client,
            &health,
            rate,
            Duration::from_secs_f64(baseline_secs),
        )
        .await?;
        let cpu = cpu_time(server.pid())? - cpu_before;
        report_load("GET /healthz", &load, rate, cpu);
    }

    let now = Utc::now();
    let sas = azurite.container_sas(
        CONTAINER,
        "rl",
        now - chrono::Duration::minutes(5),
        now + chrono::Duration::days(1),
    );
    let sequential = match args.string("start", "together").as_str() {
        "together" => false,
        "sequential" => true,
        other => return Err(format!("--start must be together or sequential, not {other}").into()),
    };
    let log1 = staged[1].name.clone();
    let t = Instant::now();
    for i in 0..jobs {
        let body = json!({
            "location": "westeurope",
            "properties": {
                "createMode": "RestoreExternalBackup",
                "storageContainerUri": azurite.container_url(CONTAINER, &folder(i)),
                "storageContainerSasToken": sas,
                "autoCompleteRestore": false
            }
        });
        let response = client
            .put(server.url(&format!("/databases/{}", database(i))))
            .bearer_auth("bench")
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        if status != 201 && status != 202 {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("PUT {}: {status}: {text}", database(i)).into());
        }
        if sequential {
            // One restore at a time: no two jobs' restore buffers are alive together.
            wait_one_restored(&client, &server, i, &log1, Duration::from_secs(120)).await?;
        }
    }
    let put_took = t.elapsed();
    let restored_in =
        wait_restored(&client, &server, jobs, &log1, Duration::from_secs(600)).await?;
    println!(
        "  started {jobs} continuous migrations ({}) in {:.2} s (PUT over HTTPS); all had restored their full and {log1} {:.1} s later",
        if sequential {
            "one after the other, each once the previous had restored its full and first log"
        } else {
            "back to back"
        },
        put_took.as_secs_f64(),
        restored_in.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs_f64(settle)).await;
    let cpu_before = cpu_time(server.pid())?;
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu = cpu_time(server.pid())? - cpu_before;
    let rss_n = print_memory(
        &format!("{jobs} active jobs, idle polling ({settle} s after the last restore)"),
        server.pid(),
    )?;
    println!(
        "  per active job: ({rss_n} - {rss0}) / {jobs} = {:.1} KiB",
        (rss_n as f64 - rss0 as f64) / jobs as f64
    );
    println!(
        "  lrs serve CPU with {jobs} idle jobs: {:.2} s over {:.1} s ({:.1}% of one core)",
        idle_cpu.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        idle_cpu.as_secs_f64() * 100.0 / t.elapsed().as_secs_f64()
    );

    let urls: Vec<String> = (0..jobs)
        .map(|i| {
            server.url(&format!(
                "/databases/{}/restoreDetails/Default",
                database(i)
            ))
        })
        .collect();
    println!(
        "\nGET restoreDetails, open loop, HTTPS ({version}), round robin over the {jobs} databases:"
    );
    let cpu_before = cpu_time(server.pid())?;
    let idle = open_loop(&client, &urls, rate, Duration::from_secs_f64(idle_secs)).await?;
    let cpu = cpu_time(server.pid())? - cpu_before;
    report_load(
        &format!("{jobs} jobs polling, no new logs"),
        &idle,
        rate,
        cpu,
    );
    if args.string("plain-too", "false") == "true" {
        // The same over the plain-HTTP listener: what TLS adds.
        let plain_urls: Vec<String> = urls
            .iter()
            .map(|u| u.replacen(&format!("https://{}", server.https()), &server.lrs.http, 1))
            .collect();
        let plain = reqwest::Client::builder().no_proxy().build()?;
        let cpu_before = cpu_time(server.pid())?;
        let load = open_loop(
            &plain,
            &plain_urls,
            rate,
            Duration::from_secs_f64(idle_secs),
        )
        .await?;
        let cpu = cpu_time(server.pid())? - cpu_before;
        report_load(
            &format!("{jobs} jobs polling, no new logs, plain HTTP"),
            &load,
            rate,
            cpu,
        );
    }

    // Logs arrive: each database gets its next log every `log_every` seconds, spread evenly.
    let uploads = Arc::new(AtomicUsize::new(0));
    let uploader = {
        let api = api.clone();
        let staged = staged.clone();
        let uploads = Arc::clone(&uploads);
        let gap = Duration::from_secs_f64(log_every / jobs as f64);
        let deadline = Instant::now() + Duration::from_secs_f64(busy_secs);
        tokio::spawn(async move {
            let mut next = 2usize;
            let mut ticker = tokio::time::interval(gap);
            'outer: while next < staged.len() {
                for i in 0..jobs {
                    ticker.tick().await;
                    if Instant::now() >= deadline {
                        break 'outer;
                    }
                    if let Err(e) = upload_one(&api, CONTAINER, &folder(i), &staged[next]).await {
                        eprintln!("upload failed: {e}");
                    }
                    uploads.fetch_add(1, Ordering::SeqCst);
                }
                next += 1;
            }
            next
        })
    };
    let cpu_before = cpu_time(server.pid())?;
    let busy = open_loop(&client, &urls, rate, Duration::from_secs_f64(busy_secs)).await?;
    let cpu = cpu_time(server.pid())? - cpu_before;
    let last_index = uploader.await.map_err(|e| format!("uploader: {e}"))?;
    report_load(
        &format!(
            "{jobs} jobs with logs arriving (one per database every {log_every} s: {} uploaded during the phase)",
            uploads.load(Ordering::SeqCst)
        ),
        &busy,
        rate,
        cpu,
    );
    // Every job restored what reached it.
    let mut restored = 0u64;
    tokio::time::sleep(Duration::from_secs_f64(poll_interval * 2.0 + 1.0)).await;
    for url in &urls {
        let d = details(&client, url).await?;
        restored += d["properties"]["numberOfFilesRestored"]
            .as_u64()
            .unwrap_or(0);
    }
    println!(
        "  afterwards: {restored} files restored over the {jobs} jobs ({} uploaded in all; the uploader reached log index {})",
        2 * jobs + uploads.load(Ordering::SeqCst),
        last_index
    );
    println!("\nmemory after the load:");
    print_memory(&format!("{jobs} jobs"), server.pid())?;

    if wrk_secs > 0.0 {
        println!("\nwrk (closed loop, for the saturation throughput), one database:");
        let output = Command::new("wrk")
            .args([
                "-t2",
                "-c8",
                &format!("-d{}s", wrk_secs.round()),
                "--latency",
            ])
            .args(["-H", "Authorization: Bearer bench"])
            .arg(&urls[0])
            .output();
        match output {
            Ok(out) => {
                println!("{}", String::from_utf8_lossy(&out.stdout));
                if !out.status.success() {
                    println!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
                }
            }
            Err(e) => println!("  wrk not run: {e} (apt-get install -y wrk)"),
        }
    }
    let errors = std::fs::read_to_string(&server.stderr).unwrap_or_default();
    let warnings = errors
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();
    println!("lrs serve logged {warnings} warning/error lines");
    for line in errors
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .take(5)
    {
        println!("  {line}");
    }
    println!("finished {}", stamp());
    Ok(())
}
