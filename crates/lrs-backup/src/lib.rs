//! Reads SQL Server backup files (`.bak`, `.trn`) the way `RESTORE LABELONLY`,
//! `RESTORE HEADERONLY` and `RESTORE FILELISTONLY` report them, from headers only.
//!
//! The first stage of the LRS pipeline: the Log Replay Service "constructs the backup chain
//! from reading the file headers only". Everything reads through [`RangeRead`], so a local file
//! and a blob take the same code path and a header read fetches a few KiB of the head and tail
//! of a file, never its data pages.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let file = lrs_backup::FileReader::open("Sales_full.bak")?;
//! let media = lrs_backup::read_backup(&file).await?;
//! for set in &media.sets {
//!     println!("{} {} {}", set.header.position, set.header.backup_type_description, set.header.first_lsn);
//! }
//! # Ok(()) }
//! ```

mod build;
mod bytes;
mod collation;
mod config;
mod container;
mod container_writer;
mod error;
mod fetch;
mod layout;
mod lsn;
mod model;
mod mtf;
mod page;
mod range;
mod reader;
mod stream;
mod values;
mod verify;
mod writer;
mod xpress;
mod xpress_encode;

pub use collation::{code_page, collation_name};
pub use container_writer::{ContainerOptions, Framing, compress_xpress, compress_zstd};
pub use error::{BackupError, ErrorKind, FormatError};
pub use layout::{BlockInfo, StreamInfo, mtf_layout};
pub use lsn::{Lsn, ParseLsnError};
pub use model::{
    BackupHeader, BackupMedia, BackupSet, BackupType, ConfigSource, FileListEntry, FileType,
    HeaderPath, MediaLabel, RecoveryModel,
};
pub use mtf::{MediaSetInfo, Tag};
pub use page::{
    BackupChecksum, PAGE_FLAG_CHECKSUM, PAGE_FLAG_TORN_BITS, PAGE_HEADER_LEN, PAGE_SIZE,
    PageChecksumMismatch, PageHeader, PageId, page_checksum, page_checksum_from_sectors,
    page_sector_xors, set_page_checksum, verify_page_checksum, verify_torn_bits,
};
#[cfg(feature = "object-store")]
pub use range::ObjectStoreReader;
pub use range::{CountingReader, FileReader, MemoryReader, RangeRead};
pub use reader::{ReadOptions, read_backup, read_backup_with};
pub use stream::mtf_stream;
pub use values::{BackupDateTime, Guid, ParseDateTimeError, ParseGuidError};
pub use verify::{NoSink, SetSink, SetVerifier, VerifyError, VerifySummary, verify_media};
pub use writer::{BackupWriter, FileSpec, Layout, MediaSpec, PageSource, SetSpec};

/// Internal entry points for the crate's own benchmarks; not part of the API.
#[doc(hidden)]
pub mod __bench {
    /// The XPRESS-Huffman chunk decoder (`benches/decompress.rs`).
    pub fn xpress_decompress_into(
        input: &[u8],
        uncompressed_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        crate::xpress::decompress_into(input, uncompressed_len, out).map_err(|e| e.to_string())
    }

    /// The XPRESS-Huffman chunk encoder (`benches/decompress.rs`).
    pub fn xpress_compress_into(input: &[u8], out: &mut Vec<u8>) {
        crate::xpress_encode::compress_into(input, out);
    }
}

/// Read a backup held in memory, blocking the current thread (fuzzing, tests, small tools).
pub fn read_backup_from_bytes(
    name: &str,
    data: impl Into<::bytes::Bytes>,
    options: ReadOptions,
) -> Result<BackupMedia, BackupError> {
    let reader = MemoryReader::new(name, data);
    futures::executor::block_on(read_backup_with(&reader, options))
}
