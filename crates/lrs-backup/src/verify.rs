//! Checks a backup set's data the way `RESTORE` (and `RESTORE VERIFYONLY`) reads it: fed the
//! set's MTF bytes in pieces of any size, from its SSET block to the soft filemark that closes
//! its data (`BackupSet::start_offset .. data_end_offset`), it verifies
//!
//! * every descriptor block header and stream header checksum, and that blocks and streams
//!   chain exactly (a block's streams end with `SPAD`, the next block starts where it ends);
//! * for sets taken `WITH CHECKSUM` (`HasBackupChecksums`): every formatted data page's
//!   `PAGE_VERIFY` protection (checksum or torn bits), that it belongs to a data file of the set,
//!   and in a full backup that it sits at its own page number in its file's stream; and the
//!   backup checksum of every checksummed `MQDA`/`MQTL` stream against the `CSUM` stream after
//!   it ([`crate::BackupChecksum`]).
//!
//! A set without backup checksums gets only the structural checks, as SQL Server restores it
//! without page validation (`NO_CHECKSUM` is the default for such backups).
//!
//! Memory is one page and a few headers, whatever the set's size; every page is hashed once
//! (its 16 sector XORs serve both the page checksum and the stream's backup checksum).
//! Consumers that need the data ([`SetSink`]: the files target) get each page and log piece as
//! it is verified.

use std::fmt;

use crate::bytes::{Le, align4};
use crate::model::{BackupSet, BackupType, FileType};
use crate::mtf::{BLOCK_HEADER_LEN, BlockHeader, STREAM_HEADER_LEN, StreamHeader, Tag};
use crate::page::{
    BackupChecksum, PAGE_FLAG_CHECKSUM, PAGE_FLAG_TORN_BITS, PAGE_SIZE, PageId,
    page_checksum_from_sectors, page_sector_xors, verify_torn_bits,
};

/// Largest gap between a block header and its first stream (as in the header reader).
const MAX_FIRST_EVENT_OFFSET: u16 = 16 * 1024;
/// Media attribute of a stream followed by a `CSUM` stream.
const CHECKSUMMED: u16 = 0x100;
/// Filler bytes at the start of `MQDA`/`MQTL` data that align the payload.
const FILLER: u64 = 2;
/// Page header offsets used here (see `page.rs`).
const FLAG_BITS_AT: usize = 4;
const TORN_BITS_AT: usize = 60;
const PAGE_ID_AT: usize = 32;
const FILE_ID_AT: usize = 36;

/// Why a set failed verification. Offsets are in the set's MTF stream (file offsets for plain
/// backups, decoded-stream offsets for compressed ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// An MTF block or stream is damaged, or the structure does not chain (SQL Server: 3241,
    /// "The media family on device … is incorrectly formed").
    Damaged {
        /// Where the damaged structure starts.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A data page failed validation (SQL Server: 3183, "RESTORE detected an error on page").
    Page {
        /// Offset of the page.
        offset: u64,
        /// The page's own id (file:page) from its header.
        page: PageId,
        /// What failed.
        detail: String,
    },
    /// A stream's backup checksum differs from its `CSUM` stream (SQL Server: 3189, "Damage to
    /// the backup set was detected").
    BackupChecksum {
        /// Offset of the `CSUM` stream.
        offset: u64,
        /// Value stored in the `CSUM` stream.
        stored: u32,
        /// Value computed over the preceding stream.
        computed: u32,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Damaged { offset, detail } => {
                write!(f, "damaged backup structure at offset {offset}: {detail}")
            }
            VerifyError::Page {
                offset,
                page,
                detail,
            } => write!(f, "page ({page}) at offset {offset}: {detail}"),
            VerifyError::BackupChecksum {
                offset,
                stored,
                computed,
            } => write!(
                f,
                "backup checksum mismatch at offset {offset}: stored {stored:#010x}, computed \
                 {computed:#010x}"
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// What a verification saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifySummary {
    /// Bytes fed.
    pub bytes: u64,
    /// Descriptor blocks checked.
    pub blocks: u64,
    /// Data pages seen in `MQDA` streams.
    pub pages: u64,
    /// Pages whose checksum or torn bits were verified.
    pub pages_verified: u64,
    /// `CSUM` streams verified.
    pub backup_checksums: u64,
}

/// Receives the data of a set as it is verified (for targets that write it somewhere).
pub trait SetSink {
    /// A formatted data page of database file `file_id`, page number `page_number` (from its
    /// own header). Unformatted slots (zeros) are not passed on.
    fn page(&mut self, file_id: u32, page_number: u32, page: &[u8; PAGE_SIZE]);
    /// The next bytes of the log carried by the set (`MQTL` data, in order).
    fn log(&mut self, bytes: &[u8]);
}

/// A sink that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl SetSink for NoSink {
    fn page(&mut self, _file_id: u32, _page_number: u32, _page: &[u8; PAGE_SIZE]) {}
    fn log(&mut self, _bytes: &[u8]) {}
}

#[derive(Debug)]
enum State {
    /// Collecting a 52-byte block header.
    BlockHeader,
    /// Collecting a 22-byte stream header.
    StreamHeader,
    /// Skipping to an absolute offset, then reading a header.
    Skip { until: u64, then: Header },
    /// Inside the data of an `MQDA` or `MQTL` stream.
    Data(DataStream),
    /// Collecting a `CSUM` stream's 4 bytes.
    Csum { at: u64, end: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Block,
    Stream,
}

#[derive(Debug)]
struct DataStream {
    tag: Tag,
    /// Offset of the stream header.
    at: u64,
    /// Offset of the first payload byte (after the filler).
    payload_at: u64,
    /// End of the stream's data.
    end: u64,
    checksum: Option<BackupChecksum>,
    /// Pages seen in this stream.
    page_index: u64,
    /// Per data file in this stream: stream position minus page number of its first formatted
    /// page. A full backup writes each file's pages contiguously, so every later page of that
    /// file must sit at the same distance from its number.
    file_offsets: Vec<(u32, u64)>,
}

/// The streaming verifier of one backup set. Feed it every byte of the set's range in order,
/// then call [`SetVerifier::finish`].
#[derive(Debug)]
pub struct SetVerifier {
    pos: u64,
    end: u64,
    check_pages: bool,
    full: bool,
    data_files: Vec<u32>,
    state: State,
    buf: Vec<u8>,
    block_at: u64,
    /// Where the current block's streams must end (set when its SPAD is read).
    last_checksum: Option<(u64, u32)>,
    summary: VerifySummary,
}

impl SetVerifier {
    /// A verifier for `set`, expecting its bytes from `set.start_offset` to
    /// `set.data_end_offset`: `RESTORE … WITH CHECKSUM`, SQL Server's default for a set that has
    /// backup checksums.
    pub fn new(set: &BackupSet) -> Self {
        Self::with_checksum(set, true)
    }

    /// `RESTORE … WITH NO_CHECKSUM`: only the MTF structure is checked (pages are still parsed
    /// and handed to a sink), no page or backup checksum is computed.
    pub fn no_checksum(set: &BackupSet) -> Self {
        Self::with_checksum(set, false)
    }

    fn with_checksum(set: &BackupSet, checksum: bool) -> Self {
        let data_files = set
            .files
            .iter()
            .filter(|f| f.file_type != FileType::Log)
            .map(|f| f.file_id)
            .collect();
        SetVerifier {
            pos: set.start_offset,
            end: set.data_end_offset,
            check_pages: checksum && set.header.has_backup_checksums,
            full: set.header.backup_type == BackupType::Database,
            data_files,
            state: State::BlockHeader,
            buf: Vec::with_capacity(PAGE_SIZE),
            block_at: set.start_offset,
            last_checksum: None,
            summary: VerifySummary::default(),
        }
    }

    /// The absolute offset of the next byte expected.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Check the next `bytes` of the set.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), VerifyError> {
        self.feed_into(bytes, &mut NoSink)
    }

    /// Check the next `bytes` of the set, handing verified pages and log to `sink`.
    pub fn feed_into(
        &mut self,
        mut bytes: &[u8],
        sink: &mut dyn SetSink,
    ) -> Result<(), VerifyError> {
        let room = self.end.saturating_sub(self.pos);
        if bytes.len() as u64 > room {
            return Err(self.damaged(
                self.end,
                format!(
                    "{} bytes fed past the end of the set's data at {}",
                    bytes.len() as u64 - room,
                    self.end
                ),
            ));
        }
        self.summary.bytes += bytes.len() as u64;
        while !bytes.is_empty() {
            let used = self.step(bytes, sink)?;
            bytes = &bytes[used..];
        }
        Ok(())
    }

    /// Every byte was fed: the structure must be complete.
    pub fn finish(self) -> Result<VerifySummary, VerifyError> {
        let complete = matches!(self.state, State::BlockHeader) && self.buf.is_empty();
        if self.pos != self.end || !complete {
            return Err(self.damaged(
                self.pos,
                format!(
                    "the set's data ends at {} in the middle of a block or stream",
                    self.end
                ),
            ));
        }
        Ok(self.summary)
    }

    fn damaged(&self, offset: u64, detail: impl Into<String>) -> VerifyError {
        VerifyError::Damaged {
            offset,
            detail: detail.into(),
        }
    }

    /// Consume a prefix of `bytes` in the current state; returns how many bytes were used.
    fn step(&mut self, bytes: &[u8], sink: &mut dyn SetSink) -> Result<usize, VerifyError> {
        match self.state {
            State::BlockHeader => match self.collect(bytes, BLOCK_HEADER_LEN) {
                Some((header, used)) => {
                    self.on_block_header(&header)?;
                    Ok(used)
                }
                None => Ok(bytes.len()),
            },
            State::StreamHeader => match self.collect(bytes, STREAM_HEADER_LEN) {
                Some((header, used)) => {
                    self.on_stream_header(&header)?;
                    Ok(used)
                }
                None => Ok(bytes.len()),
            },
            State::Csum { .. } => match self.collect(bytes, 4) {
                Some((value, used)) => {
                    self.on_csum(&value)?;
                    Ok(used)
                }
                None => Ok(bytes.len()),
            },
            State::Skip { until, then } => {
                let n = usize::try_from((until - self.pos).min(bytes.len() as u64))
                    .unwrap_or(bytes.len());
                self.pos += n as u64;
                if self.pos == until {
                    self.after_skip(then);
                }
                Ok(n)
            }
            State::Data(_) => self.data(bytes, sink),
        }
    }

    fn after_skip(&mut self, then: Header) {
        self.state = match then {
            Header::Block => {
                self.block_at = self.pos;
                State::BlockHeader
            }
            Header::Stream => State::StreamHeader,
        };
    }

    /// Go to `until` (already there: straight to the header).
    fn skip_to(&mut self, until: u64, then: Header) {
        if until == self.pos {
            self.after_skip(then);
        } else {
            self.state = State::Skip { until, then };
        }
    }

    /// Gather `len` bytes of a header into `buf`; `Some((header, used))` once complete.
    fn collect(&mut self, bytes: &[u8], len: usize) -> Option<(Vec<u8>, usize)> {
        let take = (len - self.buf.len()).min(bytes.len());
        self.buf.extend_from_slice(&bytes[..take]);
        self.pos += take as u64;
        if self.buf.len() < len {
            return None;
        }
        Some((std::mem::take(&mut self.buf), take))
    }

    fn on_block_header(&mut self, raw: &[u8]) -> Result<(), VerifyError> {
        let at = self.pos - BLOCK_HEADER_LEN as u64;
        let header = BlockHeader::parse(&Le::new(raw, at, "block header"))
            .map_err(|e| self.damaged(at, e.kind.to_string()))?;
        if header.tag == Tag::SFMB || header.tag == Tag::TAPE {
            return Err(self.damaged(at, format!("a {} block inside the set's data", header.tag)));
        }
        let ofe = header.first_event_offset;
        if usize::from(ofe) < BLOCK_HEADER_LEN || ofe > MAX_FIRST_EVENT_OFFSET {
            return Err(self.damaged(
                at + 8,
                format!(
                    "{} block's first stream offset {ofe} is out of range",
                    header.tag
                ),
            ));
        }
        self.summary.blocks += 1;
        self.skip_to(align4(at + u64::from(ofe)), Header::Stream);
        Ok(())
    }

    fn on_stream_header(&mut self, raw: &[u8]) -> Result<(), VerifyError> {
        let at = self.pos - STREAM_HEADER_LEN as u64;
        let stream = StreamHeader::parse(&Le::new(raw, at, "stream header"))
            .map_err(|e| self.damaged(at, e.kind.to_string()))?;
        let data_at = self.pos;
        let end = data_at
            .checked_add(stream.length)
            .filter(|&e| e <= self.end)
            .ok_or_else(|| {
                self.damaged(
                    at + 8,
                    format!(
                        "{} stream of {} bytes runs past the set's data (ends at {})",
                        stream.tag, stream.length, self.end
                    ),
                )
            })?;
        let tag = stream.tag;
        if tag == Tag::SPAD {
            // The next block starts where the pad ends.
            self.skip_to(align4(end), Header::Block);
            return Ok(());
        }
        if tag.0 == *b"CSUM" {
            if stream.length != 4 {
                return Err(self.damaged(at + 8, format!("CSUM stream of {} bytes", stream.length)));
            }
            self.state = State::Csum { at, end };
            return Ok(());
        }
        let is_data = tag.0 == *b"MQDA" || tag.0 == *b"MQTL";
        if is_data && stream.length > 0 {
            if stream.length < FILLER {
                return Err(
                    self.damaged(at + 8, format!("{tag} stream of {} bytes", stream.length))
                );
            }
            let checksum = (self.check_pages && stream.media_attributes & CHECKSUMMED != 0)
                .then(BackupChecksum::new);
            self.state = State::Data(DataStream {
                tag,
                at,
                payload_at: data_at + FILLER,
                end,
                checksum,
                page_index: 0,
                file_offsets: Vec::new(),
            });
            return Ok(());
        }
        self.skip_to(align4(end), Header::Stream);
        Ok(())
    }

    fn on_csum(&mut self, raw: &[u8]) -> Result<(), VerifyError> {
        let State::Csum { at, end } = self.state else {
            return Ok(());
        };
        let stored = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if self.check_pages {
            match self.last_checksum.take() {
                Some((_, computed)) if computed != stored => {
                    return Err(VerifyError::BackupChecksum {
                        offset: at,
                        stored,
                        computed,
                    });
                }
                Some(_) => self.summary.backup_checksums += 1,
                None => {
                    return Err(
                        self.damaged(at, "a CSUM stream that follows no checksummed stream")
                    );
                }
            }
        }
        self.skip_to(align4(end), Header::Stream);
        Ok(())
    }

    /// Data bytes of an `MQDA`/`MQTL` stream.
    fn data(&mut self, bytes: &[u8], sink: &mut dyn SetSink) -> Result<usize, VerifyError> {
        let State::Data(stream) = &mut self.state else {
            return Ok(0);
        };
        let (payload_at, end, is_log) = (stream.payload_at, stream.end, stream.tag.0 == *b"MQTL");
        // The two filler bytes count for neither checksum.
        if self.pos < payload_at {
            let n = usize::try_from((payload_at - self.pos).min(bytes.len() as u64)).unwrap_or(0);
            self.pos += n as u64;
            if self.pos == end {
                self.end_data_stream()?;
            }
            return Ok(n);
        }
        let n = usize::try_from((end - self.pos).min(bytes.len() as u64)).unwrap_or(0);
        let piece = &bytes[..n];
        if is_log {
            if let Some(c) = &mut stream.checksum {
                c.update(piece);
            }
            sink.log(piece);
            self.pos += n as u64;
        } else {
            self.pages(piece, sink)?;
        }
        if self.pos == end {
            self.end_data_stream()?;
        }
        Ok(n)
    }

    /// Page data: whole pages are checked in place, a page split across pieces is gathered.
    fn pages(&mut self, mut piece: &[u8], sink: &mut dyn SetSink) -> Result<(), VerifyError> {
        if !self.buf.is_empty() {
            let take = (PAGE_SIZE - self.buf.len()).min(piece.len());
            self.buf.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            self.pos += take as u64;
            if self.buf.len() < PAGE_SIZE {
                return Ok(());
            }
            let page: Box<[u8; PAGE_SIZE]> = std::mem::take(&mut self.buf)
                .into_boxed_slice()
                .try_into()
                .map_err(|_| self.damaged(self.pos, "page buffer"))?;
            self.page(&page, self.pos - PAGE_SIZE as u64, sink)?;
            self.buf = Vec::with_capacity(PAGE_SIZE);
        }
        let (pages, rest) = piece.as_chunks::<PAGE_SIZE>();
        for page in pages {
            self.page(page, self.pos, sink)?;
            self.pos += PAGE_SIZE as u64;
        }
        self.buf.extend_from_slice(rest);
        self.pos += rest.len() as u64;
        Ok(())
    }

    fn page(
        &mut self,
        page: &[u8; PAGE_SIZE],
        at: u64,
        sink: &mut dyn SetSink,
    ) -> Result<(), VerifyError> {
        let State::Data(stream) = &mut self.state else {
            return Ok(());
        };
        let index = stream.page_index;
        stream.page_index += 1;
        self.summary.pages += 1;
        // One pass over the page serves both checksums; NO_CHECKSUM skips it.
        let xors = if self.check_pages {
            page_sector_xors(page)
        } else {
            [0; 16]
        };
        if let Some(c) = &mut stream.checksum {
            for x in xors {
                c.add_sector(x);
            }
        }
        let word =
            |at: usize| u32::from_le_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]]);
        let header_version = page[0];
        let file = u32::from(u16::from_le_bytes([page[FILE_ID_AT], page[FILE_ID_AT + 1]]));
        let page_id = PageId {
            file: u16::try_from(file).unwrap_or(u16::MAX),
            page: word(PAGE_ID_AT),
        };
        // Unallocated slots are zeros or never-formatted pages: nothing to validate.
        let formatted = header_version == 1 && file != 0;
        if !formatted {
            return Ok(());
        }
        let distance = index.wrapping_sub(u64::from(page_id.page));
        let expected = match stream.file_offsets.iter().find(|(f, _)| *f == file) {
            Some(&(_, d)) => d,
            None => {
                stream.file_offsets.push((file, distance));
                distance
            }
        };
        if self.check_pages {
            let fail = |detail: String| VerifyError::Page {
                offset: at,
                page: page_id,
                detail,
            };
            if !self.data_files.contains(&file) {
                return Err(fail(format!(
                    "file id {file} is not a data file of the backup set ({:?})",
                    self.data_files
                )));
            }
            if self.full && distance != expected {
                return Err(fail(format!(
                    "the page sits at position {index} of the data stream, out of place among \
                     file {file}'s pages (a full backup writes them in page order)"
                )));
            }
            let flags = u16::from_le_bytes([page[FLAG_BITS_AT], page[FLAG_BITS_AT + 1]]);
            let stored = word(TORN_BITS_AT);
            if flags & PAGE_FLAG_CHECKSUM != 0 {
                let computed = page_checksum_from_sectors(&xors, stored);
                if computed != stored {
                    return Err(fail(format!(
                        "incorrect page checksum (stored {stored:#010x}, computed {computed:#010x})"
                    )));
                }
                self.summary.pages_verified += 1;
            } else if flags & PAGE_FLAG_TORN_BITS != 0 {
                if !verify_torn_bits(page) {
                    return Err(fail(format!(
                        "torn page (torn bits {stored:#010x} do not match its sectors)"
                    )));
                }
                self.summary.pages_verified += 1;
            }
        }
        sink.page(file, page_id.page, page);
        Ok(())
    }

    fn end_data_stream(&mut self) -> Result<(), VerifyError> {
        let State::Data(stream) = &mut self.state else {
            return Ok(());
        };
        if stream.tag.0 == *b"MQDA" && !self.buf.is_empty() {
            return Err(VerifyError::Damaged {
                offset: stream.at,
                detail: format!(
                    "MQDA stream data is not a whole number of 8 KiB pages ({} bytes left over)",
                    self.buf.len()
                ),
            });
        }
        self.last_checksum = stream.checksum.take().map(|c| (stream.at, c.value()));
        let end = stream.end;
        self.skip_to(align4(end), Header::Stream);
        Ok(())
    }
}

/// Bytes read per request when verifying a plain file.
const VERIFY_CHUNK: u64 = 1 << 20;

/// `RESTORE VERIFYONLY` of one file: every set of `media` (the file's headers, as the header
/// reader returned them) is read once and verified, a plain file by ranged reads of its sets'
/// data, a compressed one by decoding it front to back once. `progress` is called with the
/// number of set bytes just verified. A damaged set does not stop the others; reading errors
/// do (they are not the backup's fault, so they are returned as such).
pub async fn verify_media(
    reader: std::sync::Arc<dyn crate::RangeRead>,
    media: &crate::BackupMedia,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Vec<Result<VerifySummary, VerifyError>>, crate::BackupError> {
    use futures::StreamExt;

    let name = reader.name().to_string();
    let io = |offset: u64, kind: crate::ErrorKind| crate::BackupError {
        file: name.clone(),
        offset,
        kind,
    };
    let compressed = media.label.is_compressed != 0;
    let mut results = Vec::with_capacity(media.sets.len());
    if !compressed {
        for set in &media.sets {
            let mut verifier = SetVerifier::new(set);
            let mut failed = None;
            let mut pos = set.start_offset;
            while pos < set.data_end_offset && failed.is_none() {
                let to = set.data_end_offset.min(pos + VERIFY_CHUNK);
                let bytes = reader
                    .read_range(pos..to)
                    .await
                    .map_err(|e| io(pos, crate::ErrorKind::Io(e.to_string())))?;
                if bytes.len() as u64 != to - pos {
                    return Err(io(
                        pos,
                        crate::ErrorKind::Io(format!(
                            "asked for {} bytes, storage returned {}",
                            to - pos,
                            bytes.len()
                        )),
                    ));
                }
                failed = verifier.feed(&bytes).err();
                progress(to - pos);
                pos = to;
            }
            if failed.is_none() {
                progress(set.data_end_offset.saturating_sub(pos));
            }
            results.push(match failed {
                Some(e) => Err(e),
                None => verifier.finish(),
            });
        }
        return Ok(results);
    }
    // Compressed: one pass over the decoded stream, each piece fed to the set it falls in.
    let mut verifiers: Vec<(SetVerifier, Option<VerifyError>)> = media
        .sets
        .iter()
        .map(|s| (SetVerifier::new(s), None))
        .collect();
    let last_end = media
        .sets
        .iter()
        .map(|s| s.data_end_offset)
        .max()
        .unwrap_or(0);
    let mut stream = crate::mtf_stream(reader);
    let mut pos = 0u64;
    while pos < last_end {
        let Some(piece) = stream.next().await else {
            return Err(io(
                pos,
                crate::ErrorKind::Truncated(format!(
                    "the decoded backup ends at {pos}, before its last set's data ends at {last_end}"
                )),
            ));
        };
        let piece = piece?;
        let end = pos + piece.len() as u64;
        for (set, (verifier, failed)) in media.sets.iter().zip(verifiers.iter_mut()) {
            let from = pos.max(set.start_offset);
            let to = end.min(set.data_end_offset);
            if from >= to {
                continue;
            }
            if failed.is_none() {
                let a = usize::try_from(from - pos).unwrap_or(0);
                let b = usize::try_from(to - pos).unwrap_or(0);
                *failed = verifier.feed(&piece[a..b]).err();
            }
            progress(to - from);
        }
        pos = end;
    }
    for (verifier, failed) in verifiers {
        results.push(match failed {
            Some(e) => Err(e),
            None => verifier.finish(),
        });
    }
    Ok(results)
}
