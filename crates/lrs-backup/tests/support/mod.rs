//! Shared helpers for the integration tests: locating the real SQL Server backups.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use lrs_backup::{BackupMedia, ReadOptions};

/// The folder of real backups named by `LRS_REAL_FIXTURES`, or `None` when the variable is unset
/// (a skip, by lrs_testkit's policy: a failure under CI). A set variable naming a missing folder
/// fails.
pub fn fixtures() -> Option<PathBuf> {
    let dir = lrs_testkit::real_fixtures()?;
    assert!(
        dir.is_dir(),
        "LRS_REAL_FIXTURES={} is not a folder",
        dir.display()
    );
    Some(dir)
}

/// `real-more` beside the `LRS_REAL_FIXTURES` folder: real backups in layouts the first set did
/// not cover (SQL Server 2005 and 2012). Required wherever `LRS_REAL_FIXTURES` is set.
pub fn more_fixtures(real: &Path) -> PathBuf {
    let more = real
        .parent()
        .expect("LRS_REAL_FIXTURES has a parent folder")
        .join("real-more");
    assert!(
        more.is_dir(),
        "{} is missing: the real-more fixtures are expected beside LRS_REAL_FIXTURES",
        more.display()
    );
    more
}

/// Every real backup file: those of `real` and of `real-more` beside it, sorted per folder.
pub fn every_real_file(real: &Path) -> Vec<PathBuf> {
    let mut files = backup_files(real);
    files.extend(backup_files(&more_fixtures(real)));
    files
}

/// Every file below `dir` except Markdown, sorted.
pub fn backup_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("list fixture folder") {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Read the headers of `rel` (relative to the fixture folder), strictly.
pub fn read(dir: &Path, rel: &str) -> BackupMedia {
    let data = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    lrs_backup::read_backup_from_bytes(rel, data, ReadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}
