//! SQL Server database pages: the 96-byte page header and the `PAGE_VERIFY` protections
//! (`CHECKSUM` and `TORN_PAGE_DETECTION`), decoded and computed once for the whole crate.
//!
//! Data backups carry the database's pages verbatim: every `MQDA` stream of an `MSDA` block holds 2
//! filler bytes and then whole 8 KiB pages (docs/references.md#mtf-blocks-and-streams). Every
//! number below was confirmed on all data pages of the real full and differential backups of SQL
//! Server 2008 R2, 2016, 2019 and 2022 (`tests/page_checksums.rs`).
//!
//! # Page header (96 bytes, little-endian)
//!
//! | Off | Size | Field (DBCC PAGE name) | [`PageHeader`] field |
//! |---|---|---|---|
//! | 0 | 1 | `m_headerVersion` (always 1) | [`header_version`](PageHeader::header_version) |
//! | 1 | 1 | `m_type` (1 data, 2 index, 8 GAM, 9 SGAM, 10 IAM, 11 PFS, 13 boot, 15 file header, 16 DCM, 17 BCM, ...) | [`page_type`](PageHeader::page_type) |
//! | 2 | 1 | `m_typeFlagBits` | [`type_flag_bits`](PageHeader::type_flag_bits) |
//! | 3 | 1 | `m_level` (B-tree level) | [`level`](PageHeader::level) |
//! | 4 | 2 | `m_flagBits` ([`PAGE_FLAG_TORN_BITS`], [`PAGE_FLAG_CHECKSUM`], ...) | [`flag_bits`](PageHeader::flag_bits) |
//! | 6 | 2 | `m_indexId` | [`index_id`](PageHeader::index_id) |
//! | 8 | 4 + 2 | `m_prevPage` (page, then file) | [`prev_page`](PageHeader::prev_page) |
//! | 14 | 2 | `m_pminlen` | [`min_len`](PageHeader::min_len) |
//! | 16 | 4 + 2 | `m_nextPage` | [`next_page`](PageHeader::next_page) |
//! | 22 | 2 | `m_slotCnt` | [`slot_count`](PageHeader::slot_count) |
//! | 24 | 4 | `m_objId` (allocation-unit object id) | [`object_id`](PageHeader::object_id) |
//! | 28 | 2 | `m_freeCnt` | [`free_count`](PageHeader::free_count) |
//! | 30 | 2 | `m_freeData` | [`free_data`](PageHeader::free_data) |
//! | 32 | 4 + 2 | `m_pageId` | [`page_id`](PageHeader::page_id) |
//! | 38 | 2 | `m_reservedCnt` | [`reserved_count`](PageHeader::reserved_count) |
//! | 40 | 10 | `m_lsn` (u32 VLF, u32 block, u16 slot) | [`lsn`](PageHeader::lsn) |
//! | 50 | 2 | `m_xactReserved` | [`xact_reserved`](PageHeader::xact_reserved) |
//! | 52 | 6 | `m_xdesId` (48-bit little-endian transaction id) | [`xdes_id`](PageHeader::xdes_id) |
//! | 58 | 2 | `m_ghostRecCnt` | [`ghost_rec_count`](PageHeader::ghost_rec_count) |
//! | 60 | 4 | `m_tornBits`: the checksum, or the torn-page bits | [`torn_bits`](PageHeader::torn_bits) |
//! | 64 | 32 | reserved (zero on every real page seen) | written as zeros |
//!
//! # `PAGE_VERIFY CHECKSUM` (flag bit `0x200`)
//!
//! A page whose `m_flagBits` has bit [`PAGE_FLAG_CHECKSUM`] (`0x200`) stores in `m_tornBits`
//! the value computed by [`page_checksum`]:
//!
//! 1. view the page as 16 sectors of 512 bytes, each as 128 little-endian `u32` words, the
//!    word at page offset 60 (the checksum itself, word 15 of sector 0) counting as zero;
//! 2. XOR the 128 words of sector `i` into one value `s[i]`;
//! 3. the checksum is the XOR over `i` of `s[i]` rotated **left** by `15 - i` bits.
//!
//! The rotation is linear over XOR, so the implementation XORs the whole sector including the
//! stored word and cancels it afterwards (`stored.rotate_left(15)`), which keeps the inner
//! loop a plain XOR reduction the compiler vectorizes.
//!
//! # `PAGE_VERIFY TORN_PAGE_DETECTION` (flag bit `0x100`)
//!
//! A page with bit [`PAGE_FLAG_TORN_BITS`] (`0x100`) instead keeps in the low two bits of
//! `m_tornBits` a pattern (`01` or `10`, alternating between writes) that SQL Server also
//! wrote into the low two bits of the last byte of sectors 1 to 15; the original bits are kept
//! in `m_tornBits` (sector `s` at bits `2s..2s+2`). [`verify_torn_bits`] checks that every
//! sector carries the pattern, i.e. that the page was not torn by a partial write.
//!
//! Pages carrying neither flag (written before the database got a `PAGE_VERIFY` option, or
//! formatted and never written since) have no protection; their `m_tornBits` is usually 0.

use std::fmt;

use crate::bytes::Le;
use crate::error::FormatError;
use crate::lsn::Lsn;

/// Size of a SQL Server database page.
pub const PAGE_SIZE: usize = 8192;

/// Size of the page header at the start of every page.
pub const PAGE_HEADER_LEN: usize = 96;

/// `m_flagBits` bit of a page protected by `PAGE_VERIFY TORN_PAGE_DETECTION`.
pub const PAGE_FLAG_TORN_BITS: u16 = 0x100;

/// `m_flagBits` bit of a page protected by `PAGE_VERIFY CHECKSUM` ([`page_checksum`]).
pub const PAGE_FLAG_CHECKSUM: u16 = 0x200;

/// Disk sector size the page protections are defined over.
const SECTOR_SIZE: usize = 512;
/// Offset of `m_flagBits`.
const FLAG_BITS_AT: usize = 4;
/// Offset of `m_tornBits` (the stored checksum).
const TORN_BITS_AT: usize = 60;
/// Largest value of the 6-byte `m_xdesId`.
const XDES_ID_MAX: u64 = (1 << 48) - 1;

/// A page address: file id and page number within the file (DBCC prints `(file:page)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PageId {
    /// File id (`FileID` of `RESTORE FILELISTONLY`); 0 in a null page pointer.
    pub file: u16,
    /// Page number within the file (page 0 is the file header page).
    pub page: u32,
}

impl PageId {
    /// The null page pointer `(0:0)`.
    pub const NULL: PageId = PageId { file: 0, page: 0 };

    /// True for the null page pointer `(0:0)` (no previous or next page).
    pub fn is_null(self) -> bool {
        self == Self::NULL
    }

    /// Decode the 6-byte on-page form: `u32` page number, then `u16` file id.
    fn read(le: &Le<'_>, at: usize) -> Result<Self, FormatError> {
        Ok(PageId {
            page: le.u32(at)?,
            file: le.u16(at + 4)?,
        })
    }

    /// Encode to the 6-byte on-page form.
    fn to_bytes(self) -> [u8; 6] {
        let mut out = [0u8; 6];
        out[0..4].copy_from_slice(&self.page.to_le_bytes());
        out[4..6].copy_from_slice(&self.file.to_le_bytes());
        out
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.page)
    }
}

/// The decoded 96-byte header of a database page: field names after `DBCC PAGE`, all
/// little-endian, at the byte offsets given per field; bytes 64..96 are reserved (zero on every
/// real page seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PageHeader {
    /// `m_headerVersion` (u8 at 0): 1 on every formatted page.
    pub header_version: u8,
    /// `m_type` (u8 at 1): page type (1 data, 2 index, 8 GAM, 9 SGAM, 10 IAM, 11 PFS, 13 boot, ...).
    pub page_type: u8,
    /// `m_typeFlagBits` (u8 at 2).
    pub type_flag_bits: u8,
    /// `m_level` (u8 at 3): level in the B-tree (0 = leaf).
    pub level: u8,
    /// `m_flagBits` (u16 at 4): [`PAGE_FLAG_CHECKSUM`], [`PAGE_FLAG_TORN_BITS`] and other state bits.
    pub flag_bits: u16,
    /// `m_indexId` (u16 at 6).
    pub index_id: u16,
    /// `m_prevPage` (u32 page at 8, u16 file at 12): previous page at the same B-tree level, or null.
    pub prev_page: PageId,
    /// `m_pminlen` (u16 at 14): fixed-length part of the records.
    pub min_len: u16,
    /// `m_nextPage` (u32 page at 16, u16 file at 20): next page at the same B-tree level, or null.
    pub next_page: PageId,
    /// `m_slotCnt` (u16 at 22): number of slots in the slot array.
    pub slot_count: u16,
    /// `m_objId` (u32 at 24): allocation-unit object id.
    pub object_id: u32,
    /// `m_freeCnt` (u16 at 28): free bytes on the page.
    pub free_count: u16,
    /// `m_freeData` (u16 at 30): offset of the first free byte after the records.
    pub free_data: u16,
    /// `m_pageId` (u32 page at 32, u16 file at 36): this page's own address.
    pub page_id: PageId,
    /// `m_reservedCnt` (u16 at 38).
    pub reserved_count: u16,
    /// `m_lsn` (10 bytes at 40: u32 VLF, u32 block, u16 slot): LSN of the last log record that changed the page.
    pub lsn: Lsn,
    /// `m_xactReserved` (u16 at 50).
    pub xact_reserved: u16,
    /// `m_xdesId` (6 bytes at 52): 48-bit transaction id (`u32` low part at offset 52, `u16` high part at 56;
    /// DBCC prints `(high:low)`).
    pub xdes_id: u64,
    /// `m_ghostRecCnt` (u16 at 58): ghost records on the page.
    pub ghost_rec_count: u16,
    /// `m_tornBits` (u32 at 60): the page checksum when [`has_checksum`](Self::has_checksum), the
    /// torn-page bits when [`has_torn_bits`](Self::has_torn_bits).
    pub torn_bits: u32,
}

impl PageHeader {
    /// A freshly formatted, empty page of `page_type` at `page_id`: header version 1, no
    /// records (`m_freeData` = 96, `m_freeCnt` = 8096), every other field zero.
    pub fn empty(page_id: PageId, page_type: u8) -> Self {
        PageHeader {
            header_version: 1,
            page_type,
            page_id,
            free_data: 96,
            free_count: 8096,
            ..PageHeader::default()
        }
    }

    /// Decode the header at the start of `page` (at least [`PAGE_HEADER_LEN`] bytes; the
    /// rest is ignored). Fails, never panics, on a shorter slice. Any bytes decode: whether
    /// they are a formatted page (e.g. `header_version == 1`) is the caller's judgement.
    pub fn parse(page: &[u8]) -> Result<PageHeader, FormatError> {
        let le = Le::new(page, 0, "page header");
        le.slice(0, PAGE_HEADER_LEN)?;
        let xdes = le.array::<6>(52)?;
        let mut xdes8 = [0u8; 8];
        xdes8[..6].copy_from_slice(&xdes);
        Ok(PageHeader {
            header_version: le.u8(0)?,
            page_type: le.u8(1)?,
            type_flag_bits: le.u8(2)?,
            level: le.u8(3)?,
            flag_bits: le.u16(FLAG_BITS_AT)?,
            index_id: le.u16(6)?,
            prev_page: PageId::read(&le, 8)?,
            min_len: le.u16(14)?,
            next_page: PageId::read(&le, 16)?,
            slot_count: le.u16(22)?,
            object_id: le.u32(24)?,
            free_count: le.u16(28)?,
            free_data: le.u16(30)?,
            page_id: PageId::read(&le, 32)?,
            reserved_count: le.u16(38)?,
            lsn: Lsn::from_bytes(le.array(40)?),
            xact_reserved: le.u16(50)?,
            xdes_id: u64::from_le_bytes(xdes8),
            ghost_rec_count: le.u16(58)?,
            torn_bits: le.u32(TORN_BITS_AT)?,
        })
    }

    /// Encode the header into the first [`PAGE_HEADER_LEN`] bytes of `out` (the reserved
    /// bytes 64..96 are written as zeros; the rest of `out` is untouched). Fails if `out` is
    /// shorter than the header or [`xdes_id`](Self::xdes_id) does not fit in 48 bits.
    ///
    /// The stored checksum is [`torn_bits`](Self::torn_bits) as given: call
    /// [`set_page_checksum`] once the whole page is written.
    pub fn write_to(&self, out: &mut [u8]) -> Result<(), FormatError> {
        let available = out.len();
        let Some(h) = out.get_mut(..PAGE_HEADER_LEN) else {
            return Err(FormatError::malformed(
                0,
                "page header",
                format!("needs {PAGE_HEADER_LEN} bytes but the buffer holds {available}"),
            ));
        };
        if self.xdes_id > XDES_ID_MAX {
            return Err(FormatError::malformed(
                52,
                "page header",
                format!("m_xdesId {:#x} does not fit in 6 bytes", self.xdes_id),
            ));
        }
        h.fill(0);
        h[0] = self.header_version;
        h[1] = self.page_type;
        h[2] = self.type_flag_bits;
        h[3] = self.level;
        h[4..6].copy_from_slice(&self.flag_bits.to_le_bytes());
        h[6..8].copy_from_slice(&self.index_id.to_le_bytes());
        h[8..14].copy_from_slice(&self.prev_page.to_bytes());
        h[14..16].copy_from_slice(&self.min_len.to_le_bytes());
        h[16..22].copy_from_slice(&self.next_page.to_bytes());
        h[22..24].copy_from_slice(&self.slot_count.to_le_bytes());
        h[24..28].copy_from_slice(&self.object_id.to_le_bytes());
        h[28..30].copy_from_slice(&self.free_count.to_le_bytes());
        h[30..32].copy_from_slice(&self.free_data.to_le_bytes());
        h[32..38].copy_from_slice(&self.page_id.to_bytes());
        h[38..40].copy_from_slice(&self.reserved_count.to_le_bytes());
        h[40..50].copy_from_slice(&self.lsn.to_bytes());
        h[50..52].copy_from_slice(&self.xact_reserved.to_le_bytes());
        h[52..58].copy_from_slice(&self.xdes_id.to_le_bytes()[..6]);
        h[58..60].copy_from_slice(&self.ghost_rec_count.to_le_bytes());
        h[60..64].copy_from_slice(&self.torn_bits.to_le_bytes());
        Ok(())
    }

    /// True when the page is protected by `PAGE_VERIFY CHECKSUM`: `m_flagBits` has
    /// [`PAGE_FLAG_CHECKSUM`] and `m_tornBits` holds [`page_checksum`].
    pub fn has_checksum(&self) -> bool {
        self.flag_bits & PAGE_FLAG_CHECKSUM != 0
    }

    /// True when the page is protected by `PAGE_VERIFY TORN_PAGE_DETECTION`
    /// ([`PAGE_FLAG_TORN_BITS`]; see [`verify_torn_bits`]).
    pub fn has_torn_bits(&self) -> bool {
        self.flag_bits & PAGE_FLAG_TORN_BITS != 0
    }
}

/// A page whose stored checksum differs from the one computed over its bytes (what SQL Server
/// reports as error 824, "incorrect checksum").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("incorrect page checksum: stored {stored:#010x}, computed {computed:#010x}")]
pub struct PageChecksumMismatch {
    /// Checksum stored in `m_tornBits`.
    pub stored: u32,
    /// Checksum computed by [`page_checksum`].
    pub computed: u32,
}

/// XOR of the 128 little-endian `u32` words of one sector.
#[inline]
fn sector_xor(sector: &[u8; SECTOR_SIZE]) -> u32 {
    // Eight independent lanes of 32 bytes: a plain XOR reduction the compiler turns into
    // full-width vector XORs, folded to one word at the end.
    let (lanes, _) = sector.as_chunks::<32>();
    let mut acc = [0u32; 8];
    for lane in lanes {
        let (words, _) = lane.as_chunks::<4>();
        for (a, w) in acc.iter_mut().zip(words) {
            *a ^= u32::from_le_bytes(*w);
        }
    }
    acc.iter().fold(0, |x, y| x ^ y)
}

/// The backup checksum SQL Server stores in the 4-byte `CSUM` stream that follows a checksummed
/// (media attribute 0x100) `MQDA` or `MQTL` stream: over the stream's data after its 2 filler
/// bytes, taken as 512-byte sectors, `c = c.rotate_left(1) ^ s` for each sector's XOR `s` of its
/// 128 little-endian words, from `c = 0`. Found on the real `dbareports` backups (SQL Server
/// 2008 R2, every data and log stream of its full, differential and log backups; not in the
/// format notes). Fed in pieces of any size; a partial last sector counts as zero-padded.
#[derive(Debug, Clone, Default)]
pub struct BackupChecksum {
    value: u32,
    partial: Vec<u8>,
}

impl BackupChecksum {
    /// A checksum over no data yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the next bytes of the stream's data.
    pub fn update(&mut self, mut bytes: &[u8]) {
        if !self.partial.is_empty() {
            let take = (SECTOR_SIZE - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() < SECTOR_SIZE {
                return;
            }
            let sector: [u8; SECTOR_SIZE] = self.partial[..].try_into().unwrap_or([0; SECTOR_SIZE]);
            self.add_sector(sector_xor(&sector));
            self.partial.clear();
        }
        let (sectors, rest) = bytes.as_chunks::<SECTOR_SIZE>();
        for sector in sectors {
            self.add_sector(sector_xor(sector));
        }
        self.partial.extend_from_slice(rest);
    }

    /// Add one sector whose XOR is already known (see [`page_sector_xors`]).
    #[inline]
    pub fn add_sector(&mut self, xor: u32) {
        self.value = self.value.rotate_left(1) ^ xor;
    }

    /// Whether the bytes fed so far end on a sector boundary.
    pub fn is_aligned(&self) -> bool {
        self.partial.is_empty()
    }

    /// The checksum of everything fed.
    pub fn value(&self) -> u32 {
        let mut c = self.clone();
        if !c.partial.is_empty() {
            let mut sector = [0u8; SECTOR_SIZE];
            sector[..c.partial.len()].copy_from_slice(&c.partial);
            c.add_sector(sector_xor(&sector));
        }
        c.value
    }
}

/// The XOR of each of a page's 16 sectors, as stored (the checksum word included): one pass
/// over the page gives both its [`page_checksum`] ([`page_checksum_from_sectors`]) and its
/// share of the stream's [`BackupChecksum`].
pub fn page_sector_xors(page: &[u8; PAGE_SIZE]) -> [u32; 16] {
    let (sectors, _) = page.as_chunks::<SECTOR_SIZE>();
    let mut out = [0u32; 16];
    for (o, sector) in out.iter_mut().zip(sectors) {
        *o = sector_xor(sector);
    }
    out
}

/// [`page_checksum`] from the page's [`page_sector_xors`] and its stored checksum word.
pub fn page_checksum_from_sectors(xors: &[u32; 16], stored: u32) -> u32 {
    let mut sum = 0u32;
    for (x, rotation) in xors.iter().zip((0..16u32).rev()) {
        sum ^= x.rotate_left(rotation);
    }
    sum ^ stored.rotate_left(15)
}

/// The value at page offset 60.
fn stored_torn_bits(page: &[u8; PAGE_SIZE]) -> u32 {
    u32::from_le_bytes([
        page[TORN_BITS_AT],
        page[TORN_BITS_AT + 1],
        page[TORN_BITS_AT + 2],
        page[TORN_BITS_AT + 3],
    ])
}

/// The `PAGE_VERIFY CHECKSUM` checksum of `page`, as SQL Server stores it in `m_tornBits`
/// (offset 60) of pages with [`PAGE_FLAG_CHECKSUM`]:
///
/// 1. view the page as 16 sectors of 512 bytes, each as 128 little-endian `u32` words, the
///    word at page offset 60 (the stored checksum) counting as zero;
/// 2. XOR the 128 words of sector `i` into one value `s[i]`;
/// 3. the checksum is the XOR over `i` of `s[i].rotate_left(15 - i)`.
///
/// The checksum of an all-zero page is 0.
pub fn page_checksum(page: &[u8; PAGE_SIZE]) -> u32 {
    let (sectors, _) = page.as_chunks::<SECTOR_SIZE>();
    let mut sum = 0u32;
    for (sector, rotation) in sectors.iter().zip((0..16u32).rev()) {
        sum ^= sector_xor(sector).rotate_left(rotation);
    }
    // Sector 0 was reduced with the stored word in it: cancel it (rotation is XOR-linear).
    sum ^ stored_torn_bits(page).rotate_left(15)
}

/// Compare the checksum stored in `page` with [`page_checksum`], whatever its flag bits say
/// (check [`PageHeader::has_checksum`] first to verify only pages that carry one).
pub fn verify_page_checksum(page: &[u8; PAGE_SIZE]) -> Result<(), PageChecksumMismatch> {
    let stored = stored_torn_bits(page);
    let computed = page_checksum(page);
    if stored == computed {
        Ok(())
    } else {
        Err(PageChecksumMismatch { stored, computed })
    }
}

/// Make `page` a valid `PAGE_VERIFY CHECKSUM` page, as SQL Server does before writing it:
/// set [`PAGE_FLAG_CHECKSUM`] (and clear [`PAGE_FLAG_TORN_BITS`]) in `m_flagBits`, then
/// store [`page_checksum`] in `m_tornBits`. Returns the checksum. Call it last, after every
/// other byte of the page is final.
pub fn set_page_checksum(page: &mut [u8; PAGE_SIZE]) -> u32 {
    let flags = u16::from_le_bytes([page[FLAG_BITS_AT], page[FLAG_BITS_AT + 1]]);
    let flags = (flags | PAGE_FLAG_CHECKSUM) & !PAGE_FLAG_TORN_BITS;
    page[FLAG_BITS_AT..FLAG_BITS_AT + 2].copy_from_slice(&flags.to_le_bytes());
    let checksum = page_checksum(page);
    page[TORN_BITS_AT..TORN_BITS_AT + 4].copy_from_slice(&checksum.to_le_bytes());
    checksum
}

/// True when a `TORN_PAGE_DETECTION` page is whole: the pattern in the low two bits of
/// `m_tornBits` is `01` or `10` and the last byte of each of sectors 1 to 15 ends with it.
/// Meaningful only for pages with [`PageHeader::has_torn_bits`].
pub fn verify_torn_bits(page: &[u8; PAGE_SIZE]) -> bool {
    let pattern = page[TORN_BITS_AT] & 0b11;
    let (sectors, _) = page.as_chunks::<SECTOR_SIZE>();
    (pattern == 0b01 || pattern == 0b10)
        && sectors
            .iter()
            .skip(1)
            .all(|s| s[SECTOR_SIZE - 1] & 0b11 == pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checksum as the algorithm is stated: word by word, the stored word as zero.
    fn reference_checksum(page: &[u8; PAGE_SIZE]) -> u32 {
        let mut sum = 0u32;
        for (sector, rotation) in (0..16).zip((0..16u32).rev()) {
            let mut x = 0u32;
            for word in 0..128 {
                let at = sector * SECTOR_SIZE + word * 4;
                if at != TORN_BITS_AT {
                    x ^= u32::from_le_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]]);
                }
            }
            sum ^= x.rotate_left(rotation);
        }
        sum
    }

    /// Deterministic pseudo-random bytes (xorshift64).
    fn noise_page(seed: u64) -> Box<[u8; PAGE_SIZE]> {
        let mut page = Box::new([0u8; PAGE_SIZE]);
        let mut s = seed | 1;
        for b in page.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *b = s.to_le_bytes()[3];
        }
        page
    }

    #[test]
    fn all_zero_page_has_checksum_zero() {
        let page = [0u8; PAGE_SIZE];
        assert_eq!(page_checksum(&page), 0);
        assert_eq!(verify_page_checksum(&page), Ok(()));
    }

    #[test]
    fn one_word_per_sector_shows_the_rotation() {
        // A single 1 bit in sector i contributes 1 << (15 - i).
        for sector in 0..16 {
            let mut page = [0u8; PAGE_SIZE];
            page[sector * SECTOR_SIZE + 100] = 1;
            assert_eq!(page_checksum(&page), 1 << (15 - sector), "sector {sector}");
        }
        // The stored word itself never counts.
        let mut page = [0u8; PAGE_SIZE];
        page[TORN_BITS_AT..TORN_BITS_AT + 4].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
        assert_eq!(page_checksum(&page), 0);
        assert_eq!(
            verify_page_checksum(&page),
            Err(PageChecksumMismatch {
                stored: 0xdead_beef,
                computed: 0
            })
        );
    }

    #[test]
    fn matches_the_word_by_word_statement() {
        for seed in 1..20 {
            let page = noise_page(seed);
            assert_eq!(
                page_checksum(&page),
                reference_checksum(&page),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn any_changed_byte_changes_the_checksum() {
        let mut page = noise_page(7);
        let sum = set_page_checksum(&mut page);
        assert_eq!(verify_page_checksum(&page), Ok(()));
        for at in (0..PAGE_SIZE).step_by(61).chain([PAGE_SIZE - 1, 59, 64]) {
            if (TORN_BITS_AT..TORN_BITS_AT + 4).contains(&at) {
                continue;
            }
            let mut bad = page.clone();
            bad[at] ^= 0x10;
            let err = verify_page_checksum(&bad).expect_err("corruption must be detected");
            assert_eq!(err.stored, sum);
            assert_ne!(err.computed, sum, "byte {at}");
        }
    }

    #[test]
    fn set_page_checksum_marks_the_page() {
        let mut page = [0u8; PAGE_SIZE];
        let header = PageHeader {
            flag_bits: PAGE_FLAG_TORN_BITS | 0x8000,
            ..PageHeader::empty(PageId { file: 1, page: 42 }, 1)
        };
        header.write_to(&mut page).expect("header fits");
        page[4000] = 0x5a;
        let sum = set_page_checksum(&mut page);
        let parsed = PageHeader::parse(&page).expect("header parses");
        assert!(parsed.has_checksum());
        assert!(!parsed.has_torn_bits());
        assert_eq!(parsed.flag_bits, PAGE_FLAG_CHECKSUM | 0x8000);
        assert_eq!(parsed.torn_bits, sum);
        assert_eq!(verify_page_checksum(&page), Ok(()));
    }

    #[test]
    fn header_round_trip() {
        let header = PageHeader {
            header_version: 1,
            page_type: 2,
            type_flag_bits: 3,
            level: 4,
            flag_bits: 0xc200,
            index_id: 0x0102,
            prev_page: PageId {
                file: 1,
                page: 0x0a0b_0c0d,
            },
            min_len: 17,
            next_page: PageId {
                file: 3,
                page: 0x1122_3344,
            },
            slot_count: 99,
            object_id: 0x8765_4321,
            free_count: 1234,
            free_data: 5678,
            page_id: PageId {
                file: 1,
                page: 1_000_000,
            },
            reserved_count: 5,
            lsn: Lsn {
                vlf: 19,
                block: 215,
                slot: 1,
            },
            xact_reserved: 6,
            xdes_id: 0xabcd_0000_16f4,
            ghost_rec_count: 7,
            torn_bits: 0xfeed_f00d,
        };
        let mut page = [0xffu8; PAGE_SIZE];
        header.write_to(&mut page).expect("header fits");
        assert_eq!(PageHeader::parse(&page), Ok(header));
        assert_eq!(&page[52..58], &[0xf4, 0x16, 0, 0, 0xcd, 0xab]);
        assert!(page[64..PAGE_HEADER_LEN].iter().all(|&b| b == 0));
        assert!(page[PAGE_HEADER_LEN..].iter().all(|&b| b == 0xff));
        assert_eq!(header.page_id.to_string(), "1:1000000");
    }

    #[test]
    fn short_or_invalid_input_is_an_error() {
        assert!(PageHeader::parse(&[]).is_err());
        assert!(PageHeader::parse(&[1u8; PAGE_HEADER_LEN - 1]).is_err());
        assert!(PageHeader::parse(&[1u8; PAGE_HEADER_LEN]).is_ok());
        let mut short = [0u8; PAGE_HEADER_LEN - 1];
        assert!(PageHeader::default().write_to(&mut short).is_err());
        let too_big = PageHeader {
            xdes_id: 1 << 48,
            ..PageHeader::default()
        };
        assert!(too_big.write_to(&mut [0u8; PAGE_HEADER_LEN]).is_err());
    }

    #[test]
    fn torn_bits_detect_a_torn_sector() {
        let mut page = noise_page(3);
        page[TORN_BITS_AT] = (page[TORN_BITS_AT] & !0b11) | 0b10;
        for s in 1..16 {
            let at = s * SECTOR_SIZE + SECTOR_SIZE - 1;
            page[at] = (page[at] & !0b11) | 0b10;
        }
        assert!(verify_torn_bits(&page));
        page[9 * SECTOR_SIZE + SECTOR_SIZE - 1] ^= 0b11;
        assert!(!verify_torn_bits(&page));
    }
}
