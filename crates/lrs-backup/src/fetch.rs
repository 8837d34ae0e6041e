//! A small range cache between the header reader and a [`RangeRead`]: the reader asks for the
//! exact bytes it needs; the fetcher serves them from windows it already read, so a typical
//! header read is two requests (file head, file tail).

use bytes::Bytes;

use crate::error::{ErrorKind, FormatError};
use crate::range::RangeRead;

/// Windows kept at once; a fast-path read uses at most a handful.
const MAX_WINDOWS: usize = 16;

/// Cached windows of one object.
#[derive(Debug)]
pub(crate) struct Fetcher<'r> {
    reader: &'r dyn RangeRead,
    size: u64,
    windows: Vec<(u64, Bytes)>,
}

impl<'r> Fetcher<'r> {
    pub(crate) fn new(reader: &'r dyn RangeRead, size: u64) -> Self {
        Self {
            reader,
            size,
            windows: Vec::new(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Read `[offset, offset + len)` (clamped to the object) into the cache unless covered.
    pub(crate) async fn prefetch(&mut self, offset: u64, len: u64) -> Result<(), FormatError> {
        let start = offset.min(self.size);
        let end = offset.saturating_add(len).min(self.size);
        if start < end && self.cached(start, end).is_none() {
            self.fetch(start, end).await?;
        }
        Ok(())
    }

    /// Exactly `len` bytes at `offset`; a range past the end is a truncation error.
    pub(crate) async fn get(&mut self, offset: u64, len: usize) -> Result<Bytes, FormatError> {
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| {
                FormatError::new(
                    offset,
                    ErrorKind::Truncated(format!(
                        "needs {len} bytes at offset {offset} but the file is only {} bytes",
                        self.size
                    )),
                )
            })?;
        if let Some(bytes) = self.cached(offset, end) {
            return Ok(bytes);
        }
        self.fetch(offset, end).await?;
        self.cached(offset, end)
            .ok_or_else(|| FormatError::new(offset, ErrorKind::Io("short read".into())))
    }

    fn cached(&self, start: u64, end: u64) -> Option<Bytes> {
        self.windows.iter().find_map(|(at, bytes)| {
            let rel_start = usize::try_from(start.checked_sub(*at)?).ok()?;
            let rel_end = usize::try_from(end - at).ok()?;
            (rel_end <= bytes.len()).then(|| bytes.slice(rel_start..rel_end))
        })
    }

    async fn fetch(&mut self, start: u64, end: u64) -> Result<(), FormatError> {
        let bytes = self.reader.read_range(start..end).await.map_err(|e| {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<FormatError>())
            {
                // A decoding view reports format errors in the compressed file's own offsets.
                Some(format) => format.clone(),
                None => FormatError::new(start, ErrorKind::Io(e.to_string())),
            }
        })?;
        if bytes.len() as u64 != end - start {
            return Err(FormatError::new(
                start,
                ErrorKind::Io(format!(
                    "asked for {} bytes, storage returned {}",
                    end - start,
                    bytes.len()
                )),
            ));
        }
        // A block walk fetches one window per block: keep memory (and the linear lookup above)
        // bounded by dropping the oldest window after the first (the file's head, reused most).
        if self.windows.len() >= MAX_WINDOWS {
            self.windows.remove(1);
        }
        self.windows.push((start, bytes));
        Ok(())
    }
}
