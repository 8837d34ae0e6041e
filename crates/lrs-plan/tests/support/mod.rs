//! Shared by the planner's integration tests: forged chains as planner input.
#![allow(dead_code, unreachable_pub)]

use lrs_backup::ReadOptions;
use lrs_forge::{ChainSpec, write_chain};
use lrs_plan::SourceFile;

/// The files of a forged chain, read back, in the order they were taken.
pub fn forged(spec: &ChainSpec) -> Vec<SourceFile> {
    let dir = tempfile::tempdir().expect("dir");
    write_chain(spec, dir.path())
        .expect("forge")
        .into_iter()
        .map(|f| {
            let name = f
                .path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let data = std::fs::read(&f.path).expect("read");
            let content = lrs_backup::read_backup_from_bytes(&name, data, ReadOptions::default())
                .map_err(|e| e.kind.to_string());
            SourceFile {
                name,
                size: f.bytes,
                content,
            }
        })
        .collect()
}
