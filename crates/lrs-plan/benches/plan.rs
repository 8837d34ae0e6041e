//! Planner speed on 100,000 backup sets (1 full and 99,999 logs of one chain, in shuffled
//! upload order): taking in the parsed files (`ingest`), planning them (`plan`: the chain and
//! the report), and adding one new log backup to an already planned chain (the continuous-mode
//! case). Targets: planning < 100 ms, adding a log < 1 ms.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lrs_backup::{BackupMedia, Guid, Lsn, ReadOptions};
use lrs_forge::{ChainSpec, DatabaseSpec, write_chain};
use lrs_plan::{Options, Planner, SourceFile};

/// A forged full and one forged log, read back: templates for synthetic sets.
fn templates() -> (BackupMedia, BackupMedia) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = DatabaseSpec::new("Bench");
    db.data_size = 64 * 1024;
    db.log_size = 64 * 1024;
    let spec = ChainSpec {
        logs: 1,
        ..ChainSpec::new(db)
    };
    let files = write_chain(&spec, dir.path()).expect("forge");
    let read = |i: usize| {
        let data = std::fs::read(&files[i].path).expect("read");
        lrs_backup::read_backup_from_bytes("t", data, ReadOptions::default()).expect("parse")
    };
    (read(0), read(1))
}

/// Log number `i` of the chain after `full`.
fn log(template: &BackupMedia, full: &BackupMedia, i: u32) -> SourceFile {
    let mut media = template.clone();
    let h = &mut media.sets[0].header;
    let start = full.sets[0].header.first_lsn;
    let at = |k: u32| Lsn {
        vlf: start.vlf + k,
        block: 0,
        slot: 1,
    };
    h.first_lsn = if i == 0 { start } else { at(i) };
    h.last_lsn = at(i + 1);
    let mut guid = [0u8; 16];
    guid[..4].copy_from_slice(&i.to_le_bytes());
    guid[15] = 0xAB;
    h.backup_set_guid = Guid(guid);
    SourceFile {
        name: format!("Bench_LOG_{i:06}.trn"),
        size: 80_000,
        content: Ok(media),
    }
}

fn bench_plan(c: &mut Criterion) {
    let (full, log_template) = templates();
    const N: u32 = 99_999;
    let mut files: Vec<SourceFile> = (0..N).map(|i| log(&log_template, &full, i)).collect();
    // A fixed shuffle: upload order must not matter.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..files.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        files.swap(i, usize::try_from(x % (i as u64 + 1)).unwrap_or(0));
    }
    files.push(SourceFile {
        name: "Bench_FULL.bak".into(),
        size: 1 << 20,
        content: Ok(full.clone()),
    });

    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    let feed = |files: Vec<SourceFile>| {
        let mut planner = Planner::new(Options::default());
        for f in files {
            planner.add_file(f);
        }
        planner
    };
    group.bench_function("ingest_100000_files", |b| {
        b.iter_batched(|| files.clone(), feed, BatchSize::LargeInput)
    });
    group.bench_function("plan_100000_sets", |b| {
        b.iter_batched(
            || feed(files.clone()),
            |mut planner| {
                let plan = planner.plan();
                assert_eq!(plan.order.len(), 100_000);
                (planner, plan)
            },
            BatchSize::LargeInput,
        )
    });
    let mut planned = Planner::new(Options::default());
    for f in files.iter().cloned() {
        planned.add_file(f);
    }
    let _ = planned.plan();
    let next = log(&log_template, &full, N);
    group.bench_function("add_one_log_to_100000", |b| {
        b.iter_batched(
            || (planned.clone(), next.clone()),
            |(mut planner, file)| {
                planner.add_file(file);
                planner
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
