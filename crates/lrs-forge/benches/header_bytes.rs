//! Bytes and requests one header read takes, per SQL Server layout, file size and compression:
//! forges a full and a log backup of each shape into a temporary folder, reads each file's
//! headers through `CountingReader`, and prints a Markdown table (`docs/benchmarks.md`, "Header
//! read by layout"). Counts, not times: the figures are exact and the same on every machine.
//!
//! `cargo bench -p lrs-forge --bench header_bytes` (add `-- --quick` for the 1 MiB sizes only).

use std::path::Path;

use lrs_backup::{CountingReader, FileReader, Layout, ReadOptions, read_backup_with};
use lrs_forge::{ChainSpec, Compression, DatabaseSpec, write_chain};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[u64] = if quick {
        &[1 << 20]
    } else {
        &[1 << 20, 64 << 20, 256 << 20]
    };
    let shapes = [
        (Layout::Sql2005, 512u32, Compression::None),
        (Layout::Sql2008R2, 512, Compression::None),
        (Layout::Sql2012, 4096, Compression::None),
        (Layout::Sql2012, 512, Compression::None),
        (Layout::Sql2012, 4096, Compression::Xpress),
        (Layout::Sql2016, 512, Compression::None),
        (Layout::Sql2016, 4096, Compression::None),
        (Layout::Sql2016, 4096, Compression::Xpress),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| layout | block size | compression | backup | file bytes | bytes read | requests | path | block walk: bytes read | block walk: requests |"
    );
    println!("|---|---:|---|---|---:|---:|---:|---|---:|---:|");
    for &(layout, sfm, compression) in &shapes {
        for &size in sizes {
            let dir = tempfile::tempdir().expect("temporary folder");
            let mut db = DatabaseSpec::new("Bench");
            db.layout = layout;
            db.data_size = size;
            db.log_size = size;
            let spec = ChainSpec {
                logs: 1,
                compression,
                soft_filemark_size: sfm,
                ..ChainSpec::new(db)
            };
            for file in write_chain(&spec, dir.path()).expect("forge") {
                let (read, requests, path) = runtime.block_on(measure(&file.path, false));
                let (walk_read, walk_requests, _) = runtime.block_on(measure(&file.path, true));
                let kind = if file.path.extension().is_some_and(|e| e == "trn") {
                    "log"
                } else {
                    "full"
                };
                println!(
                    "| {layout:?} | {sfm} | {compression:?} | {kind} ({} MiB) | {} | {read} | {requests} | {path} | {walk_read} | {walk_requests} |",
                    size >> 20,
                    file.bytes
                );
            }
        }
    }
}

async fn measure(path: &Path, block_walk: bool) -> (u64, u64, &'static str) {
    let reader = CountingReader::new(FileReader::open(path).expect("open"));
    let options = ReadOptions {
        block_walk,
        ..ReadOptions::default()
    };
    let media = read_backup_with(&reader, options)
        .await
        .expect("header read");
    let path = media.sets[0].header_path.as_str();
    (reader.bytes_read(), reader.requests(), path)
}
