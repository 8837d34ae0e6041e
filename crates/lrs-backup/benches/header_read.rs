//! Header-read benchmarks over the real SQL Server backups in `$LRS_REAL_FIXTURES`.
//!
//! Every backup file (plain MTF or compressed `MSSQLBAK`) found by a recursive, path-sorted walk
//! of the folder is measured twice:
//!
//! * `header_parse/memory/<file name>`: [`lrs_backup::read_backup_from_bytes`] on the whole file
//!   already in memory, i.e. the pure decode cost (no I/O, no runtime);
//! * `header_parse/file/<file name>`: [`lrs_backup::read_backup`] through a
//!   [`lrs_backup::FileReader`] opened once during setup, driven by a current-thread tokio
//!   runtime, i.e. decode plus positioned reads on tokio's blocking pool (page cache warm,
//!   `open` not included).
//!
//! For a compressed file the cost includes decoding the chunks that hold the header blocks.
//!
//! During setup the bench prints, once per file to stderr, how many bytes and range requests
//! one header read takes (counted with [`lrs_backup::CountingReader`] around the
//! `FileReader`). If `LRS_REAL_FIXTURES` is unset it prints that the fixtures were skipped and
//! measures nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lrs_backup::{CountingReader, FileReader, ReadOptions, read_backup, read_backup_from_bytes};

/// One fixture file loaded for the benchmark.
struct Fixture {
    path: PathBuf,
    name: String,
    data: Bytes,
}

/// Every file under `dir` (recursively) except `README.md`, sorted by path.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("fixture folder must be listable");
    for entry in entries {
        let path = entry.expect("fixture folder entry must be readable").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.file_name().is_some_and(|n| n != "README.md") {
            out.push(path);
        }
    }
}

fn load_fixtures(root: &Path) -> Vec<Fixture> {
    let mut paths = Vec::new();
    walk(root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| Fixture {
            name: path
                .file_name()
                .expect("walked paths name files")
                .to_string_lossy()
                .into_owned(),
            data: Bytes::from(std::fs::read(&path).expect("fixture file must be readable")),
            path,
        })
        .collect()
}

fn header_parse(c: &mut Criterion) {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        eprintln!("header_read: LRS_REAL_FIXTURES is unset; real-fixture benchmarks skipped");
        return;
    };
    let fixtures = load_fixtures(Path::new(&root));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime must build");
    let mut group = c.benchmark_group("header_parse");

    for fx in &fixtures {
        // Setup: one counted read proves the file parses and shows the read budget.
        let file = FileReader::open(&fx.path).expect("fixture file must open");
        let counted = CountingReader::new(file.clone());
        runtime
            .block_on(read_backup(&counted))
            .unwrap_or_else(|e| panic!("fixture must parse: {e}"));
        eprintln!(
            "header_read: {}: {} bytes, header read {} bytes in {} requests",
            fx.path.display(),
            fx.data.len(),
            counted.bytes_read(),
            counted.requests()
        );

        group.bench_function(BenchmarkId::new("memory", &fx.name), |b| {
            b.iter(|| {
                read_backup_from_bytes(&fx.name, black_box(fx.data.clone()), ReadOptions::default())
            })
        });
        group.bench_function(BenchmarkId::new("file", &fx.name), |b| {
            b.iter(|| runtime.block_on(read_backup(black_box(&file))))
        });
    }
    group.finish();
}

criterion_group!(benches, header_parse);
criterion_main!(benches);
