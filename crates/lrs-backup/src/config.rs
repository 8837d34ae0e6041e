//! The SQL Server configuration records carried in the `MQCI` stream of the MSCI (provisional,
//! written at backup start) and MSLS (final, written at backup end) blocks: one `SCIN` (backup
//! set header), one `SFGI` per filegroup and one `SFIN` per database file.
//!
//! The framing (docs/references.md#configuration-records): records are `u32 tag, u32 size (incl.
//! these 8 bytes), body`; strings inside are `(u16 byte length, u16 offset from the record start)`
//! pairs.

use crate::bytes::Le;
use crate::error::FormatError;
use crate::lsn::Lsn;
use crate::model::BackupType;
use crate::mtf::{Tag, date};
use crate::values::{BackupDateTime, Guid};

/// Smallest SCIN record we accept: SQL Server 2005's fixed part, which ends at 344 (its last
/// field, LastLogBackupLSN, ends at 342); a record with empty names has no string tail. The
/// CompressedBackupSize field of 2008 and later (344..352) is read only when the fixed part
/// reaches it.
const SCIN_MIN_LEN: usize = 344;
/// Smallest SFIN record we accept.
const SFIN_MIN_LEN: usize = 202;
/// Smallest SFGI record we accept.
const SFGI_MIN_LEN: usize = 20;

/// The decoded configuration of one backup set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlConfig {
    /// The backup set header record.
    pub(crate) scin: Scin,
    /// Filegroups, in file order.
    pub(crate) filegroups: Vec<Sfgi>,
    /// Database files, in file order.
    pub(crate) files: Vec<Sfin>,
}

/// The `SCIN` record: what HEADERONLY reports about a backup set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scin {
    /// Status flags (HEADERONLY `Flags`; 0x10 = backup checksums).
    pub(crate) flags: u32,
    /// SQL Server build number.
    pub(crate) software_version_build: u16,
    /// SQL Server minor version.
    pub(crate) software_version_minor: u8,
    /// SQL Server major version.
    pub(crate) software_version_major: u8,
    /// First LSN of the log records in the backup.
    pub(crate) first_lsn: Lsn,
    /// LSN of the next log record after the backup.
    pub(crate) last_lsn: Lsn,
    /// LSN of the most recent checkpoint when the backup was taken.
    pub(crate) checkpoint_lsn: Lsn,
    /// Checkpoint LSN of the most recent full backup (0 if none).
    pub(crate) database_backup_lsn: Lsn,
    /// When the database was created.
    pub(crate) database_creation_date: Option<BackupDateTime>,
    /// When the backup started.
    pub(crate) backup_start_date: Option<BackupDateTime>,
    /// When the backup finished (only set in the final copy).
    pub(crate) backup_finish_date: Option<BackupDateTime>,
    /// Backup type, from the `backupset.type` letter (D, I, L, F, G, P, Q).
    pub(crate) backup_type: BackupType,
    /// Sort order ID (52 for SQL_Latin1_General_CP1_CI_AS, 0 for Windows collations).
    pub(crate) sort_order: u8,
    /// Database compatibility level.
    pub(crate) compatibility_level: u8,
    /// Internal database version (661 = 2008 R2, 852 = 2016, 904 = 2019, 957 = 2022).
    pub(crate) database_version: u16,
    /// Size of the backup in bytes.
    pub(crate) backup_size: u64,
    /// Database name.
    pub(crate) database_name: Option<String>,
    /// Server (`MACHINE` or `MACHINE\INSTANCE`).
    pub(crate) server_name: Option<String>,
    /// Unicode locale ID.
    pub(crate) unicode_locale_id: u32,
    /// Unicode comparison style.
    pub(crate) unicode_comparison_style: u32,
    /// Database binding ID.
    pub(crate) binding_id: Guid,
    /// Current recovery fork.
    pub(crate) recovery_fork_id: Guid,
    /// LSN where the current recovery fork began (0 if the database was never restored).
    pub(crate) fork_point_lsn: Lsn,
    /// Parent recovery fork (zero if never restored).
    pub(crate) parent_recovery_fork_id: Guid,
    /// Backup set GUID of the most recent full backup (pairs with `database_backup_lsn`).
    pub(crate) last_full_backup_guid: Guid,
    /// Collation ID: LCID in bits 0..19, comparison flags, version in bits 28..31.
    pub(crate) collation_id: u32,
    /// Collation sort ID (non-zero for SQL collations).
    pub(crate) collation_sort_id: u8,
    /// Family GUID of the database.
    pub(crate) family_guid: Guid,
    /// Database status bits (0x8 = SIMPLE recovery, 0x4 = BULK_LOGGED).
    pub(crate) database_status: u32,
    /// Base LSN of a differential backup.
    pub(crate) differential_base_lsn: Lsn,
    /// Base backup set GUID of a differential backup.
    pub(crate) differential_base_guid: Guid,
    /// LastLSN of the previous log backup (0 for the first log of a chain).
    pub(crate) last_log_backup_lsn: Lsn,
    /// Compressed size of the backup in bytes; `None` where the record has no such field
    /// (SQL Server 2005, which predates backup compression, ends its fixed part at +344).
    pub(crate) compressed_backup_size: Option<u64>,
}

/// The `SFGI` record: one filegroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sfgi {
    /// Filegroup ID (1 = PRIMARY).
    pub(crate) id: u32,
    /// Filegroup name.
    pub(crate) name: Option<String>,
}

/// The `SFIN` record: one database file (FILELISTONLY row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sfin {
    /// Record flags (0x80 on data files backed up in full, 0x08 on log files).
    pub(crate) flags: u32,
    /// File ID.
    pub(crate) file_id: u32,
    /// 8 KiB pages of this file contained in the backup.
    pub(crate) pages_in_backup: u32,
    /// File type code: 1 data, 2 log, 7 FILESTREAM.
    pub(crate) type_code: u32,
    /// Source block size.
    pub(crate) source_block_size: u32,
    /// Filegroup ID (0 for the log).
    pub(crate) filegroup_id: u32,
    /// File size in bytes.
    pub(crate) size: u64,
    /// Maximum size in bytes.
    pub(crate) max_size: u64,
    /// Logical file name.
    pub(crate) logical_name: Option<String>,
    /// Physical file name on the source server.
    pub(crate) physical_name: Option<String>,
    /// Per-file differential base LSN.
    pub(crate) differential_base_lsn: Lsn,
    /// Per-file differential base GUID.
    pub(crate) differential_base_guid: Guid,
    /// File GUID.
    pub(crate) unique_id: Guid,
}

/// Decode the records of an `MQCI` stream. `le` covers exactly the stream data.
pub(crate) fn parse_config(le: &Le<'_>) -> Result<SqlConfig, FormatError> {
    let mut at = 0usize;
    let mut scin = None;
    let mut filegroups = Vec::new();
    let mut files = Vec::new();
    while at < le.len() {
        let tag = Tag(le.array(at)?);
        let size = usize::try_from(le.u32(at + 4)?).map_err(|_| le.error(at + 4, "size"))?;
        if size < 8 || size > le.len() - at {
            return Err(le.error(
                at + 4,
                format!(
                    "{tag} record size {size} does not fit the {} bytes left in the stream",
                    le.len() - at
                ),
            ));
        }
        let rec = le.sub(at, size, record_what(tag))?;
        match &tag.0 {
            b"SCIN" if scin.is_none() => scin = Some(parse_scin(&rec)?),
            b"SCIN" => return Err(rec.error(0, "a second SCIN record in one configuration")),
            b"SFGI" => filegroups.push(parse_sfgi(&rec)?),
            b"SFIN" => files.push(parse_sfin(&rec)?),
            _ => {} // Records added by newer versions are skipped by their declared size.
        }
        at += size;
    }
    let scin = scin.ok_or_else(|| le.error(0, "no SCIN (backup set header) record"))?;
    Ok(SqlConfig {
        scin,
        filegroups,
        files,
    })
}

fn record_what(tag: Tag) -> &'static str {
    match &tag.0 {
        b"SCIN" => "SCIN record",
        b"SFGI" => "SFGI record",
        b"SFIN" => "SFIN record",
        _ => "configuration record",
    }
}

fn lsn(le: &Le<'_>, at: usize) -> Result<Lsn, FormatError> {
    le.array(at).map(Lsn::from_bytes)
}

fn guid(le: &Le<'_>, at: usize) -> Result<Guid, FormatError> {
    le.array(at).map(Guid)
}

/// A record-relative `(u16 length, u16 offset)` string.
fn string(le: &Le<'_>, at: usize) -> Result<Option<String>, FormatError> {
    let addr = crate::mtf::TapeAddress {
        size: le.u16(at)?,
        offset: le.u16(at + 2)?,
    };
    addr.string(le)
}

fn require_len(le: &Le<'_>, min: usize) -> Result<(), FormatError> {
    if le.len() < min {
        return Err(le.error(
            4,
            format!("record is {} bytes, expected at least {min}", le.len()),
        ));
    }
    Ok(())
}

fn parse_scin(le: &Le<'_>) -> Result<Scin, FormatError> {
    require_len(le, SCIN_MIN_LEN)?;
    Ok(Scin {
        flags: le.u32(8)?,
        software_version_build: le.u16(24)?,
        software_version_minor: le.u8(26)?,
        software_version_major: le.u8(27)?,
        first_lsn: lsn(le, 32)?,
        last_lsn: lsn(le, 42)?,
        checkpoint_lsn: lsn(le, 52)?,
        database_backup_lsn: lsn(le, 62)?,
        database_creation_date: date(le, 72)?,
        backup_start_date: date(le, 77)?,
        backup_finish_date: date(le, 82)?,
        backup_type: {
            let letter = le.u8(87)?;
            BackupType::from_letter(letter).ok_or_else(|| {
                le.error(
                    87,
                    format!("unknown backup type letter {:?}", char::from(letter)),
                )
            })?
        },
        sort_order: le.u8(88)?,
        compatibility_level: le.u8(91)?,
        database_version: le.u16(94)?,
        backup_size: le.u64(96)?,
        database_name: string(le, 104)?,
        server_name: string(le, 108)?,
        unicode_locale_id: le.u32(116)?,
        unicode_comparison_style: le.u32(120)?,
        binding_id: guid(le, 124)?,
        recovery_fork_id: guid(le, 156)?,
        fork_point_lsn: lsn(le, 172)?,
        parent_recovery_fork_id: guid(le, 184)?,
        last_full_backup_guid: guid(le, 200)?,
        collation_id: le.u32(216)?,
        collation_sort_id: le.u8(220)?,
        family_guid: guid(le, 224)?,
        database_status: le.u32(244)?,
        differential_base_lsn: lsn(le, 260)?,
        differential_base_guid: guid(le, 272)?,
        last_log_backup_lsn: lsn(le, 332)?,
        compressed_backup_size: if fixed_part_end(le) >= SCIN_COMPRESSED_SIZE_AT + 8 {
            Some(le.u64(SCIN_COMPRESSED_SIZE_AT)?)
        } else {
            None
        },
    })
}

/// Where the SCIN's CompressedBackupSize field sits (SQL Server 2008 and later).
const SCIN_COMPRESSED_SIZE_AT: usize = 344;

/// The end of a SCIN record's fixed part: its strings are stored at the record's tail, so the
/// lowest offset of a present string is where the fixed fields stop (344 on SQL Server 2005,
/// 364 on 2008–2008 R2, 400 on 2012 and later; the record's size when it has no strings).
fn fixed_part_end(le: &Le<'_>) -> usize {
    [104usize, 108]
        .iter()
        .filter_map(|&at| {
            let size = le.u16(at).ok()?;
            let offset = le.u16(at + 2).ok()?;
            (size > 0).then_some(usize::from(offset))
        })
        .min()
        .unwrap_or(le.len())
}

fn parse_sfgi(le: &Le<'_>) -> Result<Sfgi, FormatError> {
    require_len(le, SFGI_MIN_LEN)?;
    Ok(Sfgi {
        id: le.u32(12)?,
        name: string(le, 16)?,
    })
}

fn parse_sfin(le: &Le<'_>) -> Result<Sfin, FormatError> {
    require_len(le, SFIN_MIN_LEN)?;
    Ok(Sfin {
        flags: le.u32(8)?,
        file_id: le.u32(20)?,
        pages_in_backup: le.u32(24)?,
        type_code: le.u32(28)?,
        source_block_size: le.u32(32)?,
        filegroup_id: le.u32(36)?,
        size: le.u64(40)?,
        max_size: le.u64(86)?,
        logical_name: string(le, 48)?,
        physical_name: string(le, 52)?,
        differential_base_lsn: lsn(le, 158)?,
        differential_base_guid: guid(le, 170)?,
        unique_id: guid(le, 186)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn record(tag: &[u8; 4], len: usize) -> Vec<u8> {
        let mut r = vec![0u8; len];
        r[..4].copy_from_slice(tag);
        r[4..8].copy_from_slice(&u32::try_from(len).expect("small").to_le_bytes());
        r
    }

    fn put_string(rec: &mut Vec<u8>, pair_at: usize, s: &str) {
        let off = rec.len();
        let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        rec.extend_from_slice(&bytes);
        let n = u32::try_from(rec.len()).expect("small");
        rec[4..8].copy_from_slice(&n.to_le_bytes());
        rec[pair_at..pair_at + 2]
            .copy_from_slice(&u16::try_from(bytes.len()).expect("s").to_le_bytes());
        rec[pair_at + 2..pair_at + 4]
            .copy_from_slice(&u16::try_from(off).expect("s").to_le_bytes());
    }

    #[test]
    fn parses_hand_built_records() {
        let mut scin = record(b"SCIN", 364);
        scin[8] = 0x10;
        scin[32..42].copy_from_slice(
            &Lsn {
                vlf: 25,
                block: 62,
                slot: 170,
            }
            .to_bytes(),
        );
        scin[87] = b'D';
        scin[94..96].copy_from_slice(&661u16.to_le_bytes());
        put_string(&mut scin, 104, "Sales");
        put_string(&mut scin, 108, "SQL01\\PROD");
        let mut sfgi = record(b"SFGI", 24);
        sfgi[12] = 1;
        put_string(&mut sfgi, 16, "PRIMARY");
        let mut sfin = record(b"SFIN", 256);
        sfin[20] = 1;
        sfin[28] = 1;
        put_string(&mut sfin, 48, "Sales");
        let mut stream = scin;
        stream.extend_from_slice(&sfgi);
        stream.extend_from_slice(&sfin);
        stream.extend_from_slice(&record(b"NEWR", 16)); // unknown records are skipped
        let cfg = parse_config(&Le::new(&stream, 3662, "MQCI")).expect("parses");
        assert_eq!(cfg.scin.flags, 0x10);
        assert_eq!(cfg.scin.first_lsn.to_string(), "25000000006200170");
        assert_eq!(cfg.scin.backup_type, BackupType::Database);
        assert_eq!(cfg.scin.database_version, 661);
        assert_eq!(cfg.scin.database_name.as_deref(), Some("Sales"));
        assert_eq!(cfg.scin.server_name.as_deref(), Some("SQL01\\PROD"));
        assert_eq!(
            cfg.filegroups,
            vec![Sfgi {
                id: 1,
                name: Some("PRIMARY".into())
            }]
        );
        assert_eq!(cfg.files.len(), 1);
        assert_eq!(cfg.files[0].logical_name.as_deref(), Some("Sales"));
    }

    #[test]
    fn rejects_oversized_and_short_records_with_offsets() {
        let mut scin = record(b"SCIN", 364);
        scin[4..8].copy_from_slice(&10_000u32.to_le_bytes());
        let err = parse_config(&Le::new(&scin, 3662, "MQCI")).expect_err("too big");
        assert_eq!(err.offset, 3666);
        let short = record(b"SCIN", 100);
        let err = parse_config(&Le::new(&short, 3662, "MQCI")).expect_err("too short");
        assert!(matches!(
            err.kind,
            ErrorKind::Malformed {
                what: "SCIN record",
                ..
            }
        ));
        let err = parse_config(&Le::new(&record(b"SFGI", 24), 0, "MQCI")).expect_err("no SCIN");
        assert!(err.to_string().contains("no SCIN"));
    }
}
