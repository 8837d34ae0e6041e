//! The block and stream structure of a whole MTF byte stream held in memory, every block and
//! stream header checksum verified. Used to check decompressed streams, to write containers
//! around them, and to compare the structure of generated backups with real ones.

use crate::bytes::{Le, align4};
use crate::error::FormatError;
use crate::mtf::{BLOCK_HEADER_LEN, BlockHeader, STREAM_HEADER_LEN, StreamHeader, Tag};

/// One descriptor block of an MTF stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Offset of the block in the stream.
    pub offset: u64,
    /// Block type (`TAPE`, `SSET`, `MSDA`, `SFMB`, ...).
    pub tag: Tag,
    /// Streams of the block, in order (empty for soft filemarks).
    pub streams: Vec<StreamInfo>,
    /// Offset just past the block: where the next one starts.
    pub end: u64,
}

/// One stream inside a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Stream type (`MQCI`, `MQDA`, `CSUM`, `SPAD`, ...).
    pub tag: Tag,
    /// Offset of the stream header in the MTF stream.
    pub offset: u64,
    /// Length of the stream data.
    pub length: u64,
    /// Media-format attributes (0x100 on checksummed data streams).
    pub media_attributes: u16,
}

/// Walk every block of `mtf` (a complete stream starting with `TAPE`), verifying each block
/// and stream header checksum. Fails at the first structural problem, with its offset.
pub fn mtf_layout(mtf: &[u8]) -> Result<Vec<BlockInfo>, FormatError> {
    let le = Le::new(mtf, 0, "MTF stream");
    let tape = BlockHeader::parse(&le.sub(0, BLOCK_HEADER_LEN.min(mtf.len()), "TAPE block")?)?;
    if tape.tag != Tag::TAPE {
        return Err(le.error(0, format!("starts with {} instead of TAPE", tape.tag)));
    }
    let soft_filemark = u64::from(le.u16(64)?) * 512;
    if soft_filemark == 0 {
        return Err(le.error(64, "soft filemark size is 0"));
    }
    let len = mtf.len() as u64;
    let mut blocks = Vec::new();
    let mut pos = 0u64;
    while pos < len {
        let at = usize::try_from(pos).map_err(|_| le.error(0, "stream too large"))?;
        let header = BlockHeader::parse(&le.sub(at, BLOCK_HEADER_LEN, "block header")?)?;
        if header.tag == Tag::SFMB {
            let end = pos + soft_filemark;
            blocks.push(BlockInfo {
                offset: pos,
                tag: header.tag,
                streams: Vec::new(),
                end,
            });
            pos = end;
            continue;
        }
        let mut streams = Vec::new();
        let mut s = align4(pos + u64::from(header.first_event_offset));
        let end = loop {
            let sat = usize::try_from(s).map_err(|_| le.error(at, "stream offset"))?;
            let stream = StreamHeader::parse(&le.sub(sat, STREAM_HEADER_LEN, "stream header")?)?;
            let next = (s + STREAM_HEADER_LEN as u64)
                .checked_add(stream.length)
                .map(align4)
                .filter(|&n| n <= len)
                .ok_or_else(|| le.error(sat + 8, "stream runs past the end of the MTF stream"))?;
            streams.push(StreamInfo {
                tag: stream.tag,
                offset: s,
                length: stream.length,
                media_attributes: stream.media_attributes,
            });
            if stream.tag == Tag::SPAD {
                break next;
            }
            s = next;
        };
        blocks.push(BlockInfo {
            offset: pos,
            tag: header.tag,
            streams,
            end,
        });
        pos = end;
    }
    Ok(blocks)
}
