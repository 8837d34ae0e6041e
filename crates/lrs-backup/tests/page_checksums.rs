//! Page headers and `PAGE_VERIFY` protections on every data page of every real full and
//! differential backup in `$LRS_REAL_FIXTURES`: the pages are the `MQDA` streams of the `MSDA`
//! blocks (2 filler bytes, then whole 8 KiB pages), found with [`lrs_backup::mtf_layout`] in
//! the MTF stream (decoded with [`lrs_backup::mtf_stream`] for compressed files).
//!
//! A page is *formatted* when its header version is 1 and its own page id is not `(0:0)`.
//! Backups copy whole extents, so they also carry pages that are not formatted: all-zero pages
//! (never written), stale disk contents of never-formatted pages, and the `(0:0)` filler pages
//! a striped backup pads one member with. Those are counted and printed, not verified. Every
//! formatted page must name a file of the backup's FILELISTONLY, re-encode to the same 96
//! header bytes, and pass its protection: the page checksum when flag `0x200` is set, the
//! torn-page bits when flag `0x100` is set.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use lrs_backup::{
    BackupType, FileType, MemoryReader, PAGE_HEADER_LEN, PAGE_SIZE, PageHeader, RangeRead,
    ReadOptions, Tag, mtf_layout, mtf_stream, page_checksum, read_backup_from_bytes,
    verify_page_checksum, verify_torn_bits,
};
use support::{every_real_file, fixtures};

/// Length of an MTF stream header.
const STREAM_HEADER_LEN: u64 = 22;
/// Filler bytes at the start of an `MQDA` stream's data.
const MQDA_FILLER: usize = 2;

/// Page counts of one file (or one SQL Server version).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    files: usize,
    pages: usize,
    zero: usize,
    unformatted: usize,
    formatted: usize,
    checksummed: usize,
    torn_bits: usize,
    unprotected: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.files += other.files;
        self.pages += other.pages;
        self.zero += other.zero;
        self.unformatted += other.unformatted;
        self.formatted += other.formatted;
        self.checksummed += other.checksummed;
        self.torn_bits += other.torn_bits;
        self.unprotected += other.unprotected;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pages: {} formatted ({} checksum OK, {} torn bits OK, {} unprotected), \
             {} all-zero, {} unformatted",
            self.pages,
            self.formatted,
            self.checksummed,
            self.torn_bits,
            self.unprotected,
            self.zero,
            self.unformatted
        )
    }
}

/// The whole MTF stream of a backup file: the file itself when plain, decoded when compressed.
fn mtf_bytes(name: &str, data: Bytes) -> Vec<u8> {
    if data.starts_with(b"TAPE") {
        return data.to_vec();
    }
    let reader: Arc<dyn RangeRead> = Arc::new(MemoryReader::new(name, data));
    let mut stream = mtf_stream(reader);
    let mut mtf = Vec::new();
    futures::executor::block_on(async {
        while let Some(piece) = stream.next().await {
            mtf.extend_from_slice(&piece.unwrap_or_else(|e| panic!("{name}: {e}")));
        }
    });
    mtf
}

/// Every page of every non-empty `MQDA` stream of `mtf`, in stream order.
fn data_pages<'a>(name: &str, mtf: &'a [u8]) -> Vec<&'a [u8; PAGE_SIZE]> {
    let layout = mtf_layout(mtf).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut pages = Vec::new();
    for block in layout.iter().filter(|b| b.tag == Tag::MSDA) {
        for stream in block.streams.iter().filter(|s| s.tag == Tag(*b"MQDA")) {
            if stream.length == 0 {
                continue; // the zero-length terminator
            }
            let start = usize::try_from(stream.offset + STREAM_HEADER_LEN).expect("offset");
            let len = usize::try_from(stream.length).expect("length");
            let data = &mtf[start..start + len];
            assert_eq!(
                (len - MQDA_FILLER) % PAGE_SIZE,
                0,
                "{name}: MQDA at {} is {len} bytes, not 2 + whole pages",
                stream.offset
            );
            let (chunks, rest) = data[MQDA_FILLER..].as_chunks::<PAGE_SIZE>();
            assert!(rest.is_empty());
            pages.extend(chunks);
        }
    }
    pages
}

/// "SQL Server 2008 R2 (10.50)" etc. from the backup's software version.
fn version_name(major: u8, minor: u8) -> String {
    let product = match (major, minor) {
        (9, _) => "2005",
        (10, 0) => "2008",
        (10, 50) => "2008 R2",
        (11, _) => "2012",
        (12, _) => "2014",
        (13, _) => "2016",
        (14, _) => "2017",
        (15, _) => "2019",
        (16, _) => "2022",
        (17, _) => "2025",
        _ => "?",
    };
    format!("SQL Server {product} ({major}.{minor})")
}

#[test]
fn every_protected_data_page_validates() {
    // `fixtures` prints that the test is skipped when LRS_REAL_FIXTURES is unset.
    let Some(dir) = fixtures() else { return };
    let mut by_version: BTreeMap<String, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    // Both fixture folders: `real` and the SQL Server 2005/2012 files of `real-more`.
    let root = dir.parent().expect("the fixture folder has a parent");
    for path in every_real_file(&dir) {
        let name = path
            .strip_prefix(root)
            .expect("inside the fixture folders")
            .display()
            .to_string();
        let data = Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}")));
        let media = read_backup_from_bytes(&name, data.clone(), ReadOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let set = &media.sets[0];
        let header = &set.header;
        if !matches!(
            header.backup_type,
            BackupType::Database | BackupType::DifferentialDatabase
        ) {
            continue;
        }
        let data_files: Vec<u32> = set
            .files
            .iter()
            .filter(|f| f.file_type != FileType::Log)
            .map(|f| f.file_id)
            .collect();
        assert!(!data_files.is_empty(), "{name}: no data file listed");

        let mtf = mtf_bytes(&name, data);
        let pages = data_pages(&name, &mtf);
        let mut counts = Counts {
            files: 1,
            pages: pages.len(),
            ..Counts::default()
        };
        for (index, &page) in pages.iter().enumerate() {
            if page.iter().all(|&b| b == 0) {
                counts.zero += 1;
                continue;
            }
            let h = PageHeader::parse(page).expect("a whole page holds a header");
            if h.header_version != 1 || h.page_id.file == 0 {
                counts.unformatted += 1;
                continue;
            }
            counts.formatted += 1;
            let at = format!(
                "{name}: page #{index} ({}, type {})",
                h.page_id, h.page_type
            );

            if !data_files.contains(&u32::from(h.page_id.file)) {
                failures.push(format!(
                    "{at}: file id {} is not a data file of FILELISTONLY {data_files:?}",
                    h.page_id.file
                ));
            }
            let mut encoded = [0u8; PAGE_HEADER_LEN];
            h.write_to(&mut encoded).expect("header re-encodes");
            if encoded[..] != page[..PAGE_HEADER_LEN] {
                failures.push(format!("{at}: header does not re-encode to the same bytes"));
            }
            if h.has_checksum() {
                match verify_page_checksum(page) {
                    Ok(()) => counts.checksummed += 1,
                    Err(e) => failures.push(format!("{at}: {e}")),
                }
            } else if h.has_torn_bits() {
                if verify_torn_bits(page) {
                    counts.torn_bits += 1;
                } else {
                    failures.push(format!(
                        "{at}: torn bits {:#010x} inconsistent",
                        h.torn_bits
                    ));
                }
                // Flag 0x100 is not the checksum flag: such pages must not carry one.
                if page_checksum(page) == h.torn_bits {
                    failures.push(format!("{at}: torn-bits page matches the checksum"));
                }
            } else {
                counts.unprotected += 1;
            }
        }
        eprintln!(
            "{name} ({:?}, {}.{}.{}): {counts}",
            header.backup_type,
            header.software_version_major,
            header.software_version_minor,
            header.software_version_build
        );
        assert!(
            counts.formatted * 2 > counts.pages,
            "{name}: only {} of {} pages are formatted",
            counts.formatted,
            counts.pages
        );
        by_version
            .entry(version_name(
                header.software_version_major,
                header.software_version_minor,
            ))
            .or_default()
            .add(&counts);
    }

    let mut total = Counts::default();
    for (version, counts) in &by_version {
        eprintln!("{version}, {} backups: {counts}", counts.files);
        total.add(counts);
    }
    eprintln!("all {} backups: {total}", total.files);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total.files > 0, "no full or differential backup found");
    assert!(
        total.checksummed >= 1000,
        "only {} checksummed pages found",
        total.checksummed
    );
}
