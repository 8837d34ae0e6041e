//! Fuzz target for the restore-time verifier.
//!
//! Reads the headers of arbitrary bytes (lenient, so truncated inputs still give sets) and, for
//! every set found, feeds its MTF range to `lrs_backup::SetVerifier` (both `WITH CHECKSUM` and
//! `NO_CHECKSUM`) in pieces whose sizes come from the input's first byte, then `finish`es it;
//! `verify_media` (the `lrs verify` path) runs over the whole input too. Checks only that
//! nothing panics, overflows, aborts or hangs: a restore feeds the verifier whatever storage
//! holds.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use lrs_backup::{MemoryReader, RangeRead, ReadOptions, SetVerifier, read_backup_from_bytes};

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions {
        allow_truncated: true,
        ..ReadOptions::default()
    };
    let Ok(media) = read_backup_from_bytes("fuzz.bak", data.to_vec(), options) else {
        return;
    };
    let piece = usize::from(data.first().copied().unwrap_or(1)).max(1) * 97;
    if media.label.is_compressed == 0 {
        for set in &media.sets {
            let (Ok(start), Ok(end)) = (
                usize::try_from(set.start_offset),
                usize::try_from(set.data_end_offset),
            ) else {
                continue;
            };
            let Some(bytes) = data.get(start..end.max(start)) else {
                continue;
            };
            for mut verifier in [SetVerifier::new(set), SetVerifier::no_checksum(set)] {
                let fed = bytes.chunks(piece).try_for_each(|p| verifier.feed(p));
                if fed.is_ok() {
                    let _ = verifier.finish();
                }
            }
        }
    }
    let reader: Arc<dyn RangeRead> = Arc::new(MemoryReader::new("fuzz.bak", data.to_vec()));
    let _ = futures::executor::block_on(lrs_backup::verify_media(reader, &media, &mut |_| {}));
});
