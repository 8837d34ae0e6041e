//! Forge write throughput: a full backup of 256 MiB of data pages (plain MTF, with and without
//! page checksums) streamed to a file in the system temp folder, in bytes written per second;
//! plus a ZSTD-compressed 64 MiB full for comparison.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lrs_forge::{ChainSpec, Compression, DatabaseSpec, write_chain};

fn spec(data_size: u64, checksum: bool, compression: Compression) -> ChainSpec {
    let mut db = DatabaseSpec::new("Bench");
    db.data_size = data_size;
    db.checksum = checksum;
    db.seed = 42;
    ChainSpec {
        compression,
        ..ChainSpec::new(db)
    }
}

fn bench_write(c: &mut Criterion) {
    let dir = std::env::temp_dir().join("lrs-forge-bench");
    let mut group = c.benchmark_group("forge_write");
    group.sample_size(10);
    for (name, s) in [
        ("plain_256MiB", spec(256 << 20, false, Compression::None)),
        (
            "plain_checksum_256MiB",
            spec(256 << 20, true, Compression::None),
        ),
        (
            "zstd_checksum_64MiB",
            spec(64 << 20, true, Compression::Zstd),
        ),
    ] {
        let written = write_chain(&s, &dir).expect("forge");
        // Throughput in bytes of MTF stream produced (the data size plus headers).
        let bytes = if s.compression == Compression::None {
            written[0].bytes
        } else {
            s.db.data_size
        };
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(name, |b| b.iter(|| write_chain(&s, &dir).expect("forge")));
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_write);
criterion_main!(benches);
