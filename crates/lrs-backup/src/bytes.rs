//! Bounds-checked little-endian access to a slice that sits at a known file offset.
//!
//! Every accessor returns a [`FormatError`] carrying the absolute offset instead of panicking,
//! so no length or offset read from a file can index out of bounds.

use crate::error::FormatError;

/// A view of `buf`, which holds the file bytes starting at absolute offset `base`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Le<'a> {
    buf: &'a [u8],
    base: u64,
    what: &'static str,
}

impl<'a> Le<'a> {
    /// View `buf` (file bytes from `base`), naming the structure for error messages.
    pub(crate) fn new(buf: &'a [u8], base: u64, what: &'static str) -> Self {
        Self { buf, base, what }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Absolute file offset of byte `at` of this view.
    pub(crate) fn abs(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    pub(crate) fn slice(&self, at: usize, len: usize) -> Result<&'a [u8], FormatError> {
        at.checked_add(len)
            .and_then(|end| self.buf.get(at..end))
            .ok_or_else(|| {
                FormatError::malformed(
                    self.abs(at),
                    self.what,
                    format!(
                        "needs {len} bytes at +{at} but only {} are available",
                        self.buf.len().saturating_sub(at)
                    ),
                )
            })
    }

    /// A sub-view starting at `at`, `len` bytes long, for a nested structure.
    pub(crate) fn sub(
        &self,
        at: usize,
        len: usize,
        what: &'static str,
    ) -> Result<Le<'a>, FormatError> {
        Ok(Le::new(self.slice(at, len)?, self.abs(at), what))
    }

    pub(crate) fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], FormatError> {
        let s = self.slice(at, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(crate) fn u8(&self, at: usize) -> Result<u8, FormatError> {
        Ok(self.array::<1>(at)?[0])
    }

    pub(crate) fn u16(&self, at: usize) -> Result<u16, FormatError> {
        self.array(at).map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&self, at: usize) -> Result<u32, FormatError> {
        self.array(at).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&self, at: usize) -> Result<u64, FormatError> {
        self.array(at).map(u64::from_le_bytes)
    }

    /// A malformed-structure error at byte `at` of this view.
    pub(crate) fn error(&self, at: usize, why: impl Into<String>) -> FormatError {
        FormatError::malformed(self.abs(at), self.what, why)
    }
}

/// XOR of the little-endian u16 words of `bytes` (MTF block and stream header checksum).
pub(crate) fn xor_u16_words(bytes: &[u8]) -> u16 {
    bytes
        .chunks_exact(2)
        .fold(0u16, |acc, w| acc ^ u16::from_le_bytes([w[0], w[1]]))
}

/// Decode a UTF-16LE string (SQL Server writes string type 2), trimming trailing NULs.
pub(crate) fn utf16le(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]));
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or('\u{FFFD}'))
        .collect();
    s.trim_end_matches('\0').to_string()
}

/// Round `n` up to the next multiple of 4 (MTF stream alignment).
pub(crate) fn align4(n: u64) -> u64 {
    n.div_ceil(4) * 4
}
