//! Fuzz target for the streaming MTF decompressor.
//!
//! Feeds arbitrary bytes, through a `lrs_backup::MemoryReader`, to `lrs_backup::mtf_stream`
//! (plain `TAPE` files are passed through; `MSSQLBAK` containers are decoded chunk by chunk:
//! XPRESS-Huffman, ZSTD, raw chunks) and drives the stream with `futures::executor::block_on`,
//! consuming every piece until the end or the first error. Output is capped at 64 MiB: past
//! that the stream is dropped unfinished. If the stream ends without an error, the
//! concatenated output is walked by `lrs_backup::mtf_layout` (result ignored). The target
//! checks only that nothing panics, overflows, aborts or hangs.
#![no_main]

use std::sync::Arc;

use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use lrs_backup::{MemoryReader, RangeRead, mtf_layout, mtf_stream};

/// Stop consuming the stream once this much output has been produced.
const MAX_OUTPUT: usize = 64 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let reader: Arc<dyn RangeRead> = Arc::new(MemoryReader::new("fuzz.bak", data.to_vec()));
    let output = futures::executor::block_on(async {
        let mut stream = mtf_stream(reader);
        let mut output = Vec::new();
        while let Some(piece) = stream.next().await {
            let piece = piece.ok()?;
            if output.len() + piece.len() > MAX_OUTPUT {
                return None;
            }
            output.extend_from_slice(&piece);
        }
        Some(output)
    });
    if let Some(output) = output {
        let _ = mtf_layout(&output);
    }
});
