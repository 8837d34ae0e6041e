//! The physical layouts Managed Instance refuses, read from a full backup's file list
//! (FILELISTONLY): LRS fails the migration with `IncompatiblePhysicalLayout...` instead of
//! restoring it.

use lrs_backup::{BackupSet, FileType};

/// Why a database's files cannot be restored on Managed Instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayoutProblem {
    /// The backup lists no data file.
    NoDataFiles,
    /// The database has more than one log file.
    SeveralLogFiles,
}

/// The first problem of `set`'s file list, if any. Only a full backup's list describes the
/// whole database, so callers ask about fulls; an empty list (not read) tells nothing.
pub(crate) fn layout_problem(set: &BackupSet) -> Option<LayoutProblem> {
    if set.files.is_empty() {
        return None;
    }
    let count = |kind: FileType| set.files.iter().filter(|f| f.file_type == kind).count();
    if count(FileType::Data) == 0 {
        Some(LayoutProblem::NoDataFiles)
    } else if count(FileType::Log) > 1 {
        Some(LayoutProblem::SeveralLogFiles)
    } else {
        None
    }
}
