//! Restore speed of the targets (`docs/benchmarks.md`, "Restore targets"), side by side in one
//! run on the same bytes: one full backup taken WITH CHECKSUM (1 GiB of data by default) is
//! forged into a temporary folder, then
//!
//! * `cp` of the backup file and `sync` (the floor for writing that many bytes durably);
//! * a restore into the files target (verify, write the data files, fsync, commit);
//! * a restore into the emulated target as the service runs it (`WITH CHECKSUM` verification)
//!   and with `no_checksum` (structure only).
//!
//! Each is run 3 times on a fresh target folder (page cache warm) and the best time is kept.
//!
//! `cargo bench -p lrs-target --bench targets [-- --size-mib N]`

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lrs_backup::{FileReader, RangeRead, ReadOptions};
use lrs_forge::{ChainSpec, DatabaseSpec, write_chain};
use lrs_target::{EmulatedOptions, EmulatedTarget, FilesTarget, StripeInput, Target};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size_mib: u64 = args
        .iter()
        .position(|a| a == "--size-mib")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let work = tempfile::tempdir().expect("temporary folder");
    let mut db = DatabaseSpec::new("Bench");
    db.data_size = size_mib << 20;
    db.checksum = true;
    let files = write_chain(&ChainSpec::new(db), &work.path().join("backup")).expect("forge");
    let backup = files[0].path.clone();
    let bytes = std::fs::metadata(&backup).expect("size").len();
    let data = std::fs::read(&backup).expect("read");
    let media = lrs_backup::read_backup_from_bytes("bench.bak", data, ReadOptions::default())
        .expect("headers");
    let set = media.sets[0].clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!("| measurement | bytes | best of 3 | throughput | vs cp + sync |");
    println!("|---|---:|---:|---:|---:|");
    let cp = best_of(3, || {
        let copy = work.path().join("copy.bak");
        let _ = std::fs::remove_file(&copy);
        let ok = Command::new("cp")
            .arg(&backup)
            .arg(&copy)
            .status()
            .expect("cp");
        assert!(ok.success());
        let ok = Command::new("sync").status().expect("sync");
        assert!(ok.success());
    });
    row("cp + sync of the backup file", bytes, cp, cp);
    let restore = |target: &dyn Target| {
        let reader: Arc<dyn RangeRead> = Arc::new(FileReader::open(&backup).expect("open"));
        let stripes = vec![StripeInput {
            reader,
            set: set.clone(),
        }];
        runtime
            .block_on(target.restore("Bench", stripes))
            .expect("restore");
    };
    let fresh = |name: &str| {
        let dir = work.path().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        dir
    };
    let files_target = best_of(3, || {
        let target = FilesTarget::open(&fresh("files"), EmulatedOptions::default()).expect("open");
        restore(&target);
    });
    row(
        "files target: verify, write data files, fsync",
        bytes,
        files_target,
        cp,
    );
    let emulated = best_of(3, || {
        let target =
            EmulatedTarget::open(&fresh("emulated"), EmulatedOptions::default()).expect("open");
        restore(&target);
    });
    row(
        "emulated target, WITH CHECKSUM (the service)",
        bytes,
        emulated,
        cp,
    );
    let no_checksum = best_of(3, || {
        let options = EmulatedOptions {
            no_checksum: true,
            ..EmulatedOptions::default()
        };
        let target = EmulatedTarget::open(&fresh("emulated-nc"), options).expect("open");
        restore(&target);
    });
    row(
        "emulated target, NO_CHECKSUM (structure only)",
        bytes,
        no_checksum,
        cp,
    );
    let _ = Path::new(&backup);
}

fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[allow(clippy::cast_precision_loss)]
fn row(what: &str, bytes: u64, t: Duration, cp: Duration) {
    println!(
        "| {what} | {bytes} | {:.3} s | {:.2} GB/s | {:.2}x |",
        t.as_secs_f64(),
        bytes as f64 / t.as_secs_f64() / 1e9,
        cp.as_secs_f64() / t.as_secs_f64()
    );
}
