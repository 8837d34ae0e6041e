//! Times the phases of planning a large synthetic chain (adding files, computing the chain,
//! building the report), to see where planning time goes. Usage: `plan_phases [N]`.

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
    sources.push(SourceFile {
        name: "full.bak".into(),
        size: 1,
        content: Ok(full),
    });
    let t = Instant::now();
    let mut planner = Planner::new(Options::default());
    for f in sources {
        planner.add_file(f);
    }
    let added = t.elapsed();
    let t = Instant::now();
    let plan = planner.plan();
    let planned = t.elapsed();
    let t = Instant::now();
    let again = planner.plan();
    let report = t.elapsed();
    println!(
        "{} sets: add {added:?}, first plan (compute + report) {planned:?}, report only {report:?}; {} in order",
        n + 1,
        plan.order.len()
    );
    assert_eq!(plan, again);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
