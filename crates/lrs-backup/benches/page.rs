//! `PAGE_VERIFY CHECKSUM` throughput: [`lrs_backup::page_checksum`] over one pseudo-random
//! 8 KiB page (kept in L1), reported in bytes of page per second. The backup forge computes it
//! for every page it writes, so it should stay far above disk and network speeds.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lrs_backup::{PAGE_SIZE, page_checksum, verify_page_checksum};

/// A page of deterministic pseudo-random bytes (xorshift64).
fn noise_page() -> Box<[u8; PAGE_SIZE]> {
    let mut page = Box::new([0u8; PAGE_SIZE]);
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in page.chunks_exact_mut(8) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        chunk.copy_from_slice(&s.to_le_bytes());
    }
    page
}

fn bench_page_checksum(c: &mut Criterion) {
    let page = noise_page();
    let mut group = c.benchmark_group("page");
    group.throughput(Throughput::Bytes(PAGE_SIZE as u64));
    group.bench_function("checksum", |b| b.iter(|| page_checksum(black_box(&page))));
    group.bench_function("verify", |b| {
        b.iter(|| verify_page_checksum(black_box(&page)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, bench_page_checksum);
criterion_main!(benches);
