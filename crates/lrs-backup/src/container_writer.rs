//! Writes an MTF stream into an `MSSQLBAK` container with the layout SQL Server uses (observed
//! in a real compressed backup): compressed chunks of at most 64 KiB of stream; the soft
//! filemark after the TAPE block in a raw chunk; each set's closing soft filemark after a 0x2C
//! trailer (a seek index of the set's last chunks) and stored raw at a soft-filemark boundary;
//! later filemarks raw after zero padding. Filemark tables are rewritten to *file* offsets, as
//! SQL Server writes them inside containers.
//!
//! Used to produce ZSTD and v1-framed containers from real backups for tests (no such fixture
//! exists) and by the backup forge.

use crate::container::MAX_CHUNK_OUTPUT;
use crate::error::{ErrorKind, FormatError};
use crate::layout::mtf_layout;
use crate::mtf::{SFMB_2005_TABLE_AT, SFMB_TABLE_AT, SFMB_VENDOR_ATTRIBUTE, Tag};

/// Chunk header layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// 8-byte chunk headers (SQL Server 2008–2012; container version 1).
    V1,
    /// 28-byte chunk headers (SQL Server 2014+; container version 2).
    V2,
}

/// How to write a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerOptions {
    /// Chunk header layout.
    pub framing: Framing,
    /// ZSTD compression level (1..=22).
    pub zstd_level: i32,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        Self {
            framing: Framing::V2,
            zstd_level: 3,
        }
    }
}

/// Wrap a complete MTF stream (starting with `TAPE`) in a ZSTD-compressed container, as
/// SQL Server 2025 writes `WITH COMPRESSION (ALGORITHM = ZSTD)`.
pub fn compress_zstd(mtf: &[u8], options: ContainerOptions) -> Result<Vec<u8>, FormatError> {
    let level = options.zstd_level;
    let encode = |input: &[u8]| {
        zstd::bulk::compress(input, level)
            .map_err(|e| FormatError::new(0, ErrorKind::Io(format!("ZSTD compression: {e}"))))
    };
    write_container(mtf, options.framing, 131, encode)
}

/// Wrap a complete MTF stream in an XPRESS-Huffman-compressed container, as SQL Server writes
/// `WITH COMPRESSION` by default (any valid XPRESS encoding; not SQL Server's exact bytes).
pub fn compress_xpress(mtf: &[u8], options: ContainerOptions) -> Result<Vec<u8>, FormatError> {
    let encode = |input: &[u8]| {
        let mut out = Vec::with_capacity(input.len() / 2 + 300);
        crate::xpress_encode::compress_into(input, &mut out);
        Ok(out)
    };
    write_container(mtf, options.framing, 3, encode)
}

fn write_container(
    mtf: &[u8],
    framing: Framing,
    algorithm: u32,
    mut encode: impl FnMut(&[u8]) -> Result<Vec<u8>, FormatError>,
) -> Result<Vec<u8>, FormatError> {
    let blocks = mtf_layout(mtf)?;
    let sfm = usize::from(u16::from_le_bytes([mtf[64], mtf[65]])) * 512;
    let mut w = Writer {
        out: header(framing, algorithm),
        framing,
        sfm,
        raw_marks: Vec::new(),
    };
    let mut data_start = 0usize;
    let mut set_chunks: Vec<(u64, u64)> = Vec::new();
    let mut set_start = 0u64;
    for (i, block) in blocks.iter().enumerate() {
        if block.tag == Tag::SSET {
            set_start = block.offset;
            set_chunks.clear();
        }
        if block.tag != Tag::SFMB {
            continue;
        }
        let at = to_usize(block.offset)?;
        for (mtf_at, file_at) in w.data(&mtf[data_start..at], data_start, &mut encode)? {
            set_chunks.push((mtf_at - set_start, file_at));
        }
        let previous = i.checked_sub(1).and_then(|p| blocks.get(p)).map(|b| b.tag);
        match previous {
            Some(Tag::TAPE) => w.raw_chunk_header(),
            Some(Tag::MSLS) => {
                let from = set_chunks.len().saturating_sub(2);
                w.trailer(&set_chunks[from..]);
            }
            _ => w.pad_to_boundary(),
        }
        w.raw_filemark(&mtf[at..to_usize(block.end)?]);
        data_start = to_usize(block.end)?;
    }
    w.data(&mtf[data_start..], data_start, &mut encode)?;
    Ok(w.out)
}

fn to_usize(n: u64) -> Result<usize, FormatError> {
    usize::try_from(n).map_err(|_| FormatError::new(n, ErrorKind::Io("offset too large".into())))
}

fn header(framing: Framing, algorithm: u32) -> Vec<u8> {
    let mut h = vec![0u8; 480];
    h[..8].copy_from_slice(crate::container::MAGIC);
    let version: u32 = match framing {
        Framing::V1 => 1,
        Framing::V2 => 2,
    };
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h[12..16].copy_from_slice(&algorithm.to_le_bytes());
    h[40..48].fill(0xFF);
    h
}

struct Writer {
    out: Vec<u8>,
    framing: Framing,
    sfm: usize,
    /// File offsets of the soft filemarks written so far.
    raw_marks: Vec<u64>,
}

impl Writer {
    fn header_len(&self) -> usize {
        match self.framing {
            Framing::V1 => 8,
            Framing::V2 => 28,
        }
    }

    /// Compress `data` (which starts at MTF offset `mtf_at`) into chunks; returns each chunk's
    /// (MTF offset, file offset of its header).
    fn data(
        &mut self,
        data: &[u8],
        mtf_at: usize,
        encode: &mut impl FnMut(&[u8]) -> Result<Vec<u8>, FormatError>,
    ) -> Result<Vec<(u64, u64)>, FormatError> {
        let mut placed = Vec::new();
        let mut done = 0;
        while done < data.len() {
            let mut take = (data.len() - done).min(MAX_CHUNK_OUTPUT);
            // A payload must fit the header's u16 size: incompressible input takes less.
            let payload = loop {
                let payload = encode(&data[done..done + take])?;
                if payload.len() <= usize::from(u16::MAX) || take <= 512 {
                    break payload;
                }
                take /= 2;
            };
            let size = u16::try_from(payload.len()).map_err(|_| {
                FormatError::new(0, ErrorKind::Io("chunk payload too large".into()))
            })?;
            let units = u8::try_from(take / 512)
                .map_err(|_| FormatError::new(0, ErrorKind::Io("chunk too large".into())))?;
            placed.push(((mtf_at + done) as u64, self.out.len() as u64));
            let mut head = vec![0u8; self.header_len()];
            head[0] = 0x21;
            head[1] = units;
            head[2..4].copy_from_slice(&size.to_le_bytes());
            self.out.extend_from_slice(&head);
            self.out.extend_from_slice(&payload);
            done += take;
        }
        Ok(placed)
    }

    fn raw_chunk_header(&mut self) {
        let mut head = vec![0u8; self.header_len()];
        head[0] = 0x24;
        self.out.extend_from_slice(&head);
        self.pad_to_boundary();
    }

    fn pad_to_boundary(&mut self) {
        let target = self.out.len().div_ceil(self.sfm) * self.sfm;
        self.out.resize(target, 0);
    }

    /// End-of-set trailer: type 0x2C, a signature at +24 (u16 1, u16 1, u32 entry count, two
    /// u32s), the (set-relative MTF offset, file offset) pairs, zero padding, and the signature
    /// again just before the next soft-filemark boundary.
    fn trailer(&mut self, entries: &[(u64, u64)]) {
        let mut sig = [0u8; 16];
        sig[0] = 1;
        sig[2] = 1;
        sig[4..8].copy_from_slice(&u32::try_from(entries.len()).unwrap_or(0).to_le_bytes());
        self.out.push(0x2C);
        self.out.extend_from_slice(&[0u8; 23]);
        self.out.extend_from_slice(&sig);
        for (mtf, file) in entries {
            self.out.extend_from_slice(&mtf.to_le_bytes());
            self.out.extend_from_slice(&file.to_le_bytes());
        }
        let boundary = (self.out.len() + 16).div_ceil(self.sfm) * self.sfm;
        self.out.resize(boundary - 16, 0);
        self.out.extend_from_slice(&sig);
    }

    /// A soft filemark stored as it is, its table rewritten to the file offsets of the
    /// filemarks written before it (newest first).
    fn raw_filemark(&mut self, block: &[u8]) {
        let mut raw = block.to_vec();
        // The table starts where the block's own layout puts it (SQL Server 2005: +60).
        let attributes = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
        let table_at = if attributes & SFMB_VENDOR_ATTRIBUTE == 0 {
            SFMB_2005_TABLE_AT
        } else {
            SFMB_TABLE_AT
        };
        let capacity = (self.sfm - table_at) / 8;
        let listed: Vec<u64> = self
            .raw_marks
            .iter()
            .rev()
            .take(capacity)
            .copied()
            .collect();
        raw[56..60].copy_from_slice(&u32::try_from(listed.len()).unwrap_or(0).to_le_bytes());
        raw[table_at..].fill(0);
        for (k, mark) in listed.iter().enumerate() {
            let at = table_at + 8 * k;
            raw[at..at + 8].copy_from_slice(&mark.to_le_bytes());
        }
        self.raw_marks.push(self.out.len() as u64);
        self.out.extend_from_slice(&raw);
    }
}
