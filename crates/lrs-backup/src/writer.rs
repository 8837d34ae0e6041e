//! Writes backups with the block and stream layout SQL Server uses (the inverse of the
//! reader): `TAPE SFMB | SSET VOLB MSCI [MSDA…] MSTL… MSLS SFMB ESET ESET SFMB` per set, with
//! SQL configuration records (SCIN, SFGI, SFIN), MTF checksums, soft filemark tables, optional
//! CSUM streams, and 8 KiB data pages supplied by the caller. Streaming: memory stays at one
//! batch of pages whatever the backup size.
//!
//! Four layouts are modelled on real backups: [`Layout::Sql2016`] (also what 2017–2022 write;
//! fixed parts SCIN 400, SFGI 224, SFIN 1028 bytes, MSTL first-stream offset 596),
//! [`Layout::Sql2012`] (the same records, but the final configuration block is padded to the
//! next soft-filemark boundary), [`Layout::Sql2008R2`] (SCIN 364, SFGI 48, SFIN 1024, 592) and
//! [`Layout::Sql2005`] (SCIN 344, SFGI 48, SFIN 400, 128; soft filemarks with the old table
//! layout), as `lrs-forge`'s structural test checks against real backups of each version. Values the reader does not interpret (catalog streams, log-block metadata,
//! checksum stream contents) are written with the right sizes and zeroed contents.

// Every length cast below is of a block, record or string whose size `validate` bounds well
// under 64 KiB, or of a soft filemark size that is 512 or 4096.
#![allow(clippy::cast_possible_truncation)]

use std::io::{self, Write};

use crate::bytes::xor_u16_words;
use crate::lsn::Lsn;
use crate::model::{BackupType, RecoveryModel};
use crate::mtf::{SFMB_2005_TABLE_AT, SFMB_TABLE_AT, SFMB_VENDOR_ATTRIBUTE};
use crate::values::{BackupDateTime, Guid};

/// Size of a database page.
const PAGE: usize = 8192;
/// Pages written per `write` call while streaming data.
const PAGE_BATCH: usize = 128;

/// Which SQL Server version's layout to mimic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// SQL Server 2005 (9.0).
    Sql2005,
    /// SQL Server 2008 R2 (10.50).
    Sql2008R2,
    /// SQL Server 2012 (11.0).
    Sql2012,
    /// SQL Server 2016 and later (13.0+).
    Sql2016,
}

/// What differs between the mimicked versions (measured on real backups of each).
#[derive(Debug, Clone, Copy)]
struct LayoutParams {
    /// Fixed part of the SCIN record (strings follow).
    scin_fixed: usize,
    /// Fixed part of an SFGI record.
    sfgi_fixed: usize,
    /// Fixed part of an SFIN record.
    sfin_fixed: usize,
    /// First-stream offset of MSTL blocks.
    mstl_first_event: usize,
    /// Internal database version (SCIN+94).
    database_version: u16,
    /// Empty MSTL blocks written after the log before the final configuration block.
    closing_empty_mstl: u64,
    /// The final configuration block (MSLS) is padded up to the next soft-filemark boundary
    /// (2012); other versions add empty MSTL blocks until the boundary instead.
    msls_pads_to_filemark: bool,
    /// Soft filemarks use SQL Server 2005's table layout (attribute word 0, entries at +60).
    filemark_table_2005: bool,
}

impl Layout {
    fn params(self) -> LayoutParams {
        match self {
            Layout::Sql2005 => LayoutParams {
                scin_fixed: 344,
                sfgi_fixed: 48,
                sfin_fixed: 400,
                mstl_first_event: 128,
                database_version: 611,
                closing_empty_mstl: 3,
                msls_pads_to_filemark: false,
                filemark_table_2005: true,
            },
            Layout::Sql2008R2 => LayoutParams {
                scin_fixed: 364,
                sfgi_fixed: 48,
                sfin_fixed: 1024,
                mstl_first_event: 592,
                database_version: 661,
                closing_empty_mstl: 3,
                msls_pads_to_filemark: false,
                filemark_table_2005: false,
            },
            Layout::Sql2012 => LayoutParams {
                scin_fixed: 400,
                sfgi_fixed: 224,
                sfin_fixed: 1028,
                mstl_first_event: 596,
                database_version: 706,
                closing_empty_mstl: 2,
                msls_pads_to_filemark: true,
                filemark_table_2005: false,
            },
            Layout::Sql2016 => LayoutParams {
                scin_fixed: 400,
                sfgi_fixed: 224,
                sfin_fixed: 1028,
                mstl_first_event: 596,
                database_version: 852,
                closing_empty_mstl: 3,
                msls_pads_to_filemark: false,
                filemark_table_2005: false,
            },
        }
    }
}

/// The media (file) a writer produces: LABELONLY material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    /// Layout to mimic.
    pub layout: Layout,
    /// Soft filemark block size: 512 or 4096.
    pub soft_filemark_size: u32,
    /// Media set GUID, shared by all stripes.
    pub media_set_id: Guid,
    /// Number of stripes (media families).
    pub family_count: u16,
    /// This file's family number.
    pub family_sequence_number: u16,
    /// Random per-family u32 (TAPE+52).
    pub media_family_id: u32,
    /// Media creation date.
    pub media_date: BackupDateTime,
    /// `WITH MEDIANAME`.
    pub media_name: Option<String>,
}

/// One database file as FILELISTONLY lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// File ID (1 = primary data file, 2 = first log file).
    pub file_id: u32,
    /// Logical name.
    pub logical_name: String,
    /// Physical path on the source server.
    pub physical_name: String,
    /// True for the log file.
    pub is_log: bool,
    /// Filegroup ID (1 = PRIMARY; 0 for the log).
    pub filegroup_id: u32,
    /// File size in bytes.
    pub size: u64,
    /// Pages of this file carried by this backup (data files; 0 for the log).
    pub pages_in_backup: u32,
    /// File GUID.
    pub unique_id: Guid,
}

/// Everything HEADERONLY reports about one backup set, as the writer stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // Each field is the HEADERONLY column of the same name.
pub struct SetSpec {
    pub backup_type: BackupType,
    pub position: u16,
    pub backup_name: Option<String>,
    pub backup_description: Option<String>,
    pub user_name: String,
    pub server_name: String,
    pub machine_name: String,
    pub database_name: String,
    pub compatibility_level: u8,
    pub software_version: (u8, u8, u16),
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub checkpoint_lsn: Lsn,
    pub database_backup_lsn: Lsn,
    pub differential_base_lsn: Lsn,
    pub differential_base_guid: Guid,
    pub last_log_backup_lsn: Lsn,
    pub last_full_backup_guid: Guid,
    pub backup_set_guid: Guid,
    pub binding_id: Guid,
    pub family_guid: Guid,
    pub recovery_fork_id: Guid,
    pub parent_recovery_fork_id: Guid,
    pub fork_point_lsn: Lsn,
    pub database_creation_date: BackupDateTime,
    pub backup_start_date: BackupDateTime,
    pub backup_finish_date: BackupDateTime,
    pub utc_offset_minutes: i16,
    pub has_backup_checksums: bool,
    pub is_copy_only: bool,
    pub recovery_model: RecoveryModel,
    pub files: Vec<FileSpec>,
    /// Bytes of transaction log carried (rounded up to 64 KiB blocks).
    pub log_bytes: u64,
}

impl SetSpec {
    /// Data pages the set carries (over all its data files).
    pub fn data_pages(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.is_log)
            .map(|f| u64::from(f.pages_in_backup))
            .sum()
    }
}

/// Supplies the data pages of a backup, in file order.
pub trait PageSource {
    /// Fill `page` (8192 bytes) with page `page_index` of file `file`.
    fn fill(&mut self, file: &FileSpec, page_index: u32, page: &mut [u8]);
}

/// Streams backups into `W`: [`BackupWriter::write_set`] once per set, then
/// [`BackupWriter::finish`].
#[derive(Debug)]
pub struct BackupWriter<W: Write> {
    out: W,
    media: MediaSpec,
    pos: u64,
    filemarks: Vec<u64>,
    sets: u32,
    /// Offset of the current set's SSET: in-set blocks align to 1 KiB from here.
    set_start: u64,
    buf: Vec<u8>,
}

impl<W: Write> BackupWriter<W> {
    /// Start a file: writes the TAPE block and the first soft filemark.
    pub fn new(out: W, media: MediaSpec) -> io::Result<Self> {
        if !matches!(media.soft_filemark_size, 512 | 4096) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "soft filemark size must be 512 or 4096",
            ));
        }
        let mut w = Self {
            out,
            media,
            pos: 0,
            filemarks: Vec::new(),
            sets: 0,
            set_start: 0,
            buf: Vec::with_capacity(PAGE * PAGE_BATCH),
        };
        let tape = w.tape_block();
        w.emit(&tape)?;
        w.filemark()?;
        Ok(w)
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn sfm(&self) -> usize {
        self.media.soft_filemark_size as usize
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// A soft filemark listing every earlier filemark, newest first.
    fn filemark(&mut self) -> io::Result<()> {
        let sfm = self.sfm();
        let mut b = vec![0u8; sfm];
        let old_table = self.media.layout.params().filemark_table_2005;
        let (attributes, table_at) = if old_table {
            (0, SFMB_2005_TABLE_AT)
        } else {
            (SFMB_VENDOR_ATTRIBUTE, SFMB_TABLE_AT)
        };
        let capacity = (sfm - table_at) / 8;
        header(&mut b, b"SFMB", attributes, sfm, 0, 0, 0);
        b[52..56].copy_from_slice(&(capacity as u32).to_le_bytes());
        let listed: Vec<u64> = self
            .filemarks
            .iter()
            .rev()
            .take(capacity)
            .copied()
            .collect();
        b[56..60].copy_from_slice(&(listed.len() as u32).to_le_bytes());
        if !old_table {
            b[60..64].copy_from_slice(&(table_at as u32).to_le_bytes());
        }
        for (k, m) in listed.iter().enumerate() {
            let at = table_at + 8 * k;
            b[at..at + 8].copy_from_slice(&m.to_le_bytes());
        }
        seal(&mut b);
        self.filemarks.push(self.pos);
        self.emit(&b)
    }

    fn tape_block(&self) -> Vec<u8> {
        let m = &self.media;
        let mut strings = Strings::new(94);
        let name = strings.add(m.media_name.as_deref());
        let software = strings.add_raw(&utf16z("Microsoft SQL Server"));
        let ofe = align4(strings.end());
        let mut b = vec![0u8; ofe];
        header(&mut b, b"TAPE", 0x0003_0000, ofe, 0, 0, 2);
        b[52..56].copy_from_slice(&m.media_family_id.to_le_bytes());
        b[56..60].copy_from_slice(&5u32.to_le_bytes());
        b[60..62].copy_from_slice(&1u16.to_le_bytes());
        b[64..66].copy_from_slice(&((m.soft_filemark_size / 512) as u16).to_le_bytes());
        b[66..68].copy_from_slice(&3u16.to_le_bytes());
        put_addr(&mut b, 68, name);
        put_addr(&mut b, 80, software);
        b[84..86].copy_from_slice(&1024u16.to_le_bytes());
        b[86..88].copy_from_slice(&0x1200u16.to_le_bytes());
        b[88..93].copy_from_slice(&m.media_date.to_mtf());
        b[93] = 1;
        strings.write_into(&mut b);
        seal(&mut b);
        let mut raid = [0u8; 32];
        raid[..16].copy_from_slice(&m.media_set_id.0);
        raid[16..20].copy_from_slice(&0xF000_00ADu32.to_le_bytes());
        raid[20..22].copy_from_slice(&m.family_count.to_le_bytes());
        raid[22..24].copy_from_slice(&1u16.to_le_bytes());
        raid[24..26].copy_from_slice(&m.family_sequence_number.to_le_bytes());
        raid[30..32].copy_from_slice(&1u16.to_le_bytes());
        let mut block = b;
        push_stream(&mut block, b"RAID", 0, &raid);
        // The TAPE block fills one soft filemark's worth when filemarks are larger than 1 KiB.
        let size = 1024.max(self.sfm());
        pad_block(&mut block, size);
        block
    }

    /// Write one backup set; `pages` supplies the data pages of data backups.
    pub fn write_set(&mut self, set: &SetSpec, pages: &mut dyn PageSource) -> io::Result<()> {
        validate(set)?;
        let layout = self.media.layout;
        let flbs = 1024u64;
        // An appended set opens after the filemark that follows the previous set's ESETs.
        if self.sets > 0 {
            self.filemark()?;
        }
        self.sets += 1;
        let sset_at = self.pos;
        self.set_start = sset_at;
        let mut cbid = 0u32;
        let fla = |at: u64| (at - sset_at) / flbs;

        let sset = self.sset_block(set);
        self.emit(&sset)?;
        cbid += 1;
        let volb = volb_block(set, fla(self.pos), cbid);
        self.emit(&volb)?;
        cbid += 1;
        let msci_at = self.pos;
        let data_pages = set.data_pages();
        let log_blocks = set.log_bytes.div_ceil(65536);
        // Sizes are known up front, so the provisional and final copies carry the same values.
        let params = layout.params();
        let sfm = self.sfm() as u64;
        let config_size = if params.msls_pads_to_filemark {
            flbs as usize
        } else {
            self.sfm().max(1024)
        };
        let msci_len = config_block(b"MSCI", set, layout, 0, 0, 0, None, config_size).len() as u64;
        let data_len: u64 = if data_pages > 0 {
            msda_len(data_pages, set.has_backup_checksums, self.sfm())
        } else {
            0
        };
        let log_end =
            msci_at + msci_len + data_len + log_blocks * mstl_len(set.has_backup_checksums);
        // Predicted from the sizes; the closing blocks below are counted from where the log
        // really ends, so the provisional copy's size may be a few blocks short, as SQL
        // Server's own provisional values are.
        let predicted_empties = closing_empties(params, log_end, sfm);
        // BackupSize is the stream up to the final configuration block less one soft filemark
        // (every plain fixture of 2008 R2 and later, 512- and 4096-byte filemarks alike; SQL
        // Server 2005 counts up to the block itself).
        let uncounted = if params.filemark_table_2005 { 0 } else { sfm };
        let provisional_size = log_end + predicted_empties * 1024 - uncounted;
        let msci = config_block(
            b"MSCI",
            set,
            layout,
            fla(msci_at),
            cbid,
            provisional_size,
            None,
            config_size,
        );
        self.emit(&msci)?;
        cbid += 1;
        if data_pages > 0 {
            cbid += 1;
            self.msda_block(set, pages, fla(self.pos), cbid)?;
        }
        for i in 0..log_blocks {
            cbid += 1;
            let at = self.pos;
            let bytes = if i + 1 == log_blocks {
                set.log_bytes - 65536 * i
            } else {
                65536
            };
            self.mstl_block(set, fla(at), cbid, bytes.max(1))?;
        }
        // Empty MSTL blocks close the log: a fixed number, and with most versions more up to a
        // soft-filemark boundary so that the set's closing filemark is aligned (2012 pads the
        // final configuration block instead).
        for _ in 0..closing_empties(params, self.pos, sfm) {
            cbid += 1;
            let empty = empty_mstl(layout, fla(self.pos), cbid);
            self.emit(&empty)?;
        }
        cbid += 1;
        let backup_size = self.pos - uncounted;
        let mut msls = config_block(
            b"MSLS",
            set,
            layout,
            fla(self.pos),
            cbid,
            backup_size,
            Some(set.backup_finish_date),
            config_size,
        );
        if params.msls_pads_to_filemark {
            msls = repad_to(msls, self.pos, sfm);
        }
        self.emit(&msls)?;
        self.filemark()?;
        let eset1 = eset_block(set, self.sfm(), true);
        self.emit(&eset1)?;
        let eset2 = eset_block(set, self.sfm(), false);
        self.emit(&eset2)?;
        Ok(())
    }

    fn sset_block(&self, set: &SetSpec) -> Vec<u8> {
        let mut strings = Strings::new(122);
        let name = strings.add(set.backup_name.as_deref());
        let desc = strings.add(set.backup_description.as_deref());
        let user = strings.add(Some(&set.user_name));
        let ofe = align4(strings.end());
        let mut b = vec![0u8; ofe];
        header(&mut b, b"SSET", 0, ofe, 0, 0, 2);
        b[44..46].copy_from_slice(&21u16.to_le_bytes());
        b[46..48].copy_from_slice(&100u16.to_le_bytes());
        let mut attributes = if set.backup_type.is_differential() {
            0x8
        } else {
            0x4
        };
        if set.is_copy_only {
            attributes |= 0x2;
        }
        b[52..56].copy_from_slice(&(attributes as u32).to_le_bytes());
        b[60..62].copy_from_slice(&0x1200u16.to_le_bytes());
        b[62..64].copy_from_slice(&set.position.to_le_bytes());
        put_addr(&mut b, 64, name);
        put_addr(&mut b, 68, desc);
        put_addr(&mut b, 76, user);
        b[80..88].copy_from_slice(&self.pos.to_le_bytes());
        b[88..93].copy_from_slice(&set.backup_start_date.to_mtf());
        b[93] = set.software_version.0;
        b[94] = set.software_version.1;
        b[95] = (set.utc_offset_minutes / 15) as i8 as u8;
        b[97] = 2;
        b[100..116].copy_from_slice(&set.backup_set_guid.0);
        strings.write_into(&mut b);
        seal(&mut b);
        pad_block(&mut b, 1024);
        b
    }

    fn msda_block(
        &mut self,
        set: &SetSpec,
        pages: &mut dyn PageSource,
        fla: u64,
        cbid: u32,
    ) -> io::Result<()> {
        let data_pages = set.data_pages();
        let mut head = vec![0u8; 60];
        header(&mut head, b"MSDA", 0, 60, fla, cbid, 0);
        seal(&mut head);
        // Pages start 1 KiB into the block, or at the next 4 KiB boundary with 4 KiB filemarks.
        let align = if self.sfm() > 512 { 4096 } else { 1024 };
        let rel = self.pos - self.set_start;
        let data_at = (rel + 60 + 22 + 22 + 2).div_ceil(align) * align;
        let apad = usize::try_from(data_at - rel - 60 - 22 - 22 - 2).unwrap_or(0);
        push_stream_attr(&mut head, b"APAD", 0x80, &vec![0u8; apad]);
        let attr: u16 = if set.has_backup_checksums { 0x102 } else { 0x2 };
        let mqda_len = data_pages * PAGE as u64 + 2;
        head.extend_from_slice(&stream_header(b"MQDA", attr, mqda_len));
        head.extend_from_slice(&[0, 0]);
        self.emit(&head)?;
        let mut page_buf = std::mem::take(&mut self.buf);
        let mut checksum = crate::page::BackupChecksum::new();
        for file in set.files.iter().filter(|f| !f.is_log) {
            let mut index = 0u32;
            while index < file.pages_in_backup {
                let n = (file.pages_in_backup - index).min(PAGE_BATCH as u32);
                page_buf.resize(n as usize * PAGE, 0);
                for (k, page) in page_buf.chunks_exact_mut(PAGE).enumerate() {
                    pages.fill(file, index + k as u32, page);
                }
                if set.has_backup_checksums {
                    checksum.update(&page_buf);
                }
                self.emit(&page_buf)?;
                index += n;
            }
        }
        self.buf = page_buf;
        let rel = self.pos - self.set_start;
        let mut tail = Vec::new();
        align_pad(&mut tail, rel);
        if set.has_backup_checksums {
            push_stream_at(&mut tail, rel, b"CSUM", 0, &checksum.value().to_le_bytes());
        }
        push_stream_at(&mut tail, rel, b"MQDA", 0x6, &[]);
        spad_to(&mut tail, rel, 1024);
        self.emit(&tail)
    }

    fn mstl_block(&mut self, set: &SetSpec, fla: u64, cbid: u32, bytes: u64) -> io::Result<()> {
        let layout = self.media.layout;
        let ofe = layout.params().mstl_first_event;
        let mut b = vec![0u8; ofe];
        header(&mut b, b"MSTL", 0, ofe, fla, cbid, 0);
        mstl_fixed(&mut b, ofe);
        seal(&mut b);
        let apad = 1024 - ofe - 22 - 22 - 2;
        push_stream_attr(&mut b, b"APAD", 0x80, &vec![0u8; apad]);
        let attr: u16 = if set.has_backup_checksums { 0x100 } else { 0 };
        // Log is carried in whole 64 KiB blocks, like SQL Server's own log backups.
        let _ = bytes;
        b.extend_from_slice(&stream_header(b"MQTL", attr, 65538));
        b.extend_from_slice(&[0, 0]);
        let log_at = b.len();
        b.resize(b.len() + 65536, 0);
        if set.has_backup_checksums {
            let mut checksum = crate::page::BackupChecksum::new();
            checksum.update(&b[log_at..]);
            push_stream(&mut b, b"CSUM", 0, &checksum.value().to_le_bytes());
        }
        let rel = self.pos - self.set_start;
        let mut tail = Vec::new();
        spad_to(&mut tail, rel + b.len() as u64, 1024);
        b.extend_from_slice(&tail);
        self.emit(&b)
    }

    /// End the file: its final soft filemark. Returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.filemark()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Longest name accepted (UTF-16 code units): SQL Server's sysname is 128, paths 260.
const MAX_NAME: usize = 1024;

/// Reject specs whose strings or counts would not fit the on-disk fields.
fn validate(set: &SetSpec) -> io::Result<()> {
    let invalid = |why: String| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    let names = [
        set.backup_name.as_deref(),
        set.backup_description.as_deref(),
        Some(set.user_name.as_str()),
        Some(set.server_name.as_str()),
        Some(set.machine_name.as_str()),
        Some(set.database_name.as_str()),
    ];
    let file_names = set.files.iter().flat_map(|f| {
        [
            Some(f.logical_name.as_str()),
            Some(f.physical_name.as_str()),
        ]
    });
    for name in names.into_iter().chain(file_names).flatten() {
        if name.encode_utf16().count() > MAX_NAME {
            return invalid(format!(
                "name longer than {MAX_NAME} characters: {name:.40}…"
            ));
        }
    }
    if set.files.len() > 32_767 {
        return invalid(format!(
            "{} database files (SQL Server allows 32,767)",
            set.files.len()
        ));
    }
    if set.utc_offset_minutes.abs() > 14 * 60 || set.utc_offset_minutes % 15 != 0 {
        return invalid(format!("UTC offset of {} minutes", set.utc_offset_minutes));
    }
    Ok(())
}

/// Size of an MSDA block carrying `pages` pages.
/// How many empty MSTL blocks close a set's log that ends at `log_end`.
fn closing_empties(params: LayoutParams, log_end: u64, sfm: u64) -> u64 {
    let mut empties = params.closing_empty_mstl;
    if !params.msls_pads_to_filemark {
        while !(log_end + empties * 1024).is_multiple_of(sfm) {
            empties += 1;
        }
    }
    empties
}

/// Re-close a configuration block that starts at file offset `at` so that it ends on the next
/// `boundary` (2012's final configuration block): its SPAD stream is rewritten longer.
fn repad_to(mut block: Vec<u8>, at: u64, boundary: u64) -> Vec<u8> {
    let end = at + block.len() as u64;
    let extra = (end.div_ceil(boundary) * boundary - end) as usize;
    if extra == 0 {
        return block;
    }
    // The SPAD header is the last stream header: find it from the MQCI stream's end.
    let ofe = u16::from_le_bytes([block[8], block[9]]) as usize;
    let mqci_len = u64::from_le_bytes(block[ofe + 8..ofe + 16].try_into().unwrap_or([0; 8]));
    let spad_at = align4(ofe + 22 + mqci_len as usize);
    let old_len = u64::from_le_bytes(
        block[spad_at + 8..spad_at + 16]
            .try_into()
            .unwrap_or([0; 8]),
    );
    block[spad_at..spad_at + 22].copy_from_slice(&stream_header(
        b"SPAD",
        0,
        old_len + extra as u64,
    ));
    block.resize(block.len() + extra, 0);
    block
}

fn msda_len(pages: u64, checksums: bool, sfm: usize) -> u64 {
    let align = if sfm > 512 { 4096 } else { 1024 };
    // The block starts on a 1 KiB boundary, so the page data starts `align` bytes in at most;
    // computed exactly by the writer; here the same arithmetic from a 0-based start.
    let data_at = (60u64 + 22 + 22 + 2).div_ceil(align) * align;
    let mut end = data_at + pages * PAGE as u64;
    if checksums {
        end = crate::bytes::align4(end) + 22 + 4;
    }
    end = crate::bytes::align4(end) + 22;
    spad_end(end, 1024)
}

fn mstl_len(checksums: bool) -> u64 {
    let mut end = 1024u64 + 65536;
    if checksums {
        end = crate::bytes::align4(end) + 22 + 4;
    }
    spad_end(end, 1024)
}

/// Where a SPAD stream whose header starts at `at` (aligned) ends when padding to `boundary`.
fn spad_end(at: u64, boundary: u64) -> u64 {
    let header_end = crate::bytes::align4(at) + 22;
    header_end.div_ceil(boundary) * boundary
}

fn empty_mstl(layout: Layout, fla: u64, cbid: u32) -> Vec<u8> {
    let ofe = layout.params().mstl_first_event;
    let mut b = vec![0u8; ofe];
    header(&mut b, b"MSTL", 0, ofe, fla, cbid, 0);
    mstl_fixed(&mut b, ofe);
    seal(&mut b);
    pad_block(&mut b, 1024);
    b
}

/// The MSTL fixed area: a log-metadata region addressed at +80 (contents not interpreted).
fn mstl_fixed(b: &mut [u8], ofe: usize) {
    b[56] = 1;
    b[76] = 2;
    put_addr(b, 80, Some(((ofe - 92) as u16, 92)));
}

fn volb_block(set: &SetSpec, fla: u64, cbid: u32) -> Vec<u8> {
    let mut strings = Strings::new(73);
    let device = strings.add(Some("C:"));
    let machine = strings.add(Some(&set.machine_name));
    let ofe = align4(strings.end());
    let mut b = vec![0u8; ofe];
    header(&mut b, b"VOLB", 0, ofe, fla, cbid, 2);
    b[52..56].copy_from_slice(&2u32.to_le_bytes());
    put_addr(&mut b, 56, device);
    put_addr(&mut b, 60, Some((0, device.map_or(73, |d| d.1 + d.0))));
    put_addr(&mut b, 64, machine);
    b[68..73].copy_from_slice(&set.backup_start_date.to_mtf());
    strings.write_into(&mut b);
    seal(&mut b);
    pad_block(&mut b, 1024);
    b
}

fn eset_block(set: &SetSpec, sfm: usize, with_catalog: bool) -> Vec<u8> {
    let mut b = vec![0u8; 88];
    header(&mut b, b"ESET", 0, 88, 0, 0, 0);
    let attributes: u32 = if set.backup_type.is_differential() {
        0x8
    } else {
        0x4
    };
    b[52..56].copy_from_slice(&attributes.to_le_bytes());
    b[78..80].copy_from_slice(&set.position.to_le_bytes());
    b[80..85].copy_from_slice(&set.backup_finish_date.to_mtf());
    seal(&mut b);
    if with_catalog {
        push_stream(&mut b, b"OTCP", 0, &vec![0u8; sfm.max(1024) - 110]);
        push_stream(&mut b, b"TSMP", 0, &[0u8; 200]);
        pad_block(&mut b, 2 * sfm.max(1024));
    } else {
        pad_block(&mut b, sfm.max(1024));
    }
    b
}

/// MSCI / MSLS: one MQCI stream with SCIN, SFGI and SFIN records.
#[allow(clippy::too_many_arguments)]
fn config_block(
    tag: &[u8; 4],
    set: &SetSpec,
    layout: Layout,
    fla: u64,
    cbid: u32,
    backup_size: u64,
    finish: Option<BackupDateTime>,
    size: usize,
) -> Vec<u8> {
    let mut records = scin_record(set, layout, backup_size, finish);
    records.extend_from_slice(&sfgi_record(layout));
    for f in &set.files {
        records.extend_from_slice(&sfin_record(set, f, layout));
    }
    let mut b = vec![0u8; 56];
    header(&mut b, tag, 0, 56, fla, cbid, 0);
    seal(&mut b);
    push_stream(&mut b, b"MQCI", 0, &records);
    pad_block(&mut b, size);
    b
}

fn scin_record(
    set: &SetSpec,
    layout: Layout,
    backup_size: u64,
    finish: Option<BackupDateTime>,
) -> Vec<u8> {
    let fixed = layout.params().scin_fixed;
    let mut strings = Strings::new(fixed);
    let db = strings.add(Some(&set.database_name));
    let server = strings.add(Some(&set.server_name));
    let mut r = vec![0u8; strings.end()];
    r[..4].copy_from_slice(b"SCIN");
    let len = r.len() as u32;
    r[4..8].copy_from_slice(&len.to_le_bytes());
    let mut flags = 0x200u32;
    if set.has_backup_checksums {
        flags |= 0x10;
    }
    if set.backup_type.is_differential() {
        flags |= 0x800;
    }
    r[8..12].copy_from_slice(&flags.to_le_bytes());
    let data_files = set.files.iter().filter(|f| !f.is_log).count() as u32;
    r[12..16].copy_from_slice(&data_files.to_le_bytes());
    r[16..20].copy_from_slice(&(set.files.len() as u32 - data_files).to_le_bytes());
    r[24..26].copy_from_slice(&set.software_version.2.to_le_bytes());
    r[26] = set.software_version.1;
    r[27] = set.software_version.0;
    r[28..32].copy_from_slice(&9u32.to_le_bytes());
    r[32..42].copy_from_slice(&set.first_lsn.to_bytes());
    r[42..52].copy_from_slice(&set.last_lsn.to_bytes());
    r[52..62].copy_from_slice(&set.checkpoint_lsn.to_bytes());
    r[62..72].copy_from_slice(&set.database_backup_lsn.to_bytes());
    r[72..77].copy_from_slice(&set.database_creation_date.to_mtf());
    r[77..82].copy_from_slice(&set.backup_start_date.to_mtf());
    if let Some(finish) = finish {
        r[82..87].copy_from_slice(&finish.to_mtf());
    }
    r[87] = match set.backup_type {
        BackupType::Database => b'D',
        BackupType::TransactionLog => b'L',
        BackupType::File => b'F',
        BackupType::DifferentialDatabase => b'I',
        BackupType::DifferentialFile => b'G',
        BackupType::Partial => b'P',
        BackupType::DifferentialPartial => b'Q',
    };
    r[88] = 52;
    r[89] = 1;
    r[91] = set.compatibility_level;
    r[92] = 5;
    r[94..96].copy_from_slice(&layout.params().database_version.to_le_bytes());
    r[96..104].copy_from_slice(&backup_size.to_le_bytes());
    put_addr(&mut r, 104, db);
    put_addr(&mut r, 108, server);
    r[116..120].copy_from_slice(&1033u32.to_le_bytes());
    r[120..124].copy_from_slice(&0x30001u32.to_le_bytes());
    r[124..140].copy_from_slice(&set.binding_id.0);
    r[144..154].copy_from_slice(&set.last_lsn.to_bytes());
    r[156..172].copy_from_slice(&set.recovery_fork_id.0);
    r[172..182].copy_from_slice(&set.fork_point_lsn.to_bytes());
    r[184..200].copy_from_slice(&set.parent_recovery_fork_id.0);
    r[200..216].copy_from_slice(&set.last_full_backup_guid.0);
    r[216..220].copy_from_slice(&0x00D0_0409u32.to_le_bytes());
    r[220] = 52;
    r[224..240].copy_from_slice(&set.family_guid.0);
    r[240..244].copy_from_slice(&0x10000u32.to_le_bytes());
    let status: u32 = 0x10000
        | match set.recovery_model {
            RecoveryModel::Full => 0,
            RecoveryModel::BulkLogged => 0x4,
            RecoveryModel::Simple => 0x8,
        };
    r[244..248].copy_from_slice(&status.to_le_bytes());
    if set.recovery_model != RecoveryModel::Simple {
        r[248..258].copy_from_slice(&set.database_backup_lsn.to_bytes());
    }
    if set.backup_type.is_differential() {
        r[260..270].copy_from_slice(&set.differential_base_lsn.to_bytes());
        r[272..288].copy_from_slice(&set.differential_base_guid.0);
    }
    r[304..314].copy_from_slice(&set.fork_point_lsn.to_bytes());
    r[316..332].copy_from_slice(&set.parent_recovery_fork_id.0);
    r[332..342].copy_from_slice(&set.last_log_backup_lsn.to_bytes());
    // SQL Server 2005 predates backup compression: its fixed part ends before this field.
    if fixed >= 352 {
        r[344..352].copy_from_slice(&backup_size.to_le_bytes());
    }
    if layout == Layout::Sql2016 {
        r[372..376].copy_from_slice(&1u32.to_le_bytes());
    }
    strings.write_into(&mut r);
    r
}

fn sfgi_record(layout: Layout) -> Vec<u8> {
    let mut strings = Strings::new(layout.params().sfgi_fixed);
    let name = strings.add(Some("PRIMARY"));
    let mut r = vec![0u8; strings.end()];
    r[..4].copy_from_slice(b"SFGI");
    let len = r.len() as u32;
    r[4..8].copy_from_slice(&len.to_le_bytes());
    r[8..12].copy_from_slice(&16u32.to_le_bytes());
    r[12..16].copy_from_slice(&1u32.to_le_bytes());
    put_addr(&mut r, 16, name);
    r[20..24].copy_from_slice(&1u32.to_le_bytes());
    strings.write_into(&mut r);
    r
}

fn sfin_record(set: &SetSpec, f: &FileSpec, layout: Layout) -> Vec<u8> {
    let mut strings = Strings::new(layout.params().sfin_fixed);
    let logical = strings.add(Some(&f.logical_name));
    let physical = strings.add(Some(&f.physical_name));
    let mut r = vec![0u8; strings.end()];
    r[..4].copy_from_slice(b"SFIN");
    let len = r.len() as u32;
    r[4..8].copy_from_slice(&len.to_le_bytes());
    let flags: u32 = if f.is_log {
        0x0C
    } else if set.backup_type == BackupType::Database {
        0x84
    } else {
        0x04
    };
    r[8..12].copy_from_slice(&flags.to_le_bytes());
    r[16..20].copy_from_slice(&8192u32.to_le_bytes());
    r[20..24].copy_from_slice(&f.file_id.to_le_bytes());
    r[24..28].copy_from_slice(&f.pages_in_backup.to_le_bytes());
    r[28..32].copy_from_slice(&(if f.is_log { 2u32 } else { 1 }).to_le_bytes());
    r[32..36].copy_from_slice(&512u32.to_le_bytes());
    r[36..40].copy_from_slice(&f.filegroup_id.to_le_bytes());
    r[40..48].copy_from_slice(&f.size.to_le_bytes());
    put_addr(&mut r, 48, logical);
    put_addr(&mut r, 52, physical);
    let max: u64 = if f.is_log {
        2_199_023_255_552
    } else {
        35_184_372_080_640
    };
    r[86..94].copy_from_slice(&max.to_le_bytes());
    if !f.is_log {
        r[158..168].copy_from_slice(&set.differential_base_lsn.to_bytes());
        r[170..186].copy_from_slice(&set.differential_base_guid.0);
    }
    r[186..202].copy_from_slice(&f.unique_id.0);
    r[202..212].copy_from_slice(&set.first_lsn.to_bytes());
    r[218..228].copy_from_slice(&set.last_lsn.to_bytes());
    r[234..244].copy_from_slice(&set.checkpoint_lsn.to_bytes());
    strings.write_into(&mut r);
    r
}

/// String storage at the end of a block or record: `(u16 size, u16 offset)` addresses.
struct Strings {
    start: usize,
    data: Vec<u8>,
}

impl Strings {
    fn new(start: usize) -> Self {
        Self {
            start,
            data: Vec::new(),
        }
    }

    fn add(&mut self, s: Option<&str>) -> Option<(u16, u16)> {
        let s = s.filter(|s| !s.is_empty())?;
        let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        self.add_raw(&bytes)
    }

    fn add_raw(&mut self, bytes: &[u8]) -> Option<(u16, u16)> {
        let at = self.start + self.data.len();
        self.data.extend_from_slice(bytes);
        Some((u16::try_from(bytes.len()).ok()?, u16::try_from(at).ok()?))
    }

    fn end(&self) -> usize {
        self.start + self.data.len()
    }

    fn write_into(&self, b: &mut [u8]) {
        b[self.start..self.start + self.data.len()].copy_from_slice(&self.data);
    }
}

fn utf16z(s: &str) -> Vec<u8> {
    let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

fn put_addr(b: &mut [u8], at: usize, addr: Option<(u16, u16)>) {
    if let Some((size, offset)) = addr {
        b[at..at + 2].copy_from_slice(&size.to_le_bytes());
        b[at + 2..at + 4].copy_from_slice(&offset.to_le_bytes());
    }
}

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// The common block header (checksum set by [`seal`]).
fn header(
    b: &mut [u8],
    tag: &[u8; 4],
    attributes: u32,
    ofe: usize,
    fla: u64,
    cbid: u32,
    string_type: u8,
) {
    b[..4].copy_from_slice(tag);
    b[4..8].copy_from_slice(&attributes.to_le_bytes());
    b[8..10].copy_from_slice(&(ofe as u16).to_le_bytes());
    b[10] = 14;
    b[11] = 1;
    b[20..28].copy_from_slice(&fla.to_le_bytes());
    b[36..40].copy_from_slice(&cbid.to_le_bytes());
    b[48] = string_type;
}

/// Set the block header checksum.
fn seal(b: &mut [u8]) {
    let sum = xor_u16_words(&b[..50]);
    b[50..52].copy_from_slice(&sum.to_le_bytes());
}

fn stream_header(tag: &[u8; 4], media_attributes: u16, length: u64) -> [u8; 22] {
    let mut h = [0u8; 22];
    h[..4].copy_from_slice(tag);
    h[6..8].copy_from_slice(&media_attributes.to_le_bytes());
    h[8..16].copy_from_slice(&length.to_le_bytes());
    let sum = xor_u16_words(&h[..20]);
    h[20..22].copy_from_slice(&sum.to_le_bytes());
    h
}

/// Append a stream (4-byte aligned within `b`, whose first byte sits on an aligned offset).
fn push_stream(b: &mut Vec<u8>, tag: &[u8; 4], attr: u16, data: &[u8]) {
    push_stream_attr(b, tag, attr, data);
}

fn push_stream_attr(b: &mut Vec<u8>, tag: &[u8; 4], attr: u16, data: &[u8]) {
    b.resize(align4(b.len()), 0);
    b.extend_from_slice(&stream_header(tag, attr, data.len() as u64));
    b.extend_from_slice(data);
}

/// Like [`push_stream`] for a buffer that starts at file offset `base`.
fn push_stream_at(b: &mut Vec<u8>, base: u64, tag: &[u8; 4], attr: u16, data: &[u8]) {
    align_pad(b, base);
    b.extend_from_slice(&stream_header(tag, attr, data.len() as u64));
    b.extend_from_slice(data);
}

fn align_pad(b: &mut Vec<u8>, base: u64) {
    let end = base + b.len() as u64;
    let pad = crate::bytes::align4(end) - end;
    b.resize(b.len() + pad as usize, 0);
}

/// Close a block that started at a `boundary`-aligned offset with a SPAD stream.
fn pad_block(b: &mut Vec<u8>, boundary: usize) {
    b.resize(align4(b.len()), 0);
    let header_end = b.len() + 22;
    let end = header_end.div_ceil(boundary) * boundary;
    b.extend_from_slice(&stream_header(b"SPAD", 0, (end - header_end) as u64));
    b.resize(end, 0);
}

/// Close a buffer starting at file offset `base` with a SPAD up to the next `boundary`.
fn spad_to(b: &mut Vec<u8>, base: u64, boundary: u64) {
    align_pad(b, base);
    let header_end = base + b.len() as u64 + 22;
    let end = header_end.div_ceil(boundary) * boundary;
    b.extend_from_slice(&stream_header(b"SPAD", 0, end - header_end));
    b.resize(b.len() + (end - header_end) as usize, 0);
}
