//! Microsoft Tape Format structures as SQL Server writes them (see
//! `docs/references.md#mtf-blocks-and-streams`): the 52-byte common block header, 22-byte stream
//! headers, and the fields of the TAPE, SSET, VOLB and SFMB descriptor blocks.
//!
//! Everything here is pure: it decodes bytes that the reader already fetched and verifies
//! every checksum it touches.

use std::fmt;

use crate::bytes::{Le, utf16le, xor_u16_words};
use crate::error::{ErrorKind, FormatError};
use crate::values::{BackupDateTime, Guid};

/// Length of the MTF common block header (MTF_DB_HDR).
pub(crate) const BLOCK_HEADER_LEN: usize = 52;
/// Length of an MTF stream header (MTF_STREAM_HDR).
pub(crate) const STREAM_HEADER_LEN: usize = 22;

/// A four-character MTF type tag (block or stream ID), e.g. `TAPE`, `MQCI`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub [u8; 4]);

impl Tag {
    /// Media header block.
    pub const TAPE: Tag = Tag(*b"TAPE");
    /// Soft filemark block.
    pub const SFMB: Tag = Tag(*b"SFMB");
    /// Start of a data set (one backup set).
    pub const SSET: Tag = Tag(*b"SSET");
    /// Volume block.
    pub const VOLB: Tag = Tag(*b"VOLB");
    /// SQL Server configuration written at backup start (provisional).
    pub const MSCI: Tag = Tag(*b"MSCI");
    /// SQL Server data-file pages.
    pub const MSDA: Tag = Tag(*b"MSDA");
    /// SQL Server transaction log.
    pub const MSTL: Tag = Tag(*b"MSTL");
    /// SQL Server configuration written at backup end (final).
    pub const MSLS: Tag = Tag(*b"MSLS");
    /// End of a data set.
    pub const ESET: Tag = Tag(*b"ESET");
    /// Pad stream that fills a block up to the next block boundary.
    pub const SPAD: Tag = Tag(*b"SPAD");
    /// Media-set (striping) information stream of the TAPE block.
    pub const RAID: Tag = Tag(*b"RAID");
    /// SQL Server configuration records stream.
    pub const MQCI: Tag = Tag(*b"MQCI");
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// MTF_TAPE_ADDRESS: a `(size, offset)` pair locating variable data inside its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TapeAddress {
    /// Length in bytes; 0 means the field is absent.
    pub(crate) size: u16,
    /// Offset from the start of the containing block.
    pub(crate) offset: u16,
}

impl TapeAddress {
    pub(crate) fn read(le: &Le<'_>, at: usize) -> Result<Self, FormatError> {
        Ok(TapeAddress {
            size: le.u16(at)?,
            offset: le.u16(at + 2)?,
        })
    }

    /// The addressed bytes of `block` (which starts at the block's first byte).
    pub(crate) fn bytes<'a>(&self, block: &Le<'a>) -> Result<Option<&'a [u8]>, FormatError> {
        if self.size == 0 {
            return Ok(None);
        }
        block
            .slice(usize::from(self.offset), usize::from(self.size))
            .map(Some)
    }

    /// The addressed string (UTF-16LE for SQL Server), `None` when absent or empty.
    pub(crate) fn string(&self, block: &Le<'_>) -> Result<Option<String>, FormatError> {
        Ok(self.bytes(block)?.map(utf16le).filter(|s| !s.is_empty()))
    }
}

/// The common header every descriptor block starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    /// Block type.
    pub(crate) tag: Tag,
    /// Block attributes.
    pub(crate) attributes: u32,
    /// Offset of the first stream header from the block start (before 4-byte alignment).
    pub(crate) first_event_offset: u16,
    /// Format logical address: block number within the set, in format-logical-block units.
    pub(crate) format_logical_address: u64,
    /// Control block ID (increments through a set).
    pub(crate) control_block_id: u32,
    /// Location of the block type's OS-specific data.
    pub(crate) os_data: TapeAddress,
    /// String encoding: 0 none, 1 ANSI, 2 UTF-16LE.
    pub(crate) string_type: u8,
}

impl BlockHeader {
    /// Decode and checksum-verify a block header from the first 52 bytes of `le`.
    pub(crate) fn parse(le: &Le<'_>) -> Result<Self, FormatError> {
        let raw = le.slice(0, BLOCK_HEADER_LEN)?;
        let tag = Tag(le.array(0)?);
        let stored = le.u16(50)?;
        let computed = xor_u16_words(&raw[..50]);
        if stored != computed {
            return Err(FormatError::new(
                le.abs(0),
                ErrorKind::BadChecksum {
                    what: block_what(tag),
                    stored,
                    computed,
                },
            ));
        }
        Ok(BlockHeader {
            tag,
            attributes: le.u32(4)?,
            first_event_offset: le.u16(8)?,
            format_logical_address: le.u64(20)?,
            control_block_id: le.u32(36)?,
            os_data: TapeAddress::read(le, 44)?,
            string_type: le.u8(48)?,
        })
    }
}

/// Does `bytes` start with a checksum-valid block header of type `tag`? (Used to probe.)
pub(crate) fn is_block(bytes: &[u8], tag: Tag) -> bool {
    bytes.len() >= BLOCK_HEADER_LEN
        && bytes[..4] == tag.0
        && xor_u16_words(&bytes[..50]) == u16::from_le_bytes([bytes[50], bytes[51]])
}

fn block_what(tag: Tag) -> &'static str {
    match tag {
        Tag::TAPE => "TAPE block header",
        Tag::SFMB => "SFMB block header",
        Tag::SSET => "SSET block header",
        Tag::VOLB => "VOLB block header",
        Tag::MSCI => "MSCI block header",
        Tag::MSDA => "MSDA block header",
        Tag::MSTL => "MSTL block header",
        Tag::MSLS => "MSLS block header",
        Tag::ESET => "ESET block header",
        _ => "block header",
    }
}

/// An MTF stream header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamHeader {
    /// Stream type.
    pub(crate) tag: Tag,
    /// Media-format attributes (SQL Server: 0x100 on data/log streams with backup checksums).
    pub(crate) media_attributes: u16,
    /// Length of the stream data in bytes (excluding header and alignment padding).
    pub(crate) length: u64,
}

impl StreamHeader {
    /// Decode and checksum-verify a stream header from the first 22 bytes of `le`.
    pub(crate) fn parse(le: &Le<'_>) -> Result<Self, FormatError> {
        let raw = le.slice(0, STREAM_HEADER_LEN)?;
        let stored = le.u16(20)?;
        let computed = xor_u16_words(&raw[..20]);
        if stored != computed {
            return Err(FormatError::new(
                le.abs(0),
                ErrorKind::BadChecksum {
                    what: "stream header",
                    stored,
                    computed,
                },
            ));
        }
        Ok(StreamHeader {
            tag: Tag(le.array(0)?),
            media_attributes: le.u16(6)?,
            length: le.u64(8)?,
        })
    }
}

/// Fields of the TAPE (media header) block: LABELONLY material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TapeBlock {
    /// Media family ID (u32; differs per stripe file).
    pub(crate) media_family_id: u32,
    /// TAPE attributes (bit 1: media label present).
    pub(crate) attributes: u32,
    /// Media sequence number.
    pub(crate) media_sequence_number: u16,
    /// Password encryption algorithm; 5 when `MEDIAPASSWORD` was used.
    pub(crate) password_encryption_algorithm: u16,
    /// Soft filemark block size in bytes.
    pub(crate) soft_filemark_size: u32,
    /// Format logical block size in bytes.
    pub(crate) format_logical_block_size: u32,
    /// `WITH MEDIANAME`.
    pub(crate) media_name: Option<String>,
    /// `WITH MEDIADESCRIPTION`.
    pub(crate) media_description: Option<String>,
    /// True when a media password value is stored.
    pub(crate) has_media_password: bool,
    /// Writer software ("Microsoft SQL Server").
    pub(crate) software_name: Option<String>,
    /// Software vendor ID (4608 for SQL Server).
    pub(crate) software_vendor_id: u16,
    /// Media creation date.
    pub(crate) media_date: Option<BackupDateTime>,
}

impl TapeBlock {
    /// Decode the TAPE block fields; `le` starts at the block and covers its header area.
    pub(crate) fn parse(le: &Le<'_>) -> Result<Self, FormatError> {
        let sfm_units = le.u16(64)?;
        let flbs = le.u16(84)?;
        if sfm_units == 0 || sfm_units > 128 {
            return Err(le.error(64, format!("soft filemark size of {sfm_units} x 512 bytes")));
        }
        if flbs < 512 || !flbs.is_power_of_two() {
            return Err(le.error(84, format!("format logical block size of {flbs} bytes")));
        }
        let password = TapeAddress::read(le, 76)?;
        Ok(TapeBlock {
            media_family_id: le.u32(52)?,
            attributes: le.u32(56)?,
            media_sequence_number: le.u16(60)?,
            password_encryption_algorithm: le.u16(62)?,
            soft_filemark_size: u32::from(sfm_units) * 512,
            format_logical_block_size: u32::from(flbs),
            media_name: TapeAddress::read(le, 68)?.string(le)?,
            media_description: TapeAddress::read(le, 72)?.string(le)?,
            has_media_password: password.size > 0,
            software_name: TapeAddress::read(le, 80)?.string(le)?,
            software_vendor_id: le.u16(86)?,
            media_date: date(le, 88)?,
        })
    }
}

/// Decode an MTF date at `at`, turning an out-of-range value into a located error.
pub(crate) fn date(le: &Le<'_>, at: usize) -> Result<Option<BackupDateTime>, FormatError> {
    BackupDateTime::from_mtf(le.array(at)?).map_err(|why| le.error(at, why))
}

/// The TAPE block's `RAID` stream: which media family of which media set this file is.
///
/// Serializes with camelCase names (`mediaSetId`, `familyCount`, `familySequenceNumber`,
/// `mirrorCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSetInfo {
    /// Media set GUID (`MediaSetId`), shared by every file of a striped set.
    pub media_set_id: Guid,
    /// Number of media families (stripes) in the set.
    pub family_count: u16,
    /// This file's family number, 1..=family_count.
    pub family_sequence_number: u16,
    /// Mirror count (RAID+30; 1 in every sample).
    pub mirror_count: u16,
    /// The media was written `WITH MEDIAPASSWORD` (TAPE+62 password algorithm, or a stored
    /// password value): RESTORE needs that password, which LRS has no way to pass.
    #[serde(default)]
    pub media_password: bool,
}

impl MediaSetInfo {
    pub(crate) fn parse(le: &Le<'_>) -> Result<Self, FormatError> {
        let info = MediaSetInfo {
            media_set_id: Guid(le.array(0)?),
            family_count: le.u16(20)?,
            family_sequence_number: le.u16(24)?,
            mirror_count: le.u16(30)?,
            media_password: false,
        };
        if info.family_count == 0 || info.family_sequence_number == 0 {
            return Err(le.error(
                20,
                "media family count and sequence number must be at least 1",
            ));
        }
        if info.family_sequence_number > info.family_count {
            return Err(le.error(
                24,
                format!(
                    "media family {} of {} is out of range",
                    info.family_sequence_number, info.family_count
                ),
            ));
        }
        Ok(info)
    }
}

/// Fields of the SSET (start of backup set) block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SsetBlock {
    /// SSET attributes (bit 1 copy, bit 2 normal, bit 3 differential).
    pub(crate) attributes: u32,
    /// Data set number: HEADERONLY `Position`.
    pub(crate) position: u16,
    /// `WITH NAME`.
    pub(crate) backup_name: Option<String>,
    /// `WITH DESCRIPTION`.
    pub(crate) backup_description: Option<String>,
    /// Login that ran the backup.
    pub(crate) user_name: Option<String>,
    /// Writer version, major.
    pub(crate) software_version_major: u8,
    /// Writer version, minor.
    pub(crate) software_version_minor: u8,
    /// Server's UTC offset in minutes (from 15-minute units; `None` when unknown).
    pub(crate) utc_offset_minutes: Option<i16>,
    /// The backup set GUID (first 16 bytes of the SQL OS-specific data).
    pub(crate) backup_set_guid: Guid,
}

/// SSET attribute bit: copy (SQL Server: `COPY_ONLY`).
pub(crate) const SSET_ATTR_COPY: u32 = 0x2;

impl SsetBlock {
    /// Decode the SSET fields; `le` starts at the block and covers its header area.
    pub(crate) fn parse(le: &Le<'_>, header: &BlockHeader) -> Result<Self, FormatError> {
        let guid_bytes = header
            .os_data
            .bytes(le)?
            .filter(|b| b.len() >= 16)
            .ok_or_else(|| le.error(44, "SQL Server OS data (backup set GUID) is missing"))?;
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&guid_bytes[..16]);
        let tz = le.array::<1>(95)?[0].cast_signed();
        Ok(SsetBlock {
            attributes: le.u32(52)?,
            position: le.u16(62)?,
            backup_name: TapeAddress::read(le, 64)?.string(le)?,
            backup_description: TapeAddress::read(le, 68)?.string(le)?,
            user_name: TapeAddress::read(le, 76)?.string(le)?,
            software_version_major: le.u8(93)?,
            software_version_minor: le.u8(94)?,
            utc_offset_minutes: (tz != 127).then_some(i16::from(tz) * 15),
            backup_set_guid: Guid(guid),
        })
    }
}

/// Fields of the VOLB (volume) block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolbBlock {
    /// Machine that wrote the backup: HEADERONLY `MachineName`.
    pub(crate) machine_name: Option<String>,
}

impl VolbBlock {
    pub(crate) fn parse(le: &Le<'_>) -> Result<Self, FormatError> {
        Ok(VolbBlock {
            machine_name: TapeAddress::read(le, 64)?.string(le)?,
        })
    }
}

/// SQL Server 2008 and later set the MTF vendor-specific attribute bit on their soft
/// filemarks; SQL Server 2005 writes 0 there, and the bit tells the two table layouts apart.
pub(crate) const SFMB_VENDOR_ATTRIBUTE: u32 = 0x8000_0000;

/// Where a soft filemark's table of earlier filemarks starts in a SQL Server 2005 SFMB
/// (attribute word 0): entries follow the `u32 capacity, u32 used` pair directly, so a 512-byte
/// filemark holds (512 - 60) / 8 = 56 of them.
pub(crate) const SFMB_2005_TABLE_AT: usize = 60;
/// Where the table starts in later versions' SFMBs, which also store that offset at +60
/// (followed by 8 zero bytes): (512 - 72) / 8 = 55 entries in a 512-byte filemark.
pub(crate) const SFMB_TABLE_AT: usize = 72;

/// The table of a soft filemark block: capacity and the file offsets of earlier filemarks,
/// newest first, in whichever layout the block's attribute word announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilemarkTable {
    /// How many entries the block has room for.
    pub(crate) capacity: u32,
    /// File offsets of earlier filemarks, as stored (newest first).
    pub(crate) entries: Vec<u64>,
}

/// Decode the filemark table of an SFMB block (`le` covers the whole block). Two layouts exist
/// (see `docs/backup-reader.md`): SQL Server 2005's, with the entries at +60, and the one every
/// later version writes, with the array offset (72) stored at +60.
pub(crate) fn filemark_table(le: &Le<'_>) -> Result<FilemarkTable, FormatError> {
    let attributes = le.u32(4)?;
    let capacity = le.u32(52)?;
    let used = le.u32(56)?;
    if used > capacity {
        return Err(le.error(56, format!("{used} filemark entries used of {capacity}")));
    }
    let array_at = if attributes & SFMB_VENDOR_ATTRIBUTE == 0 {
        SFMB_2005_TABLE_AT
    } else {
        let stored = le.u32(60)?;
        usize::try_from(stored)
            .ok()
            .filter(|&at| at >= 64)
            .ok_or_else(|| {
                le.error(
                    60,
                    format!("filemark table offset {stored} is out of range"),
                )
            })?
    };
    let used = usize::try_from(used).map_err(|_| le.error(56, "entry count"))?;
    // Bounded by the block: `slice` fails before anything is allocated for a bad count.
    let table = le.slice(array_at, used.saturating_mul(8))?;
    Ok(FilemarkTable {
        capacity,
        entries: table
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    })
}

/// The filemark table of an SFMB block: file offsets of earlier filemarks.
pub(crate) fn soft_filemark_entries(le: &Le<'_>) -> Result<Vec<u64>, FormatError> {
    filemark_table(le).map(|t| t.entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(tag: &[u8; 4]) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[..4].copy_from_slice(tag);
        b[8..10].copy_from_slice(&56u16.to_le_bytes());
        let sum = xor_u16_words(&b[..50]);
        b[50..52].copy_from_slice(&sum.to_le_bytes());
        b
    }

    #[test]
    fn block_header_checksum_is_verified() {
        let mut b = block(b"MSCI");
        let h = BlockHeader::parse(&Le::new(&b, 4096, "block")).expect("valid header");
        assert_eq!(h.tag, Tag::MSCI);
        assert_eq!(h.first_event_offset, 56);
        b[20] = 7; // FLA changes, checksum no longer matches
        let err = BlockHeader::parse(&Le::new(&b, 4096, "block")).expect_err("bad checksum");
        assert_eq!(err.offset, 4096);
        assert!(matches!(
            err.kind,
            ErrorKind::BadChecksum {
                what: "MSCI block header",
                ..
            }
        ));
    }

    #[test]
    fn stream_header_checksum_is_verified() {
        let mut s = vec![0u8; 22];
        s[..4].copy_from_slice(b"MQCI");
        s[8..16].copy_from_slice(&2880u64.to_le_bytes());
        let sum = xor_u16_words(&s[..20]);
        s[20..22].copy_from_slice(&sum.to_le_bytes());
        let h = StreamHeader::parse(&Le::new(&s, 3640, "stream")).expect("valid");
        assert_eq!((h.tag, h.length), (Tag::MQCI, 2880));
        s[9] ^= 1;
        assert!(StreamHeader::parse(&Le::new(&s, 3640, "stream")).is_err());
    }

    #[test]
    fn filemark_table_is_bounded_by_the_block() {
        let mut b = block(b"SFMB");
        b[4..8].copy_from_slice(&SFMB_VENDOR_ATTRIBUTE.to_le_bytes());
        b[52..56].copy_from_slice(&55u32.to_le_bytes());
        b[56..60].copy_from_slice(&2u32.to_le_bytes());
        b[60..64].copy_from_slice(&72u32.to_le_bytes());
        b[72..80].copy_from_slice(&78336u64.to_le_bytes());
        b[80..88].copy_from_slice(&1024u64.to_le_bytes());
        assert_eq!(
            soft_filemark_entries(&Le::new(&b, 0, "SFMB")).expect("ok"),
            vec![78336, 1024]
        );
        // A huge count is rejected without allocating.
        b[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
        b[56..60].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(soft_filemark_entries(&Le::new(&b, 0, "SFMB")).is_err());
    }

    #[test]
    fn sql_2005_filemark_tables_start_at_60() {
        // The final SFMB of a real SQL Server 2005 backup (Northwind.bak): attribute word 0,
        // capacity 56, two entries (the set's closing filemark, then the first filemark).
        let mut b = block(b"SFMB");
        b[52..56].copy_from_slice(&56u32.to_le_bytes());
        b[56..60].copy_from_slice(&2u32.to_le_bytes());
        b[60..68].copy_from_slice(&0x0035_3a00u64.to_le_bytes());
        b[68..76].copy_from_slice(&1024u64.to_le_bytes());
        let table = filemark_table(&Le::new(&b, 0, "SFMB")).expect("2005 layout");
        assert_eq!(table.capacity, 56);
        assert_eq!(table.entries, vec![3_488_256, 1024]);
        // The same bytes read as the later layout would take 3,488,256 as the array offset.
        b[4..8].copy_from_slice(&SFMB_VENDOR_ATTRIBUTE.to_le_bytes());
        assert!(filemark_table(&Le::new(&b, 0, "SFMB")).is_err());
    }

    #[test]
    fn tape_address_reads_inside_the_block_only() {
        let b = vec![0u8; 64];
        let le = Le::new(&b, 0, "TAPE");
        let inside = TapeAddress {
            size: 4,
            offset: 60,
        };
        assert_eq!(inside.bytes(&le).expect("inside"), Some(&b[60..64]));
        let outside = TapeAddress {
            size: 8,
            offset: 60,
        };
        assert!(outside.bytes(&le).is_err());
        assert_eq!(TapeAddress::default().string(&le).expect("absent"), None);
    }
}
