//! Wrap a plain (uncompressed) MTF backup in a ZSTD-compressed `MSSQLBAK` container with
//! `lrs_backup::compress_zstd` and the default `ContainerOptions` (v2 framing, level 3).
//!
//! Used by `fuzz/run.sh` to seed the `mtf_stream` fuzz corpus with ZSTD containers (no real
//! ZSTD fixture exists).
//!
//! ```sh
//! cargo run --release -p lrs-backup --example zstd_container -- IN.trn OUT.bak
//! ```

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(output), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: zstd_container PLAIN_BACKUP OUTPUT".into());
    };
    let mtf = std::fs::read(&input)?;
    let container = lrs_backup::compress_zstd(&mtf, lrs_backup::ContainerOptions::default())?;
    std::fs::write(&output, &container)?;
    eprintln!(
        "zstd_container: {} ({} bytes) -> {} ({} bytes)",
        input.to_string_lossy(),
        mtf.len(),
        output.to_string_lossy(),
        container.len()
    );
    Ok(())
}
