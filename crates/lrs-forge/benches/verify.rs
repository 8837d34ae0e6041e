//! Verification speed (`docs/benchmarks.md`, "Backup verification"): forges one full backup
//! taken WITH CHECKSUM (2 GiB of data by default) plain and XPRESS-compressed into a temporary
//! folder, then measures, side by side in one run on the same bytes:
//!
//! * `SetVerifier` alone over the set's bytes already in memory (one core): the verification
//!   cost itself;
//! * `lrs_backup::verify_media` through a `FileReader` (what `lrs verify` does, page cache warm);
//! * for the compressed file: decoding only (draining `mtf_stream`) against decoding and
//!   verifying (`verify_media`).
//!
//! `cargo bench -p lrs-forge --bench verify [-- --size-mib N]`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lrs_backup::{FileReader, RangeRead, ReadOptions, SetVerifier};
use lrs_forge::{ChainSpec, Compression, DatabaseSpec, write_chain};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size_mib: u64 = args
        .iter()
        .position(|a| a == "--size-mib")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let dir = tempfile::tempdir().expect("temporary folder");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("| measurement | bytes | best of 3 | throughput |");
    println!("|---|---:|---:|---:|");
    for compression in [Compression::None, Compression::Xpress] {
        let mut db = DatabaseSpec::new("Bench");
        db.data_size = size_mib << 20;
        db.checksum = true;
        let spec = ChainSpec {
            compression,
            ..ChainSpec::new(db)
        };
        let out = dir.path().join(format!("{compression:?}"));
        let files = write_chain(&spec, &out).expect("forge");
        let path = files[0].path.clone();
        let media = read_headers(&path);
        let set = &media.sets[0];
        let set_bytes = set.data_end_offset - set.start_offset;
        if compression == Compression::None {
            let data = std::fs::read(&path).expect("read");
            let range = usize::try_from(set.start_offset).expect("o")
                ..usize::try_from(set.data_end_offset).expect("o");
            let t = best_of(3, || {
                let mut v = SetVerifier::new(set);
                for piece in data[range.clone()].chunks(1 << 20) {
                    v.feed(piece).expect("valid");
                }
                v.finish().expect("valid");
            });
            row("SetVerifier, in memory, one core (plain)", set_bytes, t);
            drop(data);
        } else {
            let t = best_of(3, || runtime.block_on(decode_only(&path)));
            row("decode only: mtf_stream drained (XPRESS)", set_bytes, t);
        }
        let t = best_of(3, || {
            runtime.block_on(async {
                let reader: Arc<dyn RangeRead> = Arc::new(FileReader::open(&path).expect("open"));
                let results = lrs_backup::verify_media(reader, &media, &mut |_| {})
                    .await
                    .expect("read");
                assert!(results.iter().all(Result::is_ok));
            });
        });
        let what = if compression == Compression::None {
            "verify_media via FileReader (plain)"
        } else {
            "decode + verify: verify_media (XPRESS)"
        };
        row(what, set_bytes, t);
        println!(
            "| (file: {} bytes, {:?}) | | | |",
            std::fs::metadata(&path).expect("size").len(),
            compression
        );
    }
}

fn read_headers(path: &Path) -> lrs_backup::BackupMedia {
    let data = std::fs::read(path).expect("read");
    lrs_backup::read_backup_from_bytes("bench.bak", data, ReadOptions::default()).expect("headers")
}

async fn decode_only(path: &Path) {
    let reader: Arc<dyn RangeRead> = Arc::new(FileReader::open(path).expect("open"));
    let mut stream = lrs_backup::mtf_stream(reader);
    while let Some(piece) = stream.next().await {
        std::hint::black_box(piece.expect("decode"));
    }
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

fn row(what: &str, bytes: u64, t: Duration) {
    #[allow(clippy::cast_precision_loss)]
    let gbps = bytes as f64 / t.as_secs_f64() / 1e9;
    println!(
        "| {what} | {bytes} | {:.3} s | {gbps:.2} GB/s |",
        t.as_secs_f64()
    );
}
