//! Benchmarks of the restore engine against a real Azurite (issue #6):
//!
//! * `first-scan`: the first scan of a folder of N files (default 10,000): Azurite requests and
//!   bytes per file and the time to a built plan, against a bare listing of the same folder;
//!   then the idle poll of that big folder.
//! * `idle-poll`: a job whose small folder does not change: requests, bytes and CPU per poll.
//! * `replay-lag`: continuous mode, one new log at a time: time from the upload to the log
//!   showing as restored in restore details, for each poll interval given.
//! * `source-memory`: how much resident memory one Azure source (`open_source`, then one
//!   listing) adds: each job opens its own, which explains most of the memory per job.
//!
//! The engine runs in process over SQLite (in a temporary folder) and the emulated target, with
//! a SAS from `sign_container_sas` (through the Azurite harness); requests are counted by a
//! proxy on loopback ([`proxy`]). Run with `cargo run --release -p lrs-bench --bin
//! engine_bench -- <subcommand> [--option value …]`; see `bench/README.md`.

mod hooks;
mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use hooks::{CountingStore, GatedTarget};
use lrs_bench::{
    Args, BenchResult, Rng, Staged, cpu_time, forge, machine, ms, stamp, summary, upload_all,
    upload_one,
};
use lrs_engine::stack::{StackOptions, StoreChoice};
use lrs_engine::{Engine, Profile, RestoreDetails, StartRestore};
use lrs_forge::{ChainSpec, DatabaseSpec};
use lrs_source::testing::{Azurite, CountingSource};
use lrs_source::{Scanner, Source, SourceAuth, SourceSettings, SourceSpec, open_source};
use lrs_store::{InstanceKey, Store};
use lrs_target::Target;
use proxy::{Kind, Proxy, Snapshot};

const CONTAINER: &str = "bench";

fn instance() -> InstanceKey {
    InstanceKey {
        subscription: "00000000-1111-2222-3333-444444444444".into(),
        resource_group: "bench".into(),
        instance: "mi1".into(),
    }
}

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some("first-scan") => run(first_scan, &argv[1..]).await,
        Some("idle-poll") => run(idle_poll, &argv[1..]).await,
        Some("replay-lag") => run(replay_lag, &argv[1..]).await,
        Some("source-memory") => run(source_memory, &argv[1..]).await,
        _ => Err("usage: engine_bench first-scan|idle-poll|replay-lag|source-memory [--option value …] (see bench/README.md)".into()),
    };
    if let Err(e) = result {
        eprintln!("engine_bench: {e}");
        std::process::exit(1);
    }
}

async fn run<F, Fut>(bench: F, argv: &[String]) -> BenchResult<()>
where
    F: FnOnce(Args) -> Fut,
    Fut: std::future::Future<Output = BenchResult<()>>,
{
    let args = Args::parse(argv)?;
    println!("{}", machine());
    println!("started {}", stamp());
    bench(args).await?;
    println!("finished {}", stamp());
    Ok(())
}

/// Azurite, the counting proxy in front of it, a container, and an engine over hooks.
struct Bench {
    azurite: Azurite,
    proxy: Proxy,
    engine: Engine,
    store: Arc<CountingStore>,
    target: Arc<GatedTarget>,
    _root: tempfile::TempDir,
    sas: String,
}

impl Bench {
    async fn start(poll_interval: Duration) -> BenchResult<Bench> {
        let azurite = Azurite::start()?.ok_or(
            "azurite-blob is not installed (scripts/services/azurite.sh install) and LRS_AZURITE_BLOB_URL is not set",
        )?;
        azurite.create_container(CONTAINER).await?;
        let upstream = azurite_addr(azurite.blob_endpoint())?;
        let proxy = Proxy::start(upstream).await?;
        let root = tempfile::tempdir()?;
        let (engine, store, target) = start_engine(root.path(), poll_interval).await?;
        let now = Utc::now();
        let sas = azurite.container_sas(
            CONTAINER,
            "rl",
            now - chrono::Duration::minutes(5),
            now + chrono::Duration::days(1),
        );
        Ok(Bench {
            azurite,
            proxy,
            engine,
            store,
            target,
            _root: root,
            sas,
        })
    }

    /// The folder's URI, straight to Azurite or through the proxy.
    fn uri(&self, folder: &str, through_proxy: bool) -> String {
        let direct = self.azurite.container_url(CONTAINER, folder);
        if through_proxy {
            let endpoint = self.azurite.blob_endpoint();
            let account_path = endpoint
                .split_once("//")
                .and_then(|(_, rest)| rest.split_once('/'))
                .map_or("", |(_, path)| path);
            format!(
                "http://{}/{account_path}/{CONTAINER}/{folder}",
                self.proxy.addr()
            )
        } else {
            direct
        }
    }

    fn source(&self, folder: &str, through_proxy: bool) -> BenchResult<Arc<dyn Source>> {
        let spec = SourceSpec {
            uri: self.uri(folder, through_proxy),
            auth: SourceAuth::Sas(self.sas.clone()),
        };
        Ok(open_source(&spec, &SourceSettings::default())?)
    }

    async fn start_job(
        &self,
        database: &str,
        folder: &str,
        through_proxy: bool,
    ) -> BenchResult<uuid::Uuid> {
        self.engine
            .start_restore(StartRestore {
                instance: instance(),
                database: database.into(),
                location: "westeurope".into(),
                collation: None,
                storage_uri: Some(self.uri(folder, through_proxy)),
                sas_token: Some(self.sas.clone()),
                identity: None,
                auto_complete: false,
                last_backup_name: None,
            })
            .await
            .map_err(|e| format!("start {database}: {e:?}"))?;
        let db = self
            .engine
            .database(&instance(), database)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let job = self
            .store
            .job_for_database(db.id)
            .await?
            .ok_or_else(|| format!("{database} has no job"))?;
        Ok(job.id)
    }

    async fn details(&self, database: &str) -> BenchResult<RestoreDetails> {
        self.engine
            .restore_details(&instance(), database)
            .await
            .map_err(|e| format!("restore details of {database}: {e:?}").into())
    }

    /// Poll restore details every `every` until `done` (or `limit` passes).
    async fn wait_details(
        &self,
        database: &str,
        every: Duration,
        limit: Duration,
        done: impl Fn(&RestoreDetails) -> bool,
    ) -> BenchResult<RestoreDetails> {
        let started = Instant::now();
        loop {
            if let Ok(details) = self.details(database).await
                && done(&details)
            {
                return Ok(details);
            }
            if started.elapsed() > limit {
                let last = self.details(database).await.ok();
                return Err(format!(
                    "{database}: condition not reached in {limit:?}; last details: {last:?}"
                )
                .into());
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// The stack `lrs serve` runs (SQLite in `root`, the emulated target, `lrs-2021`, real time),
/// with the store and the target wrapped in the measuring hooks.
async fn start_engine(
    root: &std::path::Path,
    poll_interval: Duration,
) -> BenchResult<(Engine, Arc<CountingStore>, Arc<GatedTarget>)> {
    let mut options = StackOptions::new(root);
    options.store = StoreChoice::Url(format!("sqlite://{}", root.join("state.db").display()));
    options.profile = Profile::lrs_2021();
    options.poll_interval = poll_interval;
    let mut parts = options.open().await?;
    let store = Arc::new(CountingStore::new(Arc::clone(&parts.store)));
    let target = Arc::new(GatedTarget::new(Arc::clone(&parts.target)));
    parts.store = Arc::clone(&store) as Arc<dyn Store>;
    parts.target = Arc::clone(&target) as Arc<dyn Target>;
    Ok((parts.start().engine, store, target))
}

/// `127.0.0.1:port` of `http://127.0.0.1:port/devstoreaccount1`.
fn azurite_addr(endpoint: &str) -> BenchResult<SocketAddr> {
    let host = endpoint
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("unexpected Azurite endpoint {endpoint}"))?;
    let host = host.replace("localhost", "127.0.0.1");
    Ok(host.parse()?)
}

fn chain(database: &str, logs: u32, data_size: u64, log_size: u64) -> ChainSpec {
    let mut db = DatabaseSpec::new(database);
    db.data_size = data_size;
    db.log_size = log_size;
    let mut spec = ChainSpec::new(db);
    spec.logs = logs;
    spec
}

/// Print traffic by kind; with `files`, also per file.
fn print_traffic(label: &str, t: &Snapshot, files: Option<u64>) {
    let per = |v: u64| match files {
        Some(n) => format!(" ({:.3}/file)", v as f64 / n.max(1) as f64),
        None => String::new(),
    };
    println!("  {label}:");
    for (name, kind) in [
        ("list", Kind::List),
        ("read", Kind::Read),
        ("other", Kind::Other),
    ] {
        let k = t.of(kind);
        println!(
            "    {name:5}: {} requests{}, {} responses, {} non-2xx, response bytes on the wire {}{}, body bytes {}{}, request bytes {}",
            k.requests,
            per(k.requests),
            k.responses,
            k.non_2xx,
            k.response_bytes,
            per(k.response_bytes),
            k.body_bytes,
            per(k.body_bytes),
            k.request_bytes
        );
    }
    let all_requests: u64 = [Kind::List, Kind::Read, Kind::Other]
        .iter()
        .map(|k| t.of(*k).requests)
        .sum();
    let all_bytes: u64 = [Kind::List, Kind::Read, Kind::Other]
        .iter()
        .map(|k| t.of(*k).response_bytes + t.of(*k).request_bytes)
        .sum();
    println!(
        "    total: {all_requests} requests{}, {all_bytes} bytes both ways{}",
        per(all_requests),
        per(all_bytes)
    );
}

fn parse_size(s: &str) -> BenchResult<u64> {
    let s = s.trim();
    let (digits, factor) = if let Some(d) = s.strip_suffix("KiB") {
        (d, 1024)
    } else if let Some(d) = s.strip_suffix("MiB") {
        (d, 1024 * 1024)
    } else {
        (s, 1)
    };
    Ok(digits
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("'{s}' is not a size (bytes, KiB or MiB)"))?
        * factor)
}

/// Issue #6, first scan: N forged files uploaded; a job's first scan timed and counted.
async fn first_scan(args: Args) -> BenchResult<()> {
    let files: u32 = args.number("files", 10_000)?;
    let log_size = parse_size(&args.string("log-size", "64KiB"))?;
    let data_size = parse_size(&args.string("data-size", "2MiB"))?;
    let upload_concurrency: usize = args.number("upload-concurrency", 32)?;
    let listings: usize = args.number("listings", 5)?;
    let idle_polls: u64 = args.number("idle-polls", 5)?;
    let poll_interval = Duration::from_secs_f64(args.number("poll-interval", 3.0)?);
    if files < 2 {
        return Err("--files must be at least 2".into());
    }

    let bench = Bench::start(poll_interval).await?;
    let staging = tempfile::tempdir()?;
    // One full and files-1 logs present: log 2 is left out (a gap), so that after the
    // measured first scan the job restores the full and log 1 and then waits for log 2,
    // polling its big folder: the big-folder idle poll below.
    let mut spec = chain("Scan", files, data_size, log_size);
    spec.gap_after = Some(1);
    let started = Instant::now();
    let staged = forge(&spec, staging.path())?;
    let total_bytes: u64 = staged.iter().map(|f| f.size).sum();
    println!(
        "forged {} files ({} bytes; full {} bytes, logs {}..{} bytes) in {:.2} s",
        staged.len(),
        total_bytes,
        staged.first().map_or(0, |f| f.size),
        staged.iter().skip(1).map(|f| f.size).min().unwrap_or(0),
        staged.iter().skip(1).map(|f| f.size).max().unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    let folder = "scan";
    let took = upload_all(
        &bench.azurite.api(),
        CONTAINER,
        folder,
        &staged,
        upload_concurrency,
    )
    .await?;
    println!(
        "uploaded to Azurite {CONTAINER}/{folder} in {:.1} s ({} at a time)",
        took.as_secs_f64(),
        upload_concurrency
    );
    let n = staged.len() as u64;

    // Bare listings: a fresh Scanner over a fresh source each time (what a first scan's
    // listing costs, without header reads, store or plan); direct and proxied runs alternate.
    println!(
        "\nbare listing (Scanner::scan on a fresh scanner, list only), {listings} runs each, alternating:"
    );
    let mut times = [Vec::new(), Vec::new()];
    let mut traffic = Snapshot::default();
    for _ in 0..listings {
        for through_proxy in [false, true] {
            let source = bench.source(folder, through_proxy)?;
            let before = bench.proxy.snapshot();
            let t = Instant::now();
            let delta = Scanner::new().scan(source.as_ref()).await?;
            times[usize::from(through_proxy)].push(t.elapsed());
            if through_proxy {
                traffic = bench.proxy.snapshot().since(&before);
            }
            if delta.added.len() as u64 != n {
                return Err(
                    format!("listing saw {} files, expected {n}", delta.added.len()).into(),
                );
            }
        }
    }
    println!("  direct: {}", summary(&times[0]));
    println!("  through the proxy: {}", summary(&times[1]));
    print_traffic("one listing", &traffic, Some(n));

    // Header reads alone (the bench reading every header the way the worker does, 32 at a
    // time), through a CountingSource over the proxy: checks the proxy's counts.
    println!(
        "\nheader reads alone (lrs_backup::read_backup of every file, 32 at a time, no store, no plan):"
    );
    for through_proxy in [false, true] {
        let source: Arc<CountingSource> =
            Arc::new(CountingSource::new(bench.source(folder, through_proxy)?));
        let entries = source.list().await?;
        let before = bench.proxy.snapshot();
        let t = Instant::now();
        let mut reads = futures::stream::iter(entries.iter().map(|entry| {
            let reader = source.open(entry);
            async move { lrs_backup::read_backup(reader.as_ref()).await }
        }))
        .buffer_unordered(32);
        let mut failed = 0u64;
        while let Some(result) = reads.next().await {
            if result.is_err() {
                failed += 1;
            }
        }
        let took = t.elapsed();
        let traffic = bench.proxy.snapshot().since(&before);
        println!(
            "  {}: {:.3} s for {} files ({} failed); CountingSource saw {} reads, {} bytes",
            if through_proxy {
                "through the proxy"
            } else {
                "direct"
            },
            took.as_secs_f64(),
            entries.len(),
            failed,
            source.reads(),
            source.bytes_read()
        );
        if through_proxy {
            let proxied = traffic.of(Kind::Read);
            println!(
                "    proxy saw {} read requests, {} body bytes ({})",
                proxied.requests,
                proxied.body_bytes,
                if proxied.requests == source.reads() && proxied.body_bytes == source.bytes_read() {
                    "matches the CountingSource"
                } else {
                    "DOES NOT match the CountingSource"
                }
            );
        }
    }

    // The engine's first scan: direct (timing), then through the proxy (timing and counts).
    // Restores are held at the gate, so nothing but the scan touches storage.
    println!(
        "\nfirst scan by a restore job (start_restore → plan built and the first restore asked for):"
    );
    // A second direct job after the proxied one shows how much the order matters.
    // ScanPolled (when --details-every-ms is not 0) calls restore details during its scan, as
    // a client watching the migration would.
    let details_every = Duration::from_millis(args.number("details-every-ms", 1000)?);
    let mut variants = vec![
        ("ScanDirect", false, false),
        ("ScanProxy", true, false),
        ("ScanDirect2", false, false),
    ];
    if !details_every.is_zero() {
        variants.push(("ScanPolled", false, true));
    }
    for (database, through_proxy, poll_details) in variants {
        bench.target.hold(database);
        let mut details_calls = Vec::new();
        let mut last_details = Instant::now();
        let (puts_before, put_time_before) = bench.store.put_files();
        let cpu_before = cpu_time(std::process::id())?;
        let before = bench.proxy.snapshot();
        let t0 = Instant::now();
        bench.start_job(database, folder, through_proxy).await?;
        let deadline = Duration::from_secs(1800);
        let end = loop {
            if let Some(at) = bench.target.first_restore(database) {
                break at;
            }
            if t0.elapsed() > deadline {
                return Err(format!("{database}: no restore asked for within {deadline:?}").into());
            }
            // Otherwise only the gate is polled: restore details before the first plan is
            // published rebuild the plan from the store.
            if poll_details && last_details.elapsed() >= details_every {
                last_details = Instant::now();
                let t = Instant::now();
                let seen = bench.details(database).await?;
                details_calls.push((t.elapsed(), seen.number_of_files_detected));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let scan = end.duration_since(t0);
        let cpu = cpu_time(std::process::id())? - cpu_before;
        let traffic = bench.proxy.snapshot().since(&before);
        let (puts, put_time) = bench.store.put_files();
        let t = Instant::now();
        let details = bench.details(database).await?;
        let details_took = t.elapsed();
        println!(
            "  {database} ({}): {:.3} s to the first restore; process CPU {:.2} s; {} put_file calls taking {:.3} s in all; details then: detected {}, status {}, {} log sets, restore details call {} ms",
            if through_proxy {
                "through the proxy"
            } else {
                "direct"
            },
            scan.as_secs_f64(),
            cpu.as_secs_f64(),
            puts - puts_before,
            (put_time - put_time_before).as_secs_f64(),
            details.number_of_files_detected,
            details.status,
            details.log_backup_sets.len(),
            ms(details_took),
        );
        if details.number_of_files_detected != n {
            return Err(format!(
                "{database}: {} files detected, expected {n}",
                details.number_of_files_detected
            )
            .into());
        }
        if through_proxy {
            print_traffic("first scan", &traffic, Some(n));
        }
        if poll_details {
            let times: Vec<Duration> = details_calls.iter().map(|(t, _)| *t).collect();
            println!(
                "    restore details called every {} ms during the scan: {}",
                details_every.as_millis(),
                summary(&times)
            );
            let seen: Vec<String> = details_calls
                .iter()
                .map(|(t, files)| format!("{files} files/{} ms", ms(*t)))
                .collect();
            println!("    (files detected / call time): {}", seen.join(", "));
        }
    }

    // The big folder's idle poll: the direct jobs are dropped (their workers stay parked at
    // the gate), ScanProxy restores the full and log 1, then waits for the missing log 2.
    for database in ["ScanDirect", "ScanDirect2", "ScanPolled"] {
        if database == "ScanPolled" && details_every.is_zero() {
            continue;
        }
        bench
            .engine
            .drop_database(&instance(), database)
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    bench.target.release("ScanProxy");
    let log1 = staged.get(1).map(|f| f.name.clone()).ok_or("no log 1")?;
    let details = bench
        .wait_details(
            "ScanProxy",
            Duration::from_millis(200),
            Duration::from_secs(600),
            |d| d.last_restored_file_name.as_deref() == Some(log1.as_str()),
        )
        .await?;
    println!(
        "\nScanProxy restored the full and {log1}; status {}, reason {:?}",
        details.status, details.block_reason
    );
    let job = bench
        .engine
        .database(&instance(), "ScanProxy")
        .await
        .map_err(|e| format!("{e:?}"))?;
    let job = bench
        .store
        .job_for_database(job.id)
        .await?
        .ok_or("no job")?;
    idle_window(&bench, job.id, n, idle_polls, poll_interval, "big folder").await?;
    bench.engine.shutdown();
    Ok(())
}

/// Count what `idle_polls` polls of an unchanged folder cost.
async fn idle_window(
    bench: &Bench,
    job: uuid::Uuid,
    files: u64,
    idle_polls: u64,
    poll_interval: Duration,
    label: &str,
) -> BenchResult<()> {
    // The window runs from half an interval after the start of one step to half an interval
    // after the start of the step `idle_polls` later (a step starts by renewing its lease,
    // before it lists; the next starts an interval after it ends): when a step takes less than
    // half the interval, the window holds exactly `idle_polls` whole steps.
    let limit = (poll_interval + Duration::from_secs(30))
        * u32::try_from(idle_polls + 2).unwrap_or(u32::MAX);
    let started = Instant::now();
    let wait_for_claims = |target: u64| async move {
        while bench.store.claims(job) < target {
            if started.elapsed() > limit {
                return Err(format!(
                    "the job made fewer than {idle_polls} polls in {limit:?}"
                ));
            }
            // Coarse on purpose: the bench's own wake-ups count in the process CPU.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(poll_interval / 2).await;
        Ok(())
    };
    wait_for_claims(bench.store.claims(job) + 1).await?;
    let steps_before = bench.store.claims(job);
    let before = bench.proxy.snapshot();
    let cpu_before = cpu_time(std::process::id())?;
    let t = Instant::now();
    wait_for_claims(steps_before + idle_polls).await?;
    let elapsed = t.elapsed();
    let traffic = bench.proxy.snapshot().since(&before);
    let steps = bench.store.claims(job) - steps_before;
    let cpu = cpu_time(std::process::id())? - cpu_before;
    println!(
        "\nidle polls, {label} ({files} files), poll interval {:.3} s, window {:.2} s: {steps} polls (worker steps)",
        poll_interval.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    print_traffic("over the window", &traffic, None);
    let per = |v: u64| v as f64 / steps.max(1) as f64;
    let list = traffic.of(Kind::List);
    let read = traffic.of(Kind::Read);
    let other = traffic.of(Kind::Other);
    // A response in flight at an edge of the window lands in it or not: bytes are per
    // listing response, requests per poll.
    let per_response = |bytes: u64| bytes as f64 / list.responses.max(1) as f64;
    println!(
        "  per poll: {:.3} list requests, {:.3} read requests, {:.3} other requests; per listing: {:.0} response bytes on the wire ({:.0} body), {:.0} request bytes; one poll every {:.3} s (interval + step); process CPU {:.2} ms per poll ({:.2} s over the window, 10 ms resolution)",
        per(list.requests),
        per(read.requests),
        per(other.requests),
        per_response(list.response_bytes),
        per_response(list.body_bytes),
        list.request_bytes as f64 / list.requests.max(1) as f64,
        elapsed.as_secs_f64() / steps.max(1) as f64,
        cpu.as_secs_f64() * 1000.0 / steps.max(1) as f64,
        cpu.as_secs_f64()
    );
    Ok(())
}

/// Issue #6, idle poll of a small unchanged folder.
async fn idle_poll(args: Args) -> BenchResult<()> {
    let polls: u64 = args.number("polls", 40)?;
    let poll_interval = Duration::from_secs_f64(args.number("poll-interval", 0.5)?);
    let logs: u32 = args.number("logs", 3)?;
    let bench = Bench::start(poll_interval).await?;
    let staging = tempfile::tempdir()?;
    let staged = forge(&chain("Idle", logs, 2 << 20, 64 << 10), staging.path())?;
    upload_all(&bench.azurite.api(), CONTAINER, "idle", &staged, 8).await?;
    let job = bench.start_job("Idle", "idle", true).await?;
    let last = staged.last().map(|f| f.name.clone()).ok_or("no files")?;
    bench
        .wait_details(
            "Idle",
            Duration::from_millis(50),
            Duration::from_secs(120),
            |d| d.last_restored_file_name.as_deref() == Some(last.as_str()),
        )
        .await?;
    println!(
        "job Idle restored all {} files of its folder (continuous mode, still running)",
        staged.len()
    );
    idle_window(
        &bench,
        job,
        staged.len() as u64,
        polls,
        poll_interval,
        "small folder",
    )
    .await?;
    bench.engine.shutdown();
    Ok(())
}

/// Issue #6, replay lag in continuous mode for each poll interval.
async fn replay_lag(args: Args) -> BenchResult<()> {
    let logs: u32 = args.number("logs", 50)?;
    let intervals = args.seconds_list("poll-intervals", "2,0.1")?;
    let detect_every = Duration::from_millis(args.number("detect-every-ms", 5)?);
    let seed: u64 = args.number("seed", 42)?;
    let log_size = parse_size(&args.string("log-size", "64KiB"))?;
    let mut rng = Rng::new(seed);
    let mut results = Vec::new();
    for (i, interval) in intervals.iter().enumerate() {
        let bench = Bench::start(*interval).await?;
        let staging = tempfile::tempdir()?;
        let database = format!("Lag{i}");
        let folder = format!("lag{i}");
        let staged: Vec<Staged> = forge(
            &chain(&database, logs + 1, 2 << 20, log_size),
            staging.path(),
        )?;
        // The full and log 1 first; the job restores them, then logs arrive one at a time.
        upload_all(&bench.azurite.api(), CONTAINER, &folder, &staged[..2], 2).await?;
        bench.start_job(&database, &folder, false).await?;
        let first_log = staged[1].name.clone();
        bench
            .wait_details(
                &database,
                Duration::from_millis(20),
                Duration::from_secs(120),
                |d| d.last_restored_file_name.as_deref() == Some(first_log.as_str()),
            )
            .await?;
        let mut lags = Vec::new();
        for file in &staged[2..] {
            // A random pause decorrelates uploads from the poll phase.
            tokio::time::sleep(interval.mul_f64(rng.unit())).await;
            upload_one(&bench.azurite.api(), CONTAINER, &folder, file).await?;
            let uploaded = Instant::now();
            let name = file.name.clone();
            bench
                .wait_details(&database, detect_every, Duration::from_secs(60), |d| {
                    d.last_restored_file_name.as_deref() == Some(name.as_str())
                })
                .await?;
            lags.push(uploaded.elapsed());
        }
        println!(
            "poll interval {:.3} s, {} logs of {} bytes, details polled every {} ms: lag {}",
            interval.as_secs_f64(),
            lags.len(),
            staged[2].size,
            detect_every.as_millis(),
            summary(&lags)
        );
        results.push((*interval, lags));
        bench.engine.shutdown();
    }
    Ok(())
}

/// How much resident memory each Azure source adds: `--count` sources opened on one folder,
/// then one listing through each (which sets up its HTTP client's connection).
async fn source_memory(args: Args) -> BenchResult<()> {
    let count: usize = args.number("count", 100)?;
    let bench = Bench::start(Duration::from_secs(2)).await?;
    let staging = tempfile::tempdir()?;
    let staged = forge(&chain("Mem", 1, 2 << 20, 64 << 10), staging.path())?;
    upload_all(&bench.azurite.api(), CONTAINER, "mem", &staged, 2).await?;
    // Warm up whatever is process-wide (TLS provider, first client) before measuring.
    let warm = bench.source("mem", false)?;
    warm.list().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = std::process::id();
    let (rss0, _) = lrs_bench::memory_kib(pid)?;
    let mut sources = Vec::with_capacity(count);
    for _ in 0..count {
        sources.push(bench.source("mem", false)?);
    }
    let (rss1, _) = lrs_bench::memory_kib(pid)?;
    for source in &sources {
        source.list().await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss2, _) = lrs_bench::memory_kib(pid)?;
    // What a job does next through its source: read the headers of its files, then the
    // emulated target reads the full backup's data in 1 MiB pieces. One source at a time.
    for source in &sources {
        for entry in source.list().await? {
            let reader = source.open(&entry);
            lrs_backup::read_backup(reader.as_ref()).await?;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss3, _) = lrs_bench::memory_kib(pid)?;
    for source in &sources {
        let entries = source.list().await?;
        let full = entries
            .iter()
            .max_by_key(|e| e.size)
            .ok_or("no files in the folder")?;
        let reader = source.open(full);
        let mut at = 0;
        while at < full.size {
            let to = full.size.min(at + (1 << 20));
            reader.read_range(at..to).await?;
            at = to;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss4, _) = lrs_bench::memory_kib(pid)?;
    let each = |rss: u64| (rss as f64 - rss0 as f64) / count as f64;
    println!("{count} Azure sources (open_source) on one folder, VmRSS of this process:");
    println!("  before: {rss0} KiB");
    println!("  opened: {rss1} KiB ({:.1} KiB per source)", each(rss1));
    println!(
        "  + one listing each: {rss2} KiB ({:.1} KiB per source)",
        each(rss2)
    );
    println!(
        "  + header reads of the folder's {} files each: {rss3} KiB ({:.1} KiB per source)",
        staged.len(),
        each(rss3)
    );
    println!(
        "  + the full backup read in 1 MiB ranges, one source at a time: {rss4} KiB ({:.1} KiB per source)",
        each(rss4)
    );
    drop(sources);
    bench.engine.shutdown();
    Ok(())
}
