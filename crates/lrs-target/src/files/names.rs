//! Names on disk for databases and their files: safe (no separators, no `.`/`..`, bounded
//! length) and injective (two different names never share a folder or a file).

use std::collections::HashSet;

use lrs_backup::{FileListEntry, FileType};

use crate::emulated::catalog;

/// Longest encoded name kept whole; longer ones are cut and end in a hash of the whole name,
/// so that folder and file names stay well under the usual 255-byte limit.
const MAX_ENCODED: usize = 96;

/// The folder (under the target's `databases` folder) that holds `database`'s files. Names are
/// case-insensitive like the catalog (`Sales` and `SALES` share one folder).
pub fn database_folder_name(database: &str) -> String {
    encode(&catalog::key(database))
}

/// `name` with every character outside `[A-Za-z0-9_-]` written as `%XX` per UTF-8 byte (so `%`
/// itself is `%25`), cut to [`MAX_ENCODED`] bytes plus `~` and a 64-bit FNV-1a hash of `name`
/// when longer. `~` never appears in an uncut encoding, so cut and uncut names cannot meet.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // The longest prefix that ends between two characters' encodings and fits.
    let mut cut = 0;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        if out.len() <= MAX_ENCODED {
            cut = out.len();
        }
    }
    if out.len() > MAX_ENCODED {
        out.truncate(cut);
        out.push_str(&format!("~{:016x}", fnv1a(name.as_bytes())));
    }
    out
}

/// 64-bit FNV-1a: small, and stable across builds (unlike the standard library's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A file name this module could have produced: what a staged record read back from disk is
/// checked against before it is joined to a path.
pub(crate) fn is_safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '%' | '~' | '.'))
}

/// One database file of a set, as it is named in the database's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedFile {
    /// FILELISTONLY `FileID`.
    pub(crate) file_id: u32,
    /// Data or log.
    pub(crate) is_log: bool,
    /// File name in the database's folder.
    pub(crate) name: String,
    /// FILELISTONLY `Size` in bytes.
    pub(crate) size: u64,
}

/// The data and log files of a set's file list, named `<logical name>.mdf` (file 1), `.ndf`
/// (other data files) or `.ldf` (log files). Names that meet case-insensitively (or a missing
/// logical name) get `~<file id>` so every file has its own. FILESTREAM containers and unknown
/// types have no pages in the data stream and get no file.
pub(crate) fn name_files(files: &[FileListEntry]) -> Vec<NamedFile> {
    let mut sorted: Vec<&FileListEntry> = files
        .iter()
        .filter(|f| matches!(f.file_type, FileType::Data | FileType::Log))
        .collect();
    sorted.sort_by_key(|f| f.file_id);
    sorted.dedup_by_key(|f| f.file_id);
    let mut taken = HashSet::new();
    let mut out = Vec::with_capacity(sorted.len());
    for f in sorted {
        let is_log = f.file_type == FileType::Log;
        let ext = match (is_log, f.file_id) {
            (true, _) => "ldf",
            (false, 1) => "mdf",
            (false, _) => "ndf",
        };
        let stem = f
            .logical_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(encode);
        let mut name = match &stem {
            Some(stem) => format!("{stem}.{ext}"),
            None => format!("~{}.{ext}", f.file_id),
        };
        if !taken.insert(name.to_lowercase()) {
            name = format!("{}~{}.{ext}", stem.unwrap_or_default(), f.file_id);
            taken.insert(name.to_lowercase());
        }
        out.push(NamedFile {
            file_id: f.file_id,
            is_log,
            name,
            size: f.size,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_folders_are_safe_case_insensitive_and_distinct() {
        assert_eq!(database_folder_name("Sales"), "sales");
        assert_eq!(database_folder_name("SALES"), "sales");
        assert_eq!(database_folder_name(".."), "%2E%2E");
        assert_eq!(database_folder_name("a/b\\c"), "a%2Fb%5Cc");
        assert_eq!(database_folder_name("x y%"), "x%20y%25");
        assert_ne!(database_folder_name("a.b"), database_folder_name("a_b"));
        assert_ne!(database_folder_name("a%2Eb"), database_folder_name("a.b"));
        for name in ["..", ".", "a/../b", "CON", "é", "~1", "a\0b"] {
            let folder = database_folder_name(name);
            assert!(is_safe_file_name(&folder), "{folder}");
            assert!(!folder.contains('.') && !folder.contains('/'), "{folder}");
        }
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let long = "é".repeat(128);
        let folder = database_folder_name(&long);
        assert!(folder.len() <= MAX_ENCODED + 17, "{}", folder.len());
        assert!(folder.contains('~'));
        assert!(is_safe_file_name(&folder));
        let other = format!("{}e", "é".repeat(127));
        assert_ne!(database_folder_name(&other), folder);
        assert_eq!(database_folder_name(&long.to_uppercase()), folder);
        let ascii = "x".repeat(128);
        assert_eq!(database_folder_name(&ascii).len(), MAX_ENCODED + 17);
    }

    fn entry(file_id: u32, name: Option<&str>, file_type: FileType) -> FileListEntry {
        let json = serde_json::json!({
            "LogicalName": name, "PhysicalName": null, "Type": 'D', "FileGroupName": null,
            "Size": 8192 * u64::from(file_id), "MaxSize": 0, "FileID": file_id, "CreateLSN": "0",
            "DropLSN": "0", "UniqueID": "00000000-0000-0000-0000-000000000000",
            "ReadOnlyLSN": "0", "ReadWriteLSN": "0", "BackupSizeInBytes": 0,
            "SourceBlockSize": 512, "FileGroupID": 1, "LogGroupGUID": null,
            "DifferentialBaseLSN": "0", "DifferentialBaseGUID": null, "IsReadOnly": false,
            "IsPresent": true, "TDEThumbprint": null, "SnapshotURL": null
        });
        let mut e: FileListEntry = serde_json::from_value(json).expect("entry");
        e.file_type = file_type;
        e
    }

    #[test]
    fn files_are_named_by_logical_name_and_type() {
        let named = name_files(&[
            entry(2, Some("Sales_log"), FileType::Log),
            entry(1, Some("Sales"), FileType::Data),
            entry(3, Some("sales"), FileType::Data),
            entry(4, Some("../x"), FileType::Data),
            entry(5, None, FileType::Data),
            entry(6, Some("fs"), FileType::FileStream),
        ]);
        let names: Vec<(u32, &str, bool)> = named
            .iter()
            .map(|f| (f.file_id, f.name.as_str(), f.is_log))
            .collect();
        assert_eq!(
            names,
            [
                (1, "Sales.mdf", false),
                (2, "Sales_log.ldf", true),
                (3, "sales.ndf", false),
                (4, "%2E%2E%2Fx.ndf", false),
                (5, "~5.ndf", false),
            ]
        );
        let clash = name_files(&[
            entry(1, Some("Data"), FileType::Data),
            entry(3, Some("DATA"), FileType::Data),
            entry(7, Some("data"), FileType::Data),
        ]);
        let names: Vec<&str> = clash.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Data.mdf", "DATA.ndf", "data~7.ndf"]);
        assert!(clash.iter().all(|f| is_safe_file_name(&f.name)));
    }
}
