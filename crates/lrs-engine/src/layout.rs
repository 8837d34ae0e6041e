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

#[cfg(test)]
mod tests {
    use super::*;
    use lrs_forge::{ChainSpec, DatabaseSpec, write_chain};

    /// The headers of a forged full backup of a database with `log_files` log files.
    fn full_backup(log_files: u32) -> BackupSet {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spec = ChainSpec::new(DatabaseSpec::new("Layout"));
        spec.db.data_size = 1 << 20;
        spec.db.log_files = log_files;
        spec.logs = 0;
        let files = write_chain(&spec, dir.path()).expect("forge");
        let full = files.first().expect("a full");
        let bytes = std::fs::read(&full.path).expect("read");
        let media = lrs_backup::read_backup_from_bytes("full.bak", bytes, Default::default())
            .expect("headers");
        media.sets.into_iter().next().expect("a set")
    }

    #[test]
    fn one_data_file_and_one_log_file_is_compatible() {
        assert_eq!(layout_problem(&full_backup(1)), None);
    }

    #[test]
    fn several_log_files_are_refused() {
        let set = full_backup(3);
        assert_eq!(
            set.files
                .iter()
                .filter(|f| f.file_type == FileType::Log)
                .count(),
            3
        );
        assert_eq!(layout_problem(&set), Some(LayoutProblem::SeveralLogFiles));
    }

    #[test]
    fn a_file_list_without_data_files_is_refused_and_an_unread_one_is_not() {
        let mut set = full_backup(1);
        set.files.retain(|f| f.file_type != FileType::Data);
        assert_eq!(layout_problem(&set), Some(LayoutProblem::NoDataFiles));
        set.files.clear();
        assert_eq!(layout_problem(&set), None);
    }
}
