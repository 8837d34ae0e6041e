//! Conformance over the real SQL Server backups in `$LRS_REAL_FIXTURES`: every value asserted
//! here is published in that folder's README (its file table, the ground-truth sections and
//! the observations), not merely "it parsed".

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use lrs_backup::{
    BackupMedia, BackupType, ConfigSource, ContainerOptions, CountingReader, FileReader, FileType,
    Framing, HeaderPath, Lsn, ReadOptions, RecoveryModel,
};
use support::{backup_files, every_real_file, fixtures, more_fixtures, read};

/// One row of the fixtures README's file table, decoded from its "what it is" column, e.g.
/// "LOG of `StopAt` @ `JUMPBOX\SQL2008R2`, SQL Server 2008 R2 (10.50.4000), started
/// 2020-05-12 13:29:34; striped media set, family 1 of 2".
#[derive(Debug)]
struct Published {
    bytes: u64,
    compressed: bool,
    kind: BackupType,
    database: String,
    server: String,
    version: (u8, u8, u16),
    started: String,
    family: Option<(u16, u16)>,
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let start = s
        .find(open)
        .map(|i| i + open.len())
        .expect("opening marker");
    // A field at the end of the description has no closing marker.
    let len = s[start..].find(close).unwrap_or(s.len() - start);
    &s[start..start + len]
}

fn published_table(dir: &Path) -> BTreeMap<String, Published> {
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("fixtures README.md");
    let mut rows = BTreeMap::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cols: Vec<&str> = line.split(" | ").collect();
        if cols.len() < 7 {
            continue;
        }
        let path = cols[0]
            .trim_start_matches("| ")
            .trim_matches('`')
            .to_string();
        let what = cols[5];
        let compressed = what.contains("MSSQLBAK");
        let body = what.split("inside: ").last().expect("description");
        let kind = match body.split(' ').next() {
            Some("FULL") => BackupType::Database,
            Some("DIFF") => BackupType::DifferentialDatabase,
            Some("LOG") => BackupType::TransactionLog,
            other => panic!("unknown kind {other:?} in README row for {path}"),
        };
        let version: Vec<&str> = between(body, "(", ")").split('.').collect();
        let family = body.split("family ").nth(1).map(|f| {
            let (seq, count) = f.split_once(" of ").expect("family N of M");
            (count.parse().expect("count"), seq.parse().expect("seq"))
        });
        rows.insert(
            path,
            Published {
                bytes: cols[1].parse().expect("bytes column"),
                compressed,
                kind,
                database: between(body, "of `", "`").to_string(),
                server: between(body, "@ `", "`").to_string(),
                version: (
                    version[0].parse().expect("major"),
                    version[1].parse().expect("minor"),
                    version[2].parse().expect("build"),
                ),
                started: between(body, "started ", ";").chars().take(19).collect(),
                family,
            },
        );
    }
    rows
}

#[test]
fn every_file_matches_the_published_table() {
    let Some(dir) = fixtures() else { return };
    let table = published_table(&dir);
    let files = backup_files(&dir);
    assert_eq!(table.len(), 45, "the README lists 45 files");
    assert_eq!(
        files.len(),
        table.len(),
        "every file on disk is in the README table"
    );
    for path in files {
        let rel = path
            .strip_prefix(&dir)
            .expect("inside")
            .to_string_lossy()
            .replace('\\', "/");
        let want = table
            .get(&rel)
            .unwrap_or_else(|| panic!("{rel} is not in the README table"));
        let data = std::fs::read(&path).expect("read fixture");
        assert_eq!(data.len() as u64, want.bytes, "{rel}: size");
        let result = lrs_backup::read_backup_from_bytes(&rel, data, ReadOptions::default());
        let media = result.unwrap_or_else(|e| panic!("{e}"));
        assert!(!media.truncated);
        assert_eq!(
            media.label.is_compressed,
            u8::from(want.compressed),
            "{rel}"
        );
        assert_eq!(
            media.sets[0].header.compressed,
            u8::from(want.compressed),
            "{rel}"
        );
        assert_eq!(media.file_size, want.bytes, "{rel}: file size");
        assert_eq!(
            media.sets.len(),
            1,
            "{rel}: every file holds exactly one backup set"
        );
        let set = &media.sets[0];
        let h = &set.header;
        assert_eq!(set.config_source, ConfigSource::Final, "{rel}");
        assert_eq!(h.position, 1, "{rel}");
        assert_eq!(h.backup_type, want.kind, "{rel}: backup type");
        assert_eq!(
            h.database_name.as_deref(),
            Some(want.database.as_str()),
            "{rel}: database"
        );
        assert_eq!(
            h.server_name.as_deref(),
            Some(want.server.as_str()),
            "{rel}: server"
        );
        let version = (
            h.software_version_major,
            h.software_version_minor,
            h.software_version_build,
        );
        assert_eq!(version, want.version, "{rel}: version");
        let started = h
            .backup_start_date
            .expect("start date")
            .to_string()
            .replace('T', " ");
        assert_eq!(started, want.started, "{rel}: start date");
        let (count, seq) = want.family.unwrap_or((1, 1));
        assert_eq!(
            (media.label.family_count, media.label.family_sequence_number),
            (count, seq),
            "{rel}: media family"
        );
        assert_eq!(h.backup_type_description, want.kind.description());
        assert_eq!(h.software_vendor_id, 4608);
        assert_eq!(
            media.label.software_name.as_deref(),
            Some("Microsoft SQL Server")
        );
        assert!(
            h.backup_finish_date.is_some(),
            "{rel}: the final copy carries the finish date"
        );
        assert!(h.first_lsn <= h.last_lsn, "{rel}: FirstLSN <= LastLSN");
        assert!(!set.files.is_empty(), "{rel}: FILELISTONLY rows");
        assert!(
            set.files.iter().any(|f| f.file_type == FileType::Log),
            "{rel}: a log file"
        );
    }
}

#[test]
fn stopat_log_chain_matches_the_sql_server_error_text() {
    let Some(dir) = fixtures() else { return };
    let base = "dataplat-appveyor-lab/sql2008-backups/StopAt";
    let full = read(&dir, &format!("{base}/StopAt.bak"))
        .sets
        .remove(0)
        .header;
    let logs: Vec<_> = [
        "StopAt_1.trn",
        "StopAt_2.trn",
        "StopAt_21.trn",
        "StopAt_23.trn",
    ]
    .iter()
    .map(|f| read(&dir, &format!("{base}/{f}")).sets.remove(0).header)
    .collect();
    // "The log in this backup set begins at LSN 19000000021500001 ... An earlier log backup
    // that includes LSN 19000000020400004 can be restored." (dbatools, quoting SQL Server)
    assert_eq!(logs[3].first_lsn.to_string(), "19000000021500001");
    let mark: Lsn = "19000000020400004".parse().expect("lsn");
    assert!(
        logs[2].first_lsn <= mark && mark < logs[2].last_lsn,
        "mark inside StopAt_21"
    );
    // The published restore order full, _1, _2, _21, _23 is a gapless chain.
    assert!(logs[0].first_lsn <= full.last_lsn && full.last_lsn <= logs[0].last_lsn);
    for pair in logs.windows(2) {
        assert_eq!(pair[1].first_lsn, pair[0].last_lsn);
    }
    for log in &logs {
        assert_eq!(
            log.database_backup_lsn, full.checkpoint_lsn,
            "logs follow this full"
        );
        assert_eq!(log.backup_type, BackupType::TransactionLog);
    }
    assert!(logs[0].begins_log_chain && !logs[1].begins_log_chain);
}

#[test]
fn restoretimeclean_chain_and_published_times() {
    let Some(dir) = fixtures() else { return };
    let h = |f: &str| {
        read(&dir, &format!("dataplat-appveyor-lab/RestoreTimeClean/{f}"))
            .sets
            .remove(0)
            .header
    };
    let full = h("RestoreTimeClean.bak");
    let diff = h("RestoreTimeClean2.bak");
    let logs1: Vec<_> = [
        "RestoreTimeClean_1.trn",
        "RestoreTimeClean_2.trn",
        "RestoreTimeClean_3.trn",
    ]
    .map(h)
    .into();
    let logs2: Vec<_> = [
        "RestoreTimeClean2_1.trn",
        "RestoreTimeClean2_2.trn",
        "RestoreTimeClean2_3.trn",
    ]
    .map(h)
    .into();
    // The table's minimum date is the moment the full started (README).
    assert_eq!(
        full.backup_start_date.expect("start").to_string(),
        "2017-06-01T12:59:12"
    );
    assert_eq!(
        full.database_backup_lsn,
        Lsn::ZERO,
        "first full of the database"
    );
    assert_eq!(diff.differential_base_guid, Some(full.backup_set_guid));
    assert_eq!(diff.differential_base_lsn, Some(full.first_lsn));
    assert_eq!(
        full.differential_base_lsn, None,
        "NULL for non-differential backups"
    );
    for chain in [&logs1, &logs2] {
        for pair in chain.windows(2) {
            assert_eq!(pair[1].first_lsn, pair[0].last_lsn);
        }
    }
    assert_eq!(logs1[0].first_lsn, full.checkpoint_lsn);
    assert_eq!(
        logs2[0].first_lsn, logs1[2].last_lsn,
        "logs continue across the diff"
    );
    assert!(logs2[0].first_lsn <= diff.last_lsn && diff.last_lsn <= logs2[0].last_lsn);
}

#[test]
fn simple_recovery_full_and_two_differentials() {
    let Some(dir) = fixtures() else { return };
    let h = |f: &str| {
        read(
            &dir,
            &format!("dataplat-appveyor-lab/sql2008-backups/SimpleRecovery/{f}"),
        )
        .sets
        .remove(0)
        .header
    };
    let full = h("SimpleBacktest.bak");
    let diffs = [h("SimpleBackTest_1.bak"), h("SimpleBackTest_2.bak")];
    assert_eq!(full.recovery_model, RecoveryModel::Simple);
    for (diff, started) in diffs
        .iter()
        .zip(["2018-04-06T10:35:32", "2018-04-06T10:40:32"])
    {
        assert_eq!(diff.recovery_model, RecoveryModel::Simple);
        assert_eq!(diff.backup_type, BackupType::DifferentialDatabase);
        assert_eq!(diff.differential_base_guid, Some(full.backup_set_guid));
        assert_eq!(diff.backup_start_date.expect("start").to_string(), started);
    }
    assert_eq!(
        full.backup_start_date.expect("start").to_string(),
        "2018-04-06T10:30:32"
    );
    // A database with log backups is in FULL recovery.
    let stopat = read(
        &dir,
        "dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt.bak",
    );
    assert_eq!(stopat.sets[0].header.recovery_model, RecoveryModel::Full);
}

#[test]
fn double_diff_both_on_the_same_full() {
    let Some(dir) = fixtures() else { return };
    let h = |f: &str| {
        read(&dir, &format!("dataplat-appveyor-lab/DoubleDiffing/{f}"))
            .sets
            .remove(0)
            .header
    };
    let (full, d1, d2) = (
        h("difftest-full.bak"),
        h("difftest-diff1.bak"),
        h("difftest-diff2.bak"),
    );
    assert_eq!(d1.differential_base_guid, Some(full.backup_set_guid));
    assert_eq!(d2.differential_base_guid, Some(full.backup_set_guid));
    assert_eq!(d1.differential_base_lsn, Some(full.first_lsn));
    assert!(d1.last_lsn <= d2.first_lsn, "diff2 was taken after diff1");
}

#[test]
fn stripes_pair_up_by_backup_set_and_media_set() {
    let Some(dir) = fixtures() else { return };
    let base = "dataplat-appveyor-lab/sql2008-backups/RestoreTimeStripe";
    let pairs = [
        ("RestoreTimeStripe.bak", "RestoreTimeStripe1.bak"),
        ("RestoreTimeStripe2.bak", "RestoreTimeStripe2a.bak"),
        ("RestoreTimeStripe_1.trn", "RestoreTimeStripe_1a.trn"),
        ("RestoreTimeStripe_2.trn", "RestoreTimeStripe_2a.trn"),
        ("RestoreTimeStripe_3.trn", "RestoreTimeStripe_3a.trn"),
        ("restoretime_21.trn", "restoretime_21a.trn"),
        ("RestoreTimeStripe_22.trn", "RestoreTimeStripe_22a.trn"),
        ("RestoreTimeStripe_23.trn", "RestoreTimeStripe_23a.trn"),
    ];
    let mut seen = std::collections::HashSet::new();
    for (one, two) in pairs {
        let a = read(&dir, &format!("{base}/Stripe1/{one}"));
        let b = read(&dir, &format!("{base}/Stripe2/{two}"));
        assert_eq!(
            a.label.media_set_id, b.label.media_set_id,
            "{one}: media set"
        );
        assert_eq!(
            a.sets[0].header.backup_set_guid,
            b.sets[0].header.backup_set_guid
        );
        assert_eq!(
            (a.label.family_count, a.label.family_sequence_number),
            (2, 1)
        );
        assert_eq!(
            (b.label.family_count, b.label.family_sequence_number),
            (2, 2)
        );
        assert_eq!(
            a.sets[0].header.first_lsn, b.sets[0].header.first_lsn,
            "same set, same LSNs"
        );
        assert!(
            seen.insert(a.label.media_set_id),
            "each backup is its own media set"
        );
    }
}

#[test]
fn dbareports_checksums_and_empty_last_log() {
    let Some(dir) = fixtures() else { return };
    let base = dir.join("dataplat-appveyor-lab/sql2008-backups/dbareports");
    for path in backup_files(&base) {
        let rel = path
            .strip_prefix(&dir)
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        let h = read(&dir, &rel).sets.remove(0).header;
        assert!(h.has_backup_checksums, "{rel} was taken WITH CHECKSUM");
        assert_eq!(h.flags & 0x10, 0x10);
    }
    let last = read(
        &dir,
        "dataplat-appveyor-lab/sql2008-backups/dbareports/LOG/SQL2008_dbareports_LOG_20170518_041837.trn",
    );
    let h = &last.sets[0].header;
    assert_eq!(
        h.first_lsn, h.last_lsn,
        "the last log contains no log records"
    );
    // Files without CHECKSUM say so.
    let plain = read(
        &dir,
        "dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt.bak",
    );
    assert!(!plain.sets[0].header.has_backup_checksums);
}

#[test]
fn media_password_and_extensionless_files() {
    let Some(dir) = fixtures() else { return };
    let passwd = read(&dir, "dataplat-appveyor-lab/backuppassword/passwd.bak");
    assert_eq!(
        passwd.sets[0].header.database_name.as_deref(),
        Some("stripetest")
    );
    assert_eq!(
        (
            passwd.label.family_count,
            passwd.label.family_sequence_number
        ),
        (1, 1)
    );
    // TAPE+62 = 5: written WITH MEDIAPASSWORD, which RESTORE needs and LRS cannot pass.
    assert!(passwd.sets[0].media.media_password);
    let noext = read(
        &dir,
        "dataplat-appveyor-lab/sql2008-backups/Noextension.bak",
    );
    assert!(!noext.sets[0].media.media_password);
    let files = &noext.sets[0].files;
    assert_eq!(files.len(), 2);
    for f in files {
        let physical = f.physical_name.as_deref().expect("physical name");
        let leaf = physical.rsplit('\\').next().expect("leaf");
        assert!(
            !leaf.contains('.'),
            "{physical} was created without an extension"
        );
    }
    assert_eq!(files[0].file_type, FileType::Data);
    assert_eq!(files[0].file_group_name.as_deref(), Some("PRIMARY"));
    assert_eq!(files[1].file_type, FileType::Log);
    assert_eq!(files[1].file_group_name, None);
}

#[test]
fn newer_versions_take_lsns_from_the_final_copy() {
    let Some(dir) = fixtures() else { return };
    for (rel, db_version) in [
        ("HoangDe13-WebDentalClinic/WebDentalClinic-2019.bak", 904),
        ("Tungdever-QuanLyBanHang/QLBH.bak", 957),
    ] {
        let data = std::fs::read(dir.join(rel)).expect("read");
        let full = lrs_backup::read_backup_from_bytes(rel, data.clone(), ReadOptions::default())
            .expect("complete file");
        // Cut the file before its final configuration block: only the start copy remains.
        let cut = usize::try_from(full.sets[0].data_end_offset).expect("offset") - 8192;
        let early = lrs_backup::read_backup_from_bytes(
            rel,
            data[..cut].to_vec(),
            ReadOptions {
                allow_truncated: true,
                ..Default::default()
            },
        )
        .expect("provisional read");
        let (f, e) = (&full.sets[0].header, &early.sets[0].header);
        assert_eq!(full.sets[0].config_source, ConfigSource::Final);
        assert_eq!(early.sets[0].config_source, ConfigSource::Provisional);
        assert!(early.truncated);
        assert!(
            e.first_lsn < f.first_lsn,
            "{rel}: the start copy carries earlier LSNs (README)"
        );
        assert_eq!(f.database_version, db_version, "{rel}");
        assert_eq!(
            e.backup_finish_date, None,
            "the start copy has no finish date"
        );
    }
}

#[test]
fn a_header_read_touches_at_most_64_kib_or_1_mib_compressed() {
    let Some(dir) = fixtures() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (mut plain, mut compressed) = (0, 0);
    for path in every_real_file(&dir) {
        let reader = CountingReader::new(FileReader::open(&path).expect("open"));
        let media = runtime
            .block_on(lrs_backup::read_backup(&reader))
            .unwrap_or_else(|e| panic!("{e}"));
        let size = std::fs::metadata(&path).expect("size").len();
        let (read, requests) = (reader.bytes_read(), reader.requests());
        if media.label.is_compressed == 1 {
            compressed += 1;
            // Compressed: the first chunks and the last set's trailer region, never the data.
            assert!(
                read <= 1024 * 1024,
                "{}: read {read} of {size} bytes",
                path.display()
            );
            assert!(
                read < size / 2,
                "{}: read {read} of {size} bytes",
                path.display()
            );
        } else {
            plain += 1;
            assert!(
                read <= 64 * 1024,
                "{}: read {read} of {size} bytes",
                path.display()
            );
            assert!(requests <= 4, "{}: {requests} requests", path.display());
        }
    }
    assert_eq!((plain, compressed), (46, 1), "every fixture was read");
}

/// `media` with the path each set was found by blanked, to compare the values of two reads.
fn values_of(mut media: BackupMedia) -> BackupMedia {
    for set in &mut media.sets {
        set.header_path = HeaderPath::Direct;
    }
    media
}

fn read_with(path: &Path, block_walk: bool) -> BackupMedia {
    let data = std::fs::read(path).expect("read fixture");
    let options = ReadOptions {
        block_walk,
        ..ReadOptions::default()
    };
    lrs_backup::read_backup_from_bytes(&path.display().to_string(), data, options)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_real_file_reads_the_same_by_the_fast_path_and_by_a_block_walk() {
    let Some(dir) = fixtures() else { return };
    let more = more_fixtures(&dir);
    let mut paths = BTreeMap::new();
    for path in every_real_file(&dir) {
        let fast = read_with(&path, false);
        let walked = read_with(&path, true);
        assert!(
            walked
                .sets
                .iter()
                .all(|s| s.header_path == HeaderPath::BlockWalk),
            "{}",
            path.display()
        );
        for set in &fast.sets {
            *paths.entry(set.header_path).or_insert(0) += 1;
        }
        // Every column of every report: LABELONLY, HEADERONLY and FILELISTONLY rows, offsets.
        assert_eq!(
            values_of(fast.clone()),
            values_of(walked),
            "{}",
            path.display()
        );
        let expected = if path.ends_with("ThuOanh229-ShopOnline/Database.bak") {
            HeaderPath::TailSearch
        } else {
            HeaderPath::Direct
        };
        assert_eq!(fast.sets[0].header_path, expected, "{}", path.display());
    }
    // 45 files of `real` and two of `real-more`; only SQL Server 2012's padded MSLS needs the
    // tail search, and no file needs a walk.
    assert_eq!(
        paths,
        BTreeMap::from([(HeaderPath::Direct, 46), (HeaderPath::TailSearch, 1)])
    );
    assert!(more.is_dir());
}

#[test]
fn sql_server_2012_and_2005_fulls_match_their_published_facts() {
    let Some(dir) = fixtures() else { return };
    let more = more_fixtures(&dir);
    // (file, bytes, database, server, version, started, data file's MQDA length from the
    // README's block walk, offset of the MSLS block, bytes between BackupSize and that offset)
    let cases = [
        (
            "ThuOanh229-ShopOnline/Database.bak",
            2_670_592u64,
            "smartshopaspmvc5",
            "LENPC",
            (11u8, 0u8),
            "2017-10-12T21:14:29",
            0x285c00u64,
            4096u64,
        ),
        (
            "salmanshariff07-Sales_Analysis_SQL/Northwind.bak",
            3_492_352,
            "Northwind",
            "EXCEL-006\\SQLEXPRESS",
            (9, 0),
            "2014-02-07T18:41:32",
            0x353200,
            0,
        ),
    ];
    for (rel, bytes, database, server, version, started, msls_at, below) in cases {
        let media = read(&more, rel);
        assert_eq!(media.file_size, bytes, "{rel}");
        assert!(!media.truncated, "{rel}");
        assert_eq!(media.label.is_compressed, 0, "{rel}");
        assert_eq!(
            (media.label.family_count, media.label.family_sequence_number),
            (1, 1)
        );
        assert_eq!(media.sets.len(), 1, "{rel}: one set");
        let set = &media.sets[0];
        let h = &set.header;
        assert_eq!(set.config_source, ConfigSource::Final, "{rel}");
        assert_eq!(h.backup_type, BackupType::Database, "{rel}");
        assert_eq!(h.database_name.as_deref(), Some(database), "{rel}");
        assert_eq!(h.server_name.as_deref(), Some(server), "{rel}");
        assert_eq!(
            (h.software_version_major, h.software_version_minor),
            version,
            "{rel}"
        );
        assert_eq!(
            h.backup_start_date.expect("start").to_string(),
            started,
            "{rel}"
        );
        // BackupSize is the stream up to the final configuration block less one soft filemark
        // (2012, like 2008 R2 and 2016+), or exactly up to it (2005).
        assert_eq!(h.backup_size + below, msls_at, "{rel}: BackupSize");
        // Neither version compressed it: CompressedBackupSize equals BackupSize (2005 has no
        // such field at all; its SCIN's fixed part ends where the field would start).
        assert_eq!(h.compressed_backup_size, h.backup_size, "{rel}");
        assert_eq!(
            h.first_lsn, h.checkpoint_lsn,
            "{rel}: a full starts at its checkpoint"
        );
        assert!(h.first_lsn < h.last_lsn, "{rel}");
        assert!(!h.has_backup_checksums, "{rel}");
        // The data file's backed-up pages are the MQDA stream of the block walk, less the two
        // filler bytes; the log file is listed second.
        let data = &set.files[0];
        assert_eq!(data.file_type, FileType::Data, "{rel}");
        assert_eq!(set.files[1].file_type, FileType::Log, "{rel}");
        let mqda = if below == 4096 { 2_555_906 } else { 3_407_874 };
        assert_eq!(data.backup_size_in_bytes, mqda - 2, "{rel}");
        assert_eq!(
            data.differential_base_guid,
            Some(h.backup_set_guid),
            "{rel}"
        );
    }
}

#[test]
fn a_compressed_copy_of_the_sql_server_2012_full_reads_like_the_original() {
    let Some(dir) = fixtures() else { return };
    let path = more_fixtures(&dir).join("ThuOanh229-ShopOnline/Database.bak");
    let plain = std::fs::read(&path).expect("read");
    let original = read_with(&path, false);
    for framing in [Framing::V1, Framing::V2] {
        let options = ContainerOptions {
            framing,
            ..ContainerOptions::default()
        };
        for (codec, container) in [
            (
                "xpress",
                lrs_backup::compress_xpress(&plain, options).expect("xpress"),
            ),
            (
                "zstd",
                lrs_backup::compress_zstd(&plain, options).expect("zstd"),
            ),
        ] {
            let what = format!("{framing:?} {codec}");
            let media =
                lrs_backup::read_backup_from_bytes(&what, container, ReadOptions::default())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(media.label.is_compressed, 1, "{what}");
            let (got, want) = (&media.sets[0], &original.sets[0]);
            assert_eq!(got.header.compressed, 1, "{what}");
            let mut header = got.header.clone();
            header.compressed = 0;
            assert_eq!(header, want.header, "{what}: every HEADERONLY column");
            assert_eq!(got.files, want.files, "{what}: every FILELISTONLY row");
            assert_ne!(got.header_path, HeaderPath::BlockWalk, "{what}");
        }
    }
}

#[test]
fn compressed_northwind_matches_the_published_facts() {
    let Some(dir) = fixtures() else { return };
    let media = read(&dir, "Guilderm-SC-701_ClassWork/northwind.bak");
    let set = &media.sets[0];
    let h = &set.header;
    assert_eq!(h.compressed, 1);
    assert_eq!(media.label.is_compressed, 1);
    assert_eq!(set.config_source, ConfigSource::Final);
    assert_eq!(h.backup_type, BackupType::Database);
    assert_eq!(h.database_name.as_deref(), Some("NORTHWIND"));
    assert_eq!(h.server_name.as_deref(), Some("INFORMATICA_07"));
    assert_eq!(
        (
            h.software_version_major,
            h.software_version_minor,
            h.software_version_build
        ),
        (13, 0, 5026)
    );
    assert_eq!(
        h.backup_start_date.expect("start").to_string(),
        "2021-10-14T08:10:22"
    );
    // The MTF stream is larger than the file: the decoded size is what BACKUP wrote.
    assert!(
        h.backup_size > media.file_size,
        "{} vs {}",
        h.backup_size,
        media.file_size
    );
    assert!(h.compressed_backup_size < h.backup_size);
    assert!(h.first_lsn < h.last_lsn);
    assert_eq!(set.files.len(), 2);
}
