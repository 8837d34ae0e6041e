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
mod error;
mod fetch;
mod lsn;
mod model;
mod mtf;
mod range;
mod reader;
mod values;

pub use collation::{code_page, collation_name};
pub use error::{BackupError, ErrorKind, FormatError};
pub use lsn::{Lsn, ParseLsnError};
pub use model::{
    BackupHeader, BackupMedia, BackupSet, BackupType, ConfigSource, FileListEntry, FileType,
    MediaLabel, RecoveryModel,
};
pub use mtf::MediaSetInfo;
#[cfg(feature = "object-store")]
pub use range::ObjectStoreReader;
pub use range::{CountingReader, FileReader, MemoryReader, RangeRead};
pub use reader::{ReadOptions, read_backup, read_backup_with};
pub use values::{BackupDateTime, Guid};

/// Read a backup held in memory, blocking the current thread (fuzzing, tests, small tools).
pub fn read_backup_from_bytes(
    name: &str,
    data: impl Into<::bytes::Bytes>,
    options: ReadOptions,
) -> Result<BackupMedia, BackupError> {
    let reader = MemoryReader::new(name, data);
    futures::executor::block_on(read_backup_with(&reader, options))
}
