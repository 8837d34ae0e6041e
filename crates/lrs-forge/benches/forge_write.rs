//! Forge write throughput: a full backup of 256 MiB of data pages (plain MTF, with and without
//! page checksums) streamed to a file in the system temp folder, in bytes written per second;
//! plus a ZSTD-compressed 64 MiB full for comparison.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lrs_backup::{BackupDateTime, Layout, RecoveryModel};
use lrs_forge::{ChainSpec, Compression, DatabaseSpec, write_chain};

fn spec(data_size: u64, checksum: bool, compression: Compression) -> ChainSpec {
    ChainSpec {
        db: DatabaseSpec {
            database: "Bench".into(),
            server: "SQL01".into(),
            layout: Layout::Sql2016,
            data_size,
            log_size: 1 << 20,
            checksum,
            recovery_model: RecoveryModel::Full,
            start: BackupDateTime {
                year: 2026,
                month: 11,
                day: 26,
                hour: 22,
                minute: 0,
                second: 0,
            },
            interval_seconds: 300,
            seed: 42,
        },
        fulls: 1,
        diffs: 0,
        logs: 0,
        stripes: 1,
        compression,
        copy_only_full: false,
        gap_after: None,
        fork_after: None,
        append: false,
        soft_filemark_size: 512,
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
