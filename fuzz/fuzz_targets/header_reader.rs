//! Fuzz target for the backup header reader.
//!
//! Feeds arbitrary bytes to `lrs_backup::read_backup_from_bytes`, once in strict mode and once
//! with `allow_truncated`, and checks only that it returns (`Ok` or `Err`) without panicking,
//! overflowing, or aborting. The result itself is not inspected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrs_backup::{ReadOptions, read_backup_from_bytes};

fuzz_target!(|data: &[u8]| {
    for allow_truncated in [false, true] {
        let _ = read_backup_from_bytes("fuzz.bak", data.to_vec(), ReadOptions { allow_truncated });
    }
});
