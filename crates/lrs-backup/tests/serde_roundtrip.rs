//! A [`BackupMedia`] stored as JSON reads back equal (the restore engine keeps parsed headers
//! in its database), the SQL Server rows inside it keep the shape `lrs headeronly --json`
//! prints, and broken JSON is a serde error that says what is wrong.

mod support;

use lrs_backup::{
    BackupDateTime, BackupHeader, BackupMedia, BackupSet, BackupType, BackupWriter, ConfigSource,
    ContainerOptions, FileListEntry, FileSpec, FileType, Framing, Guid, Layout, Lsn, MediaLabel,
    MediaSetInfo, MediaSpec, PageSource, ReadOptions, RecoveryModel, SetSpec, compress_xpress,
    compress_zstd,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{every_real_file, fixtures};

/// Serialize, deserialize, compare; also through `serde_json::Value` (how a store that keeps
/// JSON columns hands it back). Returns the JSON text.
fn assert_round_trip(media: &BackupMedia, what: &str) -> String {
    let text = serde_json::to_string(media).unwrap_or_else(|e| panic!("{what}: serialize: {e}"));
    let back: BackupMedia =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: deserialize: {e}"));
    assert_eq!(&back, media, "{what}: round trip through text");
    let value = serde_json::to_value(media).unwrap_or_else(|e| panic!("{what}: to_value: {e}"));
    let back: BackupMedia =
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{what}: from_value: {e}"));
    assert_eq!(&back, media, "{what}: round trip through a JSON value");
    text
}

/// The stored form nests the unchanged HEADERONLY, FILELISTONLY and LABELONLY rows.
fn assert_rows_keep_their_shape(media: &BackupMedia, what: &str) {
    let stored = serde_json::to_value(media).expect("to_value");
    assert_eq!(
        keys(&stored),
        ["label", "sets", "fileSize", "truncated"],
        "{what}"
    );
    assert_eq!(
        stored["label"],
        serde_json::to_value(&media.label).expect("label"),
        "{what}"
    );
    assert_eq!(stored["fileSize"], json!(media.file_size), "{what}");
    assert_eq!(stored["truncated"], json!(media.truncated), "{what}");
    for (i, set) in media.sets.iter().enumerate() {
        let s = &stored["sets"][i];
        assert_eq!(
            keys(s),
            [
                "header",
                "files",
                "media",
                "configSource",
                "lastFullBackupGuid",
                "lastLogBackupLsn",
                "utcOffsetMinutes",
                "startOffset",
                "dataEndOffset",
                "headerPath"
            ],
            "{what}"
        );
        assert_eq!(
            s["header"],
            serde_json::to_value(&set.header).expect("header"),
            "{what}"
        );
        for (j, file) in set.files.iter().enumerate() {
            let mut row = serde_json::to_value(file).expect("file row");
            if let FileType::Other(code) = file.file_type {
                row["TypeCode"] = json!(code);
            }
            assert_eq!(s["files"][j], row, "{what}: file {j}");
        }
        assert_eq!(
            s["media"],
            json!({
                "mediaSetId": set.media.media_set_id.to_string(),
                "familyCount": set.media.family_count,
                "familySequenceNumber": set.media.family_sequence_number,
                "mirrorCount": set.media.mirror_count,
                "mediaPassword": set.media.media_password,
            }),
            "{what}"
        );
        assert_eq!(
            s["startOffset"],
            json!(set.start_offset),
            "{what}: offsets are plain numbers"
        );
        assert_eq!(s["dataEndOffset"], json!(set.data_end_offset), "{what}");
    }
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn every_real_backup_round_trips() {
    let Some(dir) = fixtures() else { return };
    let files = every_real_file(&dir);
    assert_eq!(files.len(), 47, "45 files in real, 2 in real-more");
    let root = dir.parent().expect("the fixture folder has a parent");
    let mut sets = 0;
    for path in files {
        let rel = path
            .strip_prefix(root)
            .expect("inside")
            .display()
            .to_string();
        let data = std::fs::read(&path).expect("read fixture");
        let media = lrs_backup::read_backup_from_bytes(&rel, data, ReadOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_round_trip(&media, &rel);
        assert_rows_keep_their_shape(&media, &rel);
        sets += media.sets.len();
    }
    assert_eq!(sets, 47, "one backup set per fixture file");
}

#[test]
fn real_values_are_stored_as_sql_server_prints_them() {
    let Some(dir) = fixtures() else { return };
    let rel = "dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt_2.trn";
    let media = support::read(&dir, rel);
    let stored = serde_json::to_value(&media).expect("to_value");
    let header = &stored["sets"][0]["header"];
    let h = &media.sets[0].header;
    assert_eq!(header["BackupType"], json!(2));
    assert_eq!(header["BackupTypeDescription"], json!("Transaction Log"));
    assert_eq!(header["DatabaseName"], json!("StopAt"));
    assert_eq!(header["FirstLSN"], json!(h.first_lsn.to_string()));
    assert_eq!(
        header["BackupSetGUID"],
        json!(h.backup_set_guid.to_string())
    );
    assert_eq!(
        header["BackupStartDate"],
        json!(h.backup_start_date.expect("start date").to_string())
    );
    assert_eq!(stored["sets"][0]["configSource"], json!("Final"));
    // A log backup that continues a chain records its predecessor's LastLSN.
    let link = media.sets[0].last_log_backup_lsn.expect("chain link");
    assert_eq!(
        stored["sets"][0]["lastLogBackupLsn"],
        json!(link.to_string())
    );
}

#[test]
fn a_truncated_real_backup_round_trips_with_its_provisional_values() {
    let Some(dir) = fixtures() else { return };
    let rel = "HoangDe13-WebDentalClinic/WebDentalClinic-2019.bak";
    let data = std::fs::read(dir.join(rel)).expect("read");
    let full = support::read(&dir, rel);
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
    assert!(early.truncated);
    assert_eq!(early.sets[0].config_source, ConfigSource::Provisional);
    let text = assert_round_trip(&early, rel);
    assert!(text.contains(r#""configSource":"Provisional""#), "{text}");
    assert!(text.contains(r#""truncated":true"#), "{text}");
}

// ----- forged backups (the crate's own writer) -----

struct Pattern;

impl PageSource for Pattern {
    fn fill(&mut self, file: &FileSpec, index: u32, page: &mut [u8]) {
        let seed = (index ^ file.file_id).to_le_bytes()[0];
        for (i, b) in page.iter_mut().enumerate() {
            *b = i.to_le_bytes()[0] ^ seed;
        }
    }
}

fn at(day: u8, minute: u8) -> BackupDateTime {
    BackupDateTime {
        year: 2026,
        month: 2,
        day,
        hour: 23,
        minute,
        second: 59,
    }
}

fn media_spec(layout: Layout, family: (u16, u16)) -> MediaSpec {
    MediaSpec {
        layout,
        soft_filemark_size: 4096,
        media_set_id: "5AF3E50D-A4E0-4E9B-8AEF-FE52898C6359"
            .parse()
            .expect("GUID"),
        family_count: family.1,
        family_sequence_number: family.0,
        media_family_id: 0x0BAD_F00D,
        media_date: at(1, 0),
        media_name: Some("Verkäufe \"2026\" \\ Q1".into()),
    }
}

fn lsn(vlf: u32, block: u32, slot: u16) -> Lsn {
    Lsn { vlf, block, slot }
}

fn set_spec(backup_type: BackupType, position: u16) -> SetSpec {
    let is_diff = backup_type.is_differential();
    let is_log = backup_type.is_log();
    SetSpec {
        backup_type,
        position,
        backup_name: Some(format!("Set {position} — ünïcode ✓")),
        backup_description: position
            .is_multiple_of(2)
            .then(|| "line one\nline \"two\"".into()),
        user_name: "CONTOSO\\dba".into(),
        server_name: "SQL01\\PROD".into(),
        machine_name: "SQL01".into(),
        database_name: "Sales".into(),
        compatibility_level: 150,
        software_version: (15, 0, 4153),
        first_lsn: lsn(40, 100 * u32::from(position), 1),
        last_lsn: lsn(40, 100 * u32::from(position) + 50, 1),
        checkpoint_lsn: lsn(40, 100, 1),
        database_backup_lsn: if position == 1 {
            Lsn::ZERO
        } else {
            lsn(40, 100, 1)
        },
        differential_base_lsn: if is_diff { lsn(40, 100, 1) } else { Lsn::ZERO },
        differential_base_guid: if is_diff { Guid([1; 16]) } else { Guid::NIL },
        last_log_backup_lsn: if is_log && position > 2 {
            lsn(40, 100 * u32::from(position - 1) + 50, 1)
        } else {
            Lsn::ZERO
        },
        last_full_backup_guid: if position == 1 {
            Guid::NIL
        } else {
            Guid([1; 16])
        },
        backup_set_guid: Guid([u8::try_from(position).expect("small"); 16]),
        binding_id: Guid([0xB1; 16]),
        family_guid: Guid([0xFA; 16]),
        recovery_fork_id: Guid([0xF0; 16]),
        parent_recovery_fork_id: if is_log { Guid([0xE0; 16]) } else { Guid::NIL },
        // The first log backup spans a fork: FirstRecoveryForkID and ForkPointLSN are set.
        fork_point_lsn: if is_log && position == 2 {
            lsn(40, 220, 1)
        } else {
            Lsn::ZERO
        },
        database_creation_date: at(1, 1),
        backup_start_date: at(2, u8::try_from(position).expect("small")),
        backup_finish_date: at(2, u8::try_from(position + 1).expect("small")),
        utc_offset_minutes: -210,
        has_backup_checksums: !position.is_multiple_of(2),
        is_copy_only: position == 4,
        recovery_model: RecoveryModel::BulkLogged,
        files: vec![
            FileSpec {
                file_id: 1,
                logical_name: "Sales".into(),
                physical_name: "D:\\data\\Sales.mdf".into(),
                is_log: false,
                filegroup_id: 1,
                size: 8 << 20,
                pages_in_backup: if is_log { 0 } else { 3 },
                unique_id: Guid([4; 16]),
            },
            FileSpec {
                file_id: 3,
                logical_name: "Sales_archive".into(),
                physical_name: "E:\\data\\Sales_archive.ndf".into(),
                is_log: false,
                filegroup_id: 1,
                size: 16 << 20,
                pages_in_backup: if is_log { 0 } else { 2 },
                unique_id: Guid([6; 16]),
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
        log_bytes: 70_000,
    }
}

fn write(media: MediaSpec, sets: &[SetSpec]) -> Vec<u8> {
    let mut w = BackupWriter::new(Vec::new(), media).expect("writer");
    for set in sets {
        w.write_set(set, &mut Pattern).expect("write set");
    }
    w.finish().expect("finish")
}

fn read(name: &str, bytes: Vec<u8>, allow_truncated: bool) -> BackupMedia {
    lrs_backup::read_backup_from_bytes(
        name,
        bytes,
        ReadOptions {
            allow_truncated,
            ..ReadOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Full, log spanning a fork, differential, copy-only log, log: every optional column filled
/// somewhere and empty somewhere else.
fn chain() -> Vec<SetSpec> {
    vec![
        set_spec(BackupType::Database, 1),
        set_spec(BackupType::TransactionLog, 2),
        set_spec(BackupType::DifferentialDatabase, 3),
        set_spec(BackupType::TransactionLog, 4),
        set_spec(BackupType::TransactionLog, 5),
    ]
}

#[test]
fn forged_multi_set_files_round_trip_in_every_layout() {
    for layout in [
        Layout::Sql2016,
        Layout::Sql2012,
        Layout::Sql2008R2,
        Layout::Sql2005,
    ] {
        let what = format!("{layout:?}");
        let media = read(&what, write(media_spec(layout, (1, 1)), &chain()), false);
        assert_eq!(media.sets.len(), 5, "{what}");
        let log = &media.sets[1];
        assert!(
            log.header.fork_point_lsn.is_some(),
            "{what}: fork exercised"
        );
        assert!(media.sets[2].header.differential_base_guid.is_some());
        assert!(media.sets[3].header.is_copy_only);
        assert!(media.sets[4].last_log_backup_lsn.is_some());
        assert_eq!(media.sets[0].utc_offset_minutes, Some(-210));
        assert_round_trip(&media, &what);
        assert_rows_keep_their_shape(&media, &what);
    }
}

#[test]
fn forged_stripes_and_compressed_containers_round_trip() {
    let sets = chain();
    let stripe = read(
        "stripe",
        write(media_spec(Layout::Sql2016, (2, 3)), &sets),
        false,
    );
    assert_eq!(
        (
            stripe.sets[0].media.family_sequence_number,
            stripe.sets[0].media.family_count
        ),
        (2, 3)
    );
    assert_round_trip(&stripe, "stripe 2 of 3");

    let mtf = write(media_spec(Layout::Sql2016, (1, 1)), &sets);
    let v1 = ContainerOptions {
        framing: Framing::V1,
        ..ContainerOptions::default()
    };
    for (what, container) in [
        (
            "zstd",
            compress_zstd(&mtf, ContainerOptions::default()).expect("zstd"),
        ),
        ("xpress v1", compress_xpress(&mtf, v1).expect("xpress")),
    ] {
        let media = read(what, container, false);
        assert_eq!(media.label.is_compressed, 1, "{what}");
        assert_eq!(media.sets[0].header.compressed, 1, "{what}");
        assert_round_trip(&media, what);
        assert_rows_keep_their_shape(&media, what);
    }
}

#[test]
fn a_forged_file_cut_short_round_trips() {
    let bytes = write(media_spec(Layout::Sql2016, (1, 1)), &chain()[..1]);
    let full = read("full", bytes.clone(), false);
    let cut = usize::try_from(full.sets[0].data_end_offset).expect("offset") - 4096;
    let early = read("cut", bytes[..cut].to_vec(), true);
    assert!(early.truncated);
    assert_eq!(early.sets[0].config_source, ConfigSource::Provisional);
    assert_eq!(early.sets[0].data_end_offset, 0);
    assert_round_trip(&early, "cut");
}

fn date_strategy() -> impl Strategy<Value = BackupDateTime> {
    (0u16..=16383, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60).prop_map(
        |(year, month, day, hour, minute, second)| BackupDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        },
    )
}

fn lsn_strategy() -> impl Strategy<Value = Lsn> {
    (any::<u32>(), any::<u32>(), any::<u16>()).prop_map(|(vlf, block, slot)| Lsn {
        vlf,
        block,
        slot,
    })
}

fn guid_strategy() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(Guid)
}

fn text() -> impl Strategy<Value = String> {
    "[\\PC]{0,24}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Arbitrary header values written by the crate's writer, read back, stored and restored.
    #[test]
    fn forged_sets_with_arbitrary_values_round_trip(
        backup_type in prop::sample::select(vec![
            BackupType::Database,
            BackupType::TransactionLog,
            BackupType::DifferentialDatabase,
        ]),
        layout in prop::sample::select(vec![
            Layout::Sql2016,
            Layout::Sql2012,
            Layout::Sql2008R2,
            Layout::Sql2005,
        ]),
        names in (text(), text(), text(), text(), text(), text()),
        lsns in prop::collection::vec(lsn_strategy(), 8),
        guids in prop::collection::vec(guid_strategy(), 8),
        dates in prop::collection::vec(date_strategy(), 4),
        utc_offset_quarters in -48i16..=56,
        flags in any::<(bool, bool)>(),
        recovery_model in prop::sample::select(vec![
            RecoveryModel::Full,
            RecoveryModel::BulkLogged,
            RecoveryModel::Simple,
        ]),
    ) {
        let (name, description, user, server, machine, database) = names;
        let mut spec = set_spec(backup_type, 1);
        spec.backup_name = Some(name);
        spec.backup_description = Some(description);
        spec.user_name = user;
        spec.server_name = server;
        spec.machine_name = machine;
        spec.database_name = database;
        spec.first_lsn = lsns[0];
        spec.last_lsn = lsns[1];
        spec.checkpoint_lsn = lsns[2];
        spec.database_backup_lsn = lsns[3];
        spec.differential_base_lsn = lsns[4];
        spec.last_log_backup_lsn = lsns[5];
        spec.fork_point_lsn = lsns[6];
        spec.differential_base_guid = guids[0];
        spec.last_full_backup_guid = guids[1];
        spec.backup_set_guid = guids[2];
        spec.binding_id = guids[3];
        spec.family_guid = guids[4];
        spec.recovery_fork_id = guids[5];
        spec.parent_recovery_fork_id = guids[6];
        spec.files[0].unique_id = guids[7];
        spec.database_creation_date = dates[0];
        spec.backup_start_date = dates[1];
        spec.backup_finish_date = dates[2];
        spec.utc_offset_minutes = utc_offset_quarters * 15;
        (spec.has_backup_checksums, spec.is_copy_only) = flags;
        spec.recovery_model = recovery_model;
        let mut media_spec = media_spec(layout, (1, 1));
        media_spec.media_date = dates[3];
        let media = read("prop", write(media_spec, &[spec]), false);
        prop_assert_eq!(media.sets[0].header.first_lsn, lsns[0]);
        let text = serde_json::to_string(&media).expect("serialize");
        let back: BackupMedia = serde_json::from_str(&text).expect("deserialize");
        prop_assert_eq!(back, media);
    }
}

// ----- values the reader does not produce from ordinary files -----

/// A set built by hand: an unknown file type code, every optional column empty, extreme values.
fn unusual_set() -> BackupSet {
    let forged = read(
        "base",
        write(media_spec(Layout::Sql2016, (1, 1)), &chain()[..1]),
        false,
    );
    let mut set = forged.sets[0].clone();
    let h: &mut BackupHeader = &mut set.header;
    h.backup_type = BackupType::DifferentialPartial;
    h.backup_type_description = BackupType::DifferentialPartial.description();
    h.backup_name = None;
    h.server_name = Some(String::new());
    h.expiration_date = Some(BackupDateTime {
        year: 16383,
        month: 12,
        day: 31,
        hour: 23,
        minute: 59,
        second: 59,
    });
    h.backup_start_date = None;
    h.backup_size = u64::MAX;
    h.first_lsn = Lsn {
        vlf: u32::MAX,
        block: u32::MAX,
        slot: u16::MAX,
    };
    h.fork_point_lsn = Some(Lsn::ZERO);
    h.differential_base_guid = Some(Guid::NIL);
    h.collation = None;
    h.key_algorithm = Some("AES_256".into());
    h.recovery_model = RecoveryModel::Simple;
    let mut odd = set.files[0].clone();
    odd.file_type = FileType::Other(9);
    odd.log_group_guid = Some(Guid([0xFF; 16]));
    odd.tde_thumbprint = Some("0x1234".into());
    let mut stream = set.files[0].clone();
    stream.file_type = FileType::FileStream;
    set.files.extend([odd, stream]);
    set.media = MediaSetInfo {
        media_set_id: Guid::NIL,
        family_count: u16::MAX,
        family_sequence_number: u16::MAX,
        mirror_count: 0,
        media_password: true,
    };
    set.config_source = ConfigSource::Provisional;
    set.last_full_backup_guid = None;
    set.last_log_backup_lsn = None;
    set.utc_offset_minutes = Some(i16::MIN);
    set.start_offset = u64::MAX;
    set
}

#[test]
fn hand_built_values_round_trip() {
    let set = unusual_set();
    let media = BackupMedia {
        label: MediaLabel {
            media_name: None,
            media_family_id: Some(Guid([9; 16])),
            media_date: None,
            ..read(
                "base",
                write(media_spec(Layout::Sql2016, (1, 1)), &chain()[..1]),
                false,
            )
            .label
        },
        sets: vec![set.clone(), set],
        file_size: 0,
        truncated: true,
    };
    let text = assert_round_trip(&media, "hand built");
    assert_rows_keep_their_shape(&media, "hand built");
    // The unknown code travels beside the `?` letter; known letters carry no code.
    assert_eq!(text.matches(r#""Type":"?","#).count(), 2, "{text}");
    assert_eq!(text.matches(r#""TypeCode":9"#).count(), 2, "{text}");
    assert_eq!(text.matches(r#""TypeCode""#).count(), 2, "{text}");
    assert!(text.contains(r#""Type":"S""#), "{text}");
    assert!(text.contains(r#""BackupType":8"#), "{text}");
    assert!(
        text.contains(r#""BackupTypeDescription":"Partial Differential""#),
        "{text}"
    );
    assert!(
        text.contains(r#""ExpirationDate":"16383-12-31T23:59:59""#),
        "{text}"
    );
    assert!(text.contains(r#""utcOffsetMinutes":-32768"#), "{text}");
    assert!(
        text.contains(r#""FirstLSN":"4294967295429496729565535""#),
        "{text}"
    );
}

#[test]
fn each_sql_server_row_reads_back_from_its_own_json() {
    let set = unusual_set();
    let header: BackupHeader =
        serde_json::from_value(serde_json::to_value(&set.header).expect("ser")).expect("de");
    assert_eq!(header, set.header);
    let label = read(
        "base",
        write(media_spec(Layout::Sql2016, (1, 1)), &chain()[..1]),
        false,
    )
    .label;
    let back: MediaLabel =
        serde_json::from_value(serde_json::to_value(&label).expect("ser")).expect("de");
    assert_eq!(back, label);
    let (unknown, known): (Vec<_>, Vec<_>) = set
        .files
        .iter()
        .partition(|f| matches!(f.file_type, FileType::Other(_)));
    assert_eq!(known.len(), 4, "data, data, log, FILESTREAM");
    for file in known {
        let back: FileListEntry =
            serde_json::from_value(serde_json::to_value(file).expect("ser")).expect("de");
        assert_eq!(&back, file);
    }
    // A FILELISTONLY row of an unknown type has lost its code: refused, not guessed.
    let row = serde_json::to_value(unknown[0]).expect("ser");
    let err = serde_json::from_value::<FileListEntry>(row)
        .expect_err("'?' alone")
        .to_string();
    assert!(err.contains("no TypeCode"), "{err}");
    // Every kind of backup reads back from its number.
    for code in [1u8, 2, 4, 5, 6, 7, 8] {
        let kind: BackupType = serde_json::from_value(json!(code)).expect("known code");
        assert_eq!(kind.code(), code);
        assert_eq!(BackupType::from_code(code), Some(kind));
    }
    for name in ["FULL", "BULK-LOGGED", "SIMPLE"] {
        let model: RecoveryModel = serde_json::from_value(json!(name)).expect("model");
        assert_eq!(model.as_str(), name);
    }
}

// ----- broken JSON -----

/// Stored JSON of a forged full backup, as a value to break.
fn stored() -> Value {
    let media = read(
        "base",
        write(media_spec(Layout::Sql2016, (1, 1)), &chain()[..2]),
        false,
    );
    serde_json::to_value(&media).expect("to_value")
}

fn error_of(value: Value) -> String {
    serde_json::from_value::<BackupMedia>(value)
        .expect_err("broken JSON must be refused")
        .to_string()
}

#[test]
fn malformed_json_is_an_error_naming_the_field_or_value() {
    let mut missing = stored();
    let header = missing["sets"][1]["header"]
        .as_object_mut()
        .expect("header object");
    header.remove("BackupSetGUID");
    let err = error_of(missing);
    assert!(err.contains("missing field `BackupSetGUID`"), "{err}");

    let mut missing_offset = stored();
    let set = missing_offset["sets"][0]
        .as_object_mut()
        .expect("set object");
    set.remove("dataEndOffset");
    let err = error_of(missing_offset);
    assert!(err.contains("missing field `dataEndOffset`"), "{err}");

    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "header",
            "BackupSetGUID",
            json!("5AF3E50D-A4E0-4E9B-8AEF"),
            "invalid GUID \"5AF3E50D-A4E0-4E9B-8AEF\": expected 36 characters",
        ),
        (
            "header",
            "FirstLSN",
            json!("12a"),
            "invalid LSN \"12a\": expected 1 to 25 decimal digits",
        ),
        (
            "header",
            "FirstLSN",
            json!(19000000021500001u64),
            "invalid type: integer `19000000021500001`, expected a string",
        ),
        (
            "header",
            "BackupType",
            json!(3),
            "invalid value: integer `3`, expected a HEADERONLY BackupType number",
        ),
        (
            "header",
            "BackupTypeDescription",
            json!("Full"),
            "invalid value: string \"Full\", expected a HEADERONLY BackupTypeDescription",
        ),
        (
            "header",
            "BackupStartDate",
            json!("2026-02-30T25:00:00"),
            "invalid backup date-time \"2026-02-30T25:00:00\": field out of range",
        ),
        (
            "header",
            "RecoveryModel",
            json!("BULK_LOGGED"),
            "unknown variant `BULK_LOGGED`, expected one of `FULL`, `BULK-LOGGED`, `SIMPLE`",
        ),
        (
            "header",
            "Position",
            json!(70000),
            "invalid value: integer `70000`, expected u16",
        ),
        (
            "",
            "configSource",
            json!("Start"),
            "unknown variant `Start`, expected `Final` or `Provisional`",
        ),
        (
            "",
            "utcOffsetMinutes",
            json!("-210"),
            "invalid type: string \"-210\", expected i16",
        ),
    ];
    for (inner, field, bad, want) in cases {
        let mut value = stored();
        let target = if inner.is_empty() {
            &mut value["sets"][0]
        } else {
            &mut value["sets"][0][inner]
        };
        target[field] = bad;
        let err = error_of(value);
        assert!(err.contains(want), "{field}: {err}");
    }

    let mut file_type = stored();
    file_type["sets"][0]["files"][0]["Type"] = json!("X");
    let err = error_of(file_type);
    assert!(
        err.contains("file Type 'X' is not one of 'D', 'L', 'S' or '?'"),
        "{err}"
    );

    let mut code_on_a_letter = stored();
    code_on_a_letter["sets"][0]["files"][0]["TypeCode"] = json!(1);
    let err = error_of(code_on_a_letter);
    assert!(
        err.contains("file Type 'D' with TypeCode 1: a TypeCode goes only with Type '?'"),
        "{err}"
    );

    // Text that is not JSON at all, or ends early, is a syntax error with its position.
    let text = serde_json::to_string(&stored()).expect("text");
    let err = serde_json::from_str::<BackupMedia>(&text[..text.len() / 2])
        .expect_err("cut")
        .to_string();
    assert!(err.contains("EOF while parsing"), "{err}");
    let err = serde_json::from_str::<BackupMedia>(r#""StopAt.bak""#)
        .expect_err("string")
        .to_string();
    assert!(
        err.contains("invalid type: string \"StopAt.bak\", expected struct BackupMedia"),
        "{err}"
    );
    let err = serde_json::from_str::<BackupMedia>("{\"label\": ")
        .expect_err("cut")
        .to_string();
    assert!(err.contains("EOF while parsing a value"), "{err}");
}
