//! The `MSSQLBAK` container of compressed backups (`docs/references.md#compressed-backups`): a
//! 480-byte file header, then the whole MTF byte stream in chunks. Compressed chunks (type 0x21)
//! decode to a declared number of 512-byte units (XPRESS-Huffman or ZSTD, each chunk independent);
//! raw chunks (0x24) carry one soft filemark block uncompressed; a set ends with a 0x2C trailer (a
//! seek index), padding, and its soft filemark stored raw without a chunk header.
//!
//! [`CompressedMtf`] presents the *decompressed* MTF stream as a [`RangeRead`], so the header
//! reader runs unchanged over compressed files. It maps MTF offsets to chunks lazily: from the
//! start of the file forward, and from the set's trailer index near the end, so a header read
//! decodes only the chunks holding the leading header blocks and the final configuration block.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::lock::Mutex;

use crate::bytes::Le;
use crate::error::{ErrorKind, FormatError};
use crate::mtf::{Tag, is_block, soft_filemark_entries};
use crate::range::RangeRead;

/// First bytes of every compressed backup.
pub(crate) const MAGIC: &[u8; 8] = b"MSSQLBAK";
/// Size of the container's file header; the first chunk follows it.
const FILE_HEADER_LEN: u64 = 480;
/// Chunk header sizes: v1 (SQL Server 2008–2012) and v2 (2014+).
const V1_HEADER_LEN: u64 = 8;
const V2_HEADER_LEN: u64 = 28;
/// Chunk types.
const CHUNK_COMPRESSED: u8 = 0x21;
const CHUNK_RAW: u8 = 0x24;
const CHUNK_TRAILER: u8 = 0x2C;
/// Algorithm words at file offset 12.
const ALGORITHM_XPRESS: u32 = 3;
const ALGORITHM_ZSTD: u32 = 131;
/// ZSTD frame magic.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Smallest payload a resynchronised chunk header may declare (a ZSTD frame header alone is
/// longer; an XPRESS payload starts with a 256-byte table).
const MIN_PAYLOAD: u64 = 8;
/// Largest decoded chunk: 128 units of 512 bytes.
pub(crate) const MAX_CHUNK_OUTPUT: usize = 64 * 1024;
/// File bytes fetched per window while walking chunk headers.
const WALK_WINDOW: u64 = 256 * 1024;
/// File bytes read from the end to find the last set's trailer.
const TAIL_WINDOW: u64 = 256 * 1024;

/// How chunk payloads are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// MS-XCA XPRESS-Huffman, SQL Server's variant.
    Xpress,
    /// Zstandard frames (SQL Server 2025).
    Zstd,
}

/// The container's file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContainerHeader {
    /// Format version word (offset 8): ≤ 1 v1 framing, ≥ 2 v2 framing.
    pub(crate) version: u32,
    /// Algorithm word (offset 12).
    pub(crate) algorithm: u32,
}

impl ContainerHeader {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let le = Le::new(bytes, 0, "MSSQLBAK file header");
        if le.slice(0, 8)? != MAGIC {
            return Err(le.error(0, "missing MSSQLBAK magic"));
        }
        Ok(Self {
            version: le.u32(8)?,
            algorithm: le.u32(12)?,
        })
    }

    fn chunk_header_len(&self) -> u64 {
        if self.version <= 1 {
            V1_HEADER_LEN
        } else {
            V2_HEADER_LEN
        }
    }
}

/// What a chunk carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkBody {
    /// Compressed payload decoding to `output_len` bytes.
    Compressed { output_len: u32 },
    /// Bytes stored as they are (soft filemark blocks).
    Raw,
}

/// One chunk of the container and the MTF bytes it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// MTF stream offset of the chunk's first decoded byte.
    pub(crate) mtf_offset: u64,
    /// File offset of the payload.
    pub(crate) payload_offset: u64,
    /// Payload length in the file.
    pub(crate) payload_len: u64,
    /// Kind of payload.
    pub(crate) body: ChunkBody,
    /// File offset just after the chunk: where the next header is expected.
    pub(crate) next: u64,
}

impl Chunk {
    /// Number of MTF bytes this chunk stands for.
    pub(crate) fn output_len(&self) -> u64 {
        match self.body {
            ChunkBody::Compressed { output_len } => u64::from(output_len),
            ChunkBody::Raw => self.payload_len,
        }
    }

    fn mtf_end(&self) -> u64 {
        self.mtf_offset + self.output_len()
    }
}

/// A reader that is either borrowed (header reads) or shared (streams that outlive the call).
#[derive(Debug, Clone)]
pub(crate) enum ReaderRef<'r> {
    Borrowed(&'r dyn RangeRead),
    Shared(Arc<dyn RangeRead>),
}

impl ReaderRef<'_> {
    fn get(&self) -> &dyn RangeRead {
        match self {
            ReaderRef::Borrowed(r) => *r,
            ReaderRef::Shared(r) => r.as_ref(),
        }
    }
}

/// Cached windows of the compressed file, at most a few hundred KiB at a time.
#[derive(Debug)]
pub(crate) struct FileWindows<'r> {
    reader: ReaderRef<'r>,
    size: u64,
    windows: Vec<(u64, Bytes)>,
    bytes_read: u64,
}

impl<'r> FileWindows<'r> {
    pub(crate) fn new(reader: ReaderRef<'r>, size: u64) -> Self {
        Self {
            reader,
            size,
            windows: Vec::new(),
            bytes_read: 0,
        }
    }

    /// `len` bytes at `at`, or fewer at the end of the file.
    async fn bytes(&mut self, at: u64, len: u64) -> Result<Bytes, FormatError> {
        let end = at.saturating_add(len).min(self.size);
        if at >= end {
            return Ok(Bytes::new());
        }
        if let Some(b) = self.cached(at, end) {
            return Ok(b);
        }
        // Read a whole window so that walking consecutive chunk headers costs one request.
        let window_end = at.saturating_add(WALK_WINDOW).max(end).min(self.size);
        self.fetch(at, window_end).await?;
        self.cached(at, end)
            .ok_or_else(|| FormatError::new(at, ErrorKind::Io("short read".into())))
    }

    async fn fetch(&mut self, start: u64, end: u64) -> Result<(), FormatError> {
        let bytes = self
            .reader
            .get()
            .read_range(start..end)
            .await
            .map_err(|e| FormatError::new(start, ErrorKind::Io(e.to_string())))?;
        if bytes.len() as u64 != end - start {
            return Err(FormatError::new(start, ErrorKind::Io("short read".into())));
        }
        self.bytes_read += end - start;
        // Keep memory bounded while walking a long chain: only recent windows matter.
        if self.windows.len() >= 8 {
            self.windows.remove(0);
        }
        self.windows.push((start, bytes));
        Ok(())
    }

    fn cached(&self, start: u64, end: u64) -> Option<Bytes> {
        self.windows.iter().rev().find_map(|(at, bytes)| {
            let rel_start = usize::try_from(start.checked_sub(*at)?).ok()?;
            let rel_end = usize::try_from(end - at).ok()?;
            (rel_end <= bytes.len()).then(|| bytes.slice(rel_start..rel_end))
        })
    }
}

/// Reads a chunk at a file position, resynchronising over padding and trailers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walker {
    header_len: u64,
    soft_filemark: u64,
}

/// What the walker found at a position.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found {
    Chunk(Chunk),
    End,
}

impl Walker {
    /// The chunk at or after `pos` that stands for MTF offset `mtf`.
    pub(crate) async fn next(
        &self,
        files: &mut FileWindows<'_>,
        pos: u64,
        mtf: u64,
    ) -> Result<Found, FormatError> {
        if pos >= files.size {
            return Ok(Found::End);
        }
        let head = files.bytes(pos, self.header_len).await?;
        match head.first() {
            Some(&CHUNK_COMPRESSED) if head.len() as u64 == self.header_len => {
                Ok(Found::Chunk(self.compressed(&head, pos, mtf, files.size)?))
            }
            Some(&CHUNK_RAW) if head.len() as u64 == self.header_len => {
                let payload_offset = align_up(pos + self.header_len, self.soft_filemark);
                let chunk = self.raw(payload_offset, mtf);
                if chunk.next > files.size {
                    return Err(truncated(pos, "raw chunk runs past the end of the file"));
                }
                Ok(Found::Chunk(chunk))
            }
            // A trailer, padding, or anything else: the header chain is interrupted here.
            // After a set's trailer comes its closing soft filemark, stored raw.
            Some(&CHUNK_TRAILER) => self.resync(files, pos, mtf, true).await,
            _ => self.resync(files, pos, mtf, false).await,
        }
    }

    fn compressed(&self, head: &[u8], pos: u64, mtf: u64, size: u64) -> Result<Chunk, FormatError> {
        let units = head[1];
        let payload_len = u64::from(u16::from_le_bytes([head[2], head[3]]));
        if units == 0 || usize::from(units) * 512 > MAX_CHUNK_OUTPUT {
            return Err(FormatError::malformed(
                pos + 1,
                "compressed chunk header",
                format!("declares {units} x 512 bytes of output (1 to 128 allowed)"),
            ));
        }
        let payload_offset = pos + self.header_len;
        let next = payload_offset + payload_len;
        if next > size {
            return Err(truncated(
                pos,
                "compressed chunk payload runs past the end of the file",
            ));
        }
        Ok(Chunk {
            mtf_offset: mtf,
            payload_offset,
            payload_len,
            body: ChunkBody::Compressed {
                output_len: u32::from(units) * 512,
            },
            next,
        })
    }

    fn raw(&self, payload_offset: u64, mtf: u64) -> Chunk {
        Chunk {
            mtf_offset: mtf,
            payload_offset,
            payload_len: self.soft_filemark,
            body: ChunkBody::Raw,
            next: payload_offset + self.soft_filemark,
        }
    }

    /// After a trailer or padding, the stream continues at a soft-filemark boundary with either
    /// a soft filemark stored raw (no chunk header) or a new chunk header.
    ///
    /// After a trailer only a soft filemark is accepted: the trailer's own seek index holds
    /// arbitrary offsets, and one of them can sit on a boundary and look like a chunk header
    /// (found by the forge's property test). Elsewhere a chunk header must also carry a payload
    /// no codec could make smaller (ZSTD frames and XPRESS tables are longer).
    async fn resync(
        &self,
        files: &mut FileWindows<'_>,
        pos: u64,
        mtf: u64,
        after_trailer: bool,
    ) -> Result<Found, FormatError> {
        let mut at = align_up(pos + 1, self.soft_filemark);
        while at < files.size {
            let probe = files.bytes(at, 52).await?;
            if is_block(&probe, Tag::SFMB) {
                let chunk = self.raw(at, mtf);
                if chunk.next > files.size {
                    return Err(truncated(
                        at,
                        "raw soft filemark runs past the end of the file",
                    ));
                }
                return Ok(Found::Chunk(chunk));
            }
            if !after_trailer
                && probe.first() == Some(&CHUNK_COMPRESSED)
                && probe.len() as u64 >= self.header_len
                && let Ok(chunk) = self.compressed(&probe, at, mtf, files.size)
                && chunk.payload_len >= MIN_PAYLOAD
            {
                return Ok(Found::Chunk(chunk));
            }
            at += self.soft_filemark;
        }
        Ok(Found::End)
    }
}

fn align_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

fn truncated(at: u64, why: &str) -> FormatError {
    FormatError::new(at, ErrorKind::Truncated(why.to_string()))
}

/// Decodes chunk payloads with a reusable ZSTD context.
pub(crate) struct Decoder {
    codec: Codec,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.codec)
            .finish()
    }
}

impl Decoder {
    pub(crate) fn new(codec: Codec) -> Result<Self, FormatError> {
        let zstd = match codec {
            Codec::Zstd => Some(zstd::bulk::Decompressor::new().map_err(|e| {
                FormatError::new(
                    0,
                    ErrorKind::Io(format!("cannot create a ZSTD context: {e}")),
                )
            })?),
            Codec::Xpress => None,
        };
        Ok(Self { codec, zstd })
    }

    /// Append the `output_len` decoded bytes of `payload` (at file offset `at`) to `out`.
    pub(crate) fn decode(
        &mut self,
        payload: &[u8],
        output_len: usize,
        at: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let start = out.len();
        match (self.codec, self.zstd.as_mut()) {
            (Codec::Zstd, Some(ctx)) => {
                out.resize(start + output_len, 0);
                let n = ctx
                    .decompress_to_buffer(payload, &mut out[start..])
                    .map_err(|e| FormatError::malformed(at, "ZSTD chunk payload", e.to_string()))?;
                if n != output_len {
                    return Err(FormatError::malformed(
                        at,
                        "ZSTD chunk payload",
                        format!("decoded {n} bytes, the chunk header declares {output_len}"),
                    ));
                }
            }
            _ => crate::xpress::decompress_into(payload, output_len, out)
                .map_err(|e| FormatError::malformed(at, "XPRESS chunk payload", e.to_string()))?,
        }
        Ok(())
    }
}

/// Which codec a container uses: its algorithm word, checked against the first payload.
fn codec_of(header: &ContainerHeader, first_payload: &[u8]) -> Result<Codec, FormatError> {
    let looks_zstd = first_payload.starts_with(&ZSTD_MAGIC);
    match header.algorithm {
        ALGORITHM_ZSTD => Ok(Codec::Zstd),
        ALGORITHM_XPRESS if !looks_zstd => Ok(Codec::Xpress),
        // Some versions write other values here (docs/references.md#compressed-backups): sniff the
        // payload.
        _ if looks_zstd => Ok(Codec::Zstd),
        0..=2 | ALGORITHM_XPRESS => Ok(Codec::Xpress),
        other => Err(FormatError::new(
            12,
            ErrorKind::Unsupported(format!(
                "compression algorithm {other} is neither XPRESS (3) nor ZSTD (131); QAT_DEFLATE \
                 (SQL Server 2022 hardware-accelerated compression) is not supported"
            )),
        )),
    }
}

/// The decompressed MTF stream of a compressed backup, as a [`RangeRead`].
#[derive(Debug)]
pub(crate) struct CompressedMtf<'r> {
    name: String,
    mtf_size: u64,
    compressed_size: u64,
    state: Mutex<ViewState<'r>>,
}

#[derive(Debug)]
struct ViewState<'r> {
    files: FileWindows<'r>,
    walker: Walker,
    decoder: Decoder,
    /// Chunks known from the start of the file, contiguous in MTF space.
    head: Vec<Chunk>,
    /// Chunks known from the last set's trailer index to the end of the file.
    tail: Vec<Chunk>,
    /// The last decoded chunk (header reads revisit the same chunk many times).
    decoded: Option<(u64, Bytes)>,
    /// A chunk cut off by the end of the file ends the stream instead of failing.
    lenient: bool,
}

impl<'r> CompressedMtf<'r> {
    /// Map the container behind `reader`: decode the first chunk (TAPE, which gives the soft
    /// filemark size) and locate the end of the stream through the last set's trailer. A file
    /// that does not end with a soft filemark is a truncation error unless `allow_truncated`,
    /// in which case the chain is walked as far as it goes.
    pub(crate) async fn open(
        reader: &'r dyn RangeRead,
        size: u64,
        allow_truncated: bool,
    ) -> Result<Self, FormatError> {
        let mut files = FileWindows::new(ReaderRef::Borrowed(reader), size);
        let (walker, decoder, first, tape) = open_chain(&mut files).await?;
        // The TAPE block is followed by the first soft filemark.
        let tail = match locate_tail(&mut files, walker, first.mtf_end()).await {
            Err(e) if allow_truncated && matches!(e.kind, ErrorKind::Truncated(_)) => Vec::new(),
            other => other?,
        };
        let mut state = ViewState {
            files,
            walker,
            decoder,
            head: vec![first],
            tail,
            decoded: Some((0, Bytes::from(tape))),
            lenient: allow_truncated,
        };
        let mtf_size = match state.tail.last() {
            Some(last) => last.mtf_end(),
            // No trailer index (or a cut file): walk the whole chain once to find the end.
            None => state.extend_head_to(u64::MAX).await?,
        };
        Ok(Self {
            name: reader.name().to_string(),
            mtf_size,
            compressed_size: size,
            state: Mutex::new(state),
        })
    }

    /// The MTF offset of the soft filemark stored raw at file offset `file_offset` (filemark
    /// tables inside a container hold file offsets), walking the chain further if needed.
    pub(crate) async fn filemark_mtf(&self, file_offset: u64) -> Result<Option<u64>, FormatError> {
        let mut state = self.state.lock().await;
        loop {
            let raw_at = |chunks: &[Chunk]| {
                chunks
                    .iter()
                    .find(|c| c.body == ChunkBody::Raw && c.payload_offset == file_offset)
                    .map(|c| c.mtf_offset)
            };
            if let Some(mtf) = raw_at(&state.tail).or_else(|| raw_at(&state.head)) {
                return Ok(Some(mtf));
            }
            let Some(last) = state.head.last().copied() else {
                return Ok(None);
            };
            let walked_past = last.next > file_offset;
            let reached_tail = state
                .tail
                .first()
                .is_some_and(|t| t.mtf_offset <= last.mtf_end());
            if walked_past || reached_tail {
                return Ok(None);
            }
            let before = state.head.len();
            state.extend_head_to(last.mtf_end()).await?;
            if state.head.len() == before {
                return Ok(None);
            }
        }
    }

    /// Size of the decoded MTF stream.
    pub(crate) fn mtf_size(&self) -> u64 {
        self.mtf_size
    }

    /// Size of the compressed file.
    pub(crate) fn compressed_size(&self) -> u64 {
        self.compressed_size
    }

    async fn read(&self, range: Range<u64>) -> Result<Bytes, FormatError> {
        self.state.lock().await.read(range).await
    }
}

impl<'r> ViewState<'r> {
    /// Walk chunk headers forward from the end of the known head until MTF offset `until` is
    /// covered or the stream ends; returns the MTF offset reached.
    async fn extend_head_to(&mut self, until: u64) -> Result<u64, FormatError> {
        loop {
            let Some(last) = self.head.last().copied() else {
                return Ok(0);
            };
            if last.mtf_end() > until {
                return Ok(last.mtf_end());
            }
            // Once the head reaches the tail's first chunk, the tail takes over.
            if self
                .tail
                .first()
                .is_some_and(|t| t.mtf_offset <= last.mtf_end())
            {
                return Ok(last.mtf_end());
            }
            match self
                .walker
                .next(&mut self.files, last.next, last.mtf_end())
                .await
            {
                Ok(Found::Chunk(chunk)) => self.head.push(chunk),
                Ok(Found::End) => return Ok(last.mtf_end()),
                Err(e) if self.lenient && matches!(e.kind, ErrorKind::Truncated(_)) => {
                    return Ok(last.mtf_end());
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn chunk_at(&self, mtf: u64) -> Option<Chunk> {
        let find = |chunks: &[Chunk]| {
            let i = chunks.partition_point(|c| c.mtf_end() <= mtf);
            chunks.get(i).copied().filter(|c| c.mtf_offset <= mtf)
        };
        find(&self.tail).or_else(|| find(&self.head))
    }

    async fn decoded(&mut self, chunk: Chunk) -> Result<Bytes, FormatError> {
        if let Some((at, bytes)) = &self.decoded
            && *at == chunk.mtf_offset
        {
            return Ok(bytes.clone());
        }
        let bytes = decode_chunk(&mut self.files, &mut self.decoder, chunk).await?;
        self.decoded = Some((chunk.mtf_offset, bytes.clone()));
        Ok(bytes)
    }

    async fn read(&mut self, range: Range<u64>) -> Result<Bytes, FormatError> {
        let len = usize::try_from(range.end.saturating_sub(range.start))
            .map_err(|_| FormatError::new(range.start, ErrorKind::Io("range too large".into())))?;
        let mut out = Vec::with_capacity(len);
        let mut at = range.start;
        while at < range.end {
            let chunk = match self.chunk_at(at) {
                Some(c) => c,
                None => {
                    self.extend_head_to(at).await?;
                    self.chunk_at(at).ok_or_else(|| {
                        truncated(at, "the compressed stream ends before this MTF offset")
                    })?
                }
            };
            let bytes = self.decoded(chunk).await?;
            let from = usize::try_from(at - chunk.mtf_offset).unwrap_or(usize::MAX);
            let to = usize::try_from(range.end.min(chunk.mtf_end()) - chunk.mtf_offset)
                .unwrap_or(usize::MAX);
            let piece = bytes.get(from..to).ok_or_else(|| {
                FormatError::malformed(
                    chunk.payload_offset,
                    "chunk",
                    "decoded shorter than declared",
                )
            })?;
            out.extend_from_slice(piece);
            at = chunk.mtf_offset + to as u64;
        }
        Ok(Bytes::from(out))
    }
}

/// Read the container header and decode the first chunk, which holds the TAPE block: it
/// fixes the codec and the soft filemark size every later step needs.
pub(crate) async fn open_chain(
    files: &mut FileWindows<'_>,
) -> Result<(Walker, Decoder, Chunk, Vec<u8>), FormatError> {
    let size = files.size;
    let header_bytes = files.bytes(0, FILE_HEADER_LEN).await?;
    if (header_bytes.len() as u64) < FILE_HEADER_LEN {
        return Err(truncated(
            size,
            "the file ends inside the 480-byte MSSQLBAK header",
        ));
    }
    let header = ContainerHeader::parse(&header_bytes)?;
    // A compressed chunk does not need the soft filemark size, which is still unknown.
    let probe = Walker {
        header_len: header.chunk_header_len(),
        soft_filemark: 512,
    };
    let Found::Chunk(first) = probe.next(files, FILE_HEADER_LEN, 0).await? else {
        return Err(truncated(FILE_HEADER_LEN, "no chunk after the file header"));
    };
    if first.body == ChunkBody::Raw {
        return Err(FormatError::malformed(
            FILE_HEADER_LEN,
            "first chunk",
            "is not compressed",
        ));
    }
    let payload = files.bytes(first.payload_offset, first.payload_len).await?;
    let mut decoder = Decoder::new(codec_of(&header, &payload)?)?;
    let mut tape = Vec::with_capacity(MAX_CHUNK_OUTPUT);
    let output_len = usize::try_from(first.output_len()).unwrap_or(MAX_CHUNK_OUTPUT);
    decoder.decode(&payload, output_len, first.payload_offset, &mut tape)?;
    if !tape.starts_with(b"TAPE") || tape.len() < 66 {
        return Err(FormatError::malformed(
            first.payload_offset,
            "first chunk",
            "does not decode to a TAPE block",
        ));
    }
    let soft_filemark = u64::from(u16::from_le_bytes([tape[64], tape[65]])) * 512;
    if soft_filemark == 0 || soft_filemark > 64 * 1024 {
        return Err(FormatError::malformed(
            first.payload_offset + 64,
            "TAPE block",
            format!("soft filemark size of {soft_filemark} bytes"),
        ));
    }
    let walker = Walker {
        header_len: header.chunk_header_len(),
        soft_filemark,
    };
    Ok((walker, decoder, first, tape))
}

/// Find the last set's 0x2C trailer near the end of the file and walk from the chunks its
/// seek index names to the end. Returns no chunks when there is no usable index (the caller
/// then walks the chain from the start).
///
/// Trailer layout (observed): type byte 0x2C; at +24 a 16-byte signature (u16 1, u16 1,
/// u32 entry count, two u32s) that is repeated just before the next soft-filemark boundary;
/// from +40 `count` pairs of u64 (MTF offset relative to the set's SSET, file offset of the
/// chunk). The set's closing soft filemark follows raw at that boundary, and the final soft
/// filemark of the file lists the MTF offsets of all earlier filemarks.
async fn locate_tail(
    files: &mut FileWindows<'_>,
    walker: Walker,
    first_filemark_mtf: u64,
) -> Result<Vec<Chunk>, FormatError> {
    let size = files.size;
    let sfm = walker.soft_filemark;
    let Some(final_at) = size.checked_sub(sfm).filter(|&at| at > FILE_HEADER_LEN) else {
        return Ok(Vec::new());
    };
    let window_start = size.saturating_sub(TAIL_WINDOW).max(FILE_HEADER_LEN);
    let window = files.bytes(window_start, size - window_start).await?;
    let rel = |at: u64| usize::try_from(at - window_start).unwrap_or(usize::MAX);
    let Some(final_block) = window.get(rel(final_at)..) else {
        return Ok(Vec::new());
    };
    if !is_block(final_block, Tag::SFMB) {
        return Err(truncated(
            size,
            "the compressed file does not end with a soft filemark (was the copy cut short?)",
        ));
    }
    // In a container the filemark table holds *file* offsets of the raw soft filemarks.
    let mut marks = soft_filemark_entries(&Le::new(final_block, final_at, "final SFMB block"))?;
    marks.sort_unstable();
    // Anchoring the tail needs the MTF offset where the last set starts. For a single-set file
    // that is right after the first filemark, which follows the TAPE block: MTF `first_mtf`.
    // Sets further in would need the whole chain walked to place them; the caller does that.
    let [_, closing] = marks[..] else {
        return Ok(Vec::new());
    };
    let set_start = first_filemark_mtf + sfm;
    // The signature repeated just before a soft-filemark boundary identifies the trailer.
    let mut boundary = align_up(window_start + 16, sfm);
    let mut found = None;
    while boundary + sfm <= final_at {
        let b = rel(boundary);
        if is_block(window.get(b..).unwrap_or_default(), Tag::SFMB) && b >= 16 {
            let sig = &window[b - 16..b];
            if sig.iter().any(|&x| x != 0)
                && let Some(t) = find_trailer(&window, b - 16, sig)
            {
                found = Some((t, boundary));
            }
        }
        boundary += sfm;
    }
    let Some((trailer, _)) = found else {
        return Ok(Vec::new());
    };
    let le = Le::new(&window, window_start, "chunk trailer");
    let count = le.u32(trailer + 28)?;
    let mut entries = Vec::new();
    for i in 0..usize::try_from(count.min(4096)).unwrap_or(0) {
        let mtf = le.u64(trailer + 40 + 16 * i)?;
        let file = le.u64(trailer + 48 + 16 * i)?;
        entries.push((mtf, file));
    }
    let Some(&(rel_mtf, file_at)) = entries.first() else {
        return Ok(Vec::new());
    };
    // Walk from the first indexed chunk to the end of the file.
    let mut chunks = Vec::new();
    let (mut pos, mut mtf) = (file_at, set_start + rel_mtf);
    while let Found::Chunk(chunk) = walker.next(files, pos, mtf).await? {
        pos = chunk.next;
        mtf = chunk.mtf_end();
        chunks.push(chunk);
        if chunks.len() > 4096 {
            return Err(FormatError::malformed(
                file_at,
                "chunk trailer",
                "index does not lead to the end",
            ));
        }
    }
    // Consistency: the set's closing filemark must be one of the raw blocks we mapped.
    let closes = chunks
        .iter()
        .any(|c| c.body == ChunkBody::Raw && c.payload_offset == closing);
    if !closes || chunks.last().map(|c| c.mtf_offset) != Some(mtf - sfm) {
        return Ok(Vec::new());
    }
    Ok(chunks)
}

/// Index (within `window`) of a 0x2C trailer whose signature at +24 equals `sig`, searching
/// backwards from `before`.
fn find_trailer(window: &[u8], before: usize, sig: &[u8]) -> Option<usize> {
    // The index holds at most a few thousand 16-byte entries.
    let lowest = before.saturating_sub(64 * 1024);
    (lowest..before.saturating_sub(40)).rev().find(|&t| {
        window[t] == CHUNK_TRAILER && window.get(t + 24..t + 40) == Some(sig) && t + 40 <= before
    })
}

impl RangeRead for CompressedMtf<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> BoxFuture<'_, io::Result<u64>> {
        let size = self.mtf_size;
        Box::pin(async move { Ok(size) })
    }

    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, io::Result<Bytes>> {
        Box::pin(async move { self.read(range).await.map_err(io::Error::other) })
    }
}

/// The MTF bytes `chunk` stands for: its payload as stored, or decoded.
async fn decode_chunk(
    files: &mut FileWindows<'_>,
    decoder: &mut Decoder,
    chunk: Chunk,
) -> Result<Bytes, FormatError> {
    let payload = files.bytes(chunk.payload_offset, chunk.payload_len).await?;
    if (payload.len() as u64) < chunk.payload_len {
        return Err(truncated(
            chunk.payload_offset,
            "chunk payload runs past the end of the file",
        ));
    }
    match chunk.body {
        ChunkBody::Raw => Ok(payload),
        ChunkBody::Compressed { output_len } => {
            let len = usize::try_from(output_len).unwrap_or(MAX_CHUNK_OUTPUT);
            let mut out = Vec::with_capacity(len);
            decoder.decode(&payload, len, chunk.payload_offset, &mut out)?;
            Ok(Bytes::from(out))
        }
    }
}

/// Decodes a compressed file front to back, one chunk at a time, in constant memory.
#[derive(Debug)]
pub(crate) struct ChunkStream {
    files: FileWindows<'static>,
    walker: Walker,
    decoder: Decoder,
    /// The first chunk's output, decoded while opening, not yet handed out.
    pending: Option<Bytes>,
    pos: u64,
    mtf: u64,
}

impl ChunkStream {
    /// Open the container behind `reader` (`size` bytes).
    pub(crate) async fn open(reader: Arc<dyn RangeRead>, size: u64) -> Result<Self, FormatError> {
        let mut files = FileWindows::new(ReaderRef::Shared(reader), size);
        let (walker, decoder, first, tape) = open_chain(&mut files).await?;
        Ok(Self {
            files,
            walker,
            decoder,
            pending: Some(Bytes::from(tape)),
            pos: first.next,
            mtf: first.mtf_end(),
        })
    }

    /// The next piece of the MTF stream, `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, FormatError> {
        if let Some(first) = self.pending.take() {
            return Ok(Some(first));
        }
        let Found::Chunk(chunk) = self
            .walker
            .next(&mut self.files, self.pos, self.mtf)
            .await?
        else {
            return Ok(None);
        };
        self.pos = chunk.next;
        self.mtf = chunk.mtf_end();
        let bytes = decode_chunk(&mut self.files, &mut self.decoder, chunk).await?;
        Ok(Some(bytes))
    }
}
