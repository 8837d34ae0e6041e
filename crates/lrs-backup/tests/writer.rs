//! The backup writer produces files the reader reads back with the same values, with the block
//! and stream structure of real backups.

use lrs_backup::{
    BackupDateTime, BackupType, BackupWriter, FileSpec, Guid, HeaderPath, Layout, Lsn, MediaSpec,
    PageSource, ReadOptions, RecoveryModel, SetSpec, Tag, mtf_layout,
};

struct Zeros;

impl PageSource for Zeros {
    fn fill(&mut self, _file: &FileSpec, _index: u32, page: &mut [u8]) {
        page.fill(0);
    }
}

fn date(minute: u8) -> BackupDateTime {
    BackupDateTime {
        year: 2026,
        month: 11,
        day: 26,
        hour: 9,
        minute,
        second: 0,
    }
}

fn media(layout: Layout, sfm: u32) -> MediaSpec {
    MediaSpec {
        layout,
        soft_filemark_size: sfm,
        media_set_id: Guid([7; 16]),
        family_count: 1,
        family_sequence_number: 1,
        media_family_id: 0x1234_5678,
        media_date: date(0),
        media_name: None,
    }
}

fn set(backup_type: BackupType, position: u8, checksums: bool) -> SetSpec {
    let lsn = |vlf, block| Lsn {
        vlf,
        block,
        slot: 1,
    };
    SetSpec {
        backup_type,
        position: u16::from(position),
        backup_name: Some("Sales-Full Database Backup".into()),
        backup_description: None,
        user_name: "CONTOSO\\dba".into(),
        server_name: "SQL01\\PROD".into(),
        machine_name: "SQL01".into(),
        database_name: "Sales".into(),
        compatibility_level: 130,
        software_version: (13, 0, 5026),
        first_lsn: lsn(40, 100 * u32::from(position)),
        last_lsn: lsn(40, 100 * u32::from(position) + 90),
        checkpoint_lsn: lsn(40, 100),
        database_backup_lsn: Lsn::ZERO,
        differential_base_lsn: Lsn::ZERO,
        differential_base_guid: Guid::NIL,
        last_log_backup_lsn: Lsn::ZERO,
        last_full_backup_guid: Guid::NIL,
        backup_set_guid: Guid([position; 16]),
        binding_id: Guid([2; 16]),
        family_guid: Guid([3; 16]),
        recovery_fork_id: Guid([3; 16]),
        parent_recovery_fork_id: Guid::NIL,
        fork_point_lsn: Lsn::ZERO,
        database_creation_date: date(1),
        backup_start_date: date(10 + position),
        backup_finish_date: date(11 + position),
        utc_offset_minutes: 60,
        has_backup_checksums: checksums,
        is_copy_only: false,
        recovery_model: RecoveryModel::Full,
        files: vec![
            FileSpec {
                file_id: 1,
                logical_name: "Sales".into(),
                physical_name: "D:\\data\\Sales.mdf".into(),
                is_log: false,
                filegroup_id: 1,
                size: 8 << 20,
                pages_in_backup: if backup_type == BackupType::TransactionLog {
                    0
                } else {
                    300
                },
                unique_id: Guid([4; 16]),
            },
            FileSpec {
                file_id: 2,
                logical_name: "Sales_log".into(),
                physical_name: "L:\\log\\Sales_log.ldf".into(),
                is_log: true,
                filegroup_id: 0,
                size: 2 << 20,
                pages_in_backup: 0,
                unique_id: Guid([5; 16]),
            },
        ],
        log_bytes: 200_000,
    }
}

#[test]
fn written_sets_read_back_identically() {
    for (layout, sfm) in [
        (Layout::Sql2016, 512),
        (Layout::Sql2016, 4096),
        (Layout::Sql2012, 4096),
        (Layout::Sql2012, 512),
        (Layout::Sql2008R2, 512),
        (Layout::Sql2005, 512),
    ] {
        for checksums in [false, true] {
            let mut w = BackupWriter::new(Vec::new(), media(layout, sfm)).expect("writer");
            let specs = [
                set(BackupType::Database, 1, checksums),
                set(BackupType::TransactionLog, 2, checksums),
            ];
            for spec in &specs {
                w.write_set(spec, &mut Zeros).expect("write set");
            }
            let bytes = w.finish().expect("finish");
            let blocks = mtf_layout(&bytes).unwrap_or_else(|e| panic!("{layout:?} {sfm}: {e}"));
            assert_eq!(blocks.last().map(|b| b.end), Some(bytes.len() as u64));
            let media = lrs_backup::read_backup_from_bytes("w.bak", bytes, ReadOptions::default())
                .unwrap_or_else(|e| panic!("{layout:?} {sfm} {checksums}: {e}"));
            assert_eq!(media.sets.len(), 2);
            for (got, want) in media.sets.iter().zip(&specs) {
                let h = &got.header;
                assert_eq!(h.backup_type, want.backup_type);
                assert_eq!(h.position, want.position);
                assert_eq!(h.first_lsn, want.first_lsn);
                assert_eq!(h.last_lsn, want.last_lsn);
                assert_eq!(h.backup_set_guid, want.backup_set_guid);
                assert_eq!(h.database_name.as_deref(), Some("Sales"));
                assert_eq!(h.server_name.as_deref(), Some("SQL01\\PROD"));
                assert_eq!(h.machine_name.as_deref(), Some("SQL01"));
                assert_eq!(h.user_name.as_deref(), Some("CONTOSO\\dba"));
                assert_eq!(h.backup_name.as_deref(), Some("Sales-Full Database Backup"));
                assert_eq!(h.has_backup_checksums, checksums);
                assert_eq!(h.backup_finish_date, Some(want.backup_finish_date));
                assert_eq!(got.utc_offset_minutes, Some(60));
                assert_eq!(got.files.len(), 2);
                assert_eq!(
                    got.files[0].physical_name.as_deref(),
                    Some("D:\\data\\Sales.mdf")
                );
            }
            let tags: Vec<Tag> = blocks.iter().map(|b| b.tag).collect();
            assert_eq!(tags.iter().filter(|t| **t == Tag::MSDA).count(), 1);
        }
    }
}

/// Two sets (a full and a log) in `layout`, and where each MSLS block and the final SFMB sit.
fn two_sets(layout: Layout, sfm: u32) -> (Vec<u8>, Vec<u64>, usize) {
    let mut w = BackupWriter::new(Vec::new(), media(layout, sfm)).expect("writer");
    for spec in [
        set(BackupType::Database, 1, true),
        set(BackupType::TransactionLog, 2, true),
    ] {
        w.write_set(&spec, &mut Zeros).expect("write set");
    }
    let bytes = w.finish().expect("finish");
    let blocks = mtf_layout(&bytes).expect("layout");
    let msls = blocks
        .iter()
        .filter(|b| b.tag == Tag::MSLS)
        .map(|b| b.offset)
        .collect();
    let last = bytes.len() - sfm as usize;
    (bytes, msls, last)
}

const EVERY_LAYOUT: [(Layout, u32); 5] = [
    (Layout::Sql2005, 512),
    (Layout::Sql2008R2, 512),
    (Layout::Sql2012, 4096),
    (Layout::Sql2016, 512),
    (Layout::Sql2016, 4096),
];

fn read(bytes: Vec<u8>) -> Result<lrs_backup::BackupMedia, lrs_backup::BackupError> {
    lrs_backup::read_backup_from_bytes("w.bak", bytes, ReadOptions::default())
}

fn without_paths(mut media: lrs_backup::BackupMedia) -> lrs_backup::BackupMedia {
    for set in &mut media.sets {
        set.header_path = HeaderPath::Direct;
    }
    media
}

#[test]
fn an_unusable_filemark_table_falls_back_to_a_block_walk() {
    for (layout, sfm) in EVERY_LAYOUT {
        let (bytes, _, last) = two_sets(layout, sfm);
        let original = read(bytes.clone()).unwrap_or_else(|e| panic!("{layout:?}: {e}"));
        assert!(
            original
                .sets
                .iter()
                .all(|s| s.header_path != HeaderPath::BlockWalk)
        );
        // The table is not covered by the block header checksum: an empty one, and one whose
        // entries point past the end of the file (what the 2005 layout looked like to a reader
        // that only knew the later one).
        let table_at = if layout == Layout::Sql2005 { 60 } else { 72 };
        let mut empty = bytes.clone();
        empty[last + 56..last + 60].copy_from_slice(&0u32.to_le_bytes());
        let mut past_the_end = bytes.clone();
        let beyond = (bytes.len() as u64 * 2).to_le_bytes();
        past_the_end[last + table_at..last + table_at + 8].copy_from_slice(&beyond);
        for (what, damaged) in [("empty table", empty), ("entry past the end", past_the_end)] {
            let media = read(damaged).unwrap_or_else(|e| panic!("{layout:?} {what}: {e}"));
            assert!(
                media
                    .sets
                    .iter()
                    .all(|s| s.header_path == HeaderPath::BlockWalk),
                "{layout:?} {what}"
            );
            assert_eq!(
                without_paths(media),
                without_paths(original.clone()),
                "{layout:?} {what}: same values as the fast path"
            );
        }
    }
}

#[test]
fn a_damaged_final_configuration_block_is_refused_with_its_offset() {
    for (layout, sfm) in EVERY_LAYOUT {
        let (mut bytes, msls, _) = two_sets(layout, sfm);
        let at = usize::try_from(msls[1]).expect("offset");
        bytes[at + 20] ^= 0x40; // the block's logical address: its header checksum breaks
        let err = read(bytes).expect_err("no valid final configuration block");
        assert_eq!(err.offset, msls[1], "{layout:?}: {err}");
        assert!(
            matches!(err.kind, lrs_backup::ErrorKind::BadChecksum { what, .. } if what.contains("MSLS")),
            "{layout:?}: {err}"
        );
    }
}

#[test]
fn sql_server_2012_pads_its_final_configuration_block_to_the_filemark() {
    let (bytes, msls, _) = two_sets(Layout::Sql2012, 4096);
    let blocks = mtf_layout(&bytes).expect("layout");
    let mut expected_paths = Vec::new();
    for &at in &msls {
        let block = blocks.iter().find(|b| b.offset == at).expect("MSLS");
        let msci = blocks
            .iter()
            .rev()
            .find(|b| b.tag == Tag::MSCI && b.offset < at)
            .expect("MSCI");
        assert!(
            block.end.is_multiple_of(4096),
            "ends on a filemark boundary"
        );
        assert!(block.end - block.offset >= msci.end - msci.offset);
        // Only a final copy longer than the start copy needs the tail search.
        expected_paths.push(if block.end - block.offset > msci.end - msci.offset {
            HeaderPath::TailSearch
        } else {
            HeaderPath::Direct
        });
    }
    assert!(expected_paths.contains(&HeaderPath::TailSearch));
    let media = read(bytes).expect("reads");
    let paths: Vec<HeaderPath> = media.sets.iter().map(|s| s.header_path).collect();
    assert_eq!(paths, expected_paths);
}
