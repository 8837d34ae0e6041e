//! XPRESS-Huffman ("LZ77+Huffman", [MS-XCA] §2.1/§2.2) decoder for the compressed chunks of a
//! SQL Server compressed backup (`MSSQLBAK` container, chunk type 0x21).
//!
//! # The format
//!
//! A payload is a sequence of *blocks*, each good for 64 KiB of output:
//!
//! * 256 bytes of code lengths: 512 symbols × 4 bits, symbol `2i` in the low nibble of byte `i`
//!   and symbol `2i + 1` in the high nibble. Length 0 means "symbol unused"; the maximum is 15.
//!   The codes are canonical: ordered by (length, symbol value), assigned consecutively.
//! * A bit stream of 16-bit little-endian words, read most significant bit first, with raw bytes
//!   interleaved between the words (see "bit reader" below).
//!
//! Symbols below 256 are literal bytes. A symbol `s >= 256` is a match with `m = s - 256`:
//!
//! * `m & 15` is the length − 3. The value 15 is an escape: the next *byte* of the input
//!   (taken at the byte cursor, not from the bit buffer) gives length − 18; if that byte is 255,
//!   the next little-endian `u16` gives length − 3 instead (values below 15 are invalid).
//! * `k = m >> 4` is the position of the offset's top bit: the offset is `2^k` plus the next `k`
//!   bits of the bit stream (so `k = 0` is offset 1 and reads no bits).
//! * A match may overlap its own output (offset < length), repeating a pattern.
//!
//! # The bit reader, exactly
//!
//! The raw escape bytes share one cursor with the 16-bit words of the bit buffer, so where they
//! sit depends on exactly when words are loaded. MS-XCA's decoder keeps a 32-bit buffer:
//!
//! * after the table it loads two words (32 bits);
//! * whenever consuming bits leaves fewer than 16 valid bits, it loads the next word right away,
//!   below the remaining bits — after the symbol's code and again after a match's offset bits;
//! * a match's escape bytes are read after the symbol's refill and before its offset bits.
//!
//! So at most 16..32 bits are ever buffered, and a word is loaded only when needed. This module
//! keeps that model bit for bit (a wider, eagerly refilled buffer would read the escape bytes
//! from the wrong place). The next block's table starts at the cursor, i.e. after the up to two
//! words the buffer still holds.
//!
//! # SQL Server's variant (unlike `RtlDecompressBuffer` framing)
//!
//! * Symbol 256 is an ordinary match (offset 1, length 3), not an end-of-stream marker.
//! * Decoding stops as soon as the size declared by the chunk header has been produced; the
//!   payload is padded to whole words and whatever follows is ignored.
//! * A new table starts once a block has produced 64 KiB (checked before each symbol, so a match
//!   may run past the boundary; the next block's 64 KiB count from where it ended).
//! * Every chunk decodes on its own: matches never reach into the previous chunk's output.
//! * The reader runs up to two words ahead of the bits it decodes, so the last symbols of a
//!   chunk are often still in the buffer when the cursor has reached the end of the payload.
//!   That is not an error, and a refill past the end loads zeros; only *consuming* bits from
//!   beyond the end is ("input exhausted"). (A decoder that stops when its cursor reaches the
//!   end, as `xpress-huffman` 0.1.3 does, comes up short on 7 of the 140 chunks of one real
//!   backup.)
//!
//! # Decoding strategy
//!
//! One lookup table of 2^[`FAST_BITS`] entries resolves every code up to that length with one
//! load; the rare longer codes fall back to a canonical per-length search. The word refill after
//! each code is branch-free (whether it is due depends on code lengths, which defeat a branch
//! predictor). Short matches move a fixed 16 bytes, runs of one byte are a `fill`. The output is
//! sized once and written by index, so a chunk costs no allocation beyond growing the caller's
//! buffer. Every input and output access is bounds-checked; corrupt input yields an
//! [`XpressError`], never a panic.
//!
//! [MS-XCA]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-xca/

/// Bytes of code lengths at the start of every block: 512 symbols × 4 bits.
const TABLE_BYTES: usize = 256;
/// Literals 0..=255 plus 256 match symbols.
const NUM_SYMBOLS: usize = 512;
const NUM_SYMBOLS_U16: u16 = 512;
/// Longest code length a 4-bit nibble can hold.
const MAX_CODE_LEN: u32 = 15;
/// Output covered by one block (one code-length table).
const BLOCK_OUTPUT: usize = 1 << 16;
/// Refuse to size an output larger than this: a real chunk declares at most 127.5 KiB (header
/// byte 1 × 512), so anything bigger is a caller bug, not a backup.
const MAX_UNCOMPRESSED_LEN: usize = 16 << 20;
/// Codes up to this length decode with one table load. 2^11 `u16` entries (4 KiB) stay in L1
/// and cost little to rebuild per chunk; on real backups about 1.5 % of symbols have longer codes
/// (5 % at 10 bits). 10, 11 and 12 measured within noise of each other.
const FAST_BITS: u32 = 11;
const FAST_SIZE: usize = 1 << FAST_BITS;

/// Why an XPRESS-Huffman payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XpressReason {
    /// The caller asked for more output than any chunk can declare.
    #[error("declared uncompressed size of {0} bytes exceeds the 16 MiB limit")]
    TooLarge(usize),
    /// Fewer than 256 bytes left where a block's code-length table should start.
    #[error("input exhausted in a Huffman code-length table")]
    TruncatedTable,
    /// The code lengths claim more code space than exists: not a prefix code.
    #[error("invalid Huffman table: the code lengths are over-subscribed (not a prefix code)")]
    OversubscribedTable,
    /// Every code length is zero, yet output is still expected.
    #[error("invalid Huffman table: no symbol has a code")]
    EmptyTable,
    /// The bits match no code of an incomplete table.
    #[error("the bit stream holds a code that the block's Huffman table does not assign")]
    UnassignedCode,
    /// The bit stream or a match-length escape needs bytes past the end of the payload.
    #[error("input exhausted before the declared size was produced")]
    InputExhausted,
    /// A match copies from before the start of this chunk's output.
    #[error(
        "match offset {offset} reaches before the start of the output ({produced} bytes produced)"
    )]
    OffsetBeforeStart {
        /// The match offset.
        offset: usize,
        /// Output bytes produced so far.
        produced: usize,
    },
    /// A match would produce more than the declared size.
    #[error("match of {length} bytes runs past the declared size ({remaining} bytes left)")]
    MatchOverrun {
        /// The match length.
        length: usize,
        /// Output bytes still expected.
        remaining: usize,
    },
    /// A 16-bit match-length escape below 15 (those lengths have shorter encodings).
    #[error("invalid 16-bit match-length escape {0}")]
    BadLengthEscape(u16),
}

/// An XPRESS-Huffman payload that could not be decoded, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("XPRESS-Huffman: {reason} (at payload byte {offset})")]
pub(crate) struct XpressError {
    /// Byte offset within the payload: the table start for table errors, else the bit reader's
    /// byte cursor (up to 4 bytes past the bits being decoded, since the buffer reads ahead).
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) reason: XpressReason,
}

impl XpressError {
    fn at(offset: usize, reason: XpressReason) -> Self {
        Self { offset, reason }
    }
}

/// Decode one XPRESS-Huffman payload, appending exactly `uncompressed_len` bytes to `out`.
///
/// `uncompressed_len` is the chunk header's declared size (≤ 64 KiB for real chunks). `out`'s
/// existing contents are kept and are not part of the match history: chunks decode on their own.
/// On error `out` is left as it was on entry (same length; capacity may have grown).
pub(crate) fn decompress_into(
    input: &[u8],
    uncompressed_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), XpressError> {
    if uncompressed_len > MAX_UNCOMPRESSED_LEN {
        return Err(XpressError::at(0, XpressReason::TooLarge(uncompressed_len)));
    }
    let start = out.len();
    // Size the output once and write by index: a zero fill of 64 KiB costs ~1 % of decoding it,
    // and safe code cannot write into spare capacity without initialising it first.
    out.reserve(uncompressed_len);
    out.resize(start + uncompressed_len, 0);
    let result = match out.get_mut(start..) {
        Some(dst) => decode(input, dst),
        None => Ok(()), // unreachable: `start` was the length before growing
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decode blocks until `dst` is full.
fn decode(input: &[u8], dst: &mut [u8]) -> Result<(), XpressError> {
    let mut table = DecodeTable::new();
    let mut pos = 0usize;
    let mut op = 0usize;
    while op < dst.len() {
        let lengths = input
            .get(pos..)
            .and_then(|rest| rest.first_chunk::<TABLE_BYTES>())
            .ok_or(XpressError::at(pos, XpressReason::TruncatedTable))?;
        table
            .build(lengths)
            .map_err(|reason| XpressError::at(pos, reason))?;
        let mut bits = BitReader::new(input, pos + TABLE_BYTES)?;
        let block_end = dst.len().min(op + BLOCK_OUTPUT);
        op = decode_block(&table, &mut bits, dst, op, block_end)?;
        pos = bits.pos;
    }
    Ok(())
}

/// Decode symbols into `dst` from `op` until at least `block_end` (a match may run past it, up
/// to `dst.len()`); returns the new output position.
#[inline(always)]
fn decode_block(
    table: &DecodeTable,
    bits: &mut BitReader<'_>,
    dst: &mut [u8],
    mut op: usize,
    block_end: usize,
) -> Result<usize, XpressError> {
    while op < block_end {
        let Some((symbol, len)) = table.decode(bits.buf) else {
            return Err(XpressError::at(bits.pos, XpressReason::UnassignedCode));
        };
        bits.consume(len)?;
        if symbol < 256 {
            let [byte, _] = symbol.to_le_bytes();
            // `op < block_end <= dst.len()`: the slot always exists.
            if let Some(slot) = dst.get_mut(op) {
                *slot = byte;
            }
            op += 1;
            continue;
        }
        let m = symbol - 256;
        let mut length = usize::from(m & 15) + 3;
        if length == 18 {
            // Escape bytes come from the byte cursor *after* the symbol's refill: see module docs.
            length = bits.escape_length()?;
        }
        let offset_bits = u32::from(m >> 4);
        let offset = (1usize << offset_bits) + bits.peek(offset_bits);
        bits.consume(offset_bits)?;
        copy_match(dst, op, offset, length).map_err(|reason| XpressError::at(bits.pos, reason))?;
        op += length;
    }
    Ok(op)
}

/// Copy `length` bytes from `offset` back, LZ77 style (the source may overlap the destination).
#[inline(always)]
fn copy_match(dst: &mut [u8], op: usize, offset: usize, length: usize) -> Result<(), XpressReason> {
    let src = op
        .checked_sub(offset)
        .ok_or(XpressReason::OffsetBeforeStart {
            offset,
            produced: op,
        })?;
    let end = op + length;
    if end > dst.len() {
        return Err(XpressReason::MatchOverrun {
            length,
            remaining: dst.len().saturating_sub(op),
        });
    }
    // From here `src < op < end <= dst.len()`, so no slice below can be out of bounds.
    if offset >= length {
        if length <= 16 && offset >= 16 && op + 16 <= dst.len() {
            // Most matches are short: one fixed-size 16-byte move (a load and a store) is cheaper
            // than a variable-length `memmove` call. The bytes past `end` are rewritten later.
            dst.copy_within(src..src + 16, op);
        } else {
            dst.copy_within(src..src + length, op);
        }
    } else if offset == 1 {
        // Runs of one byte (zeroed pages, padding) are the commonest long match: a memset.
        let byte = dst.get(src).copied().unwrap_or_default();
        if let Some(run) = dst.get_mut(op..end) {
            run.fill(byte);
        }
    } else {
        // Overlapping pattern: `dst[src..done]` is periodic with period `offset` and its length
        // is a multiple of it, so copying all of it forward keeps the period; it doubles per step.
        let mut done = op;
        while done < end {
            let step = (done - src).min(end - done);
            dst.copy_within(src..src + step, done);
            done += step;
        }
    }
    Ok(())
}

/// The MS-XCA bit reader: a left-aligned 32-bit buffer holding 16..=32 valid bits between
/// operations, refilled one 16-bit word at a time exactly when it drops below 16.
struct BitReader<'a> {
    input: &'a [u8],
    /// Byte cursor: the next word or escape byte.
    pos: usize,
    /// Valid bits, left-aligned (the next bit is bit 31).
    buf: u32,
    /// Number of valid bits in `buf`.
    count: u32,
    /// A refill ran past the end of the input and loaded zeros instead.
    past_end: bool,
}

impl<'a> BitReader<'a> {
    /// Start a block's bit stream at `pos` (just after its table) with two words loaded.
    fn new(input: &'a [u8], pos: usize) -> Result<Self, XpressError> {
        let mut reader = BitReader {
            input,
            pos,
            buf: 0,
            count: 0,
            past_end: false,
        };
        reader.refill()?;
        reader.refill()?;
        Ok(reader)
    }

    /// The next `n` (0..=15) bits as a number, without consuming them.
    #[inline(always)]
    fn peek(&self, n: u32) -> usize {
        // Two shifts so that `n == 0` yields 0 instead of an over-wide shift.
        ((self.buf >> 1) >> (31 - n)) as usize
    }

    /// Drop `n` (0..=15) bits, loading the next word if fewer than 16 remain.
    #[inline(always)]
    fn consume(&mut self, n: u32) -> Result<(), XpressError> {
        // `count >= 16 > n` holds on entry (every operation ends with a refill to >= 16).
        self.buf <<= n;
        self.count -= n;
        match self.input.get(self.pos..self.pos + 2) {
            // Whether a word is due follows the code lengths, which no branch predictor can
            // guess: load the next word regardless and merge it only when due, without a branch.
            Some(&[lo, hi]) => {
                let due = u32::from(self.count < 16);
                let word = u32::from(u16::from_le_bytes([lo, hi]));
                // When due, `count` is 1..=15 and the shift 1..=15; otherwise it is masked out.
                let shift = 16u32.wrapping_sub(self.count) & 15;
                self.buf |= (word << shift) & due.wrapping_neg();
                self.count += 16 * due;
                self.pos += 2 * due as usize;
            }
            _ if self.count < 16 => self.refill()?,
            _ => {}
        }
        Ok(())
    }

    /// Load the next 16-bit word just below the valid bits (`count` < 16 on entry).
    #[inline(always)]
    fn refill(&mut self) -> Result<(), XpressError> {
        let word = match self.input.get(self.pos..self.pos + 2) {
            Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
            _ => {
                // The final symbols legitimately sit in the buffer while the reader looks one
                // word ahead, so a first word past the end reads as zeros. Needing a second one
                // means some of those zero bits were consumed as data: the payload is short.
                if self.past_end {
                    return Err(XpressError::at(self.pos, XpressReason::InputExhausted));
                }
                self.past_end = true;
                0
            }
        };
        self.buf |= u32::from(word) << (16 - self.count);
        self.count += 16;
        self.pos += 2;
        Ok(())
    }

    /// Read a match-length escape (symbol length nibble 15) from the byte cursor.
    #[inline(never)]
    fn escape_length(&mut self) -> Result<usize, XpressError> {
        let exhausted = XpressError::at(self.pos, XpressReason::InputExhausted);
        let byte = *self.input.get(self.pos).ok_or(exhausted)?;
        self.pos += 1;
        if byte < 255 {
            return Ok(usize::from(byte) + 18);
        }
        let word = match self.input.get(self.pos..self.pos + 2) {
            Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
            _ => return Err(XpressError::at(self.pos, XpressReason::InputExhausted)),
        };
        if word < 15 {
            return Err(XpressError::at(
                self.pos,
                XpressReason::BadLengthEscape(word),
            ));
        }
        self.pos += 2;
        Ok(usize::from(word) + 3)
    }
}

/// A block's canonical Huffman code, ready for decoding.
struct DecodeTable {
    /// Indexed by the next [`FAST_BITS`] bits: `symbol << 4 | length` for codes of at most
    /// `FAST_BITS` bits, 0 for longer (or unassigned) codes.
    fast: [u16; FAST_SIZE],
    /// Symbols with codes longer than `FAST_BITS`, ordered by (length, symbol).
    long_symbols: [u16; NUM_SYMBOLS],
    /// Per length: the first canonical code of that length.
    first_code: [u32; MAX_CODE_LEN as usize + 1],
    /// Per length: number of codes of that length.
    count: [u32; MAX_CODE_LEN as usize + 1],
    /// Per length above `FAST_BITS`: index of its first symbol in `long_symbols`.
    first_long: [u32; MAX_CODE_LEN as usize + 1],
}

impl DecodeTable {
    fn new() -> Self {
        DecodeTable {
            fast: [0; FAST_SIZE],
            long_symbols: [0; NUM_SYMBOLS],
            first_code: [0; MAX_CODE_LEN as usize + 1],
            count: [0; MAX_CODE_LEN as usize + 1],
            first_long: [0; MAX_CODE_LEN as usize + 1],
        }
    }

    /// Build from a block's 256 bytes of packed code lengths.
    fn build(&mut self, packed: &[u8; TABLE_BYTES]) -> Result<(), XpressReason> {
        let length_of = |symbol: u16| -> u8 {
            let byte = packed.get(usize::from(symbol / 2)).copied().unwrap_or(0);
            if symbol.is_multiple_of(2) {
                byte & 15
            } else {
                byte >> 4
            }
        };

        self.count = [0; MAX_CODE_LEN as usize + 1];
        for symbol in 0..NUM_SYMBOLS_U16 {
            if let Some(c) = self.count.get_mut(usize::from(length_of(symbol))) {
                *c += 1;
            }
        }
        self.count[0] = 0;

        // Kraft check: `space` is the code space left at each length, in units of 2^-len.
        // Going negative means over-subscription (no prefix code has these lengths). Leftover
        // space (an incomplete code) is allowed: a compressor that used a single symbol
        // produces one, and unassigned bit patterns are rejected when met.
        let mut space: i64 = 1;
        let mut code: u32 = 0;
        let mut long_index: u32 = 0;
        for len in 1..=MAX_CODE_LEN as usize {
            space = space * 2 - i64::from(self.count[len]);
            if space < 0 {
                return Err(XpressReason::OversubscribedTable);
            }
            code = (code + self.count[len - 1]) << 1;
            self.first_code[len] = code;
            self.first_long[len] = long_index;
            if len > FAST_BITS as usize {
                long_index += self.count[len];
            }
        }
        if space == 1 << MAX_CODE_LEN {
            return Err(XpressReason::EmptyTable);
        }

        // Assign codes in symbol order within each length (canonical order).
        let mut next_code = self.first_code;
        let mut next_long = self.first_long;
        self.fast.fill(0);
        for symbol in 0..NUM_SYMBOLS_U16 {
            let len = length_of(symbol);
            if len == 0 {
                continue;
            }
            let l = usize::from(len);
            let code = next_code[l];
            next_code[l] += 1;
            if u32::from(len) <= FAST_BITS {
                // Every index whose top `len` bits are this code decodes to it.
                let shift = FAST_BITS - u32::from(len);
                let first = (code << shift) as usize;
                let entry = symbol << 4 | u16::from(len);
                // In bounds because the Kraft check passed (code < 2^len).
                if let Some(slots) = self.fast.get_mut(first..first + (1 << shift)) {
                    slots.fill(entry);
                }
            } else {
                if let Some(slot) = self.long_symbols.get_mut(next_long[l] as usize) {
                    *slot = symbol;
                }
                next_long[l] += 1;
            }
        }
        Ok(())
    }

    /// The symbol and code length at the head of `buf` (which holds at least 16 valid bits).
    #[inline(always)]
    fn decode(&self, buf: u32) -> Option<(u16, u32)> {
        let entry = self.fast[(buf >> (32 - FAST_BITS)) as usize];
        if entry != 0 {
            return Some((entry >> 4, u32::from(entry & 15)));
        }
        self.decode_long(buf)
    }

    /// Canonical decoding of codes longer than [`FAST_BITS`]: a code of length `len` is the
    /// `len`-bit prefix falling within that length's consecutive range of codes.
    #[inline(never)]
    fn decode_long(&self, buf: u32) -> Option<(u16, u32)> {
        for len in FAST_BITS + 1..=MAX_CODE_LEN {
            let l = len as usize;
            let index = (buf >> (32 - len)).wrapping_sub(self.first_code[l]);
            if index < self.count[l] {
                let symbol = *self
                    .long_symbols
                    .get((self.first_long[l] + index) as usize)?;
                return Some((symbol, len));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One element of a block's bit stream as the encoder lays it out.
    enum Item {
        /// `n` bits of `value`, most significant first.
        Bits(u32, u32),
        /// A raw byte at the byte cursor (match-length escapes).
        Byte(u8),
    }

    /// Canonical codes for `lengths`, computed the textbook way (sort by (length, symbol) and
    /// count up), independently of the decoder's table builder.
    fn canonical_codes(lengths: &[u8; NUM_SYMBOLS]) -> [u32; NUM_SYMBOLS] {
        let mut order: Vec<usize> = (0..NUM_SYMBOLS).filter(|&s| lengths[s] > 0).collect();
        order.sort_by_key(|&s| (lengths[s], s));
        let mut codes = [0u32; NUM_SYMBOLS];
        let mut code = 0u32;
        let mut prev_len = 0u8;
        for (i, &s) in order.iter().enumerate() {
            if i > 0 {
                code += 1;
            }
            code <<= lengths[s] - prev_len;
            prev_len = lengths[s];
            codes[s] = code;
        }
        codes
    }

    /// Builds XPRESS-Huffman payloads block by block, tracking the expected output.
    struct Encoder {
        lengths: [u8; NUM_SYMBOLS],
        codes: [u32; NUM_SYMBOLS],
        items: Vec<Item>,
        payload: Vec<u8>,
        expected: Vec<u8>,
    }

    impl Encoder {
        fn new(lengths: [u8; NUM_SYMBOLS]) -> Self {
            Encoder {
                codes: canonical_codes(&lengths),
                lengths,
                items: Vec::new(),
                payload: Vec::new(),
                expected: Vec::new(),
            }
        }

        /// Every symbol 9 bits long: the code of a symbol is its value.
        fn flat() -> Self {
            Self::new([9; NUM_SYMBOLS])
        }

        fn symbol(&mut self, symbol: usize) {
            let len = self.lengths[symbol];
            assert!(len > 0, "symbol {symbol} has no code");
            self.items
                .push(Item::Bits(self.codes[symbol], u32::from(len)));
        }

        fn literal(&mut self, byte: u8) -> &mut Self {
            self.symbol(usize::from(byte));
            self.expected.push(byte);
            self
        }

        fn literals(&mut self, bytes: &[u8]) -> &mut Self {
            for &b in bytes {
                self.literal(b);
            }
            self
        }

        /// A match, encoded with whichever length escape it needs.
        fn copy(&mut self, offset: usize, length: usize) -> &mut Self {
            assert!((1..1 << 16).contains(&offset) && (3..=65538).contains(&length));
            let k = usize::BITS - 1 - offset.leading_zeros();
            let nibble = (length - 3).min(15);
            self.symbol(256 + ((k as usize) << 4) + nibble);
            if nibble == 15 {
                if length - 18 < 255 {
                    self.items
                        .push(Item::Byte(u8::try_from(length - 18).expect("< 255")));
                } else {
                    self.items.push(Item::Byte(255));
                    let [lo, hi] = u16::try_from(length - 3).expect("<= 65535").to_le_bytes();
                    self.items.push(Item::Byte(lo));
                    self.items.push(Item::Byte(hi));
                }
            }
            self.items.push(Item::Bits(
                u32::try_from(offset - (1 << k)).expect("< 2^15"),
                k,
            ));
            for _ in 0..length {
                let b = self.expected[self.expected.len() - offset];
                self.expected.push(b);
            }
            self
        }

        /// Lay out the current block by replaying the MS-XCA reader: two words up front, then
        /// one word whenever fewer than 16 bits remain, raw bytes wherever the cursor is then.
        fn end_block(&mut self, next_lengths: Option<[u8; NUM_SYMBOLS]>) -> &mut Self {
            let out = &mut self.payload;
            for pair in self.lengths.chunks(2) {
                out.push(pair[0] | pair[1] << 4);
            }
            let mut slots = vec![out.len(), out.len() + 2];
            out.extend([0; 4]);
            let mut count = 32u32;
            let mut bits: Vec<bool> = Vec::new();
            for item in self.items.drain(..) {
                match item {
                    Item::Bits(value, n) => {
                        bits.extend((0..n).rev().map(|i| value >> i & 1 == 1));
                        count -= n;
                        if count < 16 {
                            slots.push(out.len());
                            out.extend([0; 2]);
                            count += 16;
                        }
                    }
                    Item::Byte(b) => out.push(b),
                }
            }
            assert!(bits.len() <= 16 * slots.len());
            for (j, &slot) in slots.iter().enumerate() {
                let mut word = 0u16;
                for i in 0..16 {
                    word = word << 1 | u16::from(bits.get(16 * j + i).copied().unwrap_or(false));
                }
                out[slot..slot + 2].copy_from_slice(&word.to_le_bytes());
            }
            if let Some(lengths) = next_lengths {
                self.lengths = lengths;
                self.codes = canonical_codes(&lengths);
            }
            self
        }

        /// The finished payload (ending the current block) and its expected output.
        fn finish(&mut self) -> (Vec<u8>, Vec<u8>) {
            self.end_block(None);
            (self.payload.clone(), self.expected.clone())
        }
    }

    fn decode_all(payload: &[u8], len: usize) -> Result<Vec<u8>, XpressError> {
        let mut out = Vec::new();
        decompress_into(payload, len, &mut out).map(|()| out)
    }

    /// Decode and compare with the encoder's expected output.
    fn round_trip(encoder: &mut Encoder) {
        let (payload, expected) = encoder.finish();
        let got = decode_all(&payload, expected.len()).expect("valid stream must decode");
        assert_eq!(got, expected);
    }

    /// Code lengths 1, 2, ..., 14, 15, 15 for 'A'..='O' and one match symbol: a complete code
    /// whose long codes all take the slow path.
    fn deep_lengths() -> [u8; NUM_SYMBOLS] {
        let mut lengths = [0u8; NUM_SYMBOLS];
        for (i, s) in (b'A'..=b'N').enumerate() {
            lengths[usize::from(s)] = u8::try_from(i).expect("< 14") + 1;
        }
        lengths[usize::from(b'O')] = 15;
        lengths[256 + (2 << 4) + 15] = 15; // offsets 4..=7, escaped length
        lengths
    }

    #[test]
    fn literals_only() {
        round_trip(Encoder::flat().literals(b"Hello, XPRESS-Huffman world!"));
    }

    #[test]
    fn zero_length_output_reads_nothing() {
        assert_eq!(decode_all(&[], 0), Ok(Vec::new()));
    }

    #[test]
    fn overlapping_copies_repeat_the_pattern() {
        round_trip(Encoder::flat().literal(b'a').copy(1, 100));
        round_trip(Encoder::flat().literals(b"abc").copy(3, 50).copy(7, 4));
        round_trip(
            Encoder::flat()
                .literals(b"0123456789")
                .copy(10, 1000)
                .copy(2, 3),
        );
    }

    #[test]
    fn symbol_256_is_an_ordinary_match() {
        let mut encoder = Encoder::flat();
        encoder.literals(b"ab").symbol(256);
        encoder.expected.extend(b"bbb");
        round_trip(&mut encoder);
    }

    #[test]
    fn length_escapes_byte_and_u16() {
        // 17 (no escape), 18 and 272 (one byte), 273 and 5000 (255 + u16), mixed with literals
        // so that the escape bytes land between refills at different bit positions.
        round_trip(
            Encoder::flat()
                .literals(b"xy")
                .copy(2, 17)
                .literal(b'z')
                .copy(1, 18)
                .copy(3, 272)
                .literals(b"pq")
                .copy(5, 273)
                .literal(b'r')
                .copy(1, 5000)
                .copy(5000, 65538),
        );
    }

    #[test]
    fn long_codes_decode_through_the_slow_path() {
        let mut encoder = Encoder::new(deep_lengths());
        encoder
            .literals(b"ABCDEFGHIJKLMNO")
            .literals(b"ONMLKJIHGFEDCBA");
        encoder.copy(5, 40).copy(4, 300).literal(b'O');
        round_trip(&mut encoder);
    }

    #[test]
    fn a_new_table_follows_each_64k_of_output() {
        // Block 1 ends with a match running 2 bytes past 64 KiB; block 2 counts from there and
        // uses a different table, and may copy across the block boundary.
        let mut encoder = Encoder::flat();
        encoder.literal(b'z').copy(1, 65537);
        assert_eq!(encoder.expected.len(), BLOCK_OUTPUT + 2);
        encoder.end_block(Some(deep_lengths()));
        encoder.literals(b"ABC").copy(6, 100);
        round_trip(&mut encoder);
    }

    #[test]
    fn stops_at_the_declared_size_and_ignores_the_rest() {
        let (payload, expected) = Encoder::flat().literals(b"0123456789").finish();
        assert_eq!(decode_all(&payload, 4), Ok(expected[..4].to_vec()));
        let mut padded = payload.clone();
        padded.extend([0xAB; 7]);
        assert_eq!(decode_all(&padded, 10), Ok(expected));
    }

    #[test]
    fn appends_to_existing_output_and_restores_it_on_error() {
        let (payload, _) = Encoder::flat().literals(b"data").finish();
        let mut out = b"prefix:".to_vec();
        decompress_into(&payload, 4, &mut out).expect("valid");
        assert_eq!(out, b"prefix:data");
        // A match may not reach into the earlier output: chunks decode on their own.
        let mut out = b"prefix:".to_vec();
        let err = decompress_into(&Encoder::flat().copy_from_nothing(), 3, &mut out);
        assert!(matches!(
            err.map_err(|e| e.reason),
            Err(XpressReason::OffsetBeforeStart {
                offset: 1,
                produced: 0
            })
        ));
        assert_eq!(out, b"prefix:");
    }

    impl Encoder {
        /// A stream that starts with a match (offset 1, length 3) before any output.
        fn copy_from_nothing(&mut self) -> Vec<u8> {
            self.symbol(256);
            self.items.push(Item::Bits(0, 0));
            self.finish().0
        }
    }

    #[test]
    fn rejects_bad_tables() {
        let over = [0x11; TABLE_BYTES]; // 512 codes of 1 bit
        assert_eq!(
            decode_all(&[over.as_slice(), &[0; 8]].concat(), 1),
            Err(XpressError::at(0, XpressReason::OversubscribedTable))
        );
        let empty = [0; TABLE_BYTES + 8];
        assert_eq!(
            decode_all(&empty, 1),
            Err(XpressError::at(0, XpressReason::EmptyTable))
        );
        // Only '0' has a (1-bit) code "0": the bit pattern "1" is unassigned.
        let mut lengths = [0u8; NUM_SYMBOLS];
        lengths[usize::from(b'0')] = 1;
        let mut single = Encoder::new(lengths);
        single.literals(b"000");
        let (payload, expected) = single.finish();
        assert_eq!(decode_all(&payload, 3), Ok(expected));
        let mut ones = payload.clone();
        ones[256..].fill(0xFF);
        assert_eq!(
            decode_all(&ones, 3).map_err(|e| e.reason),
            Err(XpressReason::UnassignedCode)
        );
    }

    #[test]
    fn rejects_truncated_input() {
        let (payload, expected) = Encoder::flat()
            .literals(b"truncate me please")
            .copy(1, 300)
            .literals(b"!")
            .finish();
        assert_eq!(
            decode_all(&payload[..100], expected.len()),
            Err(XpressError::at(0, XpressReason::TruncatedTable))
        );
        for cut in 0..payload.len() {
            match decode_all(&payload[..cut], expected.len()) {
                // Only the zero padding of the last word may be missing.
                Ok(got) => {
                    assert!(cut + 2 >= payload.len(), "cut at {cut} decoded");
                    assert_eq!(got, expected);
                }
                Err(e) => assert!(
                    cut < 256 || e.reason == XpressReason::InputExhausted,
                    "cut at {cut}: {e}"
                ),
            }
        }
        // More output than the stream holds: runs out of input.
        assert_eq!(
            decode_all(&payload, expected.len() + 100).map_err(|e| e.reason),
            Err(XpressReason::InputExhausted)
        );
    }

    #[test]
    fn rejects_matches_outside_the_output() {
        let (payload, _) = Encoder::flat().literal(b'a').copy(1, 10).finish();
        assert_eq!(
            decode_all(&payload, 5).map_err(|e| e.reason),
            Err(XpressReason::MatchOverrun {
                length: 10,
                remaining: 4
            })
        );
        // Offset 4 with two bytes produced (the encoder's `copy` would refuse to build it).
        let mut encoder = Encoder::flat();
        encoder.literals(b"ab").symbol(256 + (2 << 4));
        encoder.items.push(Item::Bits(0, 2)); // offset 4 with two bytes produced
        let (payload, _) = encoder.finish();
        assert_eq!(
            decode_all(&payload, 10).map_err(|e| e.reason),
            Err(XpressReason::OffsetBeforeStart {
                offset: 4,
                produced: 2
            })
        );
    }

    #[test]
    fn rejects_short_u16_length_escape() {
        let mut encoder = Encoder::flat();
        encoder.literal(b'a').symbol(256 + 15);
        encoder
            .items
            .extend([Item::Byte(255), Item::Byte(14), Item::Byte(0)]);
        let (payload, _) = encoder.finish();
        assert_eq!(
            decode_all(&payload, 100).map_err(|e| e.reason),
            Err(XpressReason::BadLengthEscape(14))
        );
    }

    #[test]
    fn rejects_oversized_requests() {
        assert_eq!(
            decode_all(&[], MAX_UNCOMPRESSED_LEN + 1),
            Err(XpressError::at(
                0,
                XpressReason::TooLarge(MAX_UNCOMPRESSED_LEN + 1)
            ))
        );
    }

    /// A random complete prefix code over all 512 symbols with lengths up to 15: split random
    /// leaves of a code tree until there are 512, then deal the lengths out at random.
    fn random_lengths(splits: &[u16], deal: &[u16]) -> [u8; NUM_SYMBOLS] {
        let mut leaves = vec![0u8];
        for &pick in splits.iter().take(NUM_SYMBOLS - 1) {
            let splittable: Vec<usize> = (0..leaves.len()).filter(|&j| leaves[j] < 15).collect();
            let j = splittable[usize::from(pick) % splittable.len()];
            leaves[j] += 1;
            let len = leaves[j];
            leaves.push(len);
        }
        let mut lengths = [0u8; NUM_SYMBOLS];
        let mut symbols: Vec<usize> = (0..NUM_SYMBOLS).collect();
        for (i, &d) in deal.iter().enumerate().take(NUM_SYMBOLS) {
            symbols.swap(i, i + usize::from(d) % (NUM_SYMBOLS - i));
        }
        for (s, len) in symbols.into_iter().zip(leaves) {
            lengths[s] = len;
        }
        lengths
    }

    #[derive(Debug, Clone)]
    enum Op {
        Literal(u8),
        Copy { offset: u16, length: u32 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(Op::Literal),
            2 => (1u16..64, 3u32..40).prop_map(|(offset, length)| Op::Copy { offset, length }),
            1 => (any::<u16>(), 3u32..1000).prop_map(|(offset, length)| Op::Copy { offset, length }),
            1 => (any::<u16>(), 3u32..=65538).prop_map(|(offset, length)| Op::Copy { offset, length }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_streams_round_trip(
            splits in proptest::collection::vec(any::<u16>(), NUM_SYMBOLS),
            deal in proptest::collection::vec(any::<u16>(), NUM_SYMBOLS),
            ops in proptest::collection::vec(op(), 1..400),
        ) {
            let mut encoder = Encoder::new(random_lengths(&splits, &deal));
            let mut in_block = 0usize;
            for op in ops {
                if in_block >= BLOCK_OUTPUT {
                    let lengths = random_lengths(&deal, &splits);
                    encoder.end_block(Some(lengths));
                    // The next block's 64 KiB count from where the last match ended.
                    in_block = 0;
                }
                let before = encoder.expected.len();
                match op {
                    Op::Literal(b) => { encoder.literal(b); }
                    Op::Copy { offset, length } if before > 0 => {
                        let offset = usize::from(offset).clamp(1, before);
                        encoder.copy(offset, length as usize);
                    }
                    Op::Copy { .. } => { encoder.literal(0); }
                }
                in_block += encoder.expected.len() - before;
            }
            let (payload, expected) = encoder.finish();
            let mut out = vec![7u8; 3];
            decompress_into(&payload, expected.len(), &mut out).expect("valid stream");
            prop_assert_eq!(&out[..3], &[7u8; 3]);
            prop_assert!(out[3..] == expected[..]);
        }

        #[test]
        fn corrupt_streams_fail_cleanly(
            ops in proptest::collection::vec(op(), 1..60),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            extra in 0usize..70_000,
        ) {
            let mut encoder = Encoder::flat();
            for op in ops {
                match op {
                    Op::Copy { offset, length } if !encoder.expected.is_empty() => {
                        let offset = usize::from(offset).clamp(1, encoder.expected.len());
                        encoder.copy(offset, length.min(3000) as usize);
                    }
                    Op::Literal(b) => { encoder.literal(b); }
                    Op::Copy { .. } => { encoder.literal(1); }
                }
            }
            let (mut payload, expected) = encoder.finish();
            for (at, value) in flips {
                let n = payload.len();
                payload[at % n] ^= value;
            }
            let mut out = Vec::new();
            match decompress_into(&payload, expected.len() + extra % 3, &mut out) {
                Ok(()) => prop_assert_eq!(out.len(), expected.len() + extra % 3),
                Err(_) => prop_assert!(out.is_empty()),
            }
            let _ = decompress_into(&payload, extra, &mut out);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            len in 0usize..70_000,
        ) {
            let mut out = Vec::new();
            if decompress_into(&bytes, len, &mut out).is_ok() {
                prop_assert_eq!(out.len(), len);
            }
        }
    }

    /// A chunk of the `MSSQLBAK` v2 chain (docs/references.md#compressed-backups).
    struct Chunk<'a> {
        file_offset: usize,
        kind: u8,
        declared: usize,
        payload: &'a [u8],
    }

    /// Walk the chunk chain from the 480-byte file header to the 0x2C end-of-set trailer.
    fn chunks(file: &[u8]) -> Vec<Chunk<'_>> {
        const FILE_HEADER: usize = 480;
        const CHUNK_HEADER: usize = 28;
        const SECTOR: usize = 512;
        assert!(file.starts_with(b"MSSQLBAK"));
        let mut chunks = Vec::new();
        let mut at = FILE_HEADER;
        loop {
            let header = file
                .get(at..at + CHUNK_HEADER)
                .expect("chain ends before its trailer");
            let kind = header[0];
            let declared = usize::from(header[1]) * SECTOR;
            let payload_len = usize::from(u16::from_le_bytes([header[2], header[3]]));
            let (start, len) = match kind {
                0x21 => (at + CHUNK_HEADER, payload_len),
                // Raw: one 512-byte soft filemark at the next sector boundary after the header.
                0x24 => ((at + CHUNK_HEADER).next_multiple_of(SECTOR), SECTOR),
                0x2C => break,
                other => panic!("unknown chunk type {other:#04x} at {at:#x}"),
            };
            let payload = file
                .get(start..start + len)
                .expect("payload inside the file");
            chunks.push(Chunk {
                file_offset: at,
                kind,
                declared,
                payload,
            });
            at = start + len;
        }
        chunks
    }

    /// Differential test on a real SQL Server compressed backup: every compressed chunk must
    /// decode exactly as the `xpress-huffman` crate decodes it, and the decoded stream must be
    /// the MTF stream (checksum-valid block headers where the format puts them).
    #[test]
    fn real_fixture_matches_xpress_huffman() {
        let Some(root) = lrs_testkit::real_fixtures() else {
            return;
        };
        let path = root.join("Guilderm-SC-701_ClassWork/northwind.bak");
        let file = std::fs::read(&path).expect("northwind.bak must be readable");
        let chunks = chunks(&file);

        let mut stream = Vec::new();
        let mut out = Vec::new();
        let mut compressed = 0;
        let mut short = 0;
        let mut missing = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            if chunk.kind == 0x24 {
                stream.extend_from_slice(chunk.payload);
                continue;
            }
            compressed += 1;
            out.clear();
            decompress_into(chunk.payload, chunk.declared, &mut out).unwrap_or_else(|e| {
                panic!("chunk {i} at file offset {:#x}: {e}", chunk.file_offset)
            });
            assert_eq!(out.len(), chunk.declared, "chunk {i}");
            // xpress-huffman stops as soon as its byte cursor reaches the end of the input,
            // dropping the last symbol(s) still in its bit buffer: on some chunks its output
            // is a prefix of ours. Four zero bytes of padding let it finish the stream.
            let unpadded = xpress_huffman::decompress(chunk.payload, chunk.declared)
                .expect("xpress-huffman decodes every real chunk");
            assert!(
                out.starts_with(&unpadded),
                "chunk {i}: xpress-huffman decodes otherwise"
            );
            if unpadded.len() < chunk.declared {
                short += 1;
                missing += chunk.declared - unpadded.len();
            }
            let padded = [chunk.payload, &[0; 4]].concat();
            let oracle = xpress_huffman::decompress(&padded, chunk.declared)
                .expect("xpress-huffman decodes every real chunk");
            assert!(
                out == oracle,
                "chunk {i} at file offset {:#x} differs from xpress-huffman",
                chunk.file_offset
            );
            if i == 0 {
                assert_eq!(out.len(), 1024);
                assert!(out.starts_with(b"TAPE"));
            }
            stream.extend_from_slice(&out);
        }
        assert!(compressed > 100, "only {compressed} compressed chunks");

        use crate::mtf::{Tag, is_block};
        let block_at = |offset: usize, tag: Tag| {
            assert!(
                stream.get(offset..).is_some_and(|rest| is_block(rest, tag)),
                "no checksum-valid {tag} block at decoded offset {offset}"
            );
        };
        block_at(0, Tag::TAPE);
        block_at(1024, Tag::SFMB); // the raw chunk
        block_at(1536, Tag::SSET);
        let known = [
            Tag::TAPE,
            Tag::SFMB,
            Tag::SSET,
            Tag::VOLB,
            Tag::MSCI,
            Tag::MSDA,
            Tag::MSTL,
            Tag::MSLS,
        ];
        let blocks: Vec<(usize, Tag)> = (0..stream.len())
            .step_by(512)
            .filter_map(|at| {
                let tag = Tag(stream.get(at..at + 4)?.try_into().ok()?);
                (known.contains(&tag) && is_block(&stream[at..], tag)).then_some((at, tag))
            })
            .collect();
        // The head of a backup set, then the data pages (no block headers), then the log
        // (MSTL) and the final configuration (MSLS); the trailing SFMB is stored raw after
        // the 0x2C trailer, outside the chain walked here.
        assert_eq!(
            blocks[..6],
            [
                (0, Tag::TAPE),
                (1024, Tag::SFMB),
                (1536, Tag::SSET),
                (2560, Tag::VOLB),
                (3584, Tag::MSCI),
                (7680, Tag::MSDA),
            ]
        );
        let (last_at, last) = blocks[blocks.len() - 1];
        assert_eq!(last, Tag::MSLS);
        assert!(last_at > stream.len() - 8192);
        assert!(
            blocks[6..blocks.len() - 1]
                .iter()
                .all(|&(_, tag)| tag == Tag::MSTL)
        );
        assert!(blocks.len() > 8);
        eprintln!(
            "{compressed} compressed chunks decoded ({} bytes of MTF stream); xpress-huffman \
             without padding stopped short on {short} ({missing} bytes)",
            stream.len()
        );
    }
}
