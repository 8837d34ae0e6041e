//! Fuzz target for the backup header reader.
//!
//! Feeds arbitrary bytes to `lrs_backup::read_backup_from_bytes` in every mode: strict, with
//! `allow_truncated`, and with `block_walk` (the fallback that walks every block instead of
//! trusting the final soft filemark's table); the fast path itself falls back to the tail
//! search and the walk on inputs whose layout surprises it. Checks only that each call returns
//! (`Ok` or `Err`) without panicking, overflowing, or aborting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrs_backup::{ReadOptions, read_backup_from_bytes};

fuzz_target!(|data: &[u8]| {
    for (allow_truncated, block_walk) in [(false, false), (true, false), (false, true)] {
        let options = ReadOptions {
            allow_truncated,
            block_walk,
        };
        let _ = read_backup_from_bytes("fuzz.bak", data.to_vec(), options);
    }
});
