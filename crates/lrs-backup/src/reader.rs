//! The header reader: finds every backup set of a plain MTF file and decodes its headers while
//! touching only the leading header blocks and the final configuration block of each set.
//!
//! How the final copy (MSLS) is found without scanning data: the file ends with a soft filemark
//! (SFMB) whose table lists every earlier filemark. Each set lies between two of them; its MSLS
//! block ends exactly at the set's closing filemark. Most versions make it exactly as long as
//! the set's MSCI block (both hold the same records; only values differ), so one ranged read
//! fetches it ([`HeaderPath::Direct`]). SQL Server 2012 pads it to the next soft-filemark
//! boundary instead, so when that guess fails the reader searches the few block positions
//! before the filemark ([`HeaderPath::TailSearch`]), and when the filemark table or the tail is
//! not what it expects, it walks the set's (or the file's) blocks, skipping data streams by
//! their length ([`HeaderPath::BlockWalk`]). A file is refused only when that walk finds no
//! valid final configuration block either.

use bytes::Bytes;

use crate::build::{build_label, build_set};
use crate::bytes::{Le, align4};
use crate::config::{SqlConfig, parse_config};
use crate::container::{CompressedMtf, MAGIC};
use crate::error::{BackupError, ErrorKind, FormatError};
use crate::fetch::Fetcher;
use crate::model::{BackupMedia, ConfigSource, HeaderPath};
use crate::mtf::{
    BLOCK_HEADER_LEN, BlockHeader, MediaSetInfo, STREAM_HEADER_LEN, SsetBlock, StreamHeader, Tag,
    TapeBlock, VolbBlock, filemark_table, is_block,
};
use crate::range::RangeRead;

/// Bytes read from the start of a file in one request: TAPE, SFMB, SSET, VOLB and MSCI of the
/// first set fit in it for every layout seen (1 KiB and 4 KiB blocks).
const LEAD_WINDOW: u64 = 16 * 1024;
/// Bytes read from the end in one request: final SFMB, both ESETs, the set's closing SFMB and
/// its MSLS block (24 KiB with 4 KiB soft filemarks).
const TAIL_WINDOW: u64 = 32 * 1024;
/// Largest configuration (MQCI) stream accepted: far above any real database's file list,
/// small enough that a corrupt length cannot make us allocate without bound.
const MAX_CONFIG_STREAM: u64 = 4 * 1024 * 1024;
/// Largest gap between a block header and its first stream.
const MAX_FIRST_EVENT_OFFSET: u16 = 16 * 1024;
/// A descriptor block with more streams than this is corrupt.
const MAX_STREAMS_PER_BLOCK: usize = 64;

/// How strict the reader is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read a file that ends before its backup does (an upload in progress) from the
    /// provisional configuration copy instead of failing with [`ErrorKind::Truncated`].
    pub allow_truncated: bool,
    /// Skip the fast paths and find every set by walking all blocks of the file (data streams
    /// skipped by length): slower, reads a few KiB per block; the reference the fast paths are
    /// tested against (`lrs headeronly --block-walk`).
    pub block_walk: bool,
}

/// Read the headers of every backup set in the file behind `reader` (strict: truncated files
/// are errors).
pub async fn read_backup(reader: &dyn RangeRead) -> Result<BackupMedia, BackupError> {
    read_backup_with(reader, ReadOptions::default()).await
}

/// [`read_backup`] with options.
pub async fn read_backup_with(
    reader: &dyn RangeRead,
    options: ReadOptions,
) -> Result<BackupMedia, BackupError> {
    let size = reader
        .size()
        .await
        .map_err(|e| FormatError::new(0, ErrorKind::Io(e.to_string())).in_file(reader.name()))?;
    read_any(reader, size, options)
        .await
        .map_err(|e| e.in_file(reader.name()))
}

/// Plain files are read directly; compressed ones through a view of their decoded MTF stream.
async fn read_any(
    reader: &dyn RangeRead,
    size: u64,
    options: ReadOptions,
) -> Result<BackupMedia, FormatError> {
    let mut fetcher = Fetcher::new(reader, size);
    // One request for the head of the file (the whole file when it is small).
    let lead = if size <= LEAD_WINDOW + TAIL_WINDOW {
        size
    } else {
        LEAD_WINDOW
    };
    fetcher.prefetch(0, lead).await?;
    match sniff(&mut fetcher).await? {
        Kind::Plain => read_media(&mut fetcher, options, None).await,
        Kind::Compressed => {
            let view = CompressedMtf::open(reader, size, options.allow_truncated).await?;
            let mut fetcher = Fetcher::new(&view, view.mtf_size());
            let mut media = read_media(&mut fetcher, options, Some(&view)).await?;
            media.file_size = view.compressed_size();
            Ok(media)
        }
    }
}

/// Read every set of an MTF stream. `container` is set when the stream is the decoded view of
/// a compressed file: its tail is already mapped, so no tail window is prefetched (that could
/// force decoding the whole file), its filemark tables hold file offsets that the view
/// translates, and the reports say `Compressed = 1`.
async fn read_media(
    f: &mut Fetcher<'_>,
    options: ReadOptions,
    container: Option<&CompressedMtf<'_>>,
) -> Result<BackupMedia, FormatError> {
    let compressed = container.is_some();
    let size = f.size();
    if compressed {
        // Decode the leading chunks once; the header blocks are read from them.
        f.prefetch(0, LEAD_WINDOW).await?;
    }
    if sniff(f).await? != Kind::Plain {
        return Err(FormatError::malformed(
            0,
            "MTF stream",
            "a container inside a container",
        ));
    }

    let tape = read_block(f, 0, Some(Tag::TAPE), &[Tag::RAID]).await?;
    let tape_fields = TapeBlock::parse(&tape.area())?;
    let raid = tape
        .stream_data(Tag::RAID)
        .ok_or_else(|| FormatError::malformed(0, "TAPE block", "no RAID (media set) stream"))?;
    let mut media = MediaSetInfo::parse(&Le::new(&raid.1, raid.0, "RAID stream"))?;
    media.media_password =
        tape_fields.has_media_password || tape_fields.password_encryption_algorithm != 0;
    let label = build_label(&tape_fields, &media, compressed);
    let sfm = u64::from(tape_fields.soft_filemark_size);
    let flbs = u64::from(tape_fields.format_logical_block_size);

    let first_filemark = tape.end;
    expect_filemark(f, first_filemark).await?;
    let layout = Layout { flbs, sfm };

    let final_filemark = size.checked_sub(sfm).filter(|&at| at > first_filemark);
    if size > LEAD_WINDOW + TAIL_WINDOW && !compressed {
        f.prefetch(size.saturating_sub(TAIL_WINDOW), TAIL_WINDOW)
            .await?;
    }
    if options.block_walk && final_filemark.is_some() {
        let walked = walk_file(f, first_filemark, size, layout).await?;
        return sets_of(f, walked, options, size, &media, compressed, label, layout).await;
    }
    let complete = match final_filemark {
        Some(at) => is_block(&f.get(at, BLOCK_HEADER_LEN).await?, Tag::SFMB),
        None => false,
    };
    let Some(final_filemark) = final_filemark.filter(|_| complete) else {
        if !options.allow_truncated {
            return Err(FormatError::new(
                size,
                ErrorKind::Truncated(format!(
                    "the file is {size} bytes and does not end with a soft filemark block; a \
                     complete backup does (was the copy or upload cut short?)"
                )),
            ));
        }
        let start = read_set_start(f, first_filemark + sfm, layout).await?;
        let set = build_set(
            &start.sset,
            &start.volb,
            &start.msci,
            &media,
            ConfigSource::Provisional,
            compressed,
            (start.offset, 0),
        )?;
        return Ok(BackupMedia {
            label,
            sets: vec![set],
            file_size: size,
            truncated: true,
        });
    };

    let boundaries = match set_boundaries(f, first_filemark, final_filemark, sfm, container).await {
        Ok(boundaries) => boundaries,
        Err(e) if is_layout_surprise(&e) => {
            tracing::info!(
                offset = e.offset,
                reason = %e.kind,
                "backup header: the final soft filemark's table is unusable; walking every block"
            );
            walk_file(f, first_filemark, size, layout).await?
        }
        Err(e) => return Err(e),
    };
    sets_of(
        f, boundaries, options, size, &media, compressed, label, layout,
    )
    .await
}

/// Decode every set of `boundaries`.
#[allow(clippy::too_many_arguments)]
async fn sets_of(
    f: &mut Fetcher<'_>,
    boundaries: Boundaries,
    options: ReadOptions,
    size: u64,
    media: &MediaSetInfo,
    compressed: bool,
    label: crate::model::MediaLabel,
    layout: Layout,
) -> Result<BackupMedia, FormatError> {
    if boundaries.ends_early && !options.allow_truncated {
        let end = boundaries.sets.last().map_or(size, |s| s.close);
        return Err(FormatError::new(
            size,
            ErrorKind::Truncated(format!(
                "the file ends right after the data of backup set {} (offset {end}) \
                 without its end-of-set blocks",
                boundaries.sets.len()
            )),
        ));
    }
    let sfm = layout.sfm;
    let mut sets = Vec::new();
    for bounds in &boundaries.sets {
        let start = read_set_start(f, bounds.open + sfm, layout).await?;
        let (msls, path) = match bounds.msls {
            Some(at) => (
                read_final_config(f, at, start.offset, layout).await?,
                HeaderPath::BlockWalk,
            ),
            None => find_final_config(f, &start, bounds.close, layout).await?,
        };
        let config = config_of(&msls)?;
        let mut set = build_set(
            &start.sset,
            &start.volb,
            &config,
            media,
            ConfigSource::Final,
            compressed,
            (start.offset, bounds.close),
        )?;
        set.header_path = path;
        sets.push(set);
    }
    Ok(BackupMedia {
        label,
        sets,
        file_size: size,
        truncated: boundaries.ends_early,
    })
}

/// Errors that mean "this file is laid out differently from what the fast path expects" (as
/// opposed to I/O failures or a file cut short), after which a block walk is worth trying.
fn is_layout_surprise(e: &FormatError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Malformed { .. } | ErrorKind::BadChecksum { .. }
    )
}

/// Find a set's final configuration block (MSLS), which ends at the set's closing filemark
/// `close`: first where it is in most versions (as long as the MSCI), then at every block
/// position of a bounded window before the filemark, then by walking the set's blocks.
async fn find_final_config(
    f: &mut Fetcher<'_>,
    start: &SetStart,
    close: u64,
    layout: Layout,
) -> Result<(Block, HeaderPath), FormatError> {
    let direct = close
        .checked_sub(start.msci_len)
        .filter(|&at| at > start.msci_end)
        .ok_or_else(|| {
            FormatError::malformed(close, "backup set", "closing filemark precedes its data")
        })?;
    let first_error = match final_config_ending_at(f, direct, close, start.offset, layout).await {
        Ok(block) => return Ok((block, HeaderPath::Direct)),
        Err(e) if is_layout_surprise(&e) => e,
        Err(e) => return Err(e),
    };
    // The MSLS holds the same records as the MSCI, so it is at least as long as the MSCI's
    // content rounded to a block, and its padding never reaches a whole soft filemark further:
    // the candidates lie within one MSCI length plus two filemarks before `close`.
    let span = start
        .msci_len
        .saturating_add(2 * layout.sfm)
        .min(close - start.msci_end);
    f.prefetch(close - span, span).await?;
    let mut at = start.offset + (close - start.offset) / layout.flbs * layout.flbs;
    while at >= close - span && at > start.msci_end {
        if at != direct && is_block(&f.get(at, BLOCK_HEADER_LEN).await?, Tag::MSLS) {
            match final_config_ending_at(f, at, close, start.offset, layout).await {
                Ok(block) => {
                    tracing::debug!(
                        offset = at,
                        "backup header: final configuration block found by the tail search"
                    );
                    return Ok((block, HeaderPath::TailSearch));
                }
                Err(e) if is_layout_surprise(&e) => {}
                Err(e) => return Err(e),
            }
        }
        at -= layout.flbs;
    }
    tracing::info!(
        set_offset = start.offset,
        close,
        "backup header: no final configuration block just before the closing filemark; walking \
         the set's blocks"
    );
    match walk_set(f, start.msci_end, close, start.offset, layout).await? {
        Some(at) => Ok((
            read_final_config(f, at, start.offset, layout).await?,
            HeaderPath::BlockWalk,
        )),
        None => Err(FormatError::malformed(
            direct,
            "MSLS block",
            format!(
                "no final configuration block in the set that closes at {close} (a walk of its \
                 blocks found none; the block expected just before the filemark: {})",
                first_error.kind
            ),
        )),
    }
}

/// The MSLS block at `at`, which must end exactly at `close` and sit at its logical address.
async fn final_config_ending_at(
    f: &mut Fetcher<'_>,
    at: u64,
    close: u64,
    set_at: u64,
    layout: Layout,
) -> Result<Block, FormatError> {
    let block = read_final_config(f, at, set_at, layout).await?;
    if block.end != close {
        return Err(FormatError::malformed(
            at,
            "MSLS block",
            format!(
                "the final configuration block at {at} ends at {} instead of at the set's \
                 closing soft filemark at {close}",
                block.end
            ),
        ));
    }
    Ok(block)
}

async fn read_final_config(
    f: &mut Fetcher<'_>,
    at: u64,
    set_at: u64,
    layout: Layout,
) -> Result<Block, FormatError> {
    let block = read_block(f, at, Some(Tag::MSLS), &[Tag::MQCI]).await?;
    check_logical_address(&block, set_at, layout)?;
    Ok(block)
}

/// Bytes read ahead of each block header during a walk: the header and the stream headers
/// of every block but the data streams' far ends fit in it.
const WALK_READ_AHEAD: u64 = 4096;

/// Walk a set's blocks from `from` (just past its MSCI) up to its closing filemark, skipping
/// data streams by their length, and return the offset of the last MSLS block seen.
async fn walk_set(
    f: &mut Fetcher<'_>,
    from: u64,
    close: u64,
    set_at: u64,
    layout: Layout,
) -> Result<Option<u64>, FormatError> {
    let mut pos = from;
    let mut msls = None;
    while pos < close {
        f.prefetch(pos, WALK_READ_AHEAD.min(close - pos)).await?;
        let block = read_block(f, pos, None, &[]).await?;
        check_logical_address(&block, set_at, layout)?;
        if block.header.tag == Tag::MSLS {
            msls = Some(pos);
        }
        pos = block.end;
    }
    Ok(msls)
}

/// Find every set by walking the whole file block by block (data streams skipped by length):
/// the fallback when the final filemark's table cannot be used.
async fn walk_file(
    f: &mut Fetcher<'_>,
    first_filemark: u64,
    size: u64,
    layout: Layout,
) -> Result<Boundaries, FormatError> {
    let mut sets = Vec::new();
    let mut pos = first_filemark;
    let mut last_filemark = first_filemark;
    // The set being walked: (opening filemark, SSET offset, last MSLS, closing filemark).
    let mut open: Option<(u64, u64, Option<u64>, Option<u64>)> = None;
    let mut ended = true;
    while pos < size {
        f.prefetch(pos, WALK_READ_AHEAD.min(size - pos)).await?;
        let raw = f.get(pos, BLOCK_HEADER_LEN).await?;
        let header = BlockHeader::parse(&Le::new(&raw, pos, "block header"))?;
        if header.tag == Tag::SFMB {
            if let Some((_, _, Some(_), close @ None)) = &mut open {
                *close = Some(pos);
            }
            last_filemark = pos;
            pos += layout.sfm;
            continue;
        }
        let block = read_block(f, pos, None, &[]).await?;
        match block.header.tag {
            Tag::SSET => {
                open = Some((last_filemark, pos, None, None));
                ended = false;
            }
            Tag::MSLS => {
                if let Some((_, set_at, msls, _)) = &mut open {
                    check_logical_address(&block, *set_at, layout)?;
                    *msls = Some(pos);
                }
            }
            Tag::ESET => {
                if let Some((opening, _, Some(msls), Some(close))) = open.take() {
                    sets.push(WalkedSet {
                        open: opening,
                        close,
                        msls: Some(msls),
                    });
                }
                ended = true;
            }
            _ => {}
        }
        pos = block.end;
    }
    // A set whose data closed but whose ESETs never arrived: the file ends early.
    if let Some((opening, _, Some(msls), Some(close))) = open {
        sets.push(WalkedSet {
            open: opening,
            close,
            msls: Some(msls),
        });
    }
    if sets.is_empty() {
        return Err(FormatError::malformed(
            first_filemark,
            "backup media",
            "a walk of every block found no complete backup set (no final configuration block)",
        ));
    }
    Ok(Boundaries {
        sets,
        ends_early: !ended,
    })
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Plain MTF (`TAPE`).
    Plain,
    /// `MSSQLBAK` container.
    Compressed,
}

/// Tell plain from compressed backups, and reject everything else with the most specific
/// reason we can give.
async fn sniff(f: &mut Fetcher<'_>) -> Result<Kind, FormatError> {
    let size = f.size();
    if size == 0 {
        return Err(FormatError::new(
            0,
            ErrorKind::NotABackup("the file is empty".into()),
        ));
    }
    let head = f
        .get(0, usize::try_from(size.min(16)).unwrap_or(16))
        .await?;
    let short_magic = |magic: &[u8]| head.len() < magic.len() && magic.starts_with(&head);
    if short_magic(b"TAPE") || short_magic(MAGIC) || (head.starts_with(b"TAPE") && size < 52) {
        return Err(FormatError::new(
            size,
            ErrorKind::Truncated(format!("the file is only {size} bytes")),
        ));
    }
    if head.starts_with(b"TAPE") {
        return Ok(Kind::Plain);
    }
    if head.starts_with(MAGIC) {
        return Ok(Kind::Compressed);
    }
    // A backup written WITH ENCRYPTION wraps the whole stream but keeps the soft filemark
    // blocks in clear (docs/references.md#encryption), and every backup ends with one.
    for sfm in [512u64, 4096] {
        if size >= 2 * sfm && is_block(&f.get(size - sfm, BLOCK_HEADER_LEN).await?, Tag::SFMB) {
            return Err(FormatError::new(
                0,
                ErrorKind::Encrypted(format!(
                    "the file ends with an MTF soft filemark but starts with {} instead of \
                     \"TAPE\" or \"MSSQLBAK\": a backup written WITH ENCRYPTION, whose headers \
                     can only be read with the server certificate's private key (the encryptor \
                     thumbprint is not stored in clear where this reader can find it)",
                    hex_preview(&head)
                )),
            ));
        }
    }
    Err(FormatError::new(
        0,
        ErrorKind::NotABackup(format!(
            "starts with {}; a SQL Server backup starts with \"TAPE\" (plain) or \"MSSQLBAK\" \
             (compressed)",
            hex_preview(&head)
        )),
    ))
}

fn hex_preview(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
    format!("bytes {}", shown.join(" "))
}

async fn expect_filemark(f: &mut Fetcher<'_>, at: u64) -> Result<(), FormatError> {
    let bytes = f.get(at, BLOCK_HEADER_LEN).await?;
    let header = BlockHeader::parse(&Le::new(&bytes, at, "block header"))?;
    if header.tag != Tag::SFMB {
        return Err(FormatError::malformed(
            at,
            "media header",
            format!(
                "expected a soft filemark (SFMB) after the TAPE block, found {}",
                header.tag
            ),
        ));
    }
    Ok(())
}

/// Where one set lies.
#[derive(Debug, Clone, Copy)]
struct WalkedSet {
    /// The soft filemark before its SSET.
    open: u64,
    /// The soft filemark that closes its data.
    close: u64,
    /// Its final configuration block, when a block walk already found it.
    msls: Option<u64>,
}

/// Where the sets of a file are, from its final filemark's table (or a block walk).
#[derive(Debug)]
struct Boundaries {
    /// Every set whose data is complete.
    sets: Vec<WalkedSet>,
    /// The file ends right after the last set's data (its ESET blocks never arrived).
    ends_early: bool,
}

/// The sets of a file, from the table of the filemark at `last`.
///
/// Layout per set: `SFMB | SSET … MSLS | SFMB | ESET ESET | SFMB`, so the filemarks pair up:
/// 1st opens set 1, 2nd closes its data, 3rd opens set 2, … and the last ends the file. An even
/// count means the file stops right after a set's data.
async fn set_boundaries(
    f: &mut Fetcher<'_>,
    first: u64,
    last: u64,
    sfm: u64,
    container: Option<&CompressedMtf<'_>>,
) -> Result<Boundaries, FormatError> {
    let block = f
        .get(last, usize::try_from(sfm).unwrap_or(usize::MAX))
        .await?;
    let le = Le::new(&block, last, "final SFMB block");
    BlockHeader::parse(&le)?;
    let table = filemark_table(&le)?;
    let capacity = table.capacity;
    let mut marks = table.entries;
    if let Some(view) = container {
        for mark in &mut marks {
            *mark = view.filemark_mtf(*mark).await?.ok_or_else(|| {
                le.error(
                    72,
                    format!("filemark table entry {mark} is not a soft filemark of this container"),
                )
            })?;
        }
    }
    if marks.len() as u64 >= u64::from(capacity) {
        return Err(le.error(
            56,
            format!(
                "the filemark table is full ({capacity} entries): this file holds more backup \
                 sets than its final soft filemark can list"
            ),
        ));
    }
    marks.push(last);
    marks.sort_unstable();
    marks.dedup();
    if marks.first() != Some(&first) || marks.iter().any(|&m| m % sfm != 0) {
        return Err(le.error(
            72,
            format!(
                "filemark table {marks:?} does not start at the media header's filemark {first}"
            ),
        ));
    }
    if marks.len() < 2 {
        return Err(le.error(72, "the filemark table delimits no backup set"));
    }
    if marks.last().is_some_and(|&m| m != last) {
        return Err(le.error(
            72,
            format!("filemark table {marks:?} lists filemarks past the final one at {last}"),
        ));
    }
    let sets = marks
        .chunks_exact(2)
        .map(|c| WalkedSet {
            open: c[0],
            close: c[1],
            msls: None,
        })
        .collect();
    Ok(Boundaries {
        sets,
        ends_early: marks.len() % 2 == 0,
    })
}

/// Geometry of the media, from the TAPE block.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Format logical block size: in-set blocks sit at multiples of it from the SSET.
    flbs: u64,
    /// Soft filemark block size.
    sfm: u64,
}

/// The leading blocks of one set.
#[derive(Debug)]
struct SetStart {
    offset: u64,
    sset: SsetBlock,
    volb: VolbBlock,
    msci: SqlConfig,
    msci_len: u64,
    /// Where the block after the MSCI starts.
    msci_end: u64,
}

async fn read_set_start(
    f: &mut Fetcher<'_>,
    at: u64,
    layout: Layout,
) -> Result<SetStart, FormatError> {
    f.prefetch(at, LEAD_WINDOW / 2).await?;
    let sset_block = read_block(f, at, Some(Tag::SSET), &[]).await?;
    let sset = SsetBlock::parse(&sset_block.area(), &sset_block.header)?;
    let volb_block = read_block(f, sset_block.end, Some(Tag::VOLB), &[]).await?;
    check_logical_address(&volb_block, at, layout)?;
    let volb = VolbBlock::parse(&volb_block.area())?;
    let msci_block = read_block(f, volb_block.end, Some(Tag::MSCI), &[Tag::MQCI]).await?;
    check_logical_address(&msci_block, at, layout)?;
    let msci = config_of(&msci_block)?;
    Ok(SetStart {
        offset: at,
        sset,
        volb,
        msci,
        msci_len: msci_block.end - msci_block.offset,
        msci_end: msci_block.end,
    })
}

fn config_of(block: &Block) -> Result<SqlConfig, FormatError> {
    let (at, data) = block.stream_data(Tag::MQCI).ok_or_else(|| {
        FormatError::malformed(block.offset, "configuration block", "no MQCI stream")
    })?;
    parse_config(&Le::new(&data, at, "MQCI stream"))
}

/// In-set blocks sit at `SSET offset + FLA x block size`; anything else means we are lost.
fn check_logical_address(block: &Block, set_at: u64, layout: Layout) -> Result<(), FormatError> {
    let expected = block
        .header
        .format_logical_address
        .checked_mul(layout.flbs)
        .and_then(|d| d.checked_add(set_at));
    if expected != Some(block.offset) {
        return Err(FormatError::malformed(
            block.offset,
            "block position",
            format!(
                "{} block has logical address {} (x {} bytes from the set at {set_at}) but sits \
                 at offset {}",
                block.header.tag, block.header.format_logical_address, layout.flbs, block.offset
            ),
        ));
    }
    Ok(())
}

/// One descriptor block: header, its fixed area, and the data of the streams we asked for.
#[derive(Debug)]
struct Block {
    offset: u64,
    header: BlockHeader,
    area: Bytes,
    streams: Vec<(Tag, u64, Bytes)>,
    /// Offset just past the block's SPAD stream: where the next block starts.
    end: u64,
}

impl Block {
    fn area(&self) -> Le<'_> {
        Le::new(&self.area, self.offset, "descriptor block")
    }

    fn stream_data(&self, tag: Tag) -> Option<(u64, Bytes)> {
        self.streams
            .iter()
            .find(|s| s.0 == tag)
            .map(|s| (s.1, s.2.clone()))
    }
}

/// Read the block at `at`, which must be of type `expect` when given, walking its streams up to `SPAD` and
/// fetching the data of the streams listed in `keep` (all small). Data streams are skipped by
/// their length without being read.
async fn read_block(
    f: &mut Fetcher<'_>,
    at: u64,
    expect: Option<Tag>,
    keep: &[Tag],
) -> Result<Block, FormatError> {
    let raw = f.get(at, BLOCK_HEADER_LEN).await?;
    let header = BlockHeader::parse(&Le::new(&raw, at, "block header"))?;
    let expect = expect.unwrap_or(header.tag);
    if header.tag != expect {
        return Err(FormatError::malformed(
            at,
            "block sequence",
            format!("expected a {expect} block, found {}", header.tag),
        ));
    }
    let ofe = header.first_event_offset;
    if usize::from(ofe) < BLOCK_HEADER_LEN || ofe > MAX_FIRST_EVENT_OFFSET {
        return Err(FormatError::malformed(
            at + 8,
            "block header",
            format!("{expect} block's first stream offset {ofe} is out of range"),
        ));
    }
    let area = f.get(at, usize::from(ofe)).await?;
    let mut streams = Vec::new();
    let mut pos = align4(at + u64::from(ofe));
    for _ in 0..MAX_STREAMS_PER_BLOCK {
        let raw = f.get(pos, STREAM_HEADER_LEN).await?;
        let stream = StreamHeader::parse(&Le::new(&raw, pos, "stream header"))?;
        let data_at = pos + STREAM_HEADER_LEN as u64;
        if keep.contains(&stream.tag) {
            if stream.length > MAX_CONFIG_STREAM {
                return Err(FormatError::malformed(
                    pos + 8,
                    "stream header",
                    format!(
                        "{} stream of {} bytes exceeds the {MAX_CONFIG_STREAM}-byte limit",
                        stream.tag, stream.length
                    ),
                ));
            }
            // Bounded just above, so the cast cannot truncate.
            let len = usize::try_from(stream.length).unwrap_or(usize::MAX);
            streams.push((stream.tag, data_at, f.get(data_at, len).await?));
        }
        let next = data_at
            .checked_add(stream.length)
            .map(align4)
            .ok_or_else(|| {
                FormatError::malformed(pos + 8, "stream header", "stream length overflows")
            })?;
        if stream.tag == Tag::SPAD {
            return Ok(Block {
                offset: at,
                header,
                area,
                streams,
                end: next,
            });
        }
        pos = next;
    }
    Err(FormatError::malformed(
        at,
        "descriptor block",
        format!("{expect} block has more than {MAX_STREAMS_PER_BLOCK} streams and no SPAD"),
    ))
}
