//! What a backup file holds, as `RESTORE LABELONLY`, `HEADERONLY` and `FILELISTONLY` report it.
//!
//! Field order and serde names follow SQL Server's result-set columns exactly, so serializing a
//! [`BackupHeader`] to JSON gives the HEADERONLY row. Columns whose location in the file is not
//! known are documented on the field and reported as SQL Server reports them for ordinary
//! backups (see `docs/backup-reader.md`).
//!
//! Every type also deserializes from what it serializes to, and [`BackupSet`] and
//! [`BackupMedia`] serialize everything the reader found (with camelCase names around the
//! SQL Server rows), so a [`BackupMedia`] stored as JSON reads back to an equal value.

use serde::{Deserialize, Deserializer, Serialize};

use crate::lsn::Lsn;
use crate::mtf::MediaSetInfo;
use crate::values::{BackupDateTime, Guid};

/// The kind of backup (HEADERONLY `BackupType`), from the SCIN type letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackupType {
    /// `D`: full database backup (1).
    Database,
    /// `L`: transaction log backup (2).
    TransactionLog,
    /// `F`: file or filegroup backup (4).
    File,
    /// `I`: differential database backup (5).
    DifferentialDatabase,
    /// `G`: differential file backup (6).
    DifferentialFile,
    /// `P`: partial backup (7).
    Partial,
    /// `Q`: differential partial backup (8).
    DifferentialPartial,
}

impl BackupType {
    /// Every kind, in HEADERONLY `BackupType` number order.
    const ALL: [BackupType; 7] = [
        Self::Database,
        Self::TransactionLog,
        Self::File,
        Self::DifferentialDatabase,
        Self::DifferentialFile,
        Self::Partial,
        Self::DifferentialPartial,
    ];

    /// Map the `backupset.type` letter stored at SCIN+87.
    pub fn from_letter(letter: u8) -> Option<Self> {
        Some(match letter {
            b'D' => Self::Database,
            b'L' => Self::TransactionLog,
            b'F' => Self::File,
            b'I' => Self::DifferentialDatabase,
            b'G' => Self::DifferentialFile,
            b'P' => Self::Partial,
            b'Q' => Self::DifferentialPartial,
            _ => return None,
        })
    }

    /// The kind with HEADERONLY `BackupType` number `code` (the inverse of [`Self::code`]).
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// HEADERONLY `BackupType` number.
    pub fn code(self) -> u8 {
        match self {
            Self::Database => 1,
            Self::TransactionLog => 2,
            Self::File => 4,
            Self::DifferentialDatabase => 5,
            Self::DifferentialFile => 6,
            Self::Partial => 7,
            Self::DifferentialPartial => 8,
        }
    }

    /// HEADERONLY `BackupTypeDescription`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Database => "Database",
            Self::TransactionLog => "Transaction Log",
            Self::File => "File or Filegroup",
            Self::DifferentialDatabase => "Database Differential",
            Self::DifferentialFile => "File Differential",
            Self::Partial => "Partial",
            Self::DifferentialPartial => "Partial Differential",
        }
    }

    /// Differential kinds: the ones that carry a differential base.
    pub fn is_differential(self) -> bool {
        matches!(
            self,
            Self::DifferentialDatabase | Self::DifferentialFile | Self::DifferentialPartial
        )
    }

    /// The kind of restore statement a DBA would write for it.
    pub fn is_log(self) -> bool {
        self == Self::TransactionLog
    }
}

impl Serialize for BackupType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for BackupType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u8::deserialize(d)?;
        Self::from_code(code).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Unsigned(u64::from(code)),
                &"a HEADERONLY BackupType number (1, 2, 4, 5, 6, 7 or 8)",
            )
        })
    }
}

/// `&'static str`, spelled so that serde's derive does not borrow the field from the input
/// (which would tie [`BackupHeader`]'s `Deserialize` to `'static` input): the text is mapped
/// onto a static description by [`backup_type_description`] instead.
type StaticText = &'static str;

/// Read `BackupTypeDescription` back as the one static text [`BackupType::description`] gives.
fn backup_type_description<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let text = String::deserialize(d)?;
    BackupType::ALL
        .into_iter()
        .map(BackupType::description)
        .find(|known| *known == text)
        .ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&text),
                &"a HEADERONLY BackupTypeDescription such as \"Database\" or \"Transaction Log\"",
            )
        })
}

/// Database recovery model at backup time (HEADERONLY `RecoveryModel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecoveryModel {
    /// Full recovery model.
    #[serde(rename = "FULL")]
    Full,
    /// Bulk-logged recovery model.
    #[serde(rename = "BULK-LOGGED")]
    BulkLogged,
    /// Simple recovery model.
    #[serde(rename = "SIMPLE")]
    Simple,
}

impl RecoveryModel {
    /// The name SQL Server prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::BulkLogged => "BULK-LOGGED",
            Self::Simple => "SIMPLE",
        }
    }
}

/// One row of `RESTORE HEADERONLY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupHeader {
    /// Backup set name (`WITH NAME`).
    pub backup_name: Option<String>,
    /// Backup set description.
    pub backup_description: Option<String>,
    /// Backup type.
    pub backup_type: BackupType,
    /// Expiration date: not located in the format; always NULL here.
    pub expiration_date: Option<BackupDateTime>,
    /// 1 when the backup was compressed (`MSSQLBAK` container).
    pub compressed: u8,
    /// Backup set position in the file (`WITH FILE = n`).
    pub position: u16,
    /// Device type the reader used: 2 (disk).
    pub device_type: u8,
    /// Login that performed the backup.
    pub user_name: Option<String>,
    /// Server that wrote the backup.
    pub server_name: Option<String>,
    /// Database name.
    pub database_name: Option<String>,
    /// Internal database version.
    pub database_version: u16,
    /// Database creation date.
    pub database_creation_date: Option<BackupDateTime>,
    /// Size of the backup in bytes.
    pub backup_size: u64,
    /// First LSN in the backup.
    #[serde(rename = "FirstLSN")]
    pub first_lsn: Lsn,
    /// LSN of the next log record after the backup.
    #[serde(rename = "LastLSN")]
    pub last_lsn: Lsn,
    /// Checkpoint LSN.
    #[serde(rename = "CheckpointLSN")]
    pub checkpoint_lsn: Lsn,
    /// Checkpoint LSN of the most recent full backup; 0 when there is none.
    #[serde(rename = "DatabaseBackupLSN")]
    pub database_backup_lsn: Lsn,
    /// When the backup started (server local time).
    pub backup_start_date: Option<BackupDateTime>,
    /// When the backup finished (server local time).
    pub backup_finish_date: Option<BackupDateTime>,
    /// Sort order ID.
    pub sort_order: u16,
    /// Code page of the collation.
    pub code_page: u16,
    /// Unicode locale ID.
    pub unicode_locale_id: u32,
    /// Unicode comparison style.
    pub unicode_comparison_style: u32,
    /// Database compatibility level.
    pub compatibility_level: u8,
    /// Software vendor ID (4608 for SQL Server).
    pub software_vendor_id: u32,
    /// SQL Server major version.
    pub software_version_major: u8,
    /// SQL Server minor version.
    pub software_version_minor: u8,
    /// SQL Server build.
    pub software_version_build: u16,
    /// Machine that performed the backup.
    pub machine_name: Option<String>,
    /// Flag bits (SCIN flags as stored).
    pub flags: u32,
    /// Database binding ID.
    #[serde(rename = "BindingID")]
    pub binding_id: Guid,
    /// Recovery fork at the end of the backup.
    #[serde(rename = "RecoveryForkID")]
    pub recovery_fork_id: Guid,
    /// Collation name, NULL when the collation ID is not in our tables.
    pub collation: Option<String>,
    /// Family GUID of the database.
    #[serde(rename = "FamilyGUID")]
    pub family_guid: Guid,
    /// Log contains bulk-logged operations (flag 1).
    pub has_bulk_logged_data: bool,
    /// Snapshot backup (flag 2).
    pub is_snapshot: bool,
    /// Database was read-only (flag 4).
    pub is_read_only: bool,
    /// Database was single-user (flag 8).
    pub is_single_user: bool,
    /// Backup carries backup checksums (flag 16).
    pub has_backup_checksums: bool,
    /// Database was damaged (flag 32).
    pub is_damaged: bool,
    /// First log backup of a chain (log backup with no previous log backup recorded).
    pub begins_log_chain: bool,
    /// Tail-log backup with incomplete metadata (flag 128).
    pub has_incomplete_meta_data: bool,
    /// Tail-log backup WITH NORECOVERY (flag 256).
    pub is_force_offline: bool,
    /// `COPY_ONLY` backup.
    pub is_copy_only: bool,
    /// Recovery fork of the first log record (= RecoveryForkID for data backups).
    #[serde(rename = "FirstRecoveryForkID")]
    pub first_recovery_fork_id: Guid,
    /// Fork point LSN, NULL unless FirstRecoveryForkID differs from RecoveryForkID.
    #[serde(rename = "ForkPointLSN")]
    pub fork_point_lsn: Option<Lsn>,
    /// Recovery model.
    pub recovery_model: RecoveryModel,
    /// Differential base LSN (differential backups only, else NULL).
    #[serde(rename = "DifferentialBaseLSN")]
    pub differential_base_lsn: Option<Lsn>,
    /// Differential base GUID (differential backups only, else NULL).
    #[serde(rename = "DifferentialBaseGUID")]
    pub differential_base_guid: Option<Guid>,
    /// Text for `BackupType`.
    #[serde(deserialize_with = "backup_type_description")]
    pub backup_type_description: StaticText,
    /// Unique ID of this backup set.
    #[serde(rename = "BackupSetGUID")]
    pub backup_set_guid: Guid,
    /// Bytes the backup occupies on the media (after compression).
    pub compressed_backup_size: u64,
    /// Containment: 0 (not located in the format; non-contained databases are 0).
    pub containment: u8,
    /// Backup encryption algorithm: NULL (encrypted backups are reported as errors).
    pub key_algorithm: Option<String>,
    /// Encryptor thumbprint: NULL.
    pub encryptor_thumbprint: Option<String>,
    /// Encryptor type: NULL.
    pub encryptor_type: Option<String>,
}

/// File type code of a FILELISTONLY row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// `D`: data file.
    Data,
    /// `L`: log file.
    Log,
    /// `S`: FILESTREAM, FileTable or In-Memory OLTP container.
    FileStream,
    /// A type code not seen in real backups (the raw code is kept).
    Other(u32),
}

impl FileType {
    /// Map the SFIN type code.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Self::Data,
            2 => Self::Log,
            7 => Self::FileStream,
            other => Self::Other(other),
        }
    }

    /// The letter SQL Server prints (`?` for unknown codes).
    pub fn letter(self) -> char {
        match self {
            Self::Data => 'D',
            Self::Log => 'L',
            Self::FileStream => 'S',
            Self::Other(_) => '?',
        }
    }
}

impl Serialize for FileType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(self.letter())
    }
}

impl FileType {
    /// The type a FILELISTONLY `Type` letter stands for, with the raw code that goes with `?`
    /// (`TypeCode`, written only for unknown codes, see [`BackupSet`]'s serialization).
    fn from_letter(letter: char, code: Option<u32>) -> Result<Self, String> {
        match (letter, code) {
            ('D', None) => Ok(Self::Data),
            ('L', None) => Ok(Self::Log),
            ('S', None) => Ok(Self::FileStream),
            ('?', Some(code)) => Ok(Self::Other(code)),
            ('?', None) => Err(
                "file Type '?' stands for an unknown type code, and no TypeCode gives it".into(),
            ),
            ('D' | 'L' | 'S', Some(code)) => Err(format!(
                "file Type '{letter}' with TypeCode {code}: a TypeCode goes only with Type '?'"
            )),
            (other, _) => Err(format!(
                "file Type {other:?} is not one of 'D', 'L', 'S' or '?'"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for FileType {
    /// `D`, `L` or `S`; `?` is refused, because the letter alone has lost the unknown code.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let letter = char::deserialize(d)?;
        Self::from_letter(letter, None).map_err(serde::de::Error::custom)
    }
}

/// One row of `RESTORE FILELISTONLY`.
///
/// Deserializes from the row, plus an optional `TypeCode` column that carries the raw code of
/// a `?` (unknown) `Type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", try_from = "FileListRow")]
pub struct FileListEntry {
    /// Logical file name.
    pub logical_name: Option<String>,
    /// Physical file name on the source server.
    pub physical_name: Option<String>,
    /// File type.
    #[serde(rename = "Type")]
    pub file_type: FileType,
    /// Filegroup name (NULL for the log).
    pub file_group_name: Option<String>,
    /// File size in bytes.
    pub size: u64,
    /// Maximum size in bytes.
    pub max_size: u64,
    /// File ID.
    #[serde(rename = "FileID")]
    pub file_id: u32,
    /// Creation LSN: not located in the format; 0 (files created with the database).
    #[serde(rename = "CreateLSN")]
    pub create_lsn: Lsn,
    /// Drop LSN: not located; 0 (file not dropped).
    #[serde(rename = "DropLSN")]
    pub drop_lsn: Lsn,
    /// File GUID.
    #[serde(rename = "UniqueID")]
    pub unique_id: Guid,
    /// Read-only LSN: not located; 0.
    #[serde(rename = "ReadOnlyLSN")]
    pub read_only_lsn: Lsn,
    /// Read-write LSN: not located; 0.
    #[serde(rename = "ReadWriteLSN")]
    pub read_write_lsn: Lsn,
    /// Bytes of this file in the backup (pages x 8192).
    pub backup_size_in_bytes: u64,
    /// Source block size.
    pub source_block_size: u32,
    /// Filegroup ID (0 for the log).
    #[serde(rename = "FileGroupID")]
    pub file_group_id: u32,
    /// Log group GUID: NULL.
    #[serde(rename = "LogGroupGUID")]
    pub log_group_guid: Option<Guid>,
    /// Per-file differential base LSN.
    #[serde(rename = "DifferentialBaseLSN")]
    pub differential_base_lsn: Lsn,
    /// Per-file differential base GUID (NULL when zero).
    #[serde(rename = "DifferentialBaseGUID")]
    pub differential_base_guid: Option<Guid>,
    /// File was read-only: not located; false.
    pub is_read_only: bool,
    /// File is present in the backup: true.
    pub is_present: bool,
    /// TDE thumbprint: NULL.
    #[serde(rename = "TDEThumbprint")]
    pub tde_thumbprint: Option<String>,
    /// Snapshot URL: NULL.
    #[serde(rename = "SnapshotURL")]
    pub snapshot_url: Option<String>,
}

/// The FILELISTONLY row as stored: [`FileListEntry`]'s columns plus `TypeCode`, the raw type
/// code that the `?` letter of an unknown type cannot carry. Kept field for field in step with
/// [`FileListEntry`] (the round-trip tests fail on any difference).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileListRow {
    logical_name: Option<String>,
    physical_name: Option<String>,
    #[serde(rename = "Type")]
    file_type: char,
    #[serde(default)]
    type_code: Option<u32>,
    file_group_name: Option<String>,
    size: u64,
    max_size: u64,
    #[serde(rename = "FileID")]
    file_id: u32,
    #[serde(rename = "CreateLSN")]
    create_lsn: Lsn,
    #[serde(rename = "DropLSN")]
    drop_lsn: Lsn,
    #[serde(rename = "UniqueID")]
    unique_id: Guid,
    #[serde(rename = "ReadOnlyLSN")]
    read_only_lsn: Lsn,
    #[serde(rename = "ReadWriteLSN")]
    read_write_lsn: Lsn,
    backup_size_in_bytes: u64,
    source_block_size: u32,
    #[serde(rename = "FileGroupID")]
    file_group_id: u32,
    #[serde(rename = "LogGroupGUID")]
    log_group_guid: Option<Guid>,
    #[serde(rename = "DifferentialBaseLSN")]
    differential_base_lsn: Lsn,
    #[serde(rename = "DifferentialBaseGUID")]
    differential_base_guid: Option<Guid>,
    is_read_only: bool,
    is_present: bool,
    #[serde(rename = "TDEThumbprint")]
    tde_thumbprint: Option<String>,
    #[serde(rename = "SnapshotURL")]
    snapshot_url: Option<String>,
}

impl TryFrom<FileListRow> for FileListEntry {
    type Error = String;

    fn try_from(row: FileListRow) -> Result<Self, String> {
        Ok(FileListEntry {
            logical_name: row.logical_name,
            physical_name: row.physical_name,
            file_type: FileType::from_letter(row.file_type, row.type_code)?,
            file_group_name: row.file_group_name,
            size: row.size,
            max_size: row.max_size,
            file_id: row.file_id,
            create_lsn: row.create_lsn,
            drop_lsn: row.drop_lsn,
            unique_id: row.unique_id,
            read_only_lsn: row.read_only_lsn,
            read_write_lsn: row.read_write_lsn,
            backup_size_in_bytes: row.backup_size_in_bytes,
            source_block_size: row.source_block_size,
            file_group_id: row.file_group_id,
            log_group_guid: row.log_group_guid,
            differential_base_lsn: row.differential_base_lsn,
            differential_base_guid: row.differential_base_guid,
            is_read_only: row.is_read_only,
            is_present: row.is_present,
            tde_thumbprint: row.tde_thumbprint,
            snapshot_url: row.snapshot_url,
        })
    }
}

/// A [`FileListEntry`] serialized for storage: the FILELISTONLY row, plus `TypeCode` when the
/// `Type` letter is `?` (so an unknown code survives a round trip).
#[derive(Serialize)]
struct StoredFile<'a> {
    #[serde(flatten)]
    entry: &'a FileListEntry,
    #[serde(rename = "TypeCode", skip_serializing_if = "Option::is_none")]
    type_code: Option<u32>,
}

/// Serialize [`BackupSet::files`] as [`StoredFile`]s.
fn serialize_files<S: serde::Serializer>(files: &[FileListEntry], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(files.iter().map(|entry| StoredFile {
        entry,
        type_code: match entry.file_type {
            FileType::Other(code) => Some(code),
            FileType::Data | FileType::Log | FileType::FileStream => None,
        },
    }))
}

/// `RESTORE LABELONLY`: the media (file) header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaLabel {
    /// Media name (`WITH MEDIANAME`).
    pub media_name: Option<String>,
    /// Media set GUID, shared by every stripe file.
    pub media_set_id: Guid,
    /// Number of media families (stripes).
    pub family_count: u16,
    /// This file's family number.
    pub family_sequence_number: u16,
    /// Media family GUID: not located in the format; NULL.
    pub media_family_id: Option<Guid>,
    /// Media sequence number.
    pub media_sequence_number: u16,
    /// 1 when a media label is present.
    pub media_label_present: u8,
    /// Media description.
    pub media_description: Option<String>,
    /// Writer software name.
    pub software_name: Option<String>,
    /// Software vendor ID.
    pub software_vendor_id: u32,
    /// Media creation date.
    pub media_date: Option<BackupDateTime>,
    /// Mirror count.
    pub mirror_count: u16,
    /// 1 when the media is compressed.
    pub is_compressed: u8,
}

/// Which configuration copy a set's values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConfigSource {
    /// The final copy written after the data (MSLS): authoritative.
    Final,
    /// The provisional copy written at backup start (MSCI): used only for truncated files.
    Provisional,
}

/// How the reader found a set's final configuration block (MSLS): the cheap way that works for
/// most layouts, or one of the fallbacks (see `docs/backup-reader.md`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderPath {
    /// Right before the set's closing soft filemark, as long as the set's MSCI block (SQL Server
    /// 2005, 2008–2008 R2, 2014 and later): no extra read.
    #[default]
    Direct,
    /// Found among the block positions of a bounded window before the closing filemark (SQL
    /// Server 2012 pads its MSLS to the next soft-filemark boundary).
    TailSearch,
    /// Found by walking the set's blocks (data streams skipped by their length): the filemark
    /// table or the tail was not as expected.
    BlockWalk,
    /// No final copy was read: the values come from the provisional MSCI of a truncated file.
    Provisional,
}

impl HeaderPath {
    /// The name used in `--json` output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderPath::Direct => "direct",
            HeaderPath::TailSearch => "tail-search",
            HeaderPath::BlockWalk => "block-walk",
            HeaderPath::Provisional => "provisional",
        }
    }
}

/// One backup set of a file: its header row, its file list and what the planner needs.
///
/// Serializes as `{"header": <HEADERONLY row>, "files": [<FILELISTONLY rows>], "media": ...,
/// "configSource": ..., "lastFullBackupGuid": ..., "lastLogBackupLsn": ...,
/// "utcOffsetMinutes": ..., "startOffset": ..., "dataEndOffset": ..., "headerPath": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSet {
    /// The HEADERONLY row.
    pub header: BackupHeader,
    /// The FILELISTONLY rows.
    #[serde(serialize_with = "serialize_files")]
    pub files: Vec<FileListEntry>,
    /// Striping: which family of which media set this file is.
    pub media: MediaSetInfo,
    /// Where the header values came from.
    pub config_source: ConfigSource,
    /// Backup set GUID of the most recent full backup when this one was taken.
    pub last_full_backup_guid: Option<Guid>,
    /// LastLSN of the previous log backup (log chain link), when recorded.
    pub last_log_backup_lsn: Option<Lsn>,
    /// Server's UTC offset in minutes when the backup was taken, if recorded.
    pub utc_offset_minutes: Option<i16>,
    /// File offset of the set's SSET block.
    pub start_offset: u64,
    /// File offset of the soft filemark that closes the set's data (0 for truncated sets).
    pub data_end_offset: u64,
    /// How the reader found the final configuration block.
    #[serde(default)]
    pub header_path: HeaderPath,
}

/// Everything the header reader found in one backup file.
///
/// Serializes as `{"label": <LABELONLY row>, "sets": [<BackupSet>...], "fileSize": ...,
/// "truncated": ...}` and deserializes from that to an equal value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupMedia {
    /// The LABELONLY row.
    pub label: MediaLabel,
    /// Backup sets in file order (`Position` 1, 2, ...).
    pub sets: Vec<BackupSet>,
    /// File size in bytes.
    pub file_size: u64,
    /// True when the file ends before its last set does (values come from MSCI).
    pub truncated: bool,
}
