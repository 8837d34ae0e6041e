//! The forge writes chains the reader reads back with the planned values, linked the way real
//! chains are, with valid page checksums and the block/record structure of real backups.

use std::path::Path;

use lrs_backup::{
    BackupMedia, BackupType, Layout, PAGE_SIZE, PageHeader, ReadOptions, Tag, mtf_layout,
    verify_page_checksum,
};
use lrs_forge::{ChainSpec, Compression, DatabaseSpec, plan, write_chain};
use proptest::prelude::*;

fn spec(seed: u64) -> ChainSpec {
    let mut db = DatabaseSpec::new("Sales");
    db.server = "SQL01\\PROD".into();
    db.data_size = 1 << 20;
    db.log_size = 100_000;
    db.seed = seed;
    ChainSpec {
        diffs: 1,
        logs: 6,
        ..ChainSpec::new(db)
    }
}

fn read(path: &Path) -> BackupMedia {
    let data = std::fs::read(path).expect("read forged file");
    lrs_backup::read_backup_from_bytes(&path.display().to_string(), data, ReadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every planned value the reader reports, compared set by set.
fn assert_round_trip(spec: &ChainSpec) {
    let dir = tempfile::tempdir().expect("temp dir");
    let written = write_chain(spec, dir.path()).expect("forge");
    let planned = plan(spec);
    let stripes = usize::from(spec.stripes.max(1));
    assert_eq!(written.len(), planned.len() * stripes);
    for (i, file) in written.iter().enumerate() {
        let want = &planned[i / stripes];
        let media = read(&file.path);
        assert_eq!(
            media.label.is_compressed,
            u8::from(spec.compression != Compression::None)
        );
        assert_eq!(usize::from(media.label.family_count), stripes);
        assert_eq!(
            usize::from(media.label.family_sequence_number),
            i % stripes + 1
        );
        assert_eq!(media.sets.len(), want.sets.len(), "{}", file.path.display());
        for (got, set) in media.sets.iter().zip(&want.sets) {
            let h = &got.header;
            assert_eq!(h.backup_type, set.backup_type);
            assert_eq!(h.position, set.position);
            assert_eq!(h.first_lsn, set.first_lsn);
            assert_eq!(h.last_lsn, set.last_lsn);
            assert_eq!(h.checkpoint_lsn, set.checkpoint_lsn);
            assert_eq!(h.database_backup_lsn, set.database_backup_lsn);
            assert_eq!(h.backup_set_guid, set.backup_set_guid);
            assert_eq!(h.is_copy_only, set.is_copy_only);
            assert_eq!(h.has_backup_checksums, set.has_backup_checksums);
            assert_eq!(h.recovery_fork_id, set.recovery_fork_id);
            assert_eq!(h.family_guid, set.family_guid);
            assert_eq!(h.backup_start_date, Some(set.backup_start_date));
            assert_eq!(h.backup_finish_date, Some(set.backup_finish_date));
            assert_eq!(h.database_name.as_deref(), Some(set.database_name.as_str()));
            assert_eq!(h.recovery_model, set.recovery_model);
            if set.backup_type.is_differential() {
                assert_eq!(h.differential_base_guid, Some(set.differential_base_guid));
                assert_eq!(h.differential_base_lsn, Some(set.differential_base_lsn));
            }
            assert_eq!(got.files.len(), 2);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_scenarios_read_back_identically(
        seed in any::<u64>(),
        fulls in 1u32..3,
        diffs in 0u32..3,
        logs in 0u32..8,
        stripes in 1u16..4,
        compression in prop_oneof![Just(Compression::None), Just(Compression::Xpress), Just(Compression::Zstd)],
        layout in prop_oneof![
            Just(Layout::Sql2016),
            Just(Layout::Sql2012),
            Just(Layout::Sql2008R2),
            Just(Layout::Sql2005),
        ],
        sfm in prop_oneof![Just(512u32), Just(4096u32)],
        checksum in any::<bool>(),
        copy_only_full in any::<bool>(),
        append in any::<bool>(),
    ) {
        let mut s = spec(seed);
        s.fulls = fulls;
        s.diffs = diffs;
        s.logs = logs;
        s.stripes = stripes;
        // SQL Server 2005 has no backup compression (the forge refuses it).
        s.compression = if layout == Layout::Sql2005 { Compression::None } else { compression };
        s.db.layout = layout;
        s.db.checksum = checksum;
        s.db.data_size = 200_000 + seed % 300_000;
        s.soft_filemark_size = sfm;
        s.copy_only_full = copy_only_full;
        s.append = append;
        assert_round_trip(&s);
    }
}

/// Regression: a trailer seek-index entry on a soft-filemark boundary looked like a chunk header
/// (`21 13 00 00`: 19 units, empty payload) and the reader resynchronised onto it.
#[test]
fn a_trailer_index_entry_on_a_boundary_is_not_a_chunk() {
    let mut db = DatabaseSpec::new("Sales");
    db.server = "SQL01\\PROD".into();
    db.data_size = 202_044;
    db.log_size = 100_000;
    db.seed = 2044;
    db.checksum = true;
    let s = ChainSpec {
        fulls: 1,
        diffs: 1,
        logs: 4,
        stripes: 2,
        compression: Compression::Zstd,
        append: true,
        ..ChainSpec::new(db)
    };
    assert_round_trip(&s);
}

#[test]
fn chains_link_like_real_ones() {
    let mut s = spec(7);
    s.logs = 8;
    s.diffs = 1;
    s.copy_only_full = true;
    let files = plan(&s);
    let sets: Vec<_> = files.iter().flat_map(|f| f.sets.iter()).collect();
    let full = sets[0];
    let copy = sets[1];
    assert!(copy.is_copy_only && !full.is_copy_only);
    let logs: Vec<_> = sets
        .iter()
        .filter(|s| s.backup_type == BackupType::TransactionLog)
        .collect();
    assert_eq!(logs.len(), 8);
    assert_eq!(
        logs[0].first_lsn, full.first_lsn,
        "the chain starts at the first full"
    );
    for pair in logs.windows(2) {
        assert_eq!(
            pair[1].first_lsn, pair[0].last_lsn,
            "log N begins where log N-1 ended"
        );
        assert_eq!(pair[1].last_log_backup_lsn, pair[0].last_lsn);
    }
    for log in &logs {
        assert_eq!(
            log.database_backup_lsn, full.checkpoint_lsn,
            "a copy-only full is never a base"
        );
    }
    let diff = sets
        .iter()
        .find(|s| s.backup_type == BackupType::DifferentialDatabase)
        .expect("diff");
    assert_eq!(diff.differential_base_guid, full.backup_set_guid);
    assert_eq!(diff.differential_base_lsn, full.first_lsn);
    let starts: Vec<_> = sets.iter().map(|s| s.backup_start_date).collect();
    assert!(
        starts.windows(2).all(|w| w[0] < w[1]),
        "backups are taken in time order"
    );
}

#[test]
fn gaps_and_forks() {
    let mut s = spec(9);
    s.logs = 6;
    s.diffs = 0;
    s.gap_after = Some(2);
    let files = plan(&s);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"Sales_LOG_00002.trn") && !names.contains(&"Sales_LOG_00003.trn"));
    let log4 = &files
        .iter()
        .find(|f| f.name == "Sales_LOG_00004.trn")
        .expect("log 4")
        .sets[0];
    let log2 = &files
        .iter()
        .find(|f| f.name == "Sales_LOG_00002.trn")
        .expect("log 2")
        .sets[0];
    assert!(
        log4.first_lsn > log2.last_lsn,
        "the missing log leaves a hole"
    );

    let mut f = spec(11);
    f.logs = 5;
    f.diffs = 0;
    f.fork_after = Some(2);
    let dir = tempfile::tempdir().expect("dir");
    write_chain(&f, dir.path()).expect("forge");
    let log = |n: u32| {
        read(&dir.path().join(format!("Sales_LOG_{n:05}.trn")))
            .sets
            .remove(0)
            .header
    };
    let (l2, l3, l4) = (log(2), log(3), log(4));
    assert_eq!(l3.first_lsn, l2.last_lsn);
    assert_ne!(
        l3.recovery_fork_id, l2.recovery_fork_id,
        "a restore starts a new fork"
    );
    assert_eq!(
        l3.first_recovery_fork_id, l2.recovery_fork_id,
        "log 3 spans the fork"
    );
    assert!(
        l3.fork_point_lsn
            .is_some_and(|p| l3.first_lsn < p && p < l3.last_lsn)
    );
    assert_eq!(l4.first_recovery_fork_id, l4.recovery_fork_id);
    assert_eq!(l4.fork_point_lsn, None);
}

#[test]
fn forged_pages_carry_valid_checksums() {
    let mut s = spec(3);
    s.logs = 0;
    s.diffs = 0;
    s.db.data_size = 400 * 8192;
    let dir = tempfile::tempdir().expect("dir");
    let written = write_chain(&s, dir.path()).expect("forge");
    let data = std::fs::read(&written[0].path).expect("read");
    let blocks = mtf_layout(&data).unwrap_or_else(|e| panic!("{e}"));
    let mut checked = 0;
    for stream in blocks
        .iter()
        .flat_map(|b| &b.streams)
        .filter(|s| s.tag == Tag(*b"MQDA") && s.length > 2)
    {
        let start = usize::try_from(stream.offset).expect("o") + 22 + 2;
        let end = start + usize::try_from(stream.length - 2).expect("l");
        for (i, page) in data[start..end].chunks_exact(PAGE_SIZE).enumerate() {
            let page: &[u8; PAGE_SIZE] = page.try_into().expect("page");
            let header = PageHeader::parse(page).expect("header");
            assert!(header.has_checksum());
            assert_eq!(header.page_id.file, 1);
            assert_eq!(header.page_id.page as usize, i);
            verify_page_checksum(page).unwrap_or_else(|e| panic!("page {i}: {e:?}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 400);
}

/// Block tags with each block's stream tags, runs of identical blocks collapsed (their count
/// depends on sizes), e.g. `MSTL[SPAD]`.
fn shape(mtf: &[u8]) -> Vec<String> {
    let blocks = mtf_layout(mtf).unwrap_or_else(|e| panic!("{e}"));
    let mut out: Vec<String> = Vec::new();
    for b in blocks {
        let streams: Vec<String> = b.streams.iter().map(|s| s.tag.to_string()).collect();
        let item = format!("{}[{}]", b.tag, streams.join(","));
        if out.last() != Some(&item) {
            out.push(item);
        }
    }
    out
}

/// Sizes of each configuration record's fixed part (record size minus its strings).
fn record_layout(mtf: &[u8]) -> Vec<(String, usize)> {
    let blocks = mtf_layout(mtf).unwrap_or_else(|e| panic!("{e}"));
    let msls = blocks.iter().find(|b| b.tag == Tag::MSLS).expect("MSLS");
    let stream = &msls.streams[0];
    let start = usize::try_from(stream.offset).expect("o") + 22;
    let data = &mtf[start..start + usize::try_from(stream.length).expect("l")];
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let tag = String::from_utf8_lossy(&data[at..at + 4]).to_string();
        let size = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("u32")) as usize;
        // Strings are addressed by (u16 size, u16 offset) pairs; the fixed part ends where the
        // first string starts.
        let pairs: &[usize] = match tag.as_str() {
            "SCIN" => &[104, 108],
            "SFGI" => &[16],
            _ => &[48, 52],
        };
        let fixed = pairs
            .iter()
            .map(|&p| u16::from_le_bytes([data[at + p + 2], data[at + p + 3]]) as usize)
            .min()
            .expect("pairs");
        out.push((tag, fixed));
        at += size.max(8);
    }
    out
}

fn decoded(path: &Path) -> Vec<u8> {
    use futures::TryStreamExt;
    let reader: std::sync::Arc<dyn lrs_backup::RangeRead> =
        std::sync::Arc::new(lrs_backup::FileReader::open(path).expect("open"));
    let pieces: Vec<bytes::Bytes> =
        futures::executor::block_on(lrs_backup::mtf_stream(reader).try_collect()).expect("decode");
    pieces.concat()
}

#[test]
fn structure_matches_real_backups_of_the_mimicked_version() {
    let Some(fixtures) = lrs_testkit::real_fixtures() else {
        return;
    };
    let fixtures = fixtures.as_path();
    let more = fixtures
        .parent()
        .expect("LRS_REAL_FIXTURES has a parent folder")
        .join("real-more");
    assert!(
        more.is_dir(),
        "{} is missing: the 2005 and 2012 fixtures sit beside LRS_REAL_FIXTURES",
        more.display()
    );
    let cases = [
        // (real file, layout, soft filemark size, checksums)
        (
            fixtures.join("dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt.bak"),
            Layout::Sql2008R2,
            512,
            false,
        ),
        (
            fixtures.join("dataplat-appveyor-lab/sql2008-backups/dbareports/FULL/SQL2008_dbareports_FULL_20170518_041739.bak"),
            Layout::Sql2008R2,
            512,
            true,
        ),
        (
            fixtures.join("Guilderm-SC-701_ClassWork/northwind.bak"),
            Layout::Sql2016,
            512,
            false,
        ),
        (
            fixtures.join("HoangDe13-WebDentalClinic/WebDentalClinic-2019.bak"),
            Layout::Sql2016,
            4096,
            false,
        ),
        (
            more.join("ThuOanh229-ShopOnline/Database.bak"),
            Layout::Sql2012,
            4096,
            false,
        ),
        (
            more.join("salmanshariff07-Sales_Analysis_SQL/Northwind.bak"),
            Layout::Sql2005,
            512,
            false,
        ),
    ];
    for (path, layout, sfm, checksum) in cases {
        let rel = path.display();
        let real = decoded(&path);
        let mut s = spec(5);
        s.logs = 0;
        s.diffs = 0;
        s.db.layout = layout;
        s.db.checksum = checksum;
        s.soft_filemark_size = sfm;
        let dir = tempfile::tempdir().expect("dir");
        let written = write_chain(&s, dir.path()).expect("forge");
        let forged = std::fs::read(&written[0].path).expect("read");
        let (real_shape, forged_shape) = (shape(&real), shape(&forged));
        // A real full may hold several MSDA blocks (one per file section); compare the kinds.
        let dedup = |v: Vec<String>| {
            let mut out: Vec<String> = Vec::new();
            for item in v {
                if !out.contains(&item) || !item.starts_with("MSDA") {
                    out.push(item);
                }
            }
            out
        };
        assert_eq!(
            dedup(forged_shape),
            dedup(real_shape),
            "{rel}: block/stream sequence"
        );
        assert_eq!(
            record_layout(&forged),
            record_layout(&real),
            "{rel}: record layout"
        );
        assert_eq!(
            tail_layout(&forged, u64::from(sfm)),
            tail_layout(&real, u64::from(sfm)),
            "{rel}: soft filemark attributes and final configuration block padding"
        );
    }
}

/// What differs between versions around a set's end: the soft filemarks' attribute word (0 on
/// SQL Server 2005), whether the MSLS is longer than the MSCI (2012 pads it to the next
/// soft-filemark boundary), and whether it ends on such a boundary (it always does).
fn tail_layout(mtf: &[u8], sfm: u64) -> (u32, bool, bool) {
    let blocks = mtf_layout(mtf).unwrap_or_else(|e| panic!("{e}"));
    let sfmb = blocks.iter().find(|b| b.tag == Tag::SFMB).expect("SFMB");
    let at = usize::try_from(sfmb.offset).expect("offset");
    let attributes = u32::from_le_bytes(mtf[at + 4..at + 8].try_into().expect("u32"));
    let len = |tag: Tag| {
        let b = blocks.iter().find(|b| b.tag == tag).expect("config block");
        (b.end - b.offset, b.end)
    };
    let (msci, _) = len(Tag::MSCI);
    let (msls, msls_end) = len(Tag::MSLS);
    (attributes, msls > msci, msls_end.is_multiple_of(sfm))
}
