//! Compressed backups (`MSSQLBAK`): full decompression of the real XPRESS fixture, ZSTD and
//! v1-framed containers built from real plain backups, and corrupt containers.

mod support;

use std::sync::Arc;

use futures::TryStreamExt;
use lrs_backup::{
    BackupMedia, ContainerOptions, CountingReader, ErrorKind, Framing, MemoryReader, RangeRead,
    ReadOptions, Tag, compress_zstd, mtf_layout, mtf_stream,
};
use proptest::prelude::*;
use support::fixtures;

const NORTHWIND: &str = "Guilderm-SC-701_ClassWork/northwind.bak";

fn fixture(rel: &str) -> Option<Vec<u8>> {
    fixtures().map(|dir| std::fs::read(dir.join(rel)).expect("read fixture"))
}

fn read(data: &[u8], allow_truncated: bool) -> Result<BackupMedia, lrs_backup::BackupError> {
    lrs_backup::read_backup_from_bytes(
        "c.bak",
        data.to_vec(),
        ReadOptions {
            allow_truncated,
            ..ReadOptions::default()
        },
    )
}

/// The whole MTF stream, and the largest piece the stream handed out.
fn decompress(data: &[u8]) -> (Vec<u8>, usize) {
    let reader: Arc<dyn RangeRead> = Arc::new(MemoryReader::new("c.bak", data.to_vec()));
    let pieces: Vec<bytes::Bytes> = futures::executor::block_on(mtf_stream(reader).try_collect())
        .unwrap_or_else(|e| panic!("{e}"));
    let largest = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
    (pieces.concat(), largest)
}

#[test]
fn northwind_decompresses_to_a_checksum_valid_mtf_stream() {
    let Some(data) = fixture(NORTHWIND) else {
        return;
    };
    let (mtf, largest) = decompress(&data);
    assert!(mtf.starts_with(b"TAPE"));
    assert!(
        largest <= 64 * 1024,
        "pieces are single chunks, got {largest} bytes"
    );
    let blocks = mtf_layout(&mtf).unwrap_or_else(|e| panic!("{e}"));
    let tags: Vec<Tag> = blocks.iter().map(|b| b.tag).collect();
    for tag in [
        Tag::TAPE,
        Tag::SSET,
        Tag::VOLB,
        Tag::MSCI,
        Tag::MSDA,
        Tag::MSTL,
        Tag::MSLS,
        Tag::ESET,
    ] {
        assert!(tags.contains(&tag), "{tag} block in the decoded stream");
    }
    assert_eq!(
        blocks.last().map(|b| b.end),
        Some(mtf.len() as u64),
        "blocks tile the stream"
    );
    assert_eq!(tags.last(), Some(&Tag::SFMB));
    let media = read(&data, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(media.sets[0].header.backup_size < mtf.len() as u64);
}

#[test]
fn plain_backups_stream_unchanged() {
    let Some(data) = fixture("dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt.bak") else {
        return;
    };
    let (mtf, largest) = decompress(&data);
    assert_eq!(mtf, data);
    assert!(largest <= 1024 * 1024);
}

#[test]
fn zstd_and_v1_containers_read_like_their_plain_originals() {
    let Some(dir) = fixtures() else { return };
    for rel in [
        "dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt_21.trn",
        "HoangDe13-WebDentalClinic/WebDentalClinic-2019.bak",
        "dataplat-appveyor-lab/sql2008-backups/dbareports/DIFF/SQL2008_dbareports_DIFF_20170518_041819.bak",
    ] {
        let plain = std::fs::read(dir.join(rel)).expect("read");
        let original = read(&plain, false).expect("plain");
        for framing in [Framing::V2, Framing::V1] {
            let container = compress_zstd(
                &plain,
                ContainerOptions {
                    framing,
                    zstd_level: 3,
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(container.starts_with(b"MSSQLBAK"));
            let media =
                read(&container, false).unwrap_or_else(|e| panic!("{rel} {framing:?}: {e}"));
            assert_eq!(media.label.is_compressed, 1);
            assert_eq!(media.file_size, container.len() as u64);
            let (mut got, mut want) = (media.sets[0].clone(), original.sets[0].clone());
            assert_eq!(got.header.compressed, 1);
            got.header.compressed = 0;
            // The set's offsets live in the stream, which is the same; compare everything.
            want.header.compressed = 0;
            assert_eq!(got, want, "{rel} {framing:?}");
            // The decoded stream is the original except for filemark tables (file offsets).
            let (mtf, _) = decompress(&container);
            let blocks = mtf_layout(&mtf).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(mtf.len(), plain.len());
            for b in blocks.iter().filter(|b| b.tag != Tag::SFMB) {
                let range =
                    usize::try_from(b.offset).expect("o")..usize::try_from(b.end).expect("e");
                assert!(
                    mtf[range.clone()] == plain[range],
                    "{rel}: {} block at {}",
                    b.tag,
                    b.offset
                );
            }
        }
    }
}

#[test]
fn a_compressed_header_read_is_bounded() {
    let Some(data) = fixture(NORTHWIND) else {
        return;
    };
    let reader = CountingReader::new(MemoryReader::new("northwind.bak", data.clone()));
    futures::executor::block_on(lrs_backup::read_backup(&reader)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "northwind header read: {} bytes in {} requests",
        reader.bytes_read(),
        reader.requests()
    );
    // The lead and tail windows (256 KiB each) plus the plain probe: independent of file size.
    assert!(
        reader.bytes_read() <= 600 * 1024,
        "read {} bytes",
        reader.bytes_read()
    );
    assert!(reader.requests() <= 6, "{} requests", reader.requests());
}

#[test]
fn corrupt_containers_give_located_errors() {
    let Some(data) = fixture(NORTHWIND) else {
        return;
    };
    // Chunk 0 (at 480) declares 200 x 512 bytes of output: more than a chunk can hold.
    let mut units = data.clone();
    units[481] = 200;
    let err = read(&units, false).expect_err("bad units");
    assert_eq!(err.offset, 481);
    assert!(
        matches!(
            err.kind,
            ErrorKind::Malformed {
                what: "compressed chunk header",
                ..
            }
        ),
        "{err}"
    );
    // Chunk 0 declares 4 x 512 bytes of output but its payload encodes 1024: the decoder runs
    // out of input and says so, at the payload.
    let mut declared = data.clone();
    declared[481] = 4;
    let err = read(&declared, false).expect_err("wrong declared size");
    assert_eq!(err.offset, 480 + 28);
    assert!(
        matches!(
            err.kind,
            ErrorKind::Malformed {
                what: "XPRESS chunk payload",
                ..
            }
        ),
        "{err}"
    );
    // An algorithm word that is neither XPRESS nor ZSTD, on a payload that is not ZSTD.
    let mut qat = data.clone();
    qat[12..16].copy_from_slice(&7u32.to_le_bytes());
    let err = read(&qat, false).expect_err("unknown algorithm");
    assert_eq!(err.offset, 12);
    assert!(matches!(err.kind, ErrorKind::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("QAT_DEFLATE"), "{err}");
    // Damage inside chunk 0's Huffman table.
    let mut payload = data.clone();
    payload[480 + 28..480 + 28 + 64].fill(0xFF);
    let err = read(&payload, false).expect_err("bad payload");
    assert!(err.offset >= 480, "{err}");
    // Cut in half: strictly a truncation; leniently the start copy of the configuration.
    let half = &data[..data.len() / 2];
    let err = read(half, false).expect_err("cut");
    assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
    let media = read(half, true).unwrap_or_else(|e| panic!("{e}"));
    assert!(media.truncated);
    assert_eq!(
        media.sets[0].header.database_name.as_deref(),
        Some("NORTHWIND")
    );
    // A streaming read of the cut file fails cleanly too.
    let reader: Arc<dyn RangeRead> = Arc::new(MemoryReader::new("cut.bak", half.to_vec()));
    let streamed: Result<Vec<bytes::Bytes>, _> =
        futures::executor::block_on(mtf_stream(reader).try_collect());
    assert!(streamed.is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_containers_never_panic(edits in proptest::collection::vec((0usize..4096, any::<u8>()), 1..12), tail in any::<bool>()) {
        let Some(mut data) = fixture(NORTHWIND) else { return Ok(()) };
        let len = data.len();
        for (at, value) in edits {
            let at = if tail { len - 1 - at } else { at };
            data[at] = value;
        }
        let _ = read(&data, false);
        let _ = read(&data, true);
    }
}
