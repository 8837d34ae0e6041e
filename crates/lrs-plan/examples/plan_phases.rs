//! Times the phases of planning a large synthetic chain (adding files, computing the chain,
//! building the report), to see where planning time goes. Usage: `plan_phases [N]`. The files
//! are added in the benchmark's shuffled order (upload order is arbitrary).

use std::time::Instant;

use lrs_backup::{BackupMedia, Guid, Lsn, ReadOptions};
use lrs_forge::{ChainSpec, DatabaseSpec, write_chain};
use lrs_plan::{Options, Planner, SourceFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args().nth(1).map_or(Ok(100_000), |s| s.parse())?;
    let dir = std::env::temp_dir().join("lrs-plan-phases");
    let mut db = DatabaseSpec::new("Bench");
    db.data_size = 65_536;
    db.log_size = 65_536;
    let spec = ChainSpec {
        logs: 1,
        ..ChainSpec::new(db)
    };
    let files = write_chain(&spec, &dir)?;
    let read = |i: usize| -> Result<BackupMedia, Box<dyn std::error::Error>> {
        Ok(lrs_backup::read_backup_from_bytes(
            "t",
            std::fs::read(&files[i].path)?,
            ReadOptions::default(),
        )?)
    };
    let (full, template) = (read(0)?, read(1)?);
    let start = full.sets[0].header.first_lsn;
    let mut sources: Vec<SourceFile> = (0..n)
        .map(|i| {
            let mut media = template.clone();
            let h = &mut media.sets[0].header;
            h.first_lsn = if i == 0 {
                start
            } else {
                Lsn {
                    vlf: start.vlf + i,
                    block: 0,
                    slot: 1,
                }
            };
            h.last_lsn = Lsn {
                vlf: start.vlf + i + 1,
                block: 0,
                slot: 1,
            };
            let mut g = [0u8; 16];
            g[..4].copy_from_slice(&i.to_le_bytes());
            h.backup_set_guid = Guid(g);
            SourceFile {
                name: format!("log_{i:06}.trn"),
                size: 1,
                content: Ok(media),
            }
        })
        .collect();
    // The benchmark's fixed shuffle: files arrive in no particular order.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..sources.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sources.swap(i, usize::try_from(x % (i as u64 + 1))?);
    }
    sources.push(SourceFile {
        name: "full.bak".into(),
        size: 1,
        content: Ok(full),
    });
    let (t, f) = (Instant::now(), minor_faults());
    let mut planner = Planner::new(Options::default());
    for f in sources {
        planner.add_file(f);
    }
    let added = (t.elapsed(), minor_faults() - f);
    let (t, f) = (Instant::now(), minor_faults());
    let plan = planner.plan();
    let planned = (t.elapsed(), minor_faults() - f);
    let (t, f) = (Instant::now(), minor_faults());
    let again = planner.plan();
    let report = (t.elapsed(), minor_faults() - f);
    println!(
        "{} sets: add {:?}, first plan (compute + report) {:?}, report only {:?}; {} in order",
        n + 1,
        added.0,
        planned.0,
        report.0,
        plan.order.len()
    );
    println!(
        "minor page faults: add {}, first plan {}, report only {}",
        added.1, planned.1, report.1
    );
    assert_eq!(plan, again);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Minor page faults of this process so far (Linux; 0 elsewhere): fresh memory the kernel had
/// to map, a cost that instruction counts do not show.
fn minor_faults() -> i64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the parenthesised command name; minflt is the 10th field overall.
            let rest = stat.rsplit_once(')')?.1;
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}
