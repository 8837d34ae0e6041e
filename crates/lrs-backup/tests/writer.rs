//! The backup writer produces files the reader reads back with the same values, with the block
//! and stream structure of real backups.

use lrs_backup::{
    BackupDateTime, BackupType, BackupWriter, FileSpec, Guid, Layout, Lsn, MediaSpec, PageSource,
    ReadOptions, RecoveryModel, SetSpec, Tag, mtf_layout,
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
        (Layout::Sql2008R2, 512),
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
