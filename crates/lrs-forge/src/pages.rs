//! Data pages with valid SQL Server page headers and, when the database verifies pages with
//! CHECKSUM, valid page checksums. Contents are pseudo-random rows over a mostly repetitive
//! background, so compressed output compresses like real data instead of not at all.

use lrs_backup::{
    FileSpec, Lsn, PAGE_FLAG_CHECKSUM, PAGE_SIZE, PageHeader, PageId, PageSource, set_page_checksum,
};

/// Generates the pages of one backup.
#[derive(Debug, Clone)]
pub struct PageGenerator {
    seed: u64,
    lsn: Lsn,
    checksum: bool,
}

impl PageGenerator {
    /// Pages stamped with `lsn`, checksummed when `checksum`.
    pub fn new(seed: u64, lsn: Lsn, checksum: bool) -> Self {
        Self {
            seed,
            lsn,
            checksum,
        }
    }
}

/// Data page type in the page header.
const DATA_PAGE: u8 = 1;

impl PageSource for PageGenerator {
    fn fill(&mut self, file: &FileSpec, page_index: u32, page: &mut [u8]) {
        let Ok(page) = <&mut [u8; PAGE_SIZE]>::try_from(page) else {
            return;
        };
        // A cheap per-page stream: rows of 8 random bytes every 64 bytes, zeros between.
        let mut x = self.seed
            ^ (u64::from(file.file_id) << 40)
            ^ u64::from(page_index).wrapping_mul(0x9E37_79B9);
        for row in page.chunks_exact_mut(64) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            row[..8].copy_from_slice(&x.to_le_bytes());
            row[8..].fill(0);
        }
        let file_id = u16::try_from(file.file_id).unwrap_or(u16::MAX);
        let mut header = PageHeader::empty(
            PageId {
                file: file_id,
                page: page_index,
            },
            DATA_PAGE,
        );
        header.lsn = self.lsn;
        header.slot_count = 1;
        if self.checksum {
            header.flag_bits |= PAGE_FLAG_CHECKSUM;
        }
        if header.write_to(page).is_ok() && self.checksum {
            set_page_checksum(page);
        }
    }
}
