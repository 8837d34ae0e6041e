//! XPRESS-Huffman decompression throughput on a real SQL Server compressed backup.
//!
//! Reads `$LRS_REAL_FIXTURES/Guilderm-SC-701_ClassWork/northwind.bak` (an `MSSQLBAK` container),
//! walks its chunk chain once during setup and then measures decoding every compressed (0x21)
//! chunk, reported in bytes of *output* per second:
//!
//! * `xpress/northwind/ours`: the crate's decoder, appending into one reused buffer;
//! * `xpress/northwind/xpress-huffman`: `xpress_huffman::decompress`, one `Vec` per chunk (the
//!   baseline of docs/references.md#decompression-baseline).
//!
//! End to end, through [`lrs_backup::mtf_stream`] (chunk walking, decoding, handing out pieces),
//! also in bytes of MTF output per second:
//!
//! * `stream/xpress-northwind`: the real XPRESS container;
//! * `stream/zstd-<file>`: ZSTD containers written in setup by [`lrs_backup::compress_zstd`]
//!   (level 3) from real plain backups, since no real ZSTD backup is available.
//!
//! If `LRS_REAL_FIXTURES` is unset it prints that the fixture was skipped and measures nothing.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use lrs_backup::__bench::{xpress_compress_into, xpress_decompress_into};
use lrs_backup::{ContainerOptions, MemoryReader, RangeRead, compress_zstd, mtf_stream};

const FIXTURE: &str = "Guilderm-SC-701_ClassWork/northwind.bak";
const FILE_HEADER: usize = 480;
const CHUNK_HEADER: usize = 28;
const SECTOR: usize = 512;

/// The compressed chunks of the first backup set: (payload, declared uncompressed size).
fn compressed_chunks(file: &[u8]) -> Vec<(&[u8], usize)> {
    assert!(file.starts_with(b"MSSQLBAK"), "not a compressed backup");
    let mut chunks = Vec::new();
    let mut at = FILE_HEADER;
    loop {
        let header = &file[at..at + CHUNK_HEADER];
        let declared = usize::from(header[1]) * SECTOR;
        let payload_len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        match header[0] {
            0x21 => {
                let start = at + CHUNK_HEADER;
                chunks.push((&file[start..start + payload_len], declared));
                at = start + payload_len;
            }
            // A raw soft filemark at the next sector boundary: nothing to decode.
            0x24 => at = (at + CHUNK_HEADER).next_multiple_of(SECTOR) + SECTOR,
            // End-of-set trailer.
            0x2C => break,
            other => panic!("unknown chunk type {other:#04x} at {at:#x}"),
        }
    }
    chunks
}

fn bench_decompress(c: &mut Criterion) {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        eprintln!("decompress: LRS_REAL_FIXTURES is not set; skipped");
        return;
    };
    let path = Path::new(&root).join(FIXTURE);
    let file = std::fs::read(&path).expect("northwind.bak must be readable");
    let chunks = compressed_chunks(&file);
    let output: usize = chunks.iter().map(|&(_, declared)| declared).sum();
    let input: usize = chunks.iter().map(|&(payload, _)| payload.len()).sum();
    eprintln!(
        "decompress: {} compressed chunks, {input} bytes -> {output} bytes",
        chunks.len()
    );

    let mut group = c.benchmark_group("xpress/northwind");
    group.throughput(Throughput::Bytes(output as u64));
    group.bench_function("ours", |b| {
        let mut out = Vec::with_capacity(1 << 16);
        b.iter(|| {
            for &(payload, declared) in &chunks {
                out.clear();
                xpress_decompress_into(black_box(payload), declared, &mut out)
                    .expect("real chunks decode");
                black_box(&out);
            }
        });
    });
    group.bench_function("xpress-huffman", |b| {
        b.iter(|| {
            for &(payload, declared) in &chunks {
                let out = xpress_huffman::decompress(black_box(payload), declared)
                    .expect("real chunks decode");
                black_box(&out);
            }
        });
    });
    group.finish();
}

/// XPRESS-Huffman encoding throughput, in bytes of *input* per second: the decoded northwind
/// chunks (real database pages and log) re-encoded one by one into a reused buffer
/// (`xpress_encode/northwind`). Prints our payload size against SQL Server's once.
fn bench_compress(c: &mut Criterion) {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        eprintln!("xpress_encode: LRS_REAL_FIXTURES is not set; skipped");
        return;
    };
    let path = Path::new(&root).join(FIXTURE);
    let file = std::fs::read(&path).expect("northwind.bak must be readable");
    let chunks = compressed_chunks(&file);
    let sql_server: usize = chunks.iter().map(|&(payload, _)| payload.len()).sum();
    let decoded: Vec<Vec<u8>> = chunks
        .iter()
        .map(|&(payload, declared)| {
            let mut out = Vec::new();
            xpress_decompress_into(payload, declared, &mut out).expect("real chunks decode");
            out
        })
        .collect();
    let input: usize = decoded.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(1 << 17);
    let mut ours = 0;
    for chunk in &decoded {
        out.clear();
        xpress_compress_into(chunk, &mut out);
        ours += out.len();
    }
    eprintln!(
        "xpress_encode: {} chunks, {input} bytes -> {ours} bytes (SQL Server: {sql_server})",
        decoded.len()
    );

    let mut group = c.benchmark_group("xpress_encode");
    group.throughput(Throughput::Bytes(input as u64));
    group.bench_function("northwind", |b| {
        b.iter(|| {
            for chunk in &decoded {
                out.clear();
                xpress_compress_into(black_box(chunk), &mut out);
                black_box(&out);
            }
        });
    });
    group.finish();
}

/// Decode the whole MTF stream of `data`; returns the bytes produced.
fn stream_all(runtime: &tokio::runtime::Runtime, data: &bytes::Bytes) -> usize {
    let reader: Arc<dyn RangeRead> = Arc::new(MemoryReader::new("bench.bak", data.clone()));
    runtime.block_on(async {
        let mut stream = mtf_stream(reader);
        let mut total = 0;
        while let Some(piece) = stream.next().await {
            total += black_box(piece.expect("stream decodes")).len();
        }
        total
    })
}

fn bench_stream(c: &mut Criterion) {
    let Some(root) = std::env::var_os("LRS_REAL_FIXTURES") else {
        eprintln!("decompress: LRS_REAL_FIXTURES is not set; skipped");
        return;
    };
    let root = Path::new(&root);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let mut inputs = vec![(
        "xpress-northwind".to_string(),
        bytes::Bytes::from(std::fs::read(root.join(FIXTURE)).expect("northwind.bak")),
    )];
    for (name, rel) in [
        (
            "zstd-WebDentalClinic-2019",
            "HoangDe13-WebDentalClinic/WebDentalClinic-2019.bak",
        ),
        ("zstd-QLBH", "Tungdever-QuanLyBanHang/QLBH.bak"),
    ] {
        let plain = std::fs::read(root.join(rel)).expect("plain fixture");
        let container = compress_zstd(&plain, ContainerOptions::default()).expect("ZSTD container");
        eprintln!(
            "decompress: {name}: {} -> {} bytes",
            plain.len(),
            container.len()
        );
        inputs.push((name.to_string(), bytes::Bytes::from(container)));
    }
    let mut group = c.benchmark_group("stream");
    for (name, data) in &inputs {
        let output = stream_all(&runtime, data);
        group.throughput(Throughput::Bytes(output as u64));
        group.bench_function(name.as_str(), |b| b.iter(|| stream_all(&runtime, data)));
    }
    group.finish();
}

criterion_group!(benches, bench_decompress, bench_stream, bench_compress);
criterion_main!(benches);
