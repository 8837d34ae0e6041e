//! The set verifier checks what RESTORE checks: every real backup verifies, and a flipped byte
//! in a page, an MTF header or a backup checksum is caught with its offset and kind.

mod support;

use std::sync::Arc;

use futures::TryStreamExt;
use lrs_backup::{
    BackupType, BackupWriter, FileSpec, Guid, Layout, Lsn, MediaSpec, MemoryReader, PageSource,
    ReadOptions, RecoveryModel, SetSpec, SetVerifier, Tag, VerifyError, VerifySummary, mtf_layout,
};
use support::{every_real_file, fixtures};

/// The decoded MTF stream of a file (plain files are their own stream).
fn mtf_of(data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(b"TAPE") {
        return data;
    }
    let reader: Arc<dyn lrs_backup::RangeRead> = Arc::new(MemoryReader::new("c.bak", data));
    let pieces: Vec<bytes::Bytes> =
        futures::executor::block_on(lrs_backup::mtf_stream(reader).try_collect()).expect("decode");
    pieces.concat()
}

/// Verify every set of `data`, feeding `chunk` bytes at a time.
fn verify_all(name: &str, data: Vec<u8>, chunk: usize) -> Vec<Result<VerifySummary, VerifyError>> {
    let media = lrs_backup::read_backup_from_bytes(name, data.clone(), ReadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mtf = mtf_of(data);
    media
        .sets
        .iter()
        .map(|set| {
            let mut v = SetVerifier::new(set);
            let range = usize::try_from(set.start_offset).expect("o")
                ..usize::try_from(set.data_end_offset).expect("o");
            for piece in mtf[range].chunks(chunk) {
                v.feed(piece)?;
            }
            v.finish()
        })
        .collect()
}

#[test]
fn every_real_set_verifies_and_the_backup_checksums_match() {
    let Some(dir) = fixtures() else { return };
    let (mut sets, mut pages_verified, mut checksums) = (0, 0, 0);
    for path in every_real_file(&dir) {
        let data = std::fs::read(&path).expect("read");
        let name = path.display().to_string();
        for result in verify_all(&name, data, 1 << 20) {
            let summary = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(summary.blocks >= 4, "{name}: {summary:?}");
            pages_verified += summary.pages_verified;
            checksums += summary.backup_checksums;
            sets += 1;
        }
    }
    assert_eq!(sets, 47);
    // Only the dbareports backups were taken WITH CHECKSUM: their full and two differentials
    // carry a CSUM after the data and after the log stream, their two logs one each.
    assert_eq!(
        checksums, 8,
        "every CSUM stream of the checksummed fixtures"
    );
    assert!(pages_verified > 0);
}

struct Noise(u64);

impl PageSource for Noise {
    fn fill(&mut self, file: &FileSpec, index: u32, page: &mut [u8]) {
        page.fill(0);
        // A formatted page: header version 1, file and page ids, some bytes, a checksum.
        page[0] = 1;
        page[32..36].copy_from_slice(&index.to_le_bytes());
        page[36..38].copy_from_slice(&u16::try_from(file.file_id).expect("id").to_le_bytes());
        for b in page[96..200].iter_mut() {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            *b = self.0.to_le_bytes()[5];
        }
        let page: &mut [u8; 8192] = page.try_into().expect("page");
        lrs_backup::set_page_checksum(page);
    }
}

fn forged_full(checksums: bool, layout: Layout) -> Vec<u8> {
    let media = MediaSpec {
        layout,
        soft_filemark_size: 512,
        media_set_id: Guid([7; 16]),
        family_count: 1,
        family_sequence_number: 1,
        media_family_id: 1,
        media_date: lrs_backup::BackupDateTime {
            year: 2026,
            month: 12,
            day: 6,
            hour: 10,
            minute: 0,
            second: 0,
        },
        media_name: None,
    };
    let file = |id: u32, log: bool, pages: u32| FileSpec {
        logical_name: format!("f{id}"),
        physical_name: format!("D:\\f{id}"),
        is_log: log,
        file_id: id,
        filegroup_id: u32::from(!log),
        size: 1 << 20,
        pages_in_backup: pages,
        unique_id: Guid([u8::try_from(id).expect("id"); 16]),
    };
    let lsn = |block| Lsn {
        vlf: 40,
        block,
        slot: 1,
    };
    let set = SetSpec {
        backup_type: BackupType::Database,
        position: 1,
        backup_name: None,
        backup_description: None,
        user_name: "dba".into(),
        server_name: "SQL01".into(),
        machine_name: "SQL01".into(),
        database_name: "Sales".into(),
        compatibility_level: 130,
        software_version: (13, 0, 5026),
        first_lsn: lsn(100),
        last_lsn: lsn(190),
        checkpoint_lsn: lsn(100),
        database_backup_lsn: Lsn::ZERO,
        differential_base_lsn: Lsn::ZERO,
        differential_base_guid: Guid::NIL,
        last_log_backup_lsn: Lsn::ZERO,
        last_full_backup_guid: Guid::NIL,
        backup_set_guid: Guid([9; 16]),
        binding_id: Guid([1; 16]),
        family_guid: Guid([2; 16]),
        recovery_fork_id: Guid([3; 16]),
        parent_recovery_fork_id: Guid::NIL,
        fork_point_lsn: Lsn::ZERO,
        database_creation_date: media.media_date,
        backup_start_date: media.media_date,
        backup_finish_date: media.media_date,
        utc_offset_minutes: 0,
        has_backup_checksums: checksums,
        is_copy_only: false,
        recovery_model: RecoveryModel::Full,
        files: vec![file(1, false, 40), file(3, false, 8), file(2, true, 0)],
        log_bytes: 65536,
    };
    let mut w = BackupWriter::new(Vec::new(), media).expect("writer");
    w.write_set(&set, &mut Noise(1)).expect("set");
    w.finish().expect("finish")
}

fn first_stream(mtf: &[u8], tag: &[u8; 4]) -> (u64, u64) {
    let blocks = mtf_layout(mtf).expect("layout");
    let s = blocks
        .iter()
        .flat_map(|b| b.streams.iter())
        .find(|s| s.tag == Tag(*tag))
        .expect("stream");
    (s.offset, s.length)
}

#[test]
fn forged_sets_verify_in_any_piece_size() {
    for layout in [Layout::Sql2005, Layout::Sql2012, Layout::Sql2016] {
        let data = forged_full(true, layout);
        let whole = verify_all("f.bak", data.clone(), usize::MAX)[0]
            .clone()
            .expect("valid");
        assert_eq!(whole.pages, 48, "{layout:?}");
        assert_eq!(whole.pages_verified, 48, "{layout:?}");
        assert_eq!(
            whole.backup_checksums, 2,
            "{layout:?}: data and log streams"
        );
        for chunk in [1, 7, 512, 8191, 8193, 65536] {
            let got = verify_all("f.bak", data.clone(), chunk)[0]
                .clone()
                .expect("valid");
            assert_eq!(got, whole, "{layout:?} in pieces of {chunk}");
        }
    }
}

#[test]
fn a_flipped_byte_in_a_page_is_a_corrupt_page_named_by_its_id() {
    let data = forged_full(true, Layout::Sql2016);
    let (at, _) = first_stream(&data, b"MQDA");
    // Page 5 of file 1, a byte in its row area.
    let page_at = at + 22 + 2 + 5 * 8192;
    let mut bad = data.clone();
    bad[usize::try_from(page_at).expect("o") + 150] ^= 0x01;
    match &verify_all("f.bak", bad, 1 << 16)[0] {
        Err(VerifyError::Page {
            offset,
            page,
            detail,
        }) => {
            assert_eq!(*offset, page_at);
            assert_eq!(page.to_string(), "1:5");
            assert!(detail.contains("incorrect page checksum"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // The same flip in a backup taken without CHECKSUM restores: RESTORE does not validate
    // pages of such backups (only the MTF structure).
    let plain = forged_full(false, Layout::Sql2016);
    let (at, _) = first_stream(&plain, b"MQDA");
    let mut flipped = plain.clone();
    flipped[usize::try_from(at + 22 + 2 + 5 * 8192 + 150).expect("o")] ^= 0x01;
    assert!(verify_all("f.bak", flipped, 1 << 16)[0].is_ok());
}

#[test]
fn a_page_out_of_place_in_a_full_backup_is_caught() {
    let data = forged_full(true, Layout::Sql2016);
    let (at, _) = first_stream(&data, b"MQDA");
    let base = usize::try_from(at + 22 + 2).expect("o");
    let mut swapped = data.clone();
    let (a, b) = (base + 3 * 8192, base + 9 * 8192);
    let page3 = data[a..a + 8192].to_vec();
    swapped[a..a + 8192].copy_from_slice(&data[b..b + 8192]);
    swapped[b..b + 8192].copy_from_slice(&page3);
    match &verify_all("f.bak", swapped, 1 << 20)[0] {
        Err(VerifyError::Page { page, detail, .. }) => {
            assert_eq!(page.to_string(), "1:9");
            assert!(detail.contains("out of place"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn damaged_headers_and_backup_checksums_are_caught() {
    let data = forged_full(true, Layout::Sql2016);
    let blocks = mtf_layout(&data).expect("layout");
    let msda = blocks
        .iter()
        .find(|b| b.tag == Tag(*b"MSDA"))
        .expect("MSDA");
    // A block header byte: its checksum no longer matches.
    let mut bad = data.clone();
    bad[usize::try_from(msda.offset).expect("o") + 21] ^= 0x10;
    match &verify_all("f.bak", bad, 4096)[0] {
        Err(VerifyError::Damaged { offset, detail }) => {
            assert_eq!(*offset, msda.offset);
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // The CSUM value of the data stream.
    let (csum_at, _) = first_stream(&data, b"CSUM");
    let mut bad = data.clone();
    bad[usize::try_from(csum_at).expect("o") + 22] ^= 0xFF;
    match &verify_all("f.bak", bad, 4096)[0] {
        Err(VerifyError::BackupChecksum {
            offset,
            stored,
            computed,
        }) => {
            assert_eq!(*offset, csum_at);
            assert_ne!(stored, computed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn feeding_past_the_end_or_stopping_short_is_an_error() {
    let data = forged_full(true, Layout::Sql2016);
    let media = lrs_backup::read_backup_from_bytes("f.bak", data.clone(), ReadOptions::default())
        .expect("read");
    let set = &media.sets[0];
    let (start, end) = (
        usize::try_from(set.start_offset).expect("o"),
        usize::try_from(set.data_end_offset).expect("o"),
    );
    let mut v = SetVerifier::new(set);
    v.feed(&data[start..end - 100]).expect("so far so good");
    assert!(matches!(v.finish(), Err(VerifyError::Damaged { .. })));
    let mut v = SetVerifier::new(set);
    assert!(v.feed(&data[start..end + 1]).is_err());
}

#[test]
fn no_checksum_checks_the_structure_only() {
    let data = forged_full(true, Layout::Sql2016);
    let (at, _) = first_stream(&data, b"MQDA");
    let mut flipped = data.clone();
    flipped[usize::try_from(at + 22 + 2 + 5 * 8192 + 150).expect("o")] ^= 0x01;
    let media =
        lrs_backup::read_backup_from_bytes("f.bak", flipped.clone(), ReadOptions::default())
            .expect("read");
    let set = &media.sets[0];
    let range = usize::try_from(set.start_offset).expect("o")
        ..usize::try_from(set.data_end_offset).expect("o");
    let mut v = SetVerifier::no_checksum(set);
    v.feed(&flipped[range.clone()])
        .expect("pages are not checked");
    let summary = v.finish().expect("structure intact");
    assert_eq!(
        (
            summary.pages,
            summary.pages_verified,
            summary.backup_checksums
        ),
        (48, 0, 0)
    );
    // The structure still is: a broken block header fails either way.
    let blocks = mtf_layout(&flipped).expect("layout");
    let msda = blocks
        .iter()
        .find(|b| b.tag == Tag(*b"MSDA"))
        .expect("MSDA");
    flipped[usize::try_from(msda.offset).expect("o") + 21] ^= 0x10;
    let mut v = SetVerifier::no_checksum(set);
    assert!(matches!(
        v.feed(&flipped[range]),
        Err(VerifyError::Damaged { .. })
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Damage anywhere in a set gives the same verdict whatever the piece sizes, and never a
    /// panic: a restore feeds the verifier whatever storage holds.
    #[test]
    fn damaged_sets_get_one_verdict_in_any_piece_size(
        flips in proptest::collection::vec((0.0f64..1.0, 1u8..=255), 1..4),
        chunk_a in 1usize..20_000,
        chunk_b in 1usize..20_000,
    ) {
        let mut data = forged_full(true, Layout::Sql2016);
        let media = lrs_backup::read_backup_from_bytes("f.bak", data.clone(), ReadOptions::default())
            .expect("read");
        let set = media.sets[0].clone();
        let (start, end) = (
            usize::try_from(set.start_offset).expect("o"),
            usize::try_from(set.data_end_offset).expect("o"),
        );
        for (at, xor) in flips {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            let i = start + ((end - start) as f64 * at) as usize;
            data[i.min(end - 1)] ^= xor;
        }
        let verdict = |chunk: usize| {
            let mut v = SetVerifier::new(&set);
            for piece in data[start..end].chunks(chunk) {
                v.feed(piece)?;
            }
            v.finish()
        };
        proptest::prop_assert_eq!(verdict(chunk_a), verdict(chunk_b));
    }
}
