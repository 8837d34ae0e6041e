//! The benchmark programs of the LRS emulator (`bench/README.md`, `docs/benchmarks.md`):
//! `arm_bench` measures the `lrs` binary (started with `lrs_testkit::server`), `engine_bench`
//! the engine in process (assembled with `lrs_engine::stack`).
//!
//! This library is what both share: argument parsing, forged chains uploaded to Azurite,
//! percentiles, process memory and CPU from `/proc`, and the machine description every result
//! is printed with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lrs_forge::{ChainSpec, write_chain};
use lrs_source::testing::AzuriteApi;

/// Errors of a benchmark run: printed and the process exits non-zero.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// `--name value` pairs and bare `--flag`s after the subcommand.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Parse `--key value` pairs (a key followed by another `--key` or nothing is a flag).
    pub fn parse(args: &[String]) -> BenchResult<Args> {
        let mut values = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let Some(key) = args[i].strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument '{}': options are --name value",
                    args[i]
                )
                .into());
            };
            match args.get(i + 1) {
                Some(value) if !value.starts_with("--") => {
                    values.insert(key.to_string(), value.clone());
                    i += 2;
                }
                _ => {
                    values.insert(key.to_string(), "true".to_string());
                    i += 1;
                }
            }
        }
        Ok(Args { values })
    }

    /// A string option.
    pub fn string(&self, key: &str, default: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// A number option.
    pub fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> BenchResult<T> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key} must be a number, got '{v}'").into()),
        }
    }

    /// A list of seconds (`2,0.1`).
    pub fn seconds_list(&self, key: &str, default: &str) -> BenchResult<Vec<Duration>> {
        self.string(key, default)
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        format!("--{key}: '{s}' is not a positive number of seconds").into()
                    })
            })
            .collect()
    }
}

/// A small xorshift generator (reproducible pauses; no dependency).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// Uniform in `0..1`.
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A forged file ready for upload: its blob name and where it was written.
#[derive(Debug, Clone)]
pub struct Staged {
    /// File name (the blob name inside a folder).
    pub name: String,
    /// Local path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
}

/// Write a forged chain into `dir`; files in backup order.
pub fn forge(spec: &ChainSpec, dir: &Path) -> BenchResult<Vec<Staged>> {
    std::fs::create_dir_all(dir)?;
    let mut staged = Vec::new();
    for file in write_chain(spec, dir)? {
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("forged file without a name: {}", file.path.display()))?;
        staged.push(Staged {
            name,
            path: file.path,
            size: file.bytes,
        });
    }
    Ok(staged)
}

/// Upload `files` into `folder` of `container`, `concurrency` at a time; returns the time taken.
pub async fn upload_all(
    api: &AzuriteApi,
    container: &str,
    folder: &str,
    files: &[Staged],
    concurrency: usize,
) -> BenchResult<Duration> {
    let started = Instant::now();
    let api = Arc::new(api.clone());
    let mut uploads = futures::stream::iter(files.iter().cloned().map(|file| {
        let api = Arc::clone(&api);
        let blob = format!("{folder}/{}", file.name);
        let container = container.to_string();
        async move {
            let bytes = tokio::fs::read(&file.path).await?;
            api.upload(&container, &blob, bytes.into())
                .await
                .map_err(|e| format!("uploading {blob}: {e}"))?;
            BenchResult::Ok(())
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(result) = uploads.next().await {
        result?;
    }
    Ok(started.elapsed())
}

/// Upload one staged file; returns when Azurite has acknowledged it (the blob is listable).
pub async fn upload_one(
    api: &AzuriteApi,
    container: &str,
    folder: &str,
    file: &Staged,
) -> BenchResult<()> {
    let bytes = tokio::fs::read(&file.path).await?;
    let blob = format!("{folder}/{}", file.name);
    api.upload(container, &blob, bytes.into())
        .await
        .map_err(|e| format!("uploading {blob}: {e}").into())
}

/// The `q`-quantile (0..=1) of sorted samples, nearest-rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let len = sorted.len() as f64;
    // Clamped to 1..=len before the cast, so nothing is truncated.
    #[allow(clippy::cast_possible_truncation)]
    let rank = (q * len).ceil().clamp(1.0, len) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// `min / p50 / p90 / p99 / max` of samples, in milliseconds.
pub fn summary(samples: &[Duration]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let mean = if sorted.is_empty() {
        0.0
    } else {
        sorted.iter().map(Duration::as_secs_f64).sum::<f64>() / sorted.len() as f64
    };
    format!(
        "n={} min={} p50={} p90={} p99={} max={} mean={:.2} (ms)",
        sorted.len(),
        ms(quantile(&sorted, 0.0)),
        ms(quantile(&sorted, 0.5)),
        ms(quantile(&sorted, 0.9)),
        ms(quantile(&sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default()),
        mean * 1000.0
    )
}

/// `VmRSS` and `VmHWM` of a process in KiB, from `/proc/PID/status`.
pub fn memory_kib(pid: u32) -> BenchResult<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> BenchResult<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/status has no {name}").into())
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> BenchResult<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("/proc/{pid}/stat is malformed"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; field 3 (state) is index 0 here.
    let ticks = |i: usize| -> BenchResult<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat field {i} missing").into())
    };
    let total = ticks(11)? + ticks(12)?;
    // USER_HZ is 100 on every Linux configuration this runs on.
    Ok(Duration::from_millis(total * 10))
}

/// The machine: CPUs, CPU model, memory, load average, for the report.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "machine: nproc={cpus}, CPU model '{model}', MemTotal {mem}, loadavg {}",
        load.trim()
    )
}

/// Now, for log lines.
pub fn stamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}
